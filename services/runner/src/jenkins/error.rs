//! Errors of the Jenkins client.
//!
//! Messages name the operation and what went wrong, never a credential: the
//! token only ever travels in the `Authorization` header, and transport errors
//! are scrubbed before they are stored (see `http.rs`).

use thiserror::Error;

use super::job::JobNameError;

#[derive(Debug, Clone, Error)]
pub enum JenkinsError {
    #[error("jenkins rejected the credentials (401) during {operation}")]
    Unauthorized { operation: &'static str },

    #[error("jenkins denied {operation} (403), even with a fresh crumb")]
    Forbidden { operation: &'static str },

    #[error("jenkins has no {what} (404)")]
    NotFound { what: String },

    #[error("jenkins answered 409 conflict during {operation}")]
    Conflict { operation: &'static str },

    #[error("jenkins answered {status} during {operation}")]
    Server {
        operation: &'static str,
        status: u16,
    },

    #[error("jenkins answered unexpected status {status} during {operation}")]
    UnexpectedStatus {
        operation: &'static str,
        status: u16,
    },

    #[error("timed out during {operation}")]
    Timeout { operation: &'static str },

    #[error("cannot connect to jenkins during {operation}: {reason}")]
    Connect {
        operation: &'static str,
        reason: String,
    },

    /// The request failed after it may have reached Jenkins (connection reset
    /// mid-response, broken body...). For a trigger the outcome is unknown.
    #[error("request to jenkins failed during {operation}: {reason}")]
    Transport {
        operation: &'static str,
        reason: String,
    },

    #[error("invalid job name: {0}")]
    InvalidJob(#[from] JobNameError),

    #[error("invalid build number {0}: must be greater than 0")]
    InvalidBuild(i64),

    #[error("unexpected jenkins response during {operation}: {detail}")]
    Protocol {
        operation: &'static str,
        detail: String,
    },

    /// The trigger was accepted but no build started in time; it may still start.
    #[error("queue item {queue_id} did not start a build in time")]
    QueueTimeout { queue_id: i64 },

    #[error("jenkins cancelled queue item {queue_id} before it started a build")]
    QueueCancelled { queue_id: i64 },

    #[error("no successful build of job '{job}' to roll back to{}", before_text(.before))]
    NoRollbackTarget { job: String, before: Option<i64> },

    #[error("invalid jenkins settings: {0}")]
    Config(String),
}

fn before_text(before: &Option<i64>) -> String {
    before.map(|n| format!(" before #{n}")).unwrap_or_default()
}

impl JenkinsError {
    /// A stable, low-cardinality label for metrics and events.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Unauthorized { .. } => "unauthorized",
            Self::Forbidden { .. } => "forbidden",
            Self::NotFound { .. } => "not_found",
            Self::Conflict { .. } => "conflict",
            Self::Server { .. } => "jenkins_5xx",
            Self::UnexpectedStatus { .. } => "unexpected_status",
            Self::Timeout { .. } | Self::QueueTimeout { .. } => "timeout",
            Self::Connect { .. } => "connect",
            Self::Transport { .. } => "transport",
            Self::InvalidJob(_) => "invalid_job",
            Self::InvalidBuild(_) => "invalid_build",
            Self::Protocol { .. } => "protocol",
            Self::QueueCancelled { .. } => "queue_cancelled",
            Self::NoRollbackTarget { .. } => "no_rollback_target",
            Self::Config(_) => "config",
        }
    }

    /// The HTTP status Jenkins answered, when the error comes from one.
    pub fn status(&self) -> Option<u16> {
        match self {
            Self::Unauthorized { .. } => Some(401),
            Self::Forbidden { .. } => Some(403),
            Self::NotFound { .. } => Some(404),
            Self::Conflict { .. } => Some(409),
            Self::Server { status, .. } | Self::UnexpectedStatus { status, .. } => Some(*status),
            _ => None,
        }
    }

    /// Whether a request that failed this way may nevertheless have taken
    /// effect in Jenkins (a trigger may have queued a build): the caller must
    /// then not assume that nothing happened.
    pub fn outcome_unknown(&self) -> bool {
        matches!(
            self,
            Self::Timeout { .. }
                | Self::QueueTimeout { .. }
                | Self::Transport { .. }
                | Self::Server { .. }
                | Self::Protocol { .. }
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_and_messages() {
        let e = JenkinsError::Server {
            operation: "trigger",
            status: 502,
        };
        assert_eq!(e.kind(), "jenkins_5xx");
        assert_eq!(e.to_string(), "jenkins answered 502 during trigger");
        let e = JenkinsError::NoRollbackTarget {
            job: "app".into(),
            before: Some(7),
        };
        assert_eq!(
            e.to_string(),
            "no successful build of job 'app' to roll back to before #7"
        );
        let e = JenkinsError::from(JobNameError::Empty);
        assert_eq!(e.kind(), "invalid_job");
        assert_eq!(e.to_string(), "invalid job name: job name is empty");
    }
}
