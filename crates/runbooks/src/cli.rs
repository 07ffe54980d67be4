//! What `orchestrator runbooks check|test` print.

use std::path::Path;

use crate::error::RunbooksError;
use crate::file::RunbookSet;
use crate::simulate::{parse_script, simulate};

/// Validates a runbooks file; the summary line to print.
pub fn check_file(path: &Path) -> Result<String, RunbooksError> {
    let set = RunbookSet::load(path)?;
    let names: Vec<_> = set.names().collect();
    Ok(format!(
        "{}: {} runbook(s) OK: {}",
        path.display(),
        set.len(),
        names.join(", ")
    ))
}

/// The path runbook `name` of the file would take against `script`.
pub fn test_file(path: &Path, name: &str, script: &str) -> Result<String, RunbooksError> {
    let set = RunbookSet::load(path)?;
    let rb = set
        .get(name)
        .ok_or_else(|| RunbooksError::Unknown(name.to_string()))?;
    Ok(simulate(rb, parse_script(script)?).to_string())
}
