//! The HTTP side of the fake: one fallback handler that routes like Stapler,
//! applies injected faults, checks auth and crumbs, and records every call.

use std::sync::{Arc, Mutex, MutexGuard};

use axum::body::{Body, to_bytes};
use axum::extract::{Request, State as AxumState};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::Utc;
use serde_json::Value;
use tokio::time::Instant;

use super::config::FakeJenkinsConfig;
use super::json;
use super::path::{JobRoute, Route, base64, job_path, route};
use super::state::{Endpoint, QueueItem, RecordedCall, State};
use super::tree::{self, Tree};

const JENKINS_VERSION: &str = "2.462.3";
const MAX_BODY: usize = 1 << 20;

pub(crate) struct Shared {
    pub config: FakeJenkinsConfig,
    pub base: String,
    pub state: Mutex<State>,
}

impl Shared {
    pub fn lock(&self) -> MutexGuard<'_, State> {
        // A panicking test thread must not take every later assertion down with it.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

pub(crate) async fn handle(AxumState(shared): AxumState<Arc<Shared>>, req: Request) -> Response {
    let (parts, body) = req.into_parts();
    let body = to_bytes(body, MAX_BODY).await.unwrap_or_default();
    let path = parts.uri.path().to_owned();
    let query = parse_pairs(parts.uri.query().unwrap_or("").as_bytes());
    let is_form = parts
        .headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
    let form = if is_form {
        parse_pairs(&body)
    } else {
        Vec::new()
    };
    let route = route(&path);
    let (job, build, endpoint) = describe(&route);
    // Jenkins answers only the fields `tree=` names; a malformed spec is a 400.
    let tree = query
        .iter()
        .find(|(k, _)| k == "tree")
        .map(|(_, spec)| tree::parse(spec));
    let call = RecordedCall {
        method: parts.method.to_string(),
        path: path.clone(),
        job,
        build,
        endpoint,
        query,
        form: form.clone(),
        crumb: header_str(&parts.headers, "jenkins-crumb"),
        auth_present: parts.headers.contains_key(header::AUTHORIZATION),
        status: None,
        queue_id: None,
        started_build: None,
        at: Instant::now(),
        at_utc: Utc::now(),
    };
    let (index, delay) = {
        let mut state = shared.lock();
        state.calls.push(call);
        (state.calls.len() - 1, state.delay_for(&path))
    };
    if !delay.is_zero() {
        // When the client gives up first, this future is dropped here and the
        // request has no effect, like a request stuck in front of Jenkins.
        tokio::time::sleep(delay).await;
    }
    let response = respond(
        &shared,
        index,
        &parts.method,
        &parts.headers,
        &path,
        &route,
        form,
        tree.as_ref(),
    );
    if let Some(call) = shared.lock().calls.get_mut(index) {
        call.status = Some(response.status().as_u16());
    }
    response
}

#[allow(clippy::too_many_arguments)]
fn respond(
    shared: &Arc<Shared>,
    call_index: usize,
    method: &Method,
    headers: &HeaderMap,
    path: &str,
    route: &Route,
    form: Vec<(String, String)>,
    tree: Option<&Result<Tree, String>>,
) -> Response {
    let json_response = |value: Value| match tree {
        Some(Ok(t)) => json_response(tree::apply(&value, t)),
        _ => json_response(value),
    };
    let config = &shared.config;
    let base = shared.base.as_str();
    let mut state = shared.lock();
    if state.down {
        return error_page(
            StatusCode::SERVICE_UNAVAILABLE,
            "Jenkins is going to shut down",
        );
    }
    if let Some(status) = state.take_failure(method.as_str(), path) {
        let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        return error_page(status, "injected failure");
    }
    if config.auth_required() && !authorized(config, headers) {
        let mut response = error_page(StatusCode::UNAUTHORIZED, "Invalid password/token for user");
        response.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Basic realm=\"Jenkins\""),
        );
        return response;
    }
    if *method == Method::POST
        && state.csrf
        && header_str(headers, "jenkins-crumb").as_deref() != Some(state.crumb.as_str())
    {
        return error_page(
            StatusCode::FORBIDDEN,
            "No valid crumb was included in the request",
        );
    }
    if let Some(Err(e)) = tree {
        return error_page(StatusCode::BAD_REQUEST, &format!("bad tree: {e}"));
    }
    let is_get = *method == Method::GET;
    let is_post = *method == Method::POST;
    match route {
        Route::Root if is_get => json_response(json::root(base, &state, config.auth_required())),
        Route::CrumbIssuer if is_get && state.csrf => json_response(json::crumb(&state.crumb)),
        Route::Queue if is_get => json_response(json::queue(base, &state)),
        Route::QueueItem(id) if is_get => match state.queue.get(id) {
            Some(item) => {
                let kind = state
                    .jobs
                    .get(&item.job)
                    .map(|j| j.kind)
                    .unwrap_or_default();
                json_response(json::queue_item(base, *id, item, kind))
            }
            None => not_found(),
        },
        Route::Job { job, rest } => {
            if !state.jobs.contains_key(job) {
                return match rest {
                    JobRoute::Api if is_get && state.is_folder(job) => {
                        json_response(json::folder(base, &state, job))
                    }
                    JobRoute::Page if is_get && state.is_folder(job) => html(StatusCode::OK, job),
                    _ => not_found(),
                };
            }
            match rest {
                JobRoute::Api if is_get => {
                    json_response(json::job(base, &state, job).unwrap_or_default())
                }
                JobRoute::Page if is_get => html(StatusCode::OK, job),
                JobRoute::Build | JobRoute::BuildWithParameters if is_post => {
                    let id = enqueue(shared, &mut state, job, form, call_index);
                    let mut response = StatusCode::CREATED.into_response();
                    let location = format!("{base}/queue/item/{id}/");
                    if let Ok(value) = HeaderValue::from_str(&location) {
                        response.headers_mut().insert(header::LOCATION, value);
                    }
                    response
                }
                JobRoute::BuildApi(n) if is_get => match state.jobs.get(job) {
                    Some(j) => match j.builds.get(n) {
                        Some(b) => json_response(json::build(base, job, j.kind, b)),
                        None => not_found(),
                    },
                    None => not_found(),
                },
                JobRoute::BuildPage(n) if is_get => {
                    if state
                        .jobs
                        .get(job)
                        .is_some_and(|j| j.builds.contains_key(n))
                    {
                        html(StatusCode::OK, &format!("{job} #{n}"))
                    } else {
                        not_found()
                    }
                }
                JobRoute::Stop(n) if is_post => {
                    if !state.stop_build(job, *n) {
                        return not_found();
                    }
                    let mut response = StatusCode::FOUND.into_response();
                    let location = format!("{base}{}/{n}/", job_path(job));
                    if let Ok(value) = HeaderValue::from_str(&location) {
                        response.headers_mut().insert(header::LOCATION, value);
                    }
                    response
                }
                JobRoute::Other => not_found(),
                _ => error_page(StatusCode::METHOD_NOT_ALLOWED, "method not allowed"),
            }
        }
        _ => not_found(),
    }
}

/// Creates the queue item of a trigger and schedules its build.
fn enqueue(
    shared: &Arc<Shared>,
    state: &mut State,
    job: &str,
    params: Vec<(String, String)>,
    call_index: usize,
) -> i64 {
    let id = state.next_queue_id;
    state.next_queue_id += 1;
    let cancel = state.cancel_next > 0;
    state.cancel_next = state.cancel_next.saturating_sub(1);
    state.queue.insert(
        id,
        QueueItem {
            job: job.to_owned(),
            params,
            since_ms: Utc::now().timestamp_millis(),
            cancel,
            cancelled: false,
            build: None,
            call_index: Some(call_index),
        },
    );
    if let Some(call) = state.calls.get_mut(call_index) {
        call.queue_id = Some(id);
    }
    // The build runs on its own task: it must outlive the request, as in Jenkins.
    let shared = Arc::clone(shared);
    tokio::spawn(async move {
        tokio::time::sleep(shared.config.queue_delay).await;
        let Some((job, number)) = shared.lock().start_queued(id) else {
            return;
        };
        tokio::time::sleep(shared.config.build_duration).await;
        shared.lock().finish_build(&job, number, &shared.config);
    });
    id
}

fn describe(route: &Route) -> (Option<String>, Option<i64>, Endpoint) {
    match route {
        Route::Root => (None, None, Endpoint::Root),
        Route::CrumbIssuer => (None, None, Endpoint::CrumbIssuer),
        Route::QueueItem(_) => (None, None, Endpoint::QueueItem),
        Route::Queue => (None, None, Endpoint::Queue),
        Route::Unknown => (None, None, Endpoint::Unknown),
        Route::Job { job, rest } => {
            let (build, endpoint) = match rest {
                JobRoute::Page => (None, Endpoint::JobPage),
                JobRoute::Api => (None, Endpoint::JobApi),
                JobRoute::Build => (None, Endpoint::Build),
                JobRoute::BuildWithParameters => (None, Endpoint::BuildWithParameters),
                JobRoute::BuildPage(n) => (Some(*n), Endpoint::BuildPage),
                JobRoute::BuildApi(n) => (Some(*n), Endpoint::BuildApi),
                JobRoute::Stop(n) => (Some(*n), Endpoint::Stop),
                JobRoute::Other => (None, Endpoint::Unknown),
            };
            (Some(job.clone()), build, endpoint)
        }
    }
}

fn authorized(config: &FakeJenkinsConfig, headers: &HeaderMap) -> bool {
    let user = config.username.as_deref().unwrap_or("");
    let token = config.token.as_deref().unwrap_or("");
    let expected = format!("Basic {}", base64(format!("{user}:{token}").as_bytes()));
    header_str(headers, "authorization").as_deref() == Some(expected.as_str())
}

fn header_str(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
}

fn parse_pairs(bytes: &[u8]) -> Vec<(String, String)> {
    url::form_urlencoded::parse(bytes).into_owned().collect()
}

fn with_jenkins_headers(mut response: Response) -> Response {
    response
        .headers_mut()
        .insert("x-jenkins", HeaderValue::from_static(JENKINS_VERSION));
    response
}

fn json_response(value: Value) -> Response {
    let mut response = Response::new(Body::from(value.to_string()));
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json;charset=utf-8"),
    );
    with_jenkins_headers(response)
}

fn html(status: StatusCode, title: &str) -> Response {
    let title = title
        .replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;");
    let body = format!(
        "<!DOCTYPE html><html><head><title>{title} [Jenkins]</title></head><body></body></html>"
    );
    let mut response = (status, body).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html;charset=utf-8"),
    );
    with_jenkins_headers(response)
}

fn error_page(status: StatusCode, message: &str) -> Response {
    html(status, &format!("Error {} {message}", status.as_u16()))
}

fn not_found() -> Response {
    error_page(StatusCode::NOT_FOUND, "Not Found")
}
