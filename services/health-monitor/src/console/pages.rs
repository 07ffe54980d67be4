//! The console's pages: the overview (incidents, the approval queue, services, charts,
//! events and audit), one incident (timeline, logs, actions, post-mortem link) and its
//! post-mortem. Incidents and actions are asked of the orchestrator as the logged-in
//! person; when it does not answer, the page says so where they would be.

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use chrono::Utc;
use domain::commands::{
    ActionFilter, GetIncident, GetPostmortem, IncidentFilter, PostmortemView, StatsQuery,
};

use super::filters::{OverviewQuery, filters};
use super::orch::{CallError, call};
use super::session::{Flash, Session};
use super::view::{self, ActionRow, IncidentRow, ServiceRow, span, when};
use super::{ConsoleState, Look, charts, refusal, session_of, to_login};
use crate::catalog;
use crate::repo::console::{self as repo, McpGroup};

const CHART_DAYS: i64 = 14;

/// The page's frame: who is logged in, the CSRF token of its forms, the look.
pub struct Frame {
    pub principal: String,
    pub roles: String,
    pub csrf: String,
    pub flash: Option<Flash>,
    pub theme: &'static str,
    pub wall: bool,
    pub refresh_secs: u64,
}

impl Frame {
    fn new(state: &ConsoleState, s: &Session, look: &Look) -> Frame {
        Frame {
            principal: s.principal.clone(),
            roles: s.roles.join(", "),
            csrf: s.csrf.clone(),
            flash: s.flash.clone(),
            theme: look.theme(),
            wall: look.wall(),
            refresh_secs: state.core.settings.console.refresh_secs,
        }
    }
}

pub struct EventLine {
    pub at: String,
    pub kind: String,
    pub severity: String,
    pub producer: String,
}

pub struct AuditLine {
    pub at: String,
    pub verb: String,
    pub actor: String,
    pub outcome: String,
    pub target: String,
    pub clause: String,
}

#[derive(Template)]
#[template(path = "console/overview.html")]
struct Overview {
    frame: Frame,
    incidents: Result<Vec<IncidentRow>, String>,
    queue: Result<Vec<ActionRow>, String>,
    recent_actions: Vec<ActionRow>,
    mttr: String,
    summary: String,
    services: Vec<ServiceRow>,
    chart_incidents: String,
    chart_actions: String,
    events: Vec<EventLine>,
    audits: Vec<AuditLine>,
    mcp: Vec<McpGroup>,
    q: OverviewQuery,
    checked_at: String,
}

fn page<T: Template>(t: &T) -> Response {
    match t.render() {
        Ok(html) => Html(html).into_response(),
        Err(e) => {
            tracing::error!(error = %e, "console template failed");
            refusal(
                StatusCode::INTERNAL_SERVER_ERROR,
                "the page could not be rendered",
            )
        }
    }
}

/// The token was withdrawn: the session ends, the person logs in again.
fn relogin(state: &ConsoleState, s: &Session) -> Response {
    state.sessions.end_token(&s.token_sha256);
    (
        StatusCode::SEE_OTHER,
        [(header::LOCATION, "/console/login")],
    )
        .into_response()
}

pub async fn overview(
    State(state): State<ConsoleState>,
    headers: HeaderMap,
    Query(q): Query<OverviewQuery>,
) -> Response {
    let s = match session_of(&state, &headers) {
        Some(s) => s,
        None => return to_login(),
    };
    let (ev, au) = match filters(&q) {
        Ok(f) => f,
        Err(why) => return refusal(StatusCode::BAD_REQUEST, &format!("bad filter: {why}")),
    };
    let (bus, hash, t) = (&state.core.bus, s.token_sha256.as_str(), state.timeout());
    let active = IncidentFilter {
        status: Some("active".into()),
        limit: Some(200),
        ..Default::default()
    };
    let pending = ActionFilter {
        status: Some("pending_approval".into()),
        limit: Some(100),
        ..Default::default()
    };
    let latest = ActionFilter {
        limit: Some(10),
        ..Default::default()
    };
    let week = StatsQuery {
        since: Some(Utc::now() - chrono::Duration::days(7)),
    };
    let pool = &state.core.pool;
    let (incidents, queue, recent, stats, catalog) = tokio::join!(
        call(bus, hash, &active, t),
        call(bus, hash, &pending, t),
        call(bus, hash, &latest, t),
        call(bus, hash, &week, t),
        catalog::view::load(&state.core, None),
    );
    if [incidents.as_ref().err(), queue.as_ref().err()]
        .into_iter()
        .flatten()
        .any(CallError::token_rejected)
    {
        return relogin(&state, &s);
    }
    let db = async {
        Ok::<_, sqlx::Error>((
            repo::incidents_per_day(pool, CHART_DAYS as i32).await?,
            repo::actions_by_outcome(pool, CHART_DAYS as i32).await?,
            repo::events(pool, &ev).await?,
            repo::audit(pool, &au).await?,
            repo::mcp_calls(pool, 24).await?,
        ))
    };
    let (per_day, outcomes, events, audits, mcp) = match db.await {
        Ok(v) => v,
        Err(e) => {
            tracing::error!(error = %e, "console queries failed");
            return refusal(
                StatusCode::SERVICE_UNAVAILABLE,
                "the database did not answer; try again",
            );
        }
    };
    let catalog = match catalog {
        Ok(c) => c,
        Err(e) => {
            tracing::error!(error = %e, "catalog failed");
            return refusal(
                StatusCode::SERVICE_UNAVAILABLE,
                "the database did not answer; try again",
            );
        }
    };
    let now = Utc::now();
    let me = s.principal.clone();
    let unavailable = |e: CallError| format!("unavailable: {}", e.text());
    let page_data = Overview {
        frame: Frame::new(
            &state,
            &s,
            &Look {
                theme: q.theme.clone(),
                wall: q.wall.clone(),
            },
        ),
        incidents: incidents
            .map(|p| view::incidents(p.items, now))
            .map_err(unavailable),
        queue: queue
            .map(|p| {
                p.items
                    .into_iter()
                    .map(|a| view::action_row(a, &me))
                    .collect()
            })
            .map_err(unavailable),
        recent_actions: recent
            .map(|p| {
                p.items
                    .into_iter()
                    .map(|a| view::action_row(a, &me))
                    .collect()
            })
            .unwrap_or_default(),
        mttr: match stats {
            Ok(st) => match (st.mttr_p50_seconds, st.mttr_p90_seconds) {
                (Some(p50), Some(p90)) => format!(
                    "MTTR over 7 d: p50 {} · p90 {} ({} resolved)",
                    span(p50),
                    span(p90),
                    st.resolved
                ),
                _ => "MTTR over 7 d: no incident resolved yet".into(),
            },
            Err(e) => format!("MTTR unknown: {}", e.text()),
        },
        summary: catalog.report().summary(),
        services: catalog.services.iter().map(view::service_row).collect(),
        chart_incidents: charts::incidents_per_day(&per_day, now.date_naive(), CHART_DAYS),
        chart_actions: charts::actions_by_outcome(&outcomes),
        events: events
            .into_iter()
            .map(|e| EventLine {
                at: when(e.occurred_at),
                kind: e.event_type,
                severity: e.severity,
                producer: e.producer,
            })
            .collect(),
        audits: audits
            .into_iter()
            .map(|a| AuditLine {
                at: when(a.occurred_at),
                verb: a.verb,
                actor: match a.on_behalf_of {
                    Some(user) => format!("{user} via {}", a.actor),
                    None => a.actor,
                },
                outcome: a.outcome,
                target: match a.target_id {
                    Some(id) => format!("{} {id}", a.target_type),
                    None => a.target_type,
                },
                clause: a.clause.unwrap_or_default(),
            })
            .collect(),
        mcp,
        q,
        checked_at: when(now),
    };
    page(&page_data)
}

pub struct LogLine {
    pub at: String,
    pub level: String,
    pub message: String,
}

pub struct TimelineLine {
    pub at: String,
    pub event: String,
    pub by: String,
    pub detail: String,
}

#[derive(Template)]
#[template(path = "console/incident.html")]
struct IncidentPage {
    frame: Frame,
    incident: IncidentRow,
    runbook_url: String,
    resolved: bool,
    back: String,
    timeline: Vec<TimelineLine>,
    logs: Vec<LogLine>,
    actions: Vec<ActionRow>,
}

pub async fn incident(
    State(state): State<ConsoleState>,
    Path(id): Path<i64>,
    headers: HeaderMap,
    Query(look): Query<Look>,
) -> Response {
    let s = match session_of(&state, &headers) {
        Some(s) => s,
        None => return to_login(),
    };
    let d = match call(
        &state.core.bus,
        &s.token_sha256,
        &GetIncident { id },
        state.timeout(),
    )
    .await
    {
        Ok(d) => d,
        Err(e) if e.token_rejected() => return relogin(&state, &s),
        Err(e) => return refusal(StatusCode::NOT_FOUND, &e.text()),
    };
    let me = s.principal.clone();
    let p = IncidentPage {
        frame: Frame::new(&state, &s, &look),
        runbook_url: d
            .incident
            .runbook_url
            .clone()
            .filter(|u| u.starts_with("https://") || u.starts_with("http://"))
            .unwrap_or_default(),
        resolved: d.incident.status == "resolved",
        back: format!("/console/incidents/{id}"),
        incident: view::incident_row(d.incident, Utc::now()),
        timeline: d
            .timeline
            .into_iter()
            .map(|t| TimelineLine {
                at: when(t.at),
                event: t.event,
                by: t.by.unwrap_or_default(),
                detail: t.detail.unwrap_or_default(),
            })
            .collect(),
        logs: d
            .logs
            .into_iter()
            .take(50)
            .map(|l| LogLine {
                at: when(l.timestamp),
                level: l.level,
                message: l.message,
            })
            .collect(),
        actions: d
            .actions
            .into_iter()
            .map(|a| view::action_row(a, &me))
            .collect(),
    };
    page(&p)
}

#[derive(Template)]
#[template(path = "console/postmortem.html")]
struct PostmortemPage {
    frame: Frame,
    pm: PostmortemView,
    generated: String,
}

pub async fn postmortem(
    State(state): State<ConsoleState>,
    Path(id): Path<i64>,
    headers: HeaderMap,
    Query(look): Query<Look>,
) -> Response {
    let s = match session_of(&state, &headers) {
        Some(s) => s,
        None => return to_login(),
    };
    let req = GetPostmortem {
        incident_id: id,
        version: None,
    };
    // Writing one on the spot may take an LLM's time.
    let t = state.timeout() * 10;
    let pm = match call(&state.core.bus, &s.token_sha256, &req, t).await {
        Ok(pm) => pm,
        Err(e) if e.token_rejected() => return relogin(&state, &s),
        Err(e) => return refusal(StatusCode::NOT_FOUND, &e.text()),
    };
    let p = PostmortemPage {
        frame: Frame::new(&state, &s, &look),
        generated: when(pm.generated_at),
        pm,
    };
    page(&p)
}
