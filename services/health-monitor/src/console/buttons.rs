//! The console's buttons: each a form posting its CSRF token, sent to the orchestrator as
//! the logged-in person. What the orchestrator answered — done, or refused and why (the
//! policy's own words) — is shown once on the next page; nothing is decided here.

use axum::Form;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use domain::commands::{
    AcknowledgeIncident, ApproveAction, Command, DenyAction, ResolveIncident, ResolveIncidents,
};

use super::orch::call;
use super::session::same;
use super::{ConsoleState, refusal, same_origin, session_of, to_login};

/// Longest note or reason accepted (the orchestrator's limits are the same or larger).
const MAX_TEXT: usize = 2000;

#[derive(serde::Deserialize)]
pub struct ButtonForm {
    csrf: String,
    /// Where to go back to (`/console` or an incident page); anything else is ignored.
    #[serde(default)]
    back: Option<String>,
    /// A resolution note or a denial reason.
    #[serde(default)]
    text: Option<String>,
}

fn back_to(f: &ButtonForm) -> String {
    match f.back.as_deref() {
        Some(b)
            if b == "/console"
                || b.strip_prefix("/console/incidents/")
                    .is_some_and(|id| !id.is_empty() && id.bytes().all(|c| c.is_ascii_digit())) =>
        {
            b.to_string()
        }
        _ => "/console".into(),
    }
}

/// Checks the session and the form, sends `req`, leaves the outcome for the next page.
async fn press<C: Command>(
    state: &ConsoleState,
    headers: &HeaderMap,
    f: &ButtonForm,
    req: C,
    done: String,
) -> Response {
    let session = match session_of(state, headers) {
        Some(s) => s,
        None => return to_login(),
    };
    if !same_origin(headers) || !same(&session.csrf, &f.csrf) {
        return refusal(
            StatusCode::FORBIDDEN,
            "that form came from elsewhere or has expired; reload the console and try again",
        );
    }
    match call(
        &state.core.bus,
        &session.token_sha256,
        &req,
        state.timeout(),
    )
    .await
    {
        Ok(_) => {
            tracing::info!(principal = %session.principal, command = C::KEY, "console action done");
            state.sessions.flash(headers, true, done);
        }
        Err(e) if e.token_rejected() => {
            // The token was withdrawn meanwhile: the session ends with it.
            state.sessions.end_token(&session.token_sha256);
            return (
                StatusCode::SEE_OTHER,
                [(header::LOCATION, "/console/login")],
            )
                .into_response();
        }
        Err(e) => state
            .sessions
            .flash(headers, false, format!("refused: {}", e.text())),
    }
    (StatusCode::SEE_OTHER, [(header::LOCATION, back_to(f))]).into_response()
}

fn text(f: &ButtonForm) -> Result<Option<String>, &'static str> {
    let t = f.text.as_deref().map(str::trim).filter(|t| !t.is_empty());
    match t {
        Some(t) if t.chars().count() > MAX_TEXT || t.contains('\0') => {
            Err("the text must be at most 2000 characters")
        }
        t => Ok(t.map(str::to_string)),
    }
}

pub async fn acknowledge(
    State(state): State<ConsoleState>,
    Path(id): Path<i64>,
    headers: HeaderMap,
    Form(f): Form<ButtonForm>,
) -> Response {
    let done = format!("incident {id} acknowledged");
    press(&state, &headers, &f, AcknowledgeIncident { id }, done).await
}

pub async fn resolve(
    State(state): State<ConsoleState>,
    Path(id): Path<i64>,
    headers: HeaderMap,
    Form(f): Form<ButtonForm>,
) -> Response {
    let note = match text(&f) {
        Ok(n) => n,
        Err(why) => return refusal(StatusCode::BAD_REQUEST, why),
    };
    let req = ResolveIncidents::One(ResolveIncident { id, note });
    press(&state, &headers, &f, req, format!("incident {id} resolved")).await
}

pub async fn approve(
    State(state): State<ConsoleState>,
    Path(id): Path<i64>,
    headers: HeaderMap,
    Form(f): Form<ButtonForm>,
) -> Response {
    let done = format!("your approval of action {id} is recorded");
    press(&state, &headers, &f, ApproveAction { id }, done).await
}

pub async fn deny(
    State(state): State<ConsoleState>,
    Path(id): Path<i64>,
    headers: HeaderMap,
    Form(f): Form<ButtonForm>,
) -> Response {
    let reason = match text(&f) {
        Ok(r) => r,
        Err(why) => return refusal(StatusCode::BAD_REQUEST, why),
    };
    press(
        &state,
        &headers,
        &f,
        DenyAction { id, reason },
        format!("action {id} denied"),
    )
    .await
}
