//! The HTTP side: one fallback handler that routes like Elasticsearch's REST layer and
//! answers with its JSON shapes.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

use axum::body::to_bytes;
use axum::extract::{Request, State as AxumState};
use axum::http::{HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde_json::{Value, json};
use tokio::time::Instant;

use super::render::HitView;
use super::request::{self, EsError};
use super::search::{self, Hit};
use super::state::{Segment, State, WriteOp, parse_time_value};

const MAX_BODY: usize = 256 << 20;
pub(crate) const VERSION: &str = "8.15.3";

pub(crate) struct Shared {
    pub state: Mutex<State>,
}

impl Shared {
    pub fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

fn reply(status: u16, body: Value) -> Response {
    let mut resp = (
        StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
        axum::Json(body),
    )
        .into_response();
    resp.headers_mut().insert(
        "x-elastic-product",
        HeaderValue::from_static("Elasticsearch"),
    );
    resp
}

fn error(e: EsError) -> Response {
    reply(e.status, e.body())
}

fn decode(segment: &str) -> String {
    percent_encoding::percent_decode_str(segment)
        .decode_utf8_lossy()
        .into_owned()
}

pub(crate) async fn handle(AxumState(shared): AxumState<Arc<Shared>>, req: Request) -> Response {
    let (parts, body) = req.into_parts();
    let Ok(body) = to_bytes(body, MAX_BODY).await else {
        return error(EsError::new(
            413,
            "content_too_long_exception",
            "request body too large",
        ));
    };
    let query: HashMap<String, String> =
        url::form_urlencoded::parse(parts.uri.query().unwrap_or("").as_bytes())
            .into_owned()
            .collect();
    let delay = shared.lock().delay;
    if !delay.is_zero() {
        tokio::time::sleep(delay).await;
    }
    let method = parts.method.clone();
    let raw_path = parts.uri.path().to_string();
    let segments: Vec<String> = raw_path
        .trim_matches('/')
        .split('/')
        .filter(|s| !s.is_empty())
        .map(decode)
        .collect();
    let mut state = shared.lock();
    if state.down {
        state.stats.refused_while_down += 1;
        return error(EsError::new(
            503,
            "master_not_discovered_exception",
            "the fake cluster is down",
        ));
    }
    let segs: Vec<&str> = segments.iter().map(String::as_str).collect();
    let json_body = || -> Result<Value, EsError> {
        if body.is_empty() {
            return Ok(Value::Null);
        }
        serde_json::from_slice(&body).map_err(|e| {
            EsError::bad_request(
                "parsing_exception",
                format!("failed to parse request body: {e}"),
            )
        })
    };
    let m = &method;
    let result = match (segs.as_slice(), m) {
        ([], &Method::GET) => Ok(reply(200, info())),
        ([], &Method::HEAD) => Ok(StatusCode::OK.into_response()),
        (["_cluster", "health"], &Method::GET) => Ok(reply(
            200,
            json!({"cluster_name": "fake", "status": "green", "timed_out": false,
                "number_of_nodes": 1, "active_shards": state.indices.len()}),
        )),
        (["_bulk"], &Method::POST | &Method::PUT) => bulk(&mut state, None, &body, &query),
        ([idx, "_bulk"], &Method::POST | &Method::PUT) => {
            bulk(&mut state, Some(idx), &body, &query)
        }
        (["_refresh"], &Method::POST | &Method::GET) => refresh(&mut state, "_all"),
        ([idx, "_refresh"], &Method::POST | &Method::GET) => refresh(&mut state, idx),
        ([idx, "_pit"], &Method::POST) if state.pit_enabled => open_pit(&mut state, idx, &query),
        ([_, "_pit"], &Method::POST) => {
            state.stats.pit_refused += 1;
            Err(no_handler(&raw_path, m))
        }
        (["_pit"], &Method::DELETE) if state.pit_enabled => {
            json_body().and_then(|b| close_pit(&mut state, &b))
        }
        (["_search"], &Method::GET | &Method::POST) => {
            json_body().and_then(|b| search(&mut state, None, &b))
        }
        ([idx, "_search"], &Method::GET | &Method::POST) => {
            json_body().and_then(|b| search(&mut state, Some(idx), &b))
        }
        ([idx, "_doc"], &Method::POST) => {
            json_body().and_then(|b| index_one(&mut state, idx, None, b, WriteOp::Index, &query))
        }
        ([idx, "_doc", id], &Method::PUT | &Method::POST) => json_body()
            .and_then(|b| index_one(&mut state, idx, Some(id), b, WriteOp::Index, &query)),
        ([idx, "_create", id], &Method::PUT | &Method::POST) => json_body()
            .and_then(|b| index_one(&mut state, idx, Some(id), b, WriteOp::Create, &query)),
        ([idx], &Method::PUT) => json_body().and_then(|b| {
            state.create_index(idx, &b)?;
            Ok(reply(
                200,
                json!({"acknowledged": true, "shards_acknowledged": true, "index": idx}),
            ))
        }),
        ([idx], &Method::HEAD) => Ok(if state.indices.contains_key(*idx) {
            StatusCode::OK.into_response()
        } else {
            StatusCode::NOT_FOUND.into_response()
        }),
        ([idx], &Method::DELETE) => state.resolve(idx).map(|names| {
            for n in names {
                state.indices.remove(&n);
            }
            state.search_cache = None;
            reply(200, json!({"acknowledged": true}))
        }),
        _ => Err(no_handler(&raw_path, m)),
    };
    result.unwrap_or_else(error)
}

/// What Elasticsearch answers for a path it has no handler for; servers without the `_pit`
/// API (OpenSearch keeps its point in time elsewhere) answer the listener's probe with it.
fn no_handler(path: &str, method: &Method) -> EsError {
    EsError::new(
        404,
        "resource_not_found_exception",
        format!("no handler found for uri [{path}] and method [{method}]"),
    )
}

fn info() -> Value {
    json!({
        "name": "fake-node",
        "cluster_name": "fake",
        "cluster_uuid": "fake-cluster-uuid",
        "version": {"number": VERSION, "build_flavor": "default", "lucene_version": "9.11.1",
            "minimum_wire_compatibility_version": "7.17.0",
            "minimum_index_compatibility_version": "7.0.0"},
        "tagline": "You Know, for Search"
    })
}

fn shards(n: usize) -> Value {
    json!({"total": n, "successful": n, "skipped": 0, "failed": 0})
}

fn refresh_param(query: &HashMap<String, String>) -> bool {
    matches!(
        query.get("refresh").map(String::as_str),
        Some("" | "true" | "wait_for")
    )
}

/// Twenty URL-safe characters, the shape of Elasticsearch's generated ids.
fn generated_id() -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let bytes = uuid::Uuid::new_v4().into_bytes();
    let n = u128::from_be_bytes(bytes);
    (0..20)
        .map(|i| ALPHABET[((n >> (i * 6)) & 63) as usize] as char)
        .collect()
}

fn write_result(index: &str, id: &str, w: &super::state::Written, seq: usize) -> Value {
    json!({
        "_index": index, "_id": id, "_version": w.version,
        "result": if w.created { "created" } else { "updated" },
        "_shards": {"total": 1, "successful": 1, "failed": 0},
        "_seq_no": seq, "_primary_term": 1,
        "status": if w.created { 201 } else { 200 },
    })
}

fn index_one(
    state: &mut State,
    idx: &str,
    id: Option<&str>,
    body: Value,
    op: WriteOp,
    query: &HashMap<String, String>,
) -> Result<Response, EsError> {
    if !body.is_object() {
        return Err(EsError::bad_request(
            "mapper_parsing_exception",
            "failed to parse, document is empty",
        ));
    }
    let id = id.map(str::to_string).unwrap_or_else(generated_id);
    let index = state.index_for_write(idx)?;
    let w = index.write(id.clone(), body, op)?;
    let seq = index.doc_count();
    if refresh_param(query) {
        index.refresh();
    }
    let status = if w.created { 201 } else { 200 };
    let mut out = write_result(idx, &id, &w, seq);
    out.as_object_mut().expect("object").remove("status");
    Ok(reply(status, out))
}

fn bulk(
    state: &mut State,
    default_index: Option<&str>,
    body: &[u8],
    query: &HashMap<String, String>,
) -> Result<Response, EsError> {
    let started = Instant::now();
    state.stats.bulk_requests += 1;
    let text = std::str::from_utf8(body)
        .map_err(|_| EsError::bad_request("illegal_argument_exception", "body is not UTF-8"))?;
    if !text.is_empty() && !text.ends_with('\n') {
        return Err(EsError::bad_request(
            "illegal_argument_exception",
            "The bulk request must be terminated by a newline [\\n]",
        ));
    }
    let mut lines = text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty());
    let mut items = Vec::new();
    let mut errors = false;
    let mut touched = Vec::new();
    while let Some((n, line)) = lines.next() {
        let malformed = || {
            EsError::bad_request(
                "illegal_argument_exception",
                format!(
                    "Malformed action/metadata line [{}], expected START_OBJECT or END_OBJECT",
                    n + 1
                ),
            )
        };
        let action: Value = serde_json::from_str(line).map_err(|_| malformed())?;
        let (kind, meta) = action
            .as_object()
            .filter(|m| m.len() == 1)
            .and_then(|m| m.iter().next())
            .ok_or_else(malformed)?;
        let index = meta["_index"]
            .as_str()
            .or(default_index)
            .ok_or_else(|| {
                EsError::bad_request(
                    "action_request_validation_exception",
                    "Validation Failed: 1: index is missing;",
                )
            })?
            .to_string();
        let id = meta["_id"].as_str().map(str::to_string);
        let op = match kind.as_str() {
            "index" => WriteOp::Index,
            "create" => WriteOp::Create,
            "delete" | "update" => {
                if kind == "update" {
                    lines.next();
                }
                errors = true;
                items.push(
                    json!({kind.clone(): {"_index": index, "_id": id, "status": 400,
                    "error": {"type": "illegal_argument_exception",
                        "reason": format!("the fake does not model [{kind}]")}}}),
                );
                continue;
            }
            other => {
                return Err(EsError::bad_request(
                    "illegal_argument_exception",
                    format!(
                        "Malformed action/metadata line [{}], expected one of [create, delete, index, update] but found [{other}]",
                        n + 1
                    ),
                ));
            }
        };
        let (_, source_line) = lines.next().ok_or_else(|| {
            EsError::bad_request(
                "illegal_argument_exception",
                "source is missing for the last action",
            )
        })?;
        let source: Value = match serde_json::from_str(source_line) {
            Ok(v @ Value::Object(_)) => v,
            _ => {
                errors = true;
                items.push(
                    json!({kind.clone(): {"_index": index, "_id": id, "status": 400,
                    "error": {"type": "document_parsing_exception",
                        "reason": "failed to parse the document"}}}),
                );
                continue;
            }
        };
        let id = id.unwrap_or_else(generated_id);
        let outcome = state.index_for_write(&index).and_then(|ix| {
            ix.write(id.clone(), source, op)
                .map(|w| (w, ix.doc_count()))
        });
        match outcome {
            Ok((w, seq)) => {
                touched.push(index.clone());
                items.push(json!({kind.clone(): write_result(&index, &id, &w, seq)}));
            }
            Err(e) => {
                errors = true;
                items.push(
                    json!({kind.clone(): {"_index": index, "_id": id, "status": e.status,
                    "error": e.body()["error"].clone()}}),
                );
            }
        }
    }
    if refresh_param(query) {
        touched.sort();
        touched.dedup();
        for name in touched {
            if let Some(ix) = state.indices.get_mut(&name) {
                ix.refresh();
            }
        }
    }
    Ok(reply(
        200,
        json!({"took": started.elapsed().as_millis() as u64, "errors": errors, "items": items}),
    ))
}

fn refresh(state: &mut State, expr: &str) -> Result<Response, EsError> {
    let names = state.resolve(expr)?;
    for n in &names {
        if let Some(ix) = state.indices.get_mut(n) {
            ix.refresh();
        }
    }
    Ok(reply(200, json!({"_shards": shards(names.len())})))
}

fn open_pit(
    state: &mut State,
    expr: &str,
    query: &HashMap<String, String>,
) -> Result<Response, EsError> {
    let keep_alive = query.get("keep_alive").ok_or_else(|| {
        EsError::bad_request(
            "action_request_validation_exception",
            "Validation Failed: 1: [keep_alive] is not specified;",
        )
    })?;
    let keep = parse_time_value(keep_alive).ok_or_else(|| {
        EsError::bad_request(
            "illegal_argument_exception",
            format!("failed to parse setting [keep_alive] with value [{keep_alive}]"),
        )
    })?;
    let names = state.resolve(expr)?;
    let indices: Vec<(Arc<str>, Segment)> = names
        .iter()
        .map(|n| {
            let ix = &state.indices[n];
            (ix.name.clone(), ix.searchable.clone())
        })
        .collect();
    let id = format!(
        "fakePIT{}",
        uuid::Uuid::new_v4().simple().to_string().to_uppercase()
    );
    state.stats.pits_opened += 1;
    state.pits.insert(
        id.clone(),
        super::state::Pit {
            indices,
            expires: Instant::now() + keep,
            cache: None,
        },
    );
    Ok(reply(
        200,
        json!({"id": id, "_shards": shards(names.len())}),
    ))
}

fn close_pit(state: &mut State, body: &Value) -> Result<Response, EsError> {
    let id = body["id"].as_str().ok_or_else(|| {
        EsError::bad_request(
            "action_request_validation_exception",
            "Validation Failed: 1: no point-in-time id provided;",
        )
    })?;
    if state.pits.remove(id).is_some() {
        state.stats.pits_closed += 1;
        Ok(reply(200, json!({"succeeded": true, "num_freed": 1})))
    } else {
        Ok(reply(404, json!({"succeeded": true, "num_freed": 0})))
    }
}

fn missing_pit(id: &str) -> EsError {
    EsError::new(
        404,
        "search_phase_execution_exception",
        format!("No search context found for id [{id}]"),
    )
    .with("phase", "query")
    .with("grouped", true)
}

fn search(state: &mut State, expr: Option<&str>, body: &Value) -> Result<Response, EsError> {
    let started = Instant::now();
    let req = request::parse_request(body, expr.is_none())?;
    let (hits, n_indices, pit_id) = match &req.pit {
        Some((id, keep_alive)) => {
            state.expire_pits(Instant::now());
            let keep = keep_alive.as_deref().and_then(parse_time_value);
            let pit = state.pits.get_mut(id).ok_or_else(|| missing_pit(id))?;
            if let Some(k) = keep {
                pit.expires = Instant::now() + k;
            }
            let cached = pit
                .cache
                .as_ref()
                .filter(|(k, _)| *k == req.cache_key)
                .map(|(_, h)| h.clone());
            let segments: Vec<Segment> = pit.indices.iter().map(|(_, s)| s.clone()).collect();
            let n = segments.len();
            let hits = match cached {
                Some(h) => h,
                None => {
                    let docs = segments.iter().flat_map(|s| s.iter().cloned());
                    let h = Arc::new(search::run(docs, &req, &*state));
                    if let Some(pit) = state.pits.get_mut(id) {
                        pit.cache = Some((req.cache_key.clone(), h.clone()));
                    }
                    h
                }
            };
            state.stats.searches_with_pit += 1;
            (hits, n, Some(id.clone()))
        }
        None => {
            let names = state.resolve(expr.unwrap_or("_all"))?;
            let generations: Vec<String> = names
                .iter()
                .map(|n| format!("{n}@{}", state.indices[n].generation))
                .collect();
            let key = format!("{}|{}", generations.join(","), req.cache_key);
            let cached = state
                .search_cache
                .as_ref()
                .filter(|(k, _)| *k == key)
                .map(|(_, h)| h.clone());
            let hits = match cached {
                Some(h) => h,
                None => {
                    let docs = names
                        .iter()
                        .flat_map(|n| state.indices[n].searchable.iter().cloned());
                    let h: Arc<Vec<Hit>> = Arc::new(search::run(docs, &req, &*state));
                    state.search_cache = Some((key, h.clone()));
                    h
                }
            };
            (hits, names.len(), None)
        }
    };
    state.stats.searches += 1;
    let page = search::page(&hits, &req)?;
    state.stats.documents_returned += page.len();
    let total = req.track_total_hits.then(|| {
        json!({"value": hits.len().min(10_000),
            "relation": if hits.len() > 10_000 { "gte" } else { "eq" }})
    });
    let body = SearchBody {
        took: started.elapsed().as_millis() as u64,
        timed_out: false,
        shards: shards(n_indices),
        hits: HitsBody {
            total,
            max_score: (req.sort.is_empty() && !page.is_empty()).then_some(1.0),
            hits: page.iter().map(|hit| HitView { hit, req: &req }).collect(),
        },
        pit_id,
    };
    let bytes = serde_json::to_vec(&body).expect("search responses serialise");
    let mut resp = (
        StatusCode::OK,
        [(axum::http::header::CONTENT_TYPE, "application/json")],
        bytes,
    )
        .into_response();
    resp.headers_mut().insert(
        "x-elastic-product",
        HeaderValue::from_static("Elasticsearch"),
    );
    Ok(resp)
}

#[derive(Serialize)]
struct SearchBody<'a> {
    took: u64,
    timed_out: bool,
    #[serde(rename = "_shards")]
    shards: Value,
    hits: HitsBody<'a>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pit_id: Option<String>,
}

#[derive(Serialize)]
struct HitsBody<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    total: Option<Value>,
    max_score: Option<f64>,
    hits: Vec<HitView<'a>>,
}

/// Refreshes indices whose `refresh_interval` has passed and drops expired points in time.
pub(crate) fn tick(shared: &Shared) {
    let now = Instant::now();
    let mut state = shared.lock();
    for ix in state.indices.values_mut() {
        if ix.due(now) {
            ix.refresh();
        }
    }
    state.expire_pits(now);
}
