//! What can go wrong when loading rules or testing them against a log.

use std::fmt;
use std::path::PathBuf;

/// Names a rule in an error: by its name when it has a usable one, else by its position
/// (1-based, in file order), so an operator can find it either way.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RuleRef {
    Name(String),
    Index(usize),
}

impl fmt::Display for RuleRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RuleRef::Name(n) => write!(f, "rule `{n}`"),
            RuleRef::Index(i) => write!(f, "rule #{i}"),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum RulesError {
    #[error("cannot read rules file {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    /// The text is not TOML, or does not fit the schema (unknown key, wrong type).
    #[error("{}", parse_message(rule.as_ref(), *line, *column, message))]
    Parse {
        /// The rule the error is in, when it can be told.
        rule: Option<RuleRef>,
        line: usize,
        column: usize,
        message: String,
    },

    /// A rule is well-formed TOML but makes no sense (bad regex, unknown rule in `resolves`...).
    #[error("{rule}: {reason}")]
    Invalid { rule: RuleRef, reason: String },

    /// `rules test`: the log file cannot be read or is not a log record.
    #[error("invalid log {path}: {reason}")]
    Log { path: PathBuf, reason: String },
}

impl RulesError {
    pub(crate) fn invalid(rule: &RuleRef, reason: impl Into<String>) -> Self {
        RulesError::Invalid {
            rule: rule.clone(),
            reason: reason.into(),
        }
    }
}

fn parse_message(rule: Option<&RuleRef>, line: usize, column: usize, message: &str) -> String {
    match rule {
        Some(r) => format!("{r}: line {line}, column {column}: {message}"),
        None => format!("invalid rules file: line {line}, column {column}: {message}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_name_the_rule_and_the_place() {
        let e = RulesError::Parse {
            rule: Some(RuleRef::Index(3)),
            line: 12,
            column: 1,
            message: "unknown field `levls`".into(),
        };
        assert_eq!(
            e.to_string(),
            "rule #3: line 12, column 1: unknown field `levls`"
        );
        let e = RulesError::invalid(&RuleRef::Name("x".into()), "bad");
        assert_eq!(e.to_string(), "rule `x`: bad");
    }
}
