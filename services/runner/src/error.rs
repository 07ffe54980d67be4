use runtime::{RuntimeError, SettingsError};
use store::StoreError;

use crate::jenkins::JenkinsError;

/// What can go wrong in the runner library. Failures of an action in Jenkins are not
/// errors here: they are outcomes, recorded on the row and sent as `action.failed`.
#[derive(Debug, thiserror::Error)]
pub enum RunnerError {
    #[error(transparent)]
    Settings(#[from] SettingsError),
    #[error(transparent)]
    Runtime(#[from] RuntimeError),
    #[error("jenkins: {0}")]
    Jenkins(#[from] JenkinsError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("action {0} does not exist")]
    ActionNotFound(i64),
    #[error("action {id} has an invalid {column}: {reason}")]
    CorruptRow {
        id: i64,
        column: &'static str,
        reason: String,
    },
    #[error("the runner is stopping")]
    Stopping,
}

impl From<sqlx::Error> for RunnerError {
    fn from(e: sqlx::Error) -> Self {
        RunnerError::Store(StoreError::from(e))
    }
}

/// What the `action_requests` consumer does with a failure: wait for unavailable
/// infrastructure without spending the request's attempts, retry what may work next time,
/// dead-letter what never will; database failures as the store sorts them.
impl From<RunnerError> for bus::HandlerError {
    fn from(e: RunnerError) -> Self {
        match &e {
            RunnerError::ActionNotFound(_) | RunnerError::CorruptRow { .. } => {
                bus::HandlerError::reject(e)
            }
            RunnerError::Store(s) => {
                let kind = s.kind();
                kind.handler_error(e)
            }
            // Stopping before a claim: the request goes back to its queue unchanged.
            RunnerError::Stopping => bus::HandlerError::unavailable(e),
            _ => bus::HandlerError::retry(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failures_translate_to_what_the_consumer_should_do() {
        let unavailable = RunnerError::from(sqlx::Error::PoolTimedOut);
        assert!(bus::HandlerError::from(unavailable).is_unavailable());
        assert!(bus::HandlerError::from(RunnerError::Stopping).is_unavailable());
        assert!(matches!(
            bus::HandlerError::from(RunnerError::ActionNotFound(3)),
            bus::HandlerError::Reject(_)
        ));
        assert!(matches!(
            bus::HandlerError::from(RunnerError::from(sqlx::Error::ColumnNotFound("x".into()))),
            bus::HandlerError::Retry(_)
        ));
    }
}
