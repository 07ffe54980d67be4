//! Validated Jenkins job names and build numbers.
//!
//! Job names come from log records, Slack messages and LLM output, so they are
//! untrusted: they are checked here, with the same rule REST, MCP and the bus apply
//! (`domain::job_name`), and every segment is percent-encoded before it becomes part of
//! a URL.

use std::fmt;
use std::str::FromStr;

pub use domain::job_name::{JobNameError, MAX_JOB_NAME_BYTES};

/// A Jenkins job path such as `deploy-prod` or `team/app` (a job in a folder).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct JobName {
    full: String,
}

impl JobName {
    /// Validates `name` with the one rule every door applies (`domain::job_name::check`):
    /// `/` separates folders; segments are non-empty and not `.` or `..`; no control
    /// characters, none of the characters Jenkins never allows (`*`, `?`, `:`, …); at most
    /// 512 bytes.
    pub fn parse(name: &str) -> Result<Self, JobNameError> {
        domain::job_name::check(name)?;
        Ok(Self {
            full: name.to_owned(),
        })
    }

    /// The full name as Jenkins shows it (`team/app`).
    pub fn as_str(&self) -> &str {
        &self.full
    }

    /// Folder segments then the job's own name.
    pub fn segments(&self) -> impl Iterator<Item = &str> {
        self.full.split('/')
    }

    /// The URL path of the job: `/job/team/job/app`, each segment percent-encoded.
    pub fn url_path(&self) -> String {
        let mut path = String::with_capacity(self.full.len() + 8);
        for segment in self.segments() {
            path.push_str("/job/");
            encode_segment(segment, &mut path);
        }
        path
    }
}

impl fmt::Display for JobName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.full)
    }
}

impl FromStr for JobName {
    type Err = JobNameError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl TryFrom<&str> for JobName {
    type Error = JobNameError;

    fn try_from(s: &str) -> Result<Self, Self::Error> {
        Self::parse(s)
    }
}

impl AsRef<str> for JobName {
    fn as_ref(&self) -> &str {
        &self.full
    }
}

/// Everything but RFC 3986 unreserved characters is encoded. That is stricter
/// than the URL spec requires for a path segment, on purpose: servlet
/// containers give `;` and `%` special meaning, and `?`/`#` would end the path.
fn encode_segment(segment: &str, out: &mut String) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    for byte in segment.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~') {
            out.push(byte as char);
        } else {
            out.push('%');
            out.push(HEX[usize::from(byte >> 4)] as char);
            out.push(HEX[usize::from(byte & 0x0f)] as char);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folders_map_to_nested_job_paths() {
        let job = JobName::parse("team/app").unwrap();
        assert_eq!(job.url_path(), "/job/team/job/app");
        assert_eq!(job.segments().collect::<Vec<_>>(), ["team", "app"]);
    }

    #[test]
    fn metacharacters_are_refused_and_the_rest_encoded() {
        // Before the runner shared the domain's rule it accepted these, and `*` or `:`
        // reached a Jenkins URL (encoded, but never a job Jenkins could have).
        for bad in [
            "my app?x=1",
            "a#frag",
            "a;jsessionid=2",
            "a%41",
            "a&b",
            "deploy-*",
            "a:b",
        ] {
            assert!(
                matches!(JobName::parse(bad), Err(JobNameError::Forbidden { .. })),
                "{bad:?}"
            );
        }
        let job = JobName::parse("my app=1").unwrap();
        assert_eq!(job.url_path(), "/job/my%20app%3D1");
        let job = JobName::parse("café+.x").unwrap();
        assert_eq!(job.url_path(), "/job/caf%C3%A9%2B.x");
    }

    #[test]
    fn bad_names_are_rejected_with_the_reason() {
        assert_eq!(JobName::parse(""), Err(JobNameError::Empty));
        assert_eq!(
            JobName::parse("../etc"),
            Err(JobNameError::DotSegment {
                segment: "..",
                position: 0
            })
        );
        assert_eq!(
            JobName::parse("team/./app"),
            Err(JobNameError::DotSegment {
                segment: ".",
                position: 1
            })
        );
        assert_eq!(
            JobName::parse("team//app"),
            Err(JobNameError::EmptySegment { position: 1 })
        );
        assert_eq!(
            JobName::parse("/app"),
            Err(JobNameError::EmptySegment { position: 0 })
        );
        assert_eq!(
            JobName::parse("app/"),
            Err(JobNameError::EmptySegment { position: 1 })
        );
        assert_eq!(
            JobName::parse("ap\np"),
            Err(JobNameError::ControlCharacter { index: 2 })
        );
        assert_eq!(
            JobName::parse("a\u{7f}"),
            Err(JobNameError::ControlCharacter { index: 1 })
        );
        let long = "a".repeat(513);
        assert_eq!(
            JobName::parse(&long),
            Err(JobNameError::TooLong { len: 513, max: 512 })
        );
        assert!(JobName::parse(&"a".repeat(512)).is_ok());
        assert!(JobName::parse("...").is_ok());
    }
}
