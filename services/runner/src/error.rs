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
