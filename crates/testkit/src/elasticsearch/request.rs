//! The `_search` body: `size`, `query` (`match_all`, `range`, `term`, `ids`, `bool`), `sort`,
//! `search_after`, `pit`, `_source`, `track_total_hits`; and Elasticsearch's error shape.

use serde_json::{Map, Value, json};

/// An Elasticsearch error: the status and the `{error: {root_cause, type, reason}}` body.
#[derive(Debug, Clone)]
pub(crate) struct EsError {
    pub status: u16,
    pub kind: &'static str,
    pub reason: String,
    pub extra: Map<String, Value>,
}

impl EsError {
    pub fn new(status: u16, kind: &'static str, reason: impl Into<String>) -> Self {
        EsError {
            status,
            kind,
            reason: reason.into(),
            extra: Map::new(),
        }
    }

    pub fn bad_request(kind: &'static str, reason: impl Into<String>) -> Self {
        EsError::new(400, kind, reason)
    }

    pub fn with(mut self, key: &str, value: impl Into<Value>) -> Self {
        self.extra.insert(key.into(), value.into());
        self
    }

    pub fn body(&self) -> Value {
        let mut cause = Map::new();
        cause.insert("type".into(), self.kind.into());
        cause.insert("reason".into(), self.reason.clone().into());
        cause.extend(self.extra.clone());
        let mut error = cause.clone();
        error.insert("root_cause".into(), json!([Value::Object(cause)]));
        json!({"error": error, "status": self.status})
    }
}

// Sizes depend on serde_json's features (`preserve_order`, turned on by a dependency in
// workspace builds); a test fixture's query tree is small, so boxing buys nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone)]
pub(crate) enum Query {
    MatchAll,
    Range {
        field: String,
        gte: Option<Value>,
        gt: Option<Value>,
        lte: Option<Value>,
        lt: Option<Value>,
    },
    Term {
        field: String,
        value: Value,
    },
    Ids(Vec<String>),
    Bool(Vec<Query>),
}

#[derive(Debug, Clone)]
pub(crate) struct SortSpec {
    pub field: String,
    pub desc: bool,
}

#[derive(Debug, Clone)]
pub(crate) enum SourceFilter {
    All,
    None,
    Includes(Vec<String>),
}

/// A parsed `_search` body.
#[derive(Debug, Clone)]
pub(crate) struct SearchRequest {
    pub size: usize,
    pub query: Query,
    pub sort: Vec<SortSpec>,
    pub search_after: Option<Vec<Value>>,
    pub source: SourceFilter,
    pub track_total_hits: bool,
    pub pit: Option<(String, Option<String>)>,
    /// Identifies query + sort, to reuse a sorted result between pages.
    pub cache_key: String,
}

pub(crate) fn parse_request(
    body: &Value,
    with_pit_allowed: bool,
) -> Result<SearchRequest, EsError> {
    let obj = match body {
        Value::Null => &Map::new(),
        Value::Object(m) => m,
        _ => {
            return Err(EsError::bad_request(
                "parsing_exception",
                "request body must be an object",
            ));
        }
    };
    for key in obj.keys() {
        if !matches!(
            key.as_str(),
            "size"
                | "query"
                | "sort"
                | "search_after"
                | "_source"
                | "track_total_hits"
                | "pit"
                | "from"
                | "timeout"
        ) {
            return Err(EsError::bad_request(
                "parsing_exception",
                format!("Unknown key for a START_OBJECT in [{key}]."),
            ));
        }
    }
    let size = match obj.get("size") {
        None => 10,
        Some(v) => v
            .as_u64()
            .ok_or_else(|| EsError::bad_request("parsing_exception", "[size] must be a number"))?
            as usize,
    };
    if size > 10_000 {
        return Err(EsError::bad_request(
            "illegal_argument_exception",
            format!(
                "Result window is too large, from + size must be less than or equal to: [10000] but was [{size}]."
            ),
        ));
    }
    let query = match obj.get("query") {
        None => Query::MatchAll,
        Some(q) => parse_query(q)?,
    };
    let sort = match obj.get("sort") {
        None => Vec::new(),
        Some(Value::Array(items)) => items.iter().map(parse_sort).collect::<Result<_, _>>()?,
        Some(one) => vec![parse_sort(one)?],
    };
    let search_after = match obj.get("search_after") {
        None => None,
        Some(Value::Array(v)) => {
            if v.len() != sort.len() {
                return Err(EsError::bad_request(
                    "illegal_argument_exception",
                    format!(
                        "search_after has {} value(s) but sort has {}.",
                        v.len(),
                        sort.len()
                    ),
                ));
            }
            Some(v.clone())
        }
        Some(_) => {
            return Err(EsError::bad_request(
                "parsing_exception",
                "[search_after] must be an array",
            ));
        }
    };
    let source = match obj.get("_source") {
        None | Some(Value::Bool(true)) => SourceFilter::All,
        Some(Value::Bool(false)) => SourceFilter::None,
        Some(Value::String(s)) => SourceFilter::Includes(vec![s.clone()]),
        Some(Value::Array(v)) => SourceFilter::Includes(strings(v)),
        Some(Value::Object(m)) => match m.get("includes").or_else(|| m.get("include")) {
            Some(Value::Array(v)) => SourceFilter::Includes(strings(v)),
            Some(Value::String(s)) => SourceFilter::Includes(vec![s.clone()]),
            _ => SourceFilter::All,
        },
        Some(_) => return Err(EsError::bad_request("parsing_exception", "bad [_source]")),
    };
    let track_total_hits = !matches!(obj.get("track_total_hits"), Some(Value::Bool(false)));
    let pit = match obj.get("pit") {
        None => None,
        Some(p) => {
            if !with_pit_allowed {
                return Err(EsError::bad_request(
                    "action_request_validation_exception",
                    "Validation Failed: 1: [indices] cannot be used with point in time. Do not specify any index with point in time.;",
                ));
            }
            let id = p["id"].as_str().ok_or_else(|| {
                EsError::bad_request("parsing_exception", "[pit] requires an [id]")
            })?;
            Some((id.to_string(), p["keep_alive"].as_str().map(str::to_string)))
        }
    };
    if pit.is_none() && sort.iter().any(|s| s.field == "_shard_doc") {
        return Err(EsError::bad_request(
            "illegal_argument_exception",
            "[_shard_doc] sort field cannot be used without [point in time]",
        ));
    }
    let cache_key = format!(
        "{}|{}",
        obj.get("query").map(Value::to_string).unwrap_or_default(),
        obj.get("sort").map(Value::to_string).unwrap_or_default()
    );
    Ok(SearchRequest {
        size,
        query,
        sort,
        search_after,
        source,
        track_total_hits,
        pit,
        cache_key,
    })
}

fn strings(v: &[Value]) -> Vec<String> {
    v.iter()
        .filter_map(|s| s.as_str().map(str::to_string))
        .collect()
}

fn single_entry<'a>(v: &'a Value, what: &str) -> Result<(&'a String, &'a Value), EsError> {
    match v.as_object() {
        Some(m) if m.len() == 1 => Ok(m.iter().next().expect("one entry")),
        _ => Err(EsError::bad_request(
            "parsing_exception",
            format!("[{what}] query malformed, expected one field"),
        )),
    }
}

fn parse_query(q: &Value) -> Result<Query, EsError> {
    let (kind, body) = single_entry(q, "query")?;
    match kind.as_str() {
        "match_all" => Ok(Query::MatchAll),
        "range" => {
            let (field, bounds) = single_entry(body, "range")?;
            let b = |k: &str| bounds.get(k).filter(|v| !v.is_null()).cloned();
            Ok(Query::Range {
                field: field.clone(),
                gte: b("gte").or_else(|| b("from")),
                gt: b("gt"),
                lte: b("lte").or_else(|| b("to")),
                lt: b("lt"),
            })
        }
        "term" => {
            let (field, value) = single_entry(body, "term")?;
            let value = value.get("value").cloned().unwrap_or_else(|| value.clone());
            Ok(Query::Term {
                field: field.clone(),
                value,
            })
        }
        "ids" => Ok(Query::Ids(strings(
            body["values"].as_array().map(Vec::as_slice).unwrap_or(&[]),
        ))),
        "bool" => {
            let mut all = Vec::new();
            for clause in ["must", "filter"] {
                match body.get(clause) {
                    None => {}
                    Some(Value::Array(items)) => {
                        for i in items {
                            all.push(parse_query(i)?);
                        }
                    }
                    Some(one) => all.push(parse_query(one)?),
                }
            }
            Ok(Query::Bool(all))
        }
        other => Err(EsError::bad_request(
            "parsing_exception",
            format!("unknown query [{other}]"),
        )),
    }
}

fn parse_sort(s: &Value) -> Result<SortSpec, EsError> {
    match s {
        Value::String(f) => Ok(SortSpec {
            field: f.clone(),
            desc: f == "_score",
        }),
        Value::Object(m) if m.len() == 1 => {
            let (field, spec) = m.iter().next().expect("one entry");
            let order = match spec {
                Value::String(o) => o.as_str(),
                Value::Object(o) => o.get("order").and_then(Value::as_str).unwrap_or("asc"),
                _ => "asc",
            };
            match order {
                "asc" | "desc" => Ok(SortSpec {
                    field: field.clone(),
                    desc: order == "desc",
                }),
                other => Err(EsError::bad_request(
                    "illegal_argument_exception",
                    format!("Unknown SortOrder [{other}]"),
                )),
            }
        }
        _ => Err(EsError::bad_request("parsing_exception", "malformed sort")),
    }
}
