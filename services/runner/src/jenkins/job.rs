//! Validated Jenkins job names and build numbers.
//!
//! Job names come from log records, Slack messages and LLM output, so they are
//! untrusted: they are checked here and every segment is percent-encoded before
//! it becomes part of a URL.

use std::fmt;
use std::str::FromStr;

use thiserror::Error;

/// Longest accepted job name, in bytes.
pub const MAX_JOB_NAME_BYTES: usize = 512;

/// Why a job name was rejected.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum JobNameError {
    #[error("job name is empty")]
    Empty,
    #[error("job name is {len} bytes long, more than the {max} allowed")]
    TooLong { len: usize, max: usize },
    #[error("job name has an empty segment at position {position}")]
    EmptySegment { position: usize },
    #[error("job name has a '{segment}' segment at position {position}")]
    DotSegment {
        segment: &'static str,
        position: usize,
    },
    #[error("job name has a control character at byte {index}")]
    ControlCharacter { index: usize },
}

/// A Jenkins job path such as `deploy-prod` or `team/app` (a job in a folder).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct JobName {
    full: String,
}

impl JobName {
    /// Validates `name`: `/` separates folders; segments must be non-empty and
    /// not `.` or `..`; no control characters; at most 512 bytes.
    pub fn parse(name: &str) -> Result<Self, JobNameError> {
        if name.is_empty() {
            return Err(JobNameError::Empty);
        }
        if name.len() > MAX_JOB_NAME_BYTES {
            return Err(JobNameError::TooLong {
                len: name.len(),
                max: MAX_JOB_NAME_BYTES,
            });
        }
        if let Some((index, _)) = name.char_indices().find(|(_, c)| c.is_control()) {
            return Err(JobNameError::ControlCharacter { index });
        }
        for (position, segment) in name.split('/').enumerate() {
            match segment {
                "" => return Err(JobNameError::EmptySegment { position }),
                "." => {
                    return Err(JobNameError::DotSegment {
                        segment: ".",
                        position,
                    });
                }
                ".." => {
                    return Err(JobNameError::DotSegment {
                        segment: "..",
                        position,
                    });
                }
                _ => {}
            }
        }
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
    fn metacharacters_are_encoded() {
        let job = JobName::parse("my app?x=1#frag;jsessionid=2%41&").unwrap();
        assert_eq!(
            job.url_path(),
            "/job/my%20app%3Fx%3D1%23frag%3Bjsessionid%3D2%2541%26"
        );
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
