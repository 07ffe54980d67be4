//! `POST /events` and `GET /events` (the seed's event registration), `GET /audit`.

use std::sync::Arc;

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::error::{ApiError, ApiJson, ApiQuery};
use super::producers::Producers;
use crate::core::Core;
use crate::events::MAX_TYPE_LEN;
use crate::repo::events::{self as repo, AuditFilter, AuditRow, EventFilter, EventRow, NewEvent};

const DEFAULT_PAGE: i64 = 50;

/// The body of `POST /events`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EventBody {
    #[serde(rename = "type")]
    pub event_type: String,
    pub payload: serde_json::Value,
    /// debug, info (default), warn, error or critical.
    #[serde(default)]
    pub severity: Option<String>,
    /// Who sends it: always the producer whose token authenticated the request. Accepted
    /// only when it says the same (older senders set it); anything else is refused.
    #[serde(default)]
    pub producer: Option<String>,
    #[serde(default)]
    pub occurred_at: Option<DateTime<Utc>>,
    /// The sender's id for the event: sending it again changes nothing.
    #[serde(default)]
    pub id: Option<Uuid>,
}

fn valid_word(s: &str, max: usize) -> bool {
    (1..=max).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-' | b':'))
}

/// Event types that only arrive from the bus: an anonymous HTTP caller must not write
/// something that reads as an audit record or a domain event.
fn reserved(t: &str) -> bool {
    let t = t.to_ascii_lowercase();
    [
        "audit.",
        "incident.",
        "action.",
        "health.",
        "postmortem.",
        "log.",
    ]
    .iter()
    .any(|p| t.starts_with(p))
}

const SEVERITIES: [&str; 5] = ["debug", "info", "warn", "error", "critical"];

pub async fn create(
    State(core): State<Core>,
    Extension(producers): Extension<Arc<Producers>>,
    headers: HeaderMap,
    body: Result<ApiJson<EventBody>, ApiError>,
) -> Response {
    // Authentication first: an anonymous caller learns nothing from validation errors.
    let producer = match producers.authenticate(&headers) {
        Ok(p) => p.to_owned(),
        Err(refused) => {
            tracing::warn!(reason = ?refused, "event registration refused");
            return refused.into_response();
        }
    };
    let ApiJson(body) = match body {
        Ok(b) => b,
        Err(e) => return e.into_response(),
    };
    match create_event(&core, body, producer).await {
        Ok((status, row)) => (status, Json(row)).into_response(),
        Err(e) => e.into_response(),
    }
}

async fn create_event(
    core: &Core,
    b: EventBody,
    producer: String,
) -> Result<(StatusCode, EventRow), ApiError> {
    if !valid_word(&b.event_type, MAX_TYPE_LEN) {
        return Err(ApiError::unprocessable(format!(
            "type: 1-{MAX_TYPE_LEN} letters, digits, `.`, `_`, `-` or `:`"
        )));
    }
    if reserved(&b.event_type) {
        return Err(ApiError::unprocessable(format!(
            "type: `{}` is reserved for events from the bus (audit.*, incident.*, action.*, health.*, postmortem.*, log.*)",
            b.event_type
        )));
    }
    if b.payload.is_null() {
        return Err(ApiError::unprocessable("payload: must not be null"));
    }
    let severity = match b.severity.as_deref() {
        None => "info",
        Some(s) => SEVERITIES
            .iter()
            .copied()
            .find(|v| *v == s)
            .ok_or_else(|| {
                ApiError::unprocessable(format!(
                    "severity: `{s}` is not one of {}",
                    SEVERITIES.join(", ")
                ))
            })?,
    };
    if let Some(claimed) = &b.producer
        && *claimed != producer
    {
        return Err(ApiError::unprocessable(format!(
            "producer: the producer is who authenticated (`{producer}`); leave the field out"
        )));
    }
    let new = NewEvent {
        event_id: b.id.unwrap_or_else(Uuid::now_v7),
        event_type: b.event_type,
        producer,
        severity,
        payload: b.payload,
        occurred_at: b.occurred_at.unwrap_or_else(Utc::now),
    };
    match crate::events::store(core, &new, None).await? {
        Some(row) => Ok((StatusCode::CREATED, row)),
        // The same id again: what was stored the first time.
        None => repo::by_event_id(&core.pool, new.event_id)
            .await?
            .map(|row| (StatusCode::OK, row))
            .ok_or_else(|| ApiError::not_found("event vanished")),
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EventQuery {
    /// An exact type, or a prefix ending in `*` (`incident.*`).
    #[serde(rename = "type")]
    pub event_type: Option<String>,
    pub since: Option<DateTime<Utc>>,
    pub limit: Option<i64>,
    /// The `next_before` of the previous page.
    pub before: Option<i64>,
}

#[derive(Debug, Serialize)]
pub struct Page<T> {
    pub items: Vec<T>,
    /// Pass as `before` for the next (older) page; `null` on the last one.
    pub next_before: Option<i64>,
}

fn page_limit(core: &Core, limit: Option<i64>) -> Result<i64, ApiError> {
    let max = core.settings.events.max_page;
    let limit = limit.unwrap_or(DEFAULT_PAGE.min(max));
    if !(1..=max).contains(&limit) {
        return Err(ApiError::bad_request(format!(
            "limit: must be between 1 and {max}"
        )));
    }
    Ok(limit)
}

fn page<T>(items: Vec<T>, limit: i64, id: impl Fn(&T) -> i64) -> Page<T> {
    let next_before = (items.len() as i64 == limit)
        .then(|| items.last().map(&id))
        .flatten();
    Page { items, next_before }
}

pub async fn list(
    State(core): State<Core>,
    ApiQuery(q): ApiQuery<EventQuery>,
) -> Result<Json<Page<EventRow>>, ApiError> {
    let limit = page_limit(&core, q.limit)?;
    if let Some(t) = &q.event_type {
        let word = t.strip_suffix('*').unwrap_or(t);
        let everything = t == "*";
        if !everything && !valid_word(word, MAX_TYPE_LEN) {
            return Err(ApiError::bad_request(
                "type: an event type, or a prefix ending in `*` (e.g. `incident.*`)",
            ));
        }
    }
    let filter = EventFilter {
        event_type: q.event_type.filter(|t| t != "*"),
        since: q.since,
        before: q.before,
        limit,
    };
    let items = repo::list(&core.pool, &filter).await?;
    Ok(Json(page(items, limit, |e| e.id)))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuditQuery {
    /// The principal, or the user it acted for (`slack:U123`).
    pub actor: Option<String>,
    /// allowed or denied.
    pub outcome: Option<String>,
    pub since: Option<DateTime<Utc>>,
    pub limit: Option<i64>,
    pub before: Option<i64>,
}

pub async fn audit(
    State(core): State<Core>,
    ApiQuery(q): ApiQuery<AuditQuery>,
) -> Result<Json<Page<AuditRow>>, ApiError> {
    let limit = page_limit(&core, q.limit)?;
    if let Some(a) = &q.actor
        && (a.is_empty() || a.len() > 200)
    {
        return Err(ApiError::bad_request("actor: 1-200 characters"));
    }
    if let Some(o) = &q.outcome
        && !matches!(o.as_str(), "allowed" | "denied")
    {
        return Err(ApiError::bad_request("outcome: allowed or denied"));
    }
    let filter = AuditFilter {
        actor: q.actor,
        outcome: q.outcome,
        since: q.since,
        before: q.before,
        limit,
    };
    let items = repo::list_audit(&core.pool, &filter).await?;
    Ok(Json(page(items, limit, |a| a.id)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reserved_types_belong_to_the_bus() {
        assert!(reserved("audit.incident.acknowledge"));
        assert!(reserved("Health.service.down"));
        assert!(!reserved("deploy.finished"));
        assert!(!reserved("error"));
    }

    #[test]
    fn words_are_restricted() {
        assert!(valid_word("deploy.finished", 200));
        assert!(valid_word("svc:auth", 200));
        assert!(!valid_word("a b", 200));
        assert!(!valid_word("100%", 200));
        assert!(!valid_word("", 200));
    }
}
