//! The overview's query string: the look and the filters of its events and audit lists,
//! each checked to be a plain word of its kind before it reaches SQL.

use crate::repo::console::{ConsoleAudit, ConsoleEvents};

const RECENT: i64 = 20;

/// The overview's query string: the look and the filters of the events and audit lists.
#[derive(Debug, Clone, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OverviewQuery {
    pub theme: Option<String>,
    pub wall: Option<String>,
    pub event_type: Option<String>,
    pub severity: Option<String>,
    pub actor: Option<String>,
    pub verb: Option<String>,
    pub outcome: Option<String>,
}

fn word_ok(s: &str) -> bool {
    let body = s.strip_suffix('*').unwrap_or(s);
    (1..=200).contains(&s.len())
        && body
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-' | b':'))
}

/// Empty fields mean "any"; anything else must be a plain word of the right kind.
pub fn filters(q: &OverviewQuery) -> Result<(ConsoleEvents, ConsoleAudit), String> {
    let some = |v: &Option<String>| {
        v.as_deref()
            .map(str::trim)
            .filter(|v| !v.is_empty())
            .map(str::to_string)
    };
    let (event_type, severity) = (some(&q.event_type), some(&q.severity));
    let (actor, verb, outcome) = (some(&q.actor), some(&q.verb), some(&q.outcome));
    if event_type.as_deref().is_some_and(|t| !word_ok(t)) {
        return Err(
            "event type: letters, digits, `.`, `_`, `-`, `:`, optionally ending in `*`".into(),
        );
    }
    if severity
        .as_deref()
        .is_some_and(|s| !["debug", "info", "warn", "error", "critical"].contains(&s))
    {
        return Err("severity: debug, info, warn, error or critical".into());
    }
    if verb
        .as_deref()
        .is_some_and(|v| v.ends_with('*') || !word_ok(v))
    {
        return Err("verb: letters, digits, `.`, `_`, `-`, `:`".into());
    }
    if outcome
        .as_deref()
        .is_some_and(|o| o != "allowed" && o != "denied")
    {
        return Err("outcome: allowed or denied".into());
    }
    if actor
        .as_deref()
        .is_some_and(|a| a.chars().count() > 200 || a.chars().any(char::is_control))
    {
        return Err("principal: at most 200 characters".into());
    }
    Ok((
        ConsoleEvents {
            event_type,
            severity,
            limit: RECENT,
        },
        ConsoleAudit {
            actor,
            verb,
            outcome,
            limit: RECENT,
        },
    ))
}
