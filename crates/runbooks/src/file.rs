//! Reading runbooks: a file (TOML, every key checked, each runbook compiled and validated)
//! and a run's stored definition.

use std::collections::BTreeMap;

use crate::duration::parse_duration;
use crate::error::RunbooksError;
use serde::Deserialize;

use crate::model::*;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    #[serde(default)]
    pub runbook: Vec<RawRunbook>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRunbook {
    pub name: String,
    pub version: u32,
    pub description: Option<String>,
    #[serde(default)]
    pub step: Vec<RawStep>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawStep {
    pub name: String,
    pub kind: String,
    pub params: Option<toml::Table>,
    pub on_success: Option<String>,
    pub on_failure: Option<String>,
    pub on_timeout: Option<String>,
    pub timeout: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ActionParams {
    requires_approval: Option<bool>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RollbackParams {
    to: toml::Value,
    requires_approval: Option<bool>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct VerifyParams {
    condition: String,
    window: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ApproveParams {
    approvals: Option<u32>,
}

/// Most approvers an approve step may ask for (the policy's own cap on clauses).
pub const MAX_STEP_APPROVALS: u32 = 5;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct WaitParams {
    duration: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ResolveParams {
    note: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct EscalateParams {
    message: Option<String>,
}

impl Runbook {
    /// A stored definition, its branches linked and checked again.
    pub fn from_definition(v: &serde_json::Value) -> Result<Runbook, RunbooksError> {
        let mut rb: Runbook = serde_json::from_value(v.clone()).map_err(|e| {
            RunbooksError::File(format!("a stored runbook definition does not decode: {e}"))
        })?;
        let name = rb.name.clone();
        let find = |t: &Option<String>, names: &[String]| -> Result<Option<usize>, RunbooksError> {
            match t {
                None => Ok(None),
                Some(t) => names.iter().position(|n| n == t).map(Some).ok_or_else(|| {
                    RunbooksError::Invalid {
                        runbook: name.clone(),
                        step: None,
                        message: format!("a branch names `{t}`, which is not a step"),
                    }
                }),
            }
        };
        let names: Vec<String> = rb.steps.iter().map(|s| s.name.clone()).collect();
        if names.is_empty() {
            return Err(RunbooksError::Invalid {
                runbook: name,
                step: None,
                message: "no steps".into(),
            });
        }
        for s in &mut rb.steps {
            s.success = find(&s.on_success, &names)?;
            s.failure = find(&s.on_failure, &names)?;
            s.timeout = find(&s.on_timeout, &names)?;
        }
        crate::validate::validate(&rb)?;
        Ok(rb)
    }
}

/// Every runbook of a file, by name.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RunbookSet {
    runbooks: BTreeMap<String, Runbook>,
}

impl RunbookSet {
    /// Parses and validates a runbooks file; the first problem is the error.
    pub fn from_toml_str(text: &str) -> Result<RunbookSet, RunbooksError> {
        let raw = parse(text)?;
        let mut runbooks = BTreeMap::new();
        for r in raw.runbook {
            let rb = compile(r)?;
            crate::validate::validate(&rb)?;
            if runbooks.contains_key(&rb.name) {
                return Err(RunbooksError::Invalid {
                    runbook: rb.name,
                    step: None,
                    message: "a second runbook has this name".into(),
                });
            }
            runbooks.insert(rb.name.clone(), rb);
        }
        Ok(RunbookSet { runbooks })
    }

    /// The shipped defaults.
    pub fn builtin() -> RunbookSet {
        RunbookSet::from_toml_str(crate::DEFAULT_RUNBOOKS).expect("the shipped runbooks are valid")
    }

    /// The file at `path`, or the shipped defaults without one.
    pub fn load_or_builtin(path: Option<&std::path::Path>) -> Result<RunbookSet, RunbooksError> {
        match path {
            Some(p) => RunbookSet::load(p),
            None => Ok(RunbookSet::builtin()),
        }
    }

    pub fn load(path: &std::path::Path) -> Result<RunbookSet, RunbooksError> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| RunbooksError::File(format!("cannot read {}: {e}", path.display())))?;
        RunbookSet::from_toml_str(&text)
    }

    pub fn get(&self, name: &str) -> Option<&Runbook> {
        self.runbooks.get(name)
    }

    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.runbooks.keys().map(String::as_str)
    }

    pub fn len(&self) -> usize {
        self.runbooks.len()
    }

    pub fn is_empty(&self) -> bool {
        self.runbooks.is_empty()
    }
}

fn parse(text: &str) -> Result<RawFile, RunbooksError> {
    let located = |e: &toml::de::Error, path: Option<String>| {
        let offset = e.span().map(|s| s.start).unwrap_or(0);
        let (line, column) = line_col(text, offset);
        RunbooksError::Parse {
            line,
            column,
            path,
            message: e.message().trim().to_string(),
        }
    };
    let de = toml::Deserializer::parse(text).map_err(|e| located(&e, None))?;
    serde_path_to_error::deserialize(de).map_err(|e| {
        let path = e.path().to_string();
        let path = (path != ".").then_some(path);
        located(e.inner(), path)
    })
}

fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let mut offset = offset.min(text.len());
    while !text.is_char_boundary(offset) {
        offset -= 1;
    }
    let before = &text[..offset];
    let line = before.matches('\n').count() + 1;
    let start = before.rfind('\n').map_or(0, |i| i + 1);
    (line, before[start..].chars().count() + 1)
}

fn compile(r: RawRunbook) -> Result<Runbook, RunbooksError> {
    let invalid = |step: Option<&str>, message: String| RunbooksError::Invalid {
        runbook: r.name.clone(),
        step: step.map(str::to_string),
        message,
    };
    if !valid_name(&r.name) {
        return Err(invalid(
            None,
            "a runbook name is 1..=64 of a-z, 0-9, `-`, `_`, starting with a letter or digit"
                .into(),
        ));
    }
    if r.version == 0 {
        return Err(invalid(None, "`version` starts at 1".into()));
    }
    if r.step.is_empty() {
        return Err(invalid(
            None,
            "a runbook needs at least one `[[runbook.step]]`".into(),
        ));
    }
    let mut steps = Vec::with_capacity(r.step.len());
    for s in &r.step {
        let name = s.name.as_str();
        if !valid_name(name) {
            return Err(invalid(
                Some(name),
                "a step name is 1..=64 of a-z, 0-9, `-`, `_`, starting with a letter or digit"
                    .into(),
            ));
        }
        let kind = Kind::parse(&s.kind).ok_or_else(|| {
            let all: Vec<_> = Kind::ALL.iter().map(|k| k.as_str()).collect();
            invalid(
                Some(name),
                format!("unknown kind `{}` (one of: {})", s.kind, all.join(", ")),
            )
        })?;
        let params = step_params(kind, s.params.clone().unwrap_or_default())
            .map_err(|m| invalid(Some(name), m))?;
        let timeout_secs = match &s.timeout {
            Some(t) => Some(
                parse_duration(t)
                    .map_err(|m| invalid(Some(name), format!("timeout: {m}")))
                    .and_then(|secs| {
                        if secs == 0 {
                            Err(invalid(Some(name), "timeout: must be above zero".into()))
                        } else {
                            Ok(secs)
                        }
                    })?,
            ),
            None if kind.is_action() => Some(DEFAULT_ACTION_TIMEOUT_SECS),
            None => None,
        };
        steps.push(Step {
            name: s.name.clone(),
            kind,
            params,
            timeout_secs,
            on_success: s.on_success.clone(),
            on_failure: s.on_failure.clone(),
            on_timeout: s.on_timeout.clone(),
            success: None,
            failure: None,
            timeout: None,
        });
    }
    let index: BTreeMap<String, usize> = steps
        .iter()
        .enumerate()
        .map(|(i, s)| (s.name.clone(), i))
        .collect();
    if index.len() != steps.len() {
        return Err(invalid(None, "two steps have the same name".into()));
    }
    let resolve = |step: &str, key: &str, target: &Option<String>| match target {
        None => Ok(None),
        Some(t) => index.get(t).copied().map(Some).ok_or_else(|| {
            invalid(
                Some(step),
                format!("`{key}` names `{t}`, which is not a step of this runbook"),
            )
        }),
    };
    for s in &mut steps {
        s.success = resolve(&s.name, "on_success", &s.on_success)?;
        s.failure = resolve(&s.name, "on_failure", &s.on_failure)?;
        s.timeout = resolve(&s.name, "on_timeout", &s.on_timeout)?;
    }
    Ok(Runbook {
        name: r.name,
        version: r.version,
        description: r.description,
        steps,
    })
}

fn valid_name(s: &str) -> bool {
    let b = s.as_bytes();
    !b.is_empty()
        && b.len() <= 64
        && b[0].is_ascii_alphanumeric()
        && b.iter()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'-' || *c == b'_')
}

fn typed<T: serde::de::DeserializeOwned>(t: toml::Table) -> Result<T, String> {
    serde_path_to_error::deserialize(toml::Value::Table(t)).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.inner().message().trim().to_string();
        if path == "." {
            format!("params: {inner}")
        } else {
            format!("params.{path}: {inner}")
        }
    })
}

fn step_params(kind: Kind, t: toml::Table) -> Result<StepParams, String> {
    Ok(match kind {
        Kind::Restart | Kind::Stop => {
            let p: ActionParams = typed(t)?;
            StepParams::Action {
                requires_approval: p.requires_approval,
            }
        }
        Kind::Rollback => {
            let p: RollbackParams = typed(t)?;
            let to = match &p.to {
                toml::Value::String(s) if s == "last_success" => RollbackTo::LastSuccess,
                toml::Value::Integer(n) if *n > 0 => RollbackTo::Build(*n),
                _ => {
                    return Err("params.to: a build number above zero or \"last_success\"".into());
                }
            };
            StepParams::Rollback {
                to,
                requires_approval: p.requires_approval,
            }
        }
        Kind::Verify => {
            let p: VerifyParams = typed(t)?;
            let cond = match p.condition.as_str() {
                "next_build_success" => {
                    if p.window.is_some() {
                        return Err(
                            "params.window: only `no_new_occurrences` takes a window".into()
                        );
                    }
                    VerifyCondition::NextBuildSuccess
                }
                "no_new_occurrences" => {
                    let w = p.window.ok_or(
                        "params.window: `no_new_occurrences` needs a window (e.g. \"5m\")",
                    )?;
                    let secs = parse_duration(&w).map_err(|m| format!("params.window: {m}"))?;
                    if secs == 0 {
                        return Err("params.window: must be above zero".into());
                    }
                    VerifyCondition::NoNewOccurrences { window_secs: secs }
                }
                other => {
                    return Err(format!(
                        "params.condition: unknown condition `{other}` (one of: next_build_success, no_new_occurrences)"
                    ));
                }
            };
            StepParams::Verify(cond)
        }
        Kind::Approve => {
            let p: ApproveParams = typed(t)?;
            let approvals = p.approvals.unwrap_or(1);
            if !(1..=MAX_STEP_APPROVALS).contains(&approvals) {
                return Err(format!(
                    "params.approvals: between 1 and {MAX_STEP_APPROVALS}"
                ));
            }
            StepParams::Approve { approvals }
        }
        Kind::Wait => {
            let p: WaitParams = typed(t)?;
            let secs = parse_duration(&p.duration).map_err(|m| format!("params.duration: {m}"))?;
            StepParams::Wait {
                duration_secs: secs,
            }
        }
        Kind::Resolve => {
            let p: ResolveParams = typed(t)?;
            StepParams::Resolve { note: p.note }
        }
        Kind::Escalate => {
            let p: EscalateParams = typed(t)?;
            StepParams::Escalate { message: p.message }
        }
    })
}
