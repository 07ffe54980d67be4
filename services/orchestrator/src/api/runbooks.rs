//! REST handlers of runbook runs (their routes are in the table of `routes`).

use axum::Json;
use axum::extract::State;
use domain::runbooks::{RunbookRun, RunbookRunList, RunbookRunQuery, StartRunbook};

use super::auth::Caller;
use super::error::{ApiError, ApiJson, ApiPath, ApiQuery};
use crate::services::Services;
use domain::commands::Empty;

type Res<T> = Result<Json<T>, ApiError>;

pub(super) async fn start(
    State(s): State<Services>,
    c: Caller,
    ApiPath(id): ApiPath<i64>,
    ApiJson(b): ApiJson<StartRunbook>,
) -> Res<RunbookRun> {
    Ok(Json(s.runbooks.start(&c.actor, id, &b).await?))
}

pub(super) async fn list(
    State(s): State<Services>,
    c: Caller,
    ApiQuery(q): ApiQuery<RunbookRunQuery>,
) -> Res<RunbookRunList> {
    let runs = s.runbooks.list(&c.actor, &q).await?;
    Ok(Json(RunbookRunList { runs }))
}

pub(super) async fn get(
    State(s): State<Services>,
    c: Caller,
    ApiPath(id): ApiPath<i64>,
) -> Res<RunbookRun> {
    Ok(Json(s.runbooks.get(&c.actor, id).await?))
}

pub(super) async fn approve(
    State(s): State<Services>,
    c: Caller,
    ApiPath(id): ApiPath<i64>,
    ApiJson(Empty {}): ApiJson<Empty>,
) -> Res<RunbookRun> {
    Ok(Json(s.runbooks.approve(&c.actor, id).await?))
}
