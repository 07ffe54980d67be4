use runtime::{RuntimeError, SettingsError};

/// Why the listener could not start.
#[derive(Debug, thiserror::Error)]
pub enum ListenerError {
    #[error(transparent)]
    Runtime(#[from] RuntimeError),
    #[error(transparent)]
    Settings(#[from] SettingsError),
    #[error("elasticsearch client: {0}")]
    Elasticsearch(String),
}
