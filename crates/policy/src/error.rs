//! Why a policy was refused.

/// A policy file that cannot be used; the message names the file and, when it is invalid,
/// the key or clause at fault.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PolicyError {
    /// The file cannot be read.
    #[error("policy {origin}: cannot read: {reason}")]
    Read { origin: String, reason: String },
    /// The text is not TOML, or a key or clause makes no sense.
    #[error("policy {origin}: {reason}")]
    Invalid { origin: String, reason: String },
}
