//! Escalation: the pages a run sends when it calls people — PagerDuty Events API v2 and a
//! generic signed webhook, chosen by the incident's severity (`[runbooks.escalation.*]`).
//!
//! The conductor only stores the pages to send (`runbook_pages`, in its transaction); the
//! [`Pager`] sends them with the claim/lease discipline of actions: a page is marked
//! `sending` (committed) before its call and finished after it. A crash mid-call leaves a
//! claim whose lease runs out; the re-send carries the same `dedup_key` (stable per run),
//! which PagerDuty and the webhook's receiver treat as the same page. Once the incident is
//! resolved, a PagerDuty page is resolved too (`event_action = resolve`, same dedup key).

mod pager;
mod pagerduty;
mod webhook;

pub use pager::Pager;
pub use webhook::{SIGNATURE_HEADER, TIMESTAMP_HEADER, sign};

use serde_json::json;
use sqlx::PgConnection;

use crate::error::ServiceError;
use crate::repo::pages::{self, NewPage};
use crate::repo::runbooks::RunRow;
use crate::settings::EscalationSettings;

/// The dedup key of every page of one run: a run escalates once, however often it is told to.
pub fn dedup_key(run_id: i64) -> String {
    format!("runbook-run-{run_id}")
}

/// Stores the pages an escalation of `run` sends (none when nothing is configured for the
/// incident's severity). The targets queued: `pagerduty`, `webhook`.
pub(super) async fn queue(
    tx: &mut PgConnection,
    cfg: &EscalationSettings,
    run: &RunRow,
    step: Option<(i64, &str)>,
    message: &str,
) -> Result<(Vec<&'static str>, &'static str), ServiceError> {
    let incident = crate::repo::incidents::get(&mut *tx, run.incident_id)
        .await?
        .ok_or_else(|| ServiceError::NotFound(format!("incident {}", run.incident_id)))?;
    let Ok(sev) = incident.severity.parse::<domain::Severity>() else {
        return Err(ServiceError::Internal(format!(
            "incident {} has an unknown severity",
            incident.id
        )));
    };
    let severity = sev.as_str();
    let target = cfg.target(sev);
    let mut targets = Vec::new();
    if target.pagerduty().is_some() {
        targets.push("pagerduty");
    }
    if target.webhook().is_some() {
        targets.push("webhook");
    }
    let key = dedup_key(run.id);
    let mut summary = format!(
        "[{severity}] incident #{} {}: {message}",
        incident.id, incident.title
    );
    // PagerDuty's summary limit.
    if summary.len() > 1024 {
        let mut end = 1021;
        while !summary.is_char_boundary(end) {
            end -= 1;
        }
        summary.truncate(end);
        summary.push_str("...");
    }
    let payload = json!({
        "summary": summary,
        "message": message,
        "incident_id": incident.id,
        "incident_title": incident.title,
        "job": incident.job_name,
        "build": incident.build_number,
        "service": incident.service,
        "run_id": run.id,
        "runbook": run.runbook,
        "step": step.map(|(_, name)| name),
    });
    for t in &targets {
        pages::insert_trigger(
            tx,
            &NewPage {
                run_id: run.id,
                step_id: step.map(|(id, _)| id),
                target: t,
                severity,
                dedup_key: &key,
                payload: &payload,
            },
        )
        .await?;
    }
    Ok((targets, severity))
}

/// How a page's call ended, as the pager records it.
#[derive(Debug)]
pub(crate) enum CallOutcome {
    Sent(serde_json::Value),
    /// Worth another try (5xx, 429, no answer).
    Retry(String),
    /// The receiver refused the page as it is (4xx): another try would be refused too.
    Refused(String),
}

/// Sorts an HTTP answer: 2xx sent, 408/429/5xx again, other 4xx refused.
pub(crate) fn sort(status: reqwest::StatusCode, body: serde_json::Value) -> CallOutcome {
    let what = || {
        let text = body.to_string();
        let text: String = text.chars().take(300).collect();
        format!("HTTP {}: {text}", status.as_u16())
    };
    if status.is_success() {
        CallOutcome::Sent(body)
    } else if status.is_server_error() || status.as_u16() == 429 || status.as_u16() == 408 {
        CallOutcome::Retry(what())
    } else {
        CallOutcome::Refused(what())
    }
}
