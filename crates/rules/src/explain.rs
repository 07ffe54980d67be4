//! Why each rule did or did not match a log: for `rules test` and for operators asking
//! "why was no incident opened?". Not on the hot path.

use serde::Serialize;

use domain::LogRecord;

use super::compile::RuleSet;
use super::eval::RuleMatch;
use super::view::LogView;

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RuleExplanation {
    pub rule: String,
    pub matched: bool,
    /// Why the rule did not match (`None` when it matched): the disabled flag, the source,
    /// or the first failing condition with its path in the file.
    pub reason: Option<String>,
    /// What [`RuleSet::evaluate`] returns for this rule when it matched.
    pub outcome: Option<RuleMatch>,
}

impl RuleSet {
    /// One explanation per rule, enabled or not, in file order. The rules that match are
    /// exactly those [`RuleSet::evaluate`] returns.
    pub fn explain(&self, log: &LogRecord) -> Vec<RuleExplanation> {
        let view = LogView::new(log);
        self.rules
            .iter()
            .map(|rule| {
                let reason = if !rule.enabled {
                    Some("rule is disabled (`enabled = false`)".to_string())
                } else if rule.source != log.source() {
                    Some(format!(
                        "source is {}, rule wants {}",
                        log.source(),
                        rule.source
                    ))
                } else {
                    rule.when.why_not(&view)
                };
                RuleExplanation {
                    rule: rule.name.clone(),
                    matched: reason.is_none(),
                    outcome: reason.is_none().then(|| rule.build_match(&view)),
                    reason,
                }
            })
            .collect()
    }
}
