//! The REST routes: one table holds each route's handler and its documentation, so the
//! router and the OpenAPI document cannot disagree.

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodRouter, get, post};
use domain::{ApiLog, JenkinsLog, LogRecord};
use schemars::{JsonSchema, Schema, SchemaGenerator};
use serde::de::DeserializeOwned;

use domain::commands::{
    Action, ActionFilter, ActionPage, ActionRequest, DenyAction, DenyReason, EditPostmortem, Empty,
    Incident, IncidentDetail, IncidentFilter, IncidentPage, LogFilter, LogPage, Postmortem,
    PostmortemQuery, PostmortemVersion, ResolveIncident, ResolveJob, ResolveNote, ResolvedList,
    Stats, StatsQuery,
};

use super::auth::Caller;
use super::bodies::*;
use super::error::{ApiError, ApiJson, ApiJsonValue, ApiPath, ApiQuery};
use crate::actions::IdempotencyKey;
use crate::logs::{Incoming, IngestReport};
use crate::services::Services;

pub type SchemaFn = fn(&mut SchemaGenerator) -> Schema;

pub fn schema<T: JsonSchema>(g: &mut SchemaGenerator) -> Schema {
    g.subschema_for::<T>()
}

/// A route and what the OpenAPI document says about it.
pub struct Route {
    pub method: Method,
    pub path: &'static str,
    pub summary: &'static str,
    pub tag: &'static str,
    pub body: Option<SchemaFn>,
    pub query: Option<SchemaFn>,
    pub response: SchemaFn,
    pub success: StatusCode,
    pub errors: &'static [u16],
    pub handler: MethodRouter<Services>,
}

type Res<T> = Result<Json<T>, ApiError>;

const READ: &[u16] = &[400, 401, 403, 404];
const WRITE: &[u16] = &[400, 401, 403, 404, 409, 413, 415, 422];

pub fn table() -> Vec<Route> {
    macro_rules! route {
        ($m:ident $path:literal, $summary:literal, $tag:literal, body: $b:expr, query: $q:expr, resp: $r:ty, $ok:expr, $errs:expr, $h:expr) => {
            Route {
                method: Method::$m,
                path: $path,
                summary: $summary,
                tag: $tag,
                body: $b,
                query: $q,
                response: schema::<$r>,
                success: $ok,
                errors: $errs,
                handler: $h,
            }
        };
    }
    vec![
        route!(GET "/api/me", "The caller's principal and roles, as the server established them from the token", "identity",
            body: None, query: None, resp: Me, StatusCode::OK, &[401], get(me)),
        route!(GET "/api/incidents", "List incidents (filters: status, severity, since, job, rule; pagination)", "incidents",
            body: None, query: Some(schema::<IncidentFilter>), resp: IncidentPage, StatusCode::OK, &[400, 401, 403], get(list_incidents)),
        route!(GET "/api/incidents/{id}", "One incident with its logs, actions and timeline", "incidents",
            body: None, query: None, resp: IncidentDetail, StatusCode::OK, READ, get(get_incident)),
        route!(POST "/api/incidents/{id}/acknowledge", "Acknowledge an open incident (operator)", "incidents",
            body: Some(schema::<Empty>), query: None, resp: Incident, StatusCode::OK, WRITE, post(acknowledge)),
        route!(POST "/api/incidents/{id}/resolve", "Resolve an incident by hand, MTTR recorded (operator)", "incidents",
            body: Some(schema::<ResolveNote>), query: None, resp: Incident, StatusCode::OK, WRITE, post(resolve)),
        route!(POST "/api/incidents/resolve-by-job", "Resolve every open incident of a Jenkins job (operator)", "incidents",
            body: Some(schema::<ResolveJob>), query: None, resp: ResolvedList, StatusCode::OK, &[400, 401, 403, 413, 415, 422], post(resolve_by_job)),
        route!(GET "/api/incidents/{id}/postmortem", "The incident's post-mortem (latest version, or `version`); written on the spot when it has none. JSON, or Markdown with `Accept: text/markdown`", "postmortems",
            body: None, query: Some(schema::<PostmortemQuery>), resp: Postmortem, StatusCode::OK, &[400, 401, 403, 404, 406], get(get_postmortem)),
        route!(POST "/api/incidents/{id}/postmortem", "Write a new version of the incident's post-mortem from the facts (operator); no body (an edited report is saved with PUT); earlier versions are kept", "postmortems",
            body: None, query: None, resp: Postmortem, StatusCode::CREATED, &[400, 401, 403, 404, 422], post(regenerate_postmortem)),
        route!(PUT "/api/incidents/{id}/postmortem", "Save a person's edited report as the next version, its author recorded (operator); 409 when `based_on` is no longer the latest version", "postmortems",
            body: Some(schema::<EditPostmortem>), query: None, resp: Postmortem, StatusCode::CREATED, WRITE, axum::routing::put(edit_postmortem)),
        route!(GET "/api/incidents/{id}/postmortems", "Every version of the incident's post-mortem, the latest first", "postmortems",
            body: None, query: None, resp: Vec<PostmortemVersion>, StatusCode::OK, READ, get(postmortem_versions)),
        route!(POST "/api/incidents/{id}/runbook", "Start a runbook on the incident (operator); its steps act as `runbook:<name>` on your behalf, each judged by the policy", "runbooks",
            body: Some(schema::<domain::runbooks::StartRunbook>), query: None, resp: domain::runbooks::RunbookRun, StatusCode::OK, WRITE, post(super::runbooks::start)),
        route!(GET "/api/runbook-runs", "Runbook runs, the latest first (filter: incident_id)", "runbooks",
            body: None, query: Some(schema::<domain::runbooks::RunbookRunQuery>), resp: domain::runbooks::RunbookRunList, StatusCode::OK, &[400, 401, 403], get(super::runbooks::list)),
        route!(GET "/api/runbook-runs/{id}", "One runbook run with its steps, timings, decisions and outcomes", "runbooks",
            body: None, query: None, resp: domain::runbooks::RunbookRun, StatusCode::OK, READ, get(super::runbooks::get)),
        route!(POST "/api/runbook-runs/{id}/approve", "Approve the `approve` step the run waits at (approver; never whoever started the run; distinct approvers)", "runbooks",
            body: Some(schema::<Empty>), query: None, resp: domain::runbooks::RunbookRun, StatusCode::OK, WRITE, post(super::runbooks::approve)),
        route!(POST "/api/actions", "Request a corrective action (restart, rollback, stop) as allowed by the policy; `Idempotency-Key` makes retries safe", "actions",
            body: Some(schema::<ActionRequest>), query: None, resp: Action, StatusCode::CREATED, WRITE, post(request_action)),
        route!(GET "/api/actions", "List actions, the newest first (filters: status incl. `pending_approval` or `active`, job, incident, requested_by, since; pagination)", "actions",
            body: None, query: Some(schema::<ActionFilter>), resp: ActionPage, StatusCode::OK, &[400, 401, 403], get(list_actions)),
        route!(GET "/api/actions/{id}", "One action", "actions",
            body: None, query: None, resp: Action, StatusCode::OK, READ, get(get_action)),
        route!(POST "/api/actions/{id}/approve", "Approve an action waiting for approval (approver; never the requester; distinct approvers)", "actions",
            body: Some(schema::<Empty>), query: None, resp: Action, StatusCode::OK, WRITE, post(approve_action)),
        route!(POST "/api/actions/{id}/deny", "Deny an action that has not started (approver)", "actions",
            body: Some(schema::<DenyReason>), query: None, resp: Action, StatusCode::OK, WRITE, post(deny_action)),
        route!(GET "/api/metrics/summary", "Incident counts by severity and status, MTTR p50/p90, share resolved automatically", "metrics",
            body: None, query: Some(schema::<StatsQuery>), resp: Stats, StatusCode::OK, &[400, 401, 403], get(stats)),
        route!(GET "/api/logs", "Search stored logs", "logs",
            body: None, query: Some(schema::<LogFilter>), resp: LogPage, StatusCode::OK, &[400, 401, 403], get(search_logs)),
        route!(POST "/api/rules/reload", "Reload the rules and policy files on every replica (admin; the old ones stay on failure)", "rules",
            body: None, query: None, resp: RulesReloaded, StatusCode::OK, &[401, 403, 422], post(reload_rules)),
        route!(POST "/mcp/logs/jenkins", "Ingest Jenkins logs directly (one record or an array; operator)", "ingest",
            body: Some(schema::<OneOrMany<JenkinsLog>>), query: None, resp: IngestReport, StatusCode::OK, &[400, 401, 403, 413, 415, 422], post(ingest_jenkins)),
        route!(POST "/mcp/logs/api", "Ingest API logs directly (one record or an array; operator)", "ingest",
            body: Some(schema::<OneOrMany<ApiLog>>), query: None, resp: IngestReport, StatusCode::OK, &[400, 401, 403, 413, 415, 422], post(ingest_api)),
    ]
}

async fn me(c: Caller) -> Res<Me> {
    Ok(Json(Me {
        principal: c.actor.name.clone(),
        roles: c.actor.roles.iter().collect(),
        channel: c.actor.channel,
        development_token: c.development_token,
    }))
}

async fn list_incidents(
    State(s): State<Services>,
    c: Caller,
    ApiQuery(f): ApiQuery<IncidentFilter>,
) -> Res<IncidentPage> {
    Ok(Json(s.incidents.list(&c.actor, &f).await?))
}

async fn get_incident(
    State(s): State<Services>,
    c: Caller,
    ApiPath(id): ApiPath<i64>,
) -> Res<IncidentDetail> {
    Ok(Json(s.incidents.get(&c.actor, id).await?))
}

async fn acknowledge(
    State(s): State<Services>,
    c: Caller,
    ApiPath(id): ApiPath<i64>,
    ApiJson(Empty {}): ApiJson<Empty>,
) -> Res<Incident> {
    Ok(Json(s.incidents.acknowledge(&c.actor, id).await?))
}

async fn resolve(
    State(s): State<Services>,
    c: Caller,
    ApiPath(id): ApiPath<i64>,
    ApiJson(b): ApiJson<ResolveNote>,
) -> Res<Incident> {
    let req = ResolveIncident { id, note: b.note };
    Ok(Json(s.incidents.resolve(&c.actor, &req).await?))
}

async fn resolve_by_job(
    State(s): State<Services>,
    c: Caller,
    ApiJson(b): ApiJson<ResolveJob>,
) -> Res<ResolvedList> {
    let resolved = s.incidents.resolve_job(&c.actor, &b).await?;
    Ok(Json(ResolvedList { resolved }))
}

async fn request_action(
    State(s): State<Services>,
    c: Caller,
    headers: HeaderMap,
    ApiJson(b): ApiJson<ActionRequest>,
) -> Result<Response, ApiError> {
    let key = match headers.get("idempotency-key") {
        Some(v) => {
            let text = v.to_str().map_err(|_| {
                ApiError::bad_request("the Idempotency-Key header must be visible ASCII")
                    .with("field", "Idempotency-Key")
            })?;
            Some(IdempotencyKey::from_header(&c.actor, text)?)
        }
        None => None,
    };
    let requested = s.actions.request(&c.actor, &b, key).await?;
    // A replayed key answers what the first request got; the header says it is a replay.
    let mut resp = (StatusCode::CREATED, Json(requested.row)).into_response();
    if !requested.created {
        resp.headers_mut()
            .insert("idempotent-replayed", HeaderValue::from_static("true"));
    }
    Ok(resp)
}

/// Markdown when the client asks for it (`text/markdown`, or `text/plain` without JSON);
/// JSON otherwise. Anything else the client accepts exclusively gets 406.
fn wants_markdown(headers: &HeaderMap) -> Result<bool, ApiError> {
    let Some(accept) = headers.get(axum::http::header::ACCEPT) else {
        return Ok(false);
    };
    let accept = accept.to_str().unwrap_or("").to_ascii_lowercase();
    let types: Vec<&str> = accept
        .split(',')
        .map(|t| t.split(';').next().unwrap_or("").trim())
        .filter(|t| !t.is_empty())
        .collect();
    let json = types
        .iter()
        .any(|t| matches!(*t, "application/json" | "application/*" | "*/*"));
    let md = types
        .iter()
        .any(|t| matches!(*t, "text/markdown" | "text/x-markdown" | "text/*"));
    let plain = types.contains(&"text/plain");
    if types.is_empty() || (json && !md) {
        return Ok(false);
    }
    if md || plain {
        return Ok(true);
    }
    if json {
        return Ok(false);
    }
    Err(ApiError::new(
        StatusCode::NOT_ACCEPTABLE,
        "not_acceptable",
        "post-mortems are served as application/json or text/markdown",
    )
    .with("field", "Accept"))
}

async fn get_postmortem(
    State(s): State<Services>,
    c: Caller,
    headers: HeaderMap,
    ApiPath(id): ApiPath<i64>,
    ApiQuery(q): ApiQuery<PostmortemQuery>,
) -> Result<Response, ApiError> {
    let markdown = wants_markdown(&headers)?;
    let row = s.postmortems.get(&c.actor, id, q.version).await?;
    if markdown {
        return Ok((
            [(
                axum::http::header::CONTENT_TYPE,
                "text/markdown; charset=utf-8",
            )],
            row.markdown,
        )
            .into_response());
    }
    Ok(Json(row).into_response())
}

async fn regenerate_postmortem(
    State(s): State<Services>,
    c: Caller,
    ApiPath(id): ApiPath<i64>,
    body: axum::body::Bytes,
) -> Result<Response, ApiError> {
    // A body here was once ignored while the report was regenerated: say what to do instead.
    if !body.iter().all(u8::is_ascii_whitespace) {
        return Err(ApiError::unprocessable(
            "POST writes a new version from the facts and takes no body; to save an edited report, PUT {\"markdown\": ...}",
        ));
    }
    let row = s.postmortems.regenerate(&c.actor, id).await?;
    Ok((StatusCode::CREATED, Json(row)).into_response())
}

async fn edit_postmortem(
    State(s): State<Services>,
    c: Caller,
    ApiPath(id): ApiPath<i64>,
    ApiJson(edit): ApiJson<EditPostmortem>,
) -> Result<Response, ApiError> {
    let row = s.postmortems.edit(&c.actor, id, edit).await?;
    Ok((StatusCode::CREATED, Json(row)).into_response())
}

async fn postmortem_versions(
    State(s): State<Services>,
    c: Caller,
    ApiPath(id): ApiPath<i64>,
) -> Res<Vec<PostmortemVersion>> {
    Ok(Json(s.postmortems.versions(&c.actor, id).await?))
}

async fn list_actions(
    State(s): State<Services>,
    c: Caller,
    ApiQuery(f): ApiQuery<ActionFilter>,
) -> Res<ActionPage> {
    Ok(Json(s.actions.list(&c.actor, &f).await?))
}

async fn get_action(
    State(s): State<Services>,
    c: Caller,
    ApiPath(id): ApiPath<i64>,
) -> Res<Action> {
    Ok(Json(s.actions.get(&c.actor, id).await?))
}

async fn approve_action(
    State(s): State<Services>,
    c: Caller,
    ApiPath(id): ApiPath<i64>,
    ApiJson(Empty {}): ApiJson<Empty>,
) -> Res<Action> {
    Ok(Json(s.actions.approve(&c.actor, id).await?))
}

async fn deny_action(
    State(s): State<Services>,
    c: Caller,
    ApiPath(id): ApiPath<i64>,
    ApiJson(b): ApiJson<DenyReason>,
) -> Res<Action> {
    let req = DenyAction {
        id,
        reason: b.reason,
    };
    Ok(Json(s.actions.deny(&c.actor, &req).await?))
}

async fn stats(
    State(s): State<Services>,
    c: Caller,
    ApiQuery(q): ApiQuery<StatsQuery>,
) -> Res<Stats> {
    Ok(Json(s.incidents.stats(&c.actor, q.since).await?))
}

async fn search_logs(
    State(s): State<Services>,
    c: Caller,
    ApiQuery(f): ApiQuery<LogFilter>,
) -> Res<LogPage> {
    Ok(Json(s.logs.search(&c.actor, &f).await?))
}

async fn reload_rules(State(s): State<Services>, c: Caller) -> Res<RulesReloaded> {
    let set = s.rules.reload(&c.actor).await?;
    let replicas = s.rules.broadcast_reload().await;
    Ok(Json(RulesReloaded {
        rules: set.len(),
        enabled: set.enabled_count(),
        replicas,
    }))
}

/// One record or an array of them.
#[derive(schemars::JsonSchema)]
#[serde(untagged)]
#[allow(dead_code)]
pub enum OneOrMany<T> {
    One(T),
    Many(Vec<T>),
}

const MAX_RECORDS: usize = 10_000;

fn one_or_many<T: DeserializeOwned>(v: serde_json::Value) -> Result<Vec<T>, ApiError> {
    match v {
        serde_json::Value::Array(items) => {
            if items.len() > MAX_RECORDS {
                return Err(ApiError::unprocessable(format!(
                    "at most {MAX_RECORDS} records per request"
                )));
            }
            items
                .into_iter()
                .enumerate()
                .map(|(i, item)| {
                    serde_json::from_value(item)
                        .map_err(|e| ApiError::unprocessable(format!("record {i}: {e}")))
                })
                .collect()
        }
        other => {
            Ok(vec![serde_json::from_value(other).map_err(|e| {
                ApiError::unprocessable(format!("record: {e}"))
            })?])
        }
    }
}

async fn ingest(s: &Services, c: &Caller, records: Vec<LogRecord>) -> Res<IngestReport> {
    s.logs.may_ingest(&c.actor).await?;
    for (i, r) in records.iter().enumerate() {
        r.validate().map_err(|e| {
            ApiError::bad_request(format!("record {i}: {e}"))
                .with("field", e.field)
                .with("record", i)
        })?;
    }
    let items: Vec<Incoming<'_>> = records
        .iter()
        .map(|record| Incoming {
            record,
            message_id: None,
        })
        .collect();
    Ok(Json(s.logs.ingest(&items, "http").await?))
}

async fn ingest_jenkins(
    State(s): State<Services>,
    c: Caller,
    ApiJsonValue(v): ApiJsonValue,
) -> Res<IngestReport> {
    let logs: Vec<JenkinsLog> = one_or_many(v)?;
    ingest(&s, &c, logs.into_iter().map(LogRecord::Jenkins).collect()).await
}

async fn ingest_api(
    State(s): State<Services>,
    c: Caller,
    ApiJsonValue(v): ApiJsonValue,
) -> Res<IngestReport> {
    let logs: Vec<ApiLog> = one_or_many(v)?;
    ingest(&s, &c, logs.into_iter().map(LogRecord::Api).collect()).await
}
