use thiserror::Error;

#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum RunbooksError {
    /// TOML syntax or schema (unknown key, wrong type), with the key's path.
    #[error("line {line}, column {column}: {message}{}", path.as_ref().map(|p| format!(" (at `{p}`)")).unwrap_or_default())]
    Parse {
        line: usize,
        column: usize,
        path: Option<String>,
        message: String,
    },
    /// A runbook that parses but cannot run as written.
    #[error("runbook `{runbook}`{}: {message}", step.as_ref().map(|s| format!(", step `{s}`")).unwrap_or_default())]
    Invalid {
        runbook: String,
        step: Option<String>,
        message: String,
    },
    #[error("{0}")]
    File(String),
    #[error("simulation script: {0}")]
    Script(String),
    #[error("no runbook named `{0}`")]
    Unknown(String),
}
