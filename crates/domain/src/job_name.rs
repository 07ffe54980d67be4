//! What a Jenkins job name may be: one rule, checked wherever a name enters (REST, MCP, the
//! bus) and by the runner before it builds a URL (its `JobName` parses with [`check`]), so
//! what is accepted up front is exactly what the runner can act on, and untrusted text never
//! reaches a Jenkins URL unchecked.

use thiserror::Error;

/// Longest accepted job name, in bytes.
pub const MAX_JOB_NAME_BYTES: usize = 512;

/// Characters Jenkins never allows in a job name (and glob characters, so a pattern such as
/// `*` never names a job).
pub const FORBIDDEN: &str = "*?[]\\<>|:;%#!@$^&";

/// Why a name cannot name a Jenkins job.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum JobNameError {
    #[error("job name is empty")]
    Empty,
    #[error("job name is {len} bytes long, more than the {max} allowed")]
    TooLong { len: usize, max: usize },
    #[error("job name has a control character at byte {index}")]
    ControlCharacter { index: usize },
    #[error("job name contains `{character}`, which Jenkins never allows")]
    Forbidden { character: char },
    #[error("job name has an empty segment at position {position}")]
    EmptySegment { position: usize },
    #[error("job name has a '{segment}' segment at position {position}")]
    DotSegment {
        segment: &'static str,
        position: usize,
    },
}

/// Checks `name`: `/` separates folders; a segment is never empty, `.` or `..`; no control
/// characters; at most [`MAX_JOB_NAME_BYTES`]; none of [`FORBIDDEN`].
pub fn check(name: &str) -> Result<(), JobNameError> {
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
    if let Some(character) = name.chars().find(|c| FORBIDDEN.contains(*c)) {
        return Err(JobNameError::Forbidden { character });
    }
    for (position, segment) in name.split('/').enumerate() {
        match segment {
            "" => return Err(JobNameError::EmptySegment { position }),
            "." | ".." => {
                let segment = if segment == "." { "." } else { ".." };
                return Err(JobNameError::DotSegment { segment, position });
            }
            _ => {}
        }
    }
    Ok(())
}

/// Why `name` cannot name a Jenkins job, in words; `None` when it can.
pub fn job_name_problem(name: &str) -> Option<String> {
    check(name).err().map(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs_and_dot_segments_are_refused() {
        for bad in [
            "*", "..", "team/..", "a//b", "/x", "x/", "deploy-*", "a\nb", "",
        ] {
            assert!(job_name_problem(bad).is_some(), "{bad:?}");
        }
        for ok in ["deploy-prod", "team/app", "...", "a.b", "My Job"] {
            assert_eq!(job_name_problem(ok), None, "{ok:?}");
        }
    }

    #[test]
    fn each_reason_is_named() {
        assert_eq!(
            check("deploy-*"),
            Err(JobNameError::Forbidden { character: '*' })
        );
        assert_eq!(
            check("team/../x"),
            Err(JobNameError::DotSegment {
                segment: "..",
                position: 1
            })
        );
        assert_eq!(
            check("a\r\nb:c"),
            Err(JobNameError::ControlCharacter { index: 1 })
        );
        assert_eq!(
            check(&"a".repeat(513)),
            Err(JobNameError::TooLong { len: 513, max: 512 })
        );
        assert!(check(&"a".repeat(512)).is_ok());
    }
}
