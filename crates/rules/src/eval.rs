//! Evaluation of a log against the rule set: the orchestrator's hot path.

use serde::Serialize;

use domain::{ActionType, LogRecord, Severity, Source};

use super::compile::{Rule, RuleSet, Threshold, source_index};
use super::view::{Field, LogView};

/// What the orchestrator should do about a match.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Effect {
    /// Open an incident with this fingerprint (or count an occurrence of the open one;
    /// with a threshold, only once the threshold is reached).
    Open,
    /// Resolve the open incidents of these rules for the same group, as auto-recovered.
    /// `fingerprints` are those incidents' fingerprints, one per rule, in the same order.
    Resolve {
        rules: Vec<String>,
        fingerprints: Vec<String>,
    },
}

/// The automatic action a match asks for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MatchedAction {
    pub action_type: ActionType,
    pub requires_approval: bool,
    /// The Jenkins job to act on; `None` when the log lacks a field the rule's `job`
    /// template needs (the orchestrator then opens the incident without an action).
    pub target_job: Option<String>,
}

/// One enabled rule that matched a log.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RuleMatch {
    pub rule: String,
    pub source: Source,
    pub severity: Severity,
    /// The values of the rule's `group_by` fields: the single value for one field, the
    /// values joined by `|` (with `|` and `\` escaped by `\`) for several, `""` for none.
    pub group_key: String,
    /// `<rule>:<group key>`: at most one open incident per fingerprint.
    pub fingerprint: String,
    pub title: String,
    pub description: Option<String>,
    pub runbook_url: Option<String>,
    pub action: Option<MatchedAction>,
    /// The runbook a new incident starts.
    pub runbook: Option<String>,
    /// Counted per fingerprint by the orchestrator before opening an incident.
    pub threshold: Option<Threshold>,
    pub effect: Effect,
}

impl RuleMatch {
    pub fn is_recovery(&self) -> bool {
        matches!(self.effect, Effect::Resolve { .. })
    }
}

impl RuleSet {
    /// The matches of every enabled rule, in file order. Rules of the other source are not
    /// looked at, and a rule that does not match allocates nothing.
    pub fn evaluate(&self, log: &LogRecord) -> Vec<RuleMatch> {
        let mut out = Vec::new();
        self.evaluate_into(log, &mut out);
        out
    }

    /// [`RuleSet::evaluate`] appending to a caller's buffer, for batch loops.
    pub fn evaluate_into(&self, log: &LogRecord, out: &mut Vec<RuleMatch>) {
        let view = LogView::new(log);
        for &i in &self.by_source[source_index(log.source())] {
            let rule = &self.rules[i];
            if rule.when.matches(&view) {
                out.push(rule.build_match(&view));
            }
        }
    }
}

impl Rule {
    pub(crate) fn build_match(&self, view: &LogView<'_>) -> RuleMatch {
        let group_key = group_key(&self.group_by, view, &self.name);
        let effect = if self.resolves.is_empty() {
            Effect::Open
        } else {
            Effect::Resolve {
                fingerprints: self
                    .resolves
                    .iter()
                    .map(|r| fingerprint(r, &group_key))
                    .collect(),
                rules: self.resolves.clone(),
            }
        };
        RuleMatch {
            rule: self.name.clone(),
            source: self.source,
            severity: self.severity,
            fingerprint: fingerprint(&self.name, &group_key),
            group_key,
            title: self.title.render(view, &self.name),
            description: self.description.clone(),
            runbook_url: self.runbook_url.clone(),
            action: self.action.as_ref().map(|a| MatchedAction {
                action_type: a.spec.action_type,
                requires_approval: a.spec.requires_approval,
                target_job: a.job.render_complete(view, &self.name),
            }),
            runbook: self.runbook.clone(),
            threshold: self.threshold,
            effect,
        }
    }
}

/// `<rule>:<group key>`.
pub fn fingerprint(rule: &str, group_key: &str) -> String {
    let mut f = String::with_capacity(rule.len() + 1 + group_key.len());
    f.push_str(rule);
    f.push(':');
    f.push_str(group_key);
    f
}

pub(crate) fn group_key(fields: &[Field], view: &LogView<'_>, rule: &str) -> String {
    let mut key = String::new();
    if let [only] = fields {
        // One field cannot collide with another, so its value is kept as is: the key of a
        // job-grouped rule is the job name, which resolve-by-job relies on.
        view.write_field(*only, rule, &mut key);
        return key;
    }
    let mut value = String::new();
    for (i, f) in fields.iter().enumerate() {
        if i > 0 {
            key.push('|');
        }
        value.clear();
        view.write_field(*f, rule, &mut value);
        for c in value.chars() {
            if matches!(c, '|' | '\\') {
                key.push('\\');
            }
            key.push(c);
        }
    }
    key
}

#[cfg(test)]
mod tests {
    use super::*;
    use domain::{ApiLog, Level};

    fn api(service: Option<&str>, path: Option<&str>) -> LogRecord {
        LogRecord::Api(ApiLog {
            timestamp: "2026-11-01T10:00:00Z".parse().unwrap(),
            level: Level::Error,
            http_method: Some("GET".into()),
            http_status: 503,
            path: path.map(Into::into),
            latency_ms: None,
            service: service.map(Into::into),
            message: String::new(),
            details: None,
            source_id: None,
        })
    }

    #[test]
    fn group_keys_join_escape_and_allow_empty_values() {
        let fields = [Field::Service, Field::Path];
        let log = api(Some("orders"), Some("/a"));
        assert_eq!(group_key(&fields, &LogView::new(&log), "r"), "orders|/a");
        let log = api(None, Some("/a"));
        assert_eq!(group_key(&fields, &LogView::new(&log), "r"), "|/a");
        let log = api(Some("a|b"), Some("c\\"));
        assert_eq!(group_key(&fields, &LogView::new(&log), "r"), "a\\|b|c\\\\");
        // The same values split differently must not give the same key.
        let log2 = api(Some("a"), Some("b|c\\"));
        assert_ne!(
            group_key(&fields, &LogView::new(&log), "r"),
            group_key(&fields, &LogView::new(&log2), "r")
        );
        assert_eq!(group_key(&[], &LogView::new(&log), "r"), "");
        assert_eq!(
            group_key(&[Field::Service], &LogView::new(&log), "r"),
            "a|b"
        );
        assert_eq!(
            group_key(
                &[Field::HttpStatus, Field::HttpMethod],
                &LogView::new(&log),
                "r"
            ),
            "503|GET"
        );
    }

    #[test]
    fn fingerprints_are_rule_colon_key() {
        assert_eq!(fingerprint("r", "a|b"), "r:a|b");
        assert_eq!(fingerprint("r", ""), "r:");
    }
}
