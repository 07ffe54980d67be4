//! What can go wrong while writing a report.

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PostmortemError {
    /// The model's answer lacked these narrative sections (or left them empty): the
    /// template writes the report instead.
    #[error("the model's answer lacked {0}")]
    Incomplete(String),
}
