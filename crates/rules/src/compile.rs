//! Validation and compilation of raw rules into an immutable [`RuleSet`].

use std::collections::HashMap;
use std::path::Path;
use std::time::Duration;

use serde::Serialize;

use domain::{ActionType, Severity, Source};

use super::condition::Node;
use super::error::{RuleRef, RulesError};
use super::model::{self, RawAction, RawRule, RawThreshold};
use super::template::Template;
use super::view::Field;
use super::when::compile_when;

const MAX_NAME_LEN: usize = 100;

/// "N matches within W seconds per group". The engine only describes it: counting happens
/// in PostgreSQL so that every orchestrator replica sees the same count.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub struct Threshold {
    pub count: u32,
    pub window_secs: u32,
}

impl Threshold {
    pub fn window(&self) -> Duration {
        Duration::from_secs(u64::from(self.window_secs))
    }
}

/// A rule's automatic action as configured.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct ActionSpec {
    pub action_type: ActionType,
    pub requires_approval: bool,
}

impl ActionSpec {
    /// Restarting is cheap to undo; rolling back or stopping a job is not, so those wait for
    /// a person unless the rule says otherwise.
    pub fn default_requires_approval(action_type: ActionType) -> bool {
        !matches!(action_type, ActionType::Restart)
    }
}

#[derive(Debug, Clone)]
pub(crate) struct RuleAction {
    pub spec: ActionSpec,
    /// The Jenkins job to act on.
    pub job: Template,
}

/// One compiled rule.
#[derive(Debug, Clone)]
pub struct Rule {
    pub(crate) name: String,
    pub(crate) description: Option<String>,
    pub(crate) enabled: bool,
    pub(crate) source: Source,
    pub(crate) severity: Severity,
    pub(crate) title: Template,
    pub(crate) runbook_url: Option<String>,
    pub(crate) group_by: Vec<Field>,
    pub(crate) when: Node,
    pub(crate) action: Option<RuleAction>,
    /// The runbook a new incident starts (instead of a one-step action).
    pub(crate) runbook: Option<String>,
    pub(crate) threshold: Option<Threshold>,
    /// Non-empty for a recovery rule.
    pub(crate) resolves: Vec<String>,
}

impl Rule {
    pub fn name(&self) -> &str {
        &self.name
    }
    pub fn description(&self) -> Option<&str> {
        self.description.as_deref()
    }
    pub fn is_enabled(&self) -> bool {
        self.enabled
    }
    pub fn source(&self) -> Source {
        self.source
    }
    pub fn severity(&self) -> Severity {
        self.severity
    }
    pub fn runbook_url(&self) -> Option<&str> {
        self.runbook_url.as_deref()
    }
    pub fn group_by(&self) -> &[Field] {
        &self.group_by
    }
    pub fn action(&self) -> Option<ActionSpec> {
        self.action.as_ref().map(|a| a.spec)
    }
    /// The runbook a new incident of this rule starts.
    pub fn runbook(&self) -> Option<&str> {
        self.runbook.as_deref()
    }
    pub fn threshold(&self) -> Option<Threshold> {
        self.threshold
    }
    /// The rules whose open incidents this recovery rule resolves; empty for detection rules.
    pub fn resolves(&self) -> &[String] {
        &self.resolves
    }
    pub fn is_recovery(&self) -> bool {
        !self.resolves.is_empty()
    }
}

/// A validated, compiled and immutable set of rules. Cheap to share behind an `Arc`.
#[derive(Debug, Clone)]
pub struct RuleSet {
    pub(crate) rules: Vec<Rule>,
    /// Indices of the enabled rules per source, so a log only meets rules that can match it.
    pub(crate) by_source: [Vec<usize>; 2],
}

pub(crate) fn source_index(source: Source) -> usize {
    match source {
        Source::Jenkins => 0,
        Source::Api => 1,
    }
}

impl RuleSet {
    /// Parses, validates and compiles a rules file's text. The first problem found is
    /// returned, naming the rule (by name, or by position when it has none) and the reason.
    pub fn from_toml_str(text: &str) -> Result<RuleSet, RulesError> {
        let raw = model::parse(text)?;
        let mut rules = Vec::with_capacity(raw.rule.len());
        let mut seen: HashMap<String, usize> = HashMap::new();
        for (i, r) in raw.rule.iter().enumerate() {
            let rule = compile_rule(r, i + 1)?;
            if let Some(first) = seen.insert(rule.name.clone(), i + 1) {
                return Err(RulesError::invalid(
                    &RuleRef::Name(rule.name),
                    format!("duplicate name: rule #{first} has the same name"),
                ));
            }
            rules.push(rule);
        }
        check_resolves(&rules)?;

        let mut by_source: [Vec<usize>; 2] = [Vec::new(), Vec::new()];
        for (i, r) in rules.iter().enumerate().filter(|(_, r)| r.enabled) {
            by_source[source_index(r.source)].push(i);
        }
        if rules.is_empty() {
            tracing::warn!("rules file defines no rule: no incident will be detected");
        }
        tracing::debug!(
            rules = rules.len(),
            enabled = by_source[0].len() + by_source[1].len(),
            "rules compiled"
        );
        Ok(RuleSet { rules, by_source })
    }

    /// Reads and compiles a rules file.
    pub fn load(path: impl AsRef<Path>) -> Result<RuleSet, RulesError> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path).map_err(|source| RulesError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        let set = RuleSet::from_toml_str(&text)?;
        tracing::info!(path = %path.display(), rules = set.len(), "rules loaded");
        Ok(set)
    }

    /// The shipped default rules ([`crate::DEFAULT_RULES`]).
    pub fn builtin() -> RuleSet {
        RuleSet::from_toml_str(crate::DEFAULT_RULES)
            .expect("the shipped default rules compile (checked by tests)")
    }

    /// The rules file at `path`, or the shipped defaults when no path is configured.
    pub fn load_or_builtin(path: Option<&Path>) -> Result<RuleSet, RulesError> {
        match path {
            Some(p) => RuleSet::load(p),
            None => {
                tracing::info!("no rules path configured, using the shipped default rules");
                Ok(RuleSet::builtin())
            }
        }
    }

    /// Every rule, enabled or not, in file order.
    pub fn rules(&self) -> &[Rule] {
        &self.rules
    }

    pub fn get(&self, name: &str) -> Option<&Rule> {
        self.rules.iter().find(|r| r.name == name)
    }

    pub fn len(&self) -> usize {
        self.rules.len()
    }

    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }

    pub fn enabled_count(&self) -> usize {
        self.by_source.iter().map(Vec::len).sum()
    }
}

fn compile_rule(raw: &RawRule, index: usize) -> Result<Rule, RulesError> {
    let rref = match raw.name.as_deref() {
        Some(n) if !n.trim().is_empty() => RuleRef::Name(n.to_string()),
        _ => RuleRef::Index(index),
    };
    let fail = |reason: String| RulesError::invalid(&rref, reason);

    let name = raw.name.clone().unwrap_or_default();
    check_name(&name).map_err(fail)?;
    let source: Source = match raw.source.as_deref() {
        None => return Err(fail("missing `source` (jenkins or api)".into())),
        Some(s) => s
            .parse()
            .map_err(|_| fail(format!("unknown source `{s}` (expected jenkins or api)")))?,
    };
    let resolves = raw.resolves.clone().unwrap_or_default();
    let recovery = raw.resolves.is_some();
    if recovery && resolves.is_empty() {
        return Err(fail("`resolves` is empty".into()));
    }

    let severity = match raw.severity.as_deref() {
        Some(s) => s.parse::<Severity>().map_err(|_| {
            fail(format!(
                "unknown severity `{s}` (expected critical, high, medium or low)"
            ))
        })?,
        // A recovery rule opens nothing, so its severity is only informative.
        None if recovery => Severity::Low,
        None => return Err(fail("missing `severity`".into())),
    };
    let title = match raw.title.as_deref() {
        Some(t) => Template::parse(t, source).map_err(|e| fail(format!("title: {e}")))?,
        None if recovery => Template::parse("{rule}", source).map_err(fail)?,
        None => return Err(fail("missing `title`".into())),
    };
    if let Some(url) = &raw.runbook_url
        && (!(url.starts_with("https://") || url.starts_with("http://"))
            || url.chars().any(char::is_whitespace))
    {
        return Err(fail(format!("runbook_url `{url}` is not an http(s) URL")));
    }
    let group_by = group_by(raw.group_by.as_deref().unwrap_or_default(), source).map_err(fail)?;
    let when = match &raw.when {
        None => {
            return Err(fail(
                "missing `when`: a rule needs at least one condition".into(),
            ));
        }
        Some(w) => compile_when(w, source).map_err(fail)?,
    };
    if recovery && raw.action.is_some() {
        return Err(fail(
            "a recovery rule (`resolves`) cannot have an action".into(),
        ));
    }
    if recovery && raw.threshold.is_some() {
        return Err(fail(
            "a recovery rule (`resolves`) cannot have a threshold".into(),
        ));
    }
    let action = raw
        .action
        .as_ref()
        .map(|a| action(a, source))
        .transpose()
        .map_err(fail)?;
    let runbook = match &raw.runbook {
        None => None,
        Some(_) if recovery => {
            return Err(fail(
                "a recovery rule (`resolves`) cannot start a runbook".into(),
            ));
        }
        Some(_) if raw.action.is_some() => {
            return Err(fail(
                "a rule has either `[rule.action]` or `[rule.runbook]`, not both (a runbook's steps include its actions)".into(),
            ));
        }
        Some(r) => match r.name.as_deref().map(str::trim) {
            Some(n) if !n.is_empty() => Some(n.to_string()),
            _ => return Err(fail("runbook: missing `name`".into())),
        },
    };
    let threshold = raw
        .threshold
        .as_ref()
        .map(threshold)
        .transpose()
        .map_err(fail)?;

    Ok(Rule {
        name,
        description: raw.description.clone(),
        enabled: raw.enabled.unwrap_or(true),
        source,
        severity,
        title,
        runbook_url: raw.runbook_url.clone(),
        group_by,
        when,
        action,
        runbook,
        threshold,
        resolves,
    })
}

fn check_name(name: &str) -> Result<(), String> {
    if name.trim().is_empty() {
        return Err("missing `name`".into());
    }
    // `:` separates the rule from the group key in fingerprints, so it cannot be allowed.
    if name.len() > MAX_NAME_LEN
        || !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
    {
        return Err(format!(
            "name `{name}` must be at most {MAX_NAME_LEN} letters, digits, `_`, `-` or `.`"
        ));
    }
    Ok(())
}

fn group_by(names: &[String], source: Source) -> Result<Vec<Field>, String> {
    let mut fields = Vec::with_capacity(names.len());
    for n in names {
        let field = Field::group_by(n).ok_or_else(|| {
            format!(
                "group_by: unknown field `{n}` (expected job_name, path, service, method or status)"
            )
        })?;
        if let Some(only) = field.only_on()
            && only != source
        {
            return Err(format!(
                "group_by: `{n}` exists only on {only} logs, but the rule's source is {source}"
            ));
        }
        if fields.contains(&field) {
            return Err(format!("group_by: `{n}` is listed twice"));
        }
        fields.push(field);
    }
    Ok(fields)
}

fn action(raw: &RawAction, source: Source) -> Result<RuleAction, String> {
    let action_type: ActionType = match raw.kind.as_deref() {
        None => return Err("action: missing `type` (restart, rollback or stop)".into()),
        Some(t) => t.parse().map_err(|_| {
            format!("action: unknown type `{t}` (expected restart, rollback or stop)")
        })?,
    };
    let job = match (raw.job.as_deref(), source) {
        (Some(t), _) => Template::parse(t, source).map_err(|e| format!("action.job: {e}"))?,
        (None, Source::Jenkins) => Template::parse("{job_name}", source)?,
        (None, Source::Api) => {
            return Err(
                "action: `job` is required on api rules (the Jenkins job to act on, e.g. \"deploy-{service}\")"
                    .into(),
            );
        }
    };
    Ok(RuleAction {
        spec: ActionSpec {
            action_type,
            requires_approval: raw
                .requires_approval
                .unwrap_or_else(|| ActionSpec::default_requires_approval(action_type)),
        },
        job,
    })
}

fn threshold(raw: &RawThreshold) -> Result<Threshold, String> {
    let positive = |v: Option<i64>, key: &str| -> Result<u32, String> {
        let v = v.ok_or_else(|| format!("threshold: missing `{key}`"))?;
        u32::try_from(v).ok().filter(|v| *v >= 1).ok_or_else(|| {
            format!(
                "threshold.{key} must be between 1 and {}, not {v}",
                u32::MAX
            )
        })
    };
    Ok(Threshold {
        count: positive(raw.count, "count")?,
        window_secs: positive(raw.window_secs, "window_secs")?,
    })
}

/// A recovery rule resolves incidents whose fingerprint is `<target>:<its group key>`, so
/// it must exist, open incidents, and group logs the same way.
fn check_resolves(rules: &[Rule]) -> Result<(), RulesError> {
    for rule in rules.iter().filter(|r| r.is_recovery()) {
        let rref = RuleRef::Name(rule.name.clone());
        for target in &rule.resolves {
            let reason = if *target == rule.name {
                Some(format!("resolves itself (`{target}`)"))
            } else {
                match rules.iter().find(|r| r.name == *target) {
                    None => Some(format!("resolves unknown rule `{target}`")),
                    Some(t) if t.is_recovery() => Some(format!(
                        "resolves `{target}`, which is itself a recovery rule"
                    )),
                    Some(t) if t.group_by != rule.group_by => Some(format!(
                        "resolves `{target}`, which groups by [{}] while this rule groups by [{}]: their fingerprints could never meet",
                        field_names(&t.group_by),
                        field_names(&rule.group_by)
                    )),
                    Some(_) => None,
                }
            };
            if let Some(reason) = reason {
                return Err(RulesError::invalid(&rref, reason));
            }
        }
    }
    Ok(())
}

fn field_names(fields: &[Field]) -> String {
    fields
        .iter()
        .map(|f| f.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}
