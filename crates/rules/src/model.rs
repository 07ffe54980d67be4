//! The rules file as written: serde structs mirroring the TOML, before validation.
//!
//! Everything an operator can misspell is rejected here (`deny_unknown_fields`). Enum-like
//! values (source, severity, level, action type) and polymorphic ones (status, method) stay
//! strings or raw TOML values so that `compile` can reject them with the rule's name and a
//! readable reason instead of serde's generic "unknown variant" wording.

use serde::Deserialize;

use super::error::{RuleRef, RulesError};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawFile {
    #[serde(default)]
    pub rule: Vec<RawRule>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawRule {
    pub name: Option<String>,
    pub description: Option<String>,
    pub enabled: Option<bool>,
    pub source: Option<String>,
    pub severity: Option<String>,
    pub title: Option<String>,
    pub runbook_url: Option<String>,
    pub group_by: Option<Vec<String>>,
    pub when: Option<RawCond>,
    pub action: Option<RawAction>,
    pub runbook: Option<RawRunbook>,
    pub threshold: Option<RawThreshold>,
    pub resolves: Option<Vec<String>>,
}

/// One `when` table. Several keys in one table must all hold.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawCond {
    /// A level name or a list of them.
    pub levels: Option<toml::Value>,
    pub message_contains: Option<String>,
    pub message_regex: Option<String>,
    /// Applies to `message_contains` and `message_regex` of the same table.
    pub case_insensitive: Option<bool>,
    /// `503`, `"500-599"`, `"5xx"` or a list of those.
    pub status: Option<toml::Value>,
    pub latency_ms_over: Option<f64>,
    pub job: Option<String>,
    pub path: Option<String>,
    pub service: Option<String>,
    /// An HTTP method or a list of them.
    pub method: Option<toml::Value>,
    pub all: Option<Vec<RawCond>>,
    pub any: Option<Vec<RawCond>>,
    pub not: Option<Box<RawCond>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawAction {
    #[serde(rename = "type")]
    pub kind: Option<String>,
    pub requires_approval: Option<bool>,
    /// Template of the Jenkins job to act on; `{job_name}` by default on Jenkins rules.
    pub job: Option<String>,
}

/// `[rule.runbook]`: the runbook a new incident of this rule starts.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawRunbook {
    pub name: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawThreshold {
    // Signed so that `count = 0` or `-1` reaches our own check and message.
    pub count: Option<i64>,
    pub window_secs: Option<i64>,
}

/// Parses the text into raw rules. Syntax errors and schema errors (unknown keys, wrong
/// types) carry their line and column, plus the rule they are in when that can be told.
pub(crate) fn parse(text: &str) -> Result<RawFile, RulesError> {
    // Parse twice: a syntax error must not be reported as belonging to a rule, and the
    // untyped table lets a schema error be attributed to the rule it is in.
    let table: toml::Table = toml::from_str(text).map_err(|e| located(text, &e, None))?;
    toml::from_str(text).map_err(|e| located(text, &e, Some(&table)))
}

fn located(text: &str, err: &toml::de::Error, table: Option<&toml::Table>) -> RulesError {
    let offset = err.span().map(|s| s.start.min(text.len()));
    let (line, column) = line_col(text, offset.unwrap_or(0));
    RulesError::Parse {
        rule: offset.zip(table).and_then(|(o, t)| rule_at(text, t, o)),
        line,
        column,
        message: err.message().trim().to_string(),
    }
}

/// 1-based line and column (in characters) of a byte offset.
pub(crate) fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let mut offset = offset.min(text.len());
    while !text.is_char_boundary(offset) {
        offset -= 1;
    }
    let before = &text[..offset];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    (line, before[line_start..].chars().count() + 1)
}

/// The rule whose `[[rule]]` section contains `offset`. Only attempted when every rule is
/// written as a `[[rule]]` section; with inline arrays the count would lie.
fn rule_at(text: &str, table: &toml::Table, offset: usize) -> Option<RuleRef> {
    let rules = table.get("rule")?.as_array()?;
    let is_header = |l: &str| l.trim_start().starts_with("[[rule]]");
    if text.lines().filter(|l| is_header(l)).count() != rules.len() {
        return None;
    }
    let before = &text[..offset.min(text.len())];
    // The line holding the offset counts too: the error may be on the header itself.
    let line_end = text[before.len()..]
        .find('\n')
        .map_or(text.len(), |i| before.len() + i);
    let index = text[..line_end].lines().filter(|l| is_header(l)).count();
    if index == 0 {
        return None;
    }
    let name = rules[index - 1].get("name").and_then(|n| n.as_str());
    Some(match name {
        Some(n) if !n.is_empty() => RuleRef::Name(n.to_string()),
        _ => RuleRef::Index(index),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_and_column_are_one_based() {
        let t = "ab\ncdé\nf";
        assert_eq!(line_col(t, 0), (1, 1));
        assert_eq!(line_col(t, 4), (2, 2));
        assert_eq!(line_col(t, 8), (3, 1));
    }

    #[test]
    fn schema_errors_name_the_rule_they_are_in() {
        let text =
            "[[rule]]\nname = \"a\"\n\n[[rule]]\nname = \"b\"\n[rule.when]\nlevls = [\"error\"]\n";
        let err = parse(text).unwrap_err();
        let RulesError::Parse { rule, line, .. } = &err else {
            panic!("{err}")
        };
        assert_eq!(rule, &Some(RuleRef::Name("b".into())));
        assert_eq!(*line, 7);
        assert!(err.to_string().contains("levls"), "{err}");
    }

    #[test]
    fn syntax_errors_carry_the_line() {
        let err = parse("[[rule]]\nname = \"a\"\nsource = \n").unwrap_err();
        let RulesError::Parse { rule, line, .. } = &err else {
            panic!("{err}")
        };
        assert_eq!(*rule, None);
        assert_eq!(*line, 3, "{err}");
    }
}
