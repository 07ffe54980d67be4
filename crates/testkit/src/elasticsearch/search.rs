//! The search subset: `match_all`, `range`, `term`, `ids` and `bool` queries, sorting on
//! fields, `_shard_doc`, `_doc`, `_id` and `_index`, `search_after`, `_source` includes.

use std::borrow::Cow;
use std::cmp::Ordering;
use std::sync::Arc;

use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
use serde::ser::{Serialize, SerializeMap, Serializer};
use serde_json::{Map, Value, json};

use super::state::Doc;

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

/// A sort value as Elasticsearch returns it: dates as epoch milliseconds.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum SortVal {
    Long(i64),
    Double(f64),
    Str(String),
    /// Sorted last; rendered as `Long.MAX_VALUE` like Elasticsearch does for missing values.
    Missing,
}

impl SortVal {
    fn cmp_asc(&self, other: &SortVal) -> Ordering {
        use SortVal::*;
        match (self, other) {
            (Missing, Missing) => Ordering::Equal,
            (Missing, _) => Ordering::Greater,
            (_, Missing) => Ordering::Less,
            (Long(a), Long(b)) => a.cmp(b),
            (Str(a), Str(b)) => a.as_bytes().cmp(b.as_bytes()),
            (Str(_), _) => Ordering::Greater,
            (_, Str(_)) => Ordering::Less,
            (a, b) => a.as_f64().total_cmp(&b.as_f64()),
        }
    }

    fn as_f64(&self) -> f64 {
        match self {
            SortVal::Long(v) => *v as f64,
            SortVal::Double(v) => *v,
            _ => f64::NAN,
        }
    }
}

/// One matching document with its sort values.
pub(crate) struct Hit {
    pub doc: Arc<Doc>,
    pub sort: Vec<SortVal>,
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

/// Finds `path` in a source whether objects are nested (`{"log": {"level": ..}}`), flattened
/// (`{"log.level": ..}`) or a mix, as Elasticsearch does when it indexes.
pub(crate) fn lookup<'a>(source: &'a Value, path: &str) -> Option<&'a Value> {
    let obj = source.as_object()?;
    if let Some(v) = obj.get(path) {
        return Some(v);
    }
    let mut split = path.len();
    while let Some(dot) = path[..split].rfind('.') {
        if let Some(inner) = obj.get(&path[..dot])
            && let Some(v) = lookup(inner, &path[dot + 1..])
        {
            return Some(v);
        }
        split = dot;
    }
    None
}

/// `strict_date_optional_time` (with or without fraction and zone) or epoch milliseconds.
pub(crate) fn parse_date(v: &Value) -> Option<i64> {
    match v {
        Value::Number(n) => n.as_i64().or_else(|| n.as_f64().map(|f| f as i64)),
        Value::String(s) => parse_date_str(s),
        _ => None,
    }
}

fn parse_date_str(s: &str) -> Option<i64> {
    if let Ok(d) = DateTime::parse_from_rfc3339(s) {
        return Some(d.timestamp_millis());
    }
    for fmt in [
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y-%m-%dT%H:%M:%S",
        "%Y-%m-%dT%H:%M",
    ] {
        if let Ok(d) = NaiveDateTime::parse_from_str(s, fmt) {
            return Some(d.and_utc().timestamp_millis());
        }
    }
    NaiveDate::parse_from_str(s, "%Y-%m-%d")
        .ok()
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map(|d| DateTime::<Utc>::from_naive_utc_and_offset(d, Utc).timestamp_millis())
}

/// Field types the fake knows: from the index mapping, else guessed from the value the way
/// dynamic mapping does (strings that look like dates are dates).
pub(crate) trait Mapping {
    fn is_date(&self, index: &str, field: &str) -> Option<bool>;
}

fn first(v: &Value) -> &Value {
    match v {
        Value::Array(items) => items.first().unwrap_or(&Value::Null),
        other => other,
    }
}

fn field_value(doc: &Doc, field: &str, mapping: &dyn Mapping) -> SortVal {
    let Some(v) = lookup(&doc.source, field)
        .map(first)
        .filter(|v| !v.is_null())
    else {
        return SortVal::Missing;
    };
    let date = mapping
        .is_date(&doc.index, field)
        .unwrap_or_else(|| v.is_string() && parse_date(v).is_some());
    if date && let Some(ms) = parse_date(v) {
        return SortVal::Long(ms);
    }
    match v {
        Value::Number(n) => n
            .as_i64()
            .map(SortVal::Long)
            .unwrap_or_else(|| SortVal::Double(n.as_f64().unwrap_or(f64::NAN))),
        Value::String(s) => SortVal::Str(s.clone()),
        Value::Bool(b) => SortVal::Long(*b as i64),
        _ => SortVal::Missing,
    }
}

fn sort_value(doc: &Doc, spec: &SortSpec, mapping: &dyn Mapping) -> SortVal {
    match spec.field.as_str() {
        "_shard_doc" | "_doc" => SortVal::Long(doc.shard_doc),
        "_id" => SortVal::Str(doc.id.clone()),
        "_index" => SortVal::Str(doc.index.to_string()),
        "_score" => SortVal::Double(1.0),
        f => field_value(doc, f, mapping),
    }
}

fn bound(v: &Value, date: bool) -> Option<SortVal> {
    if date {
        return parse_date(v).map(SortVal::Long);
    }
    match v {
        Value::Number(n) => Some(
            n.as_i64()
                .map(SortVal::Long)
                .unwrap_or_else(|| SortVal::Double(n.as_f64().unwrap_or(f64::NAN))),
        ),
        Value::String(s) => Some(SortVal::Str(s.clone())),
        _ => None,
    }
}

pub(crate) fn matches(doc: &Doc, q: &Query, mapping: &dyn Mapping) -> bool {
    match q {
        Query::MatchAll => true,
        Query::Bool(all) => all.iter().all(|c| matches(doc, c, mapping)),
        Query::Ids(ids) => ids.contains(&doc.id),
        Query::Term { field, value } => match field.as_str() {
            "_id" => value.as_str() == Some(doc.id.as_str()),
            "_index" => value.as_str() == Some(&*doc.index),
            f => lookup(&doc.source, f).is_some_and(|v| match v {
                Value::Array(items) => items.contains(value),
                v => v == value,
            }),
        },
        Query::Range {
            field,
            gte,
            gt,
            lte,
            lt,
        } => {
            let v = field_value(doc, field, mapping);
            if v == SortVal::Missing {
                return false;
            }
            let date = matches!(v, SortVal::Long(_))
                && (mapping.is_date(&doc.index, field) == Some(true)
                    || lookup(&doc.source, field)
                        .map(first)
                        .is_some_and(Value::is_string));
            let check = |b: &Option<Value>, ok: fn(Ordering) -> bool| match b {
                None => true,
                Some(b) => bound(b, date).is_some_and(|b| ok(v.cmp_asc(&b))),
            };
            check(gte, |o| o != Ordering::Less)
                && check(gt, |o| o == Ordering::Greater)
                && check(lte, |o| o != Ordering::Greater)
                && check(lt, |o| o == Ordering::Less)
        }
    }
}

fn compare(a: &[SortVal], b: &[SortVal], specs: &[SortSpec]) -> Ordering {
    for ((x, y), s) in a.iter().zip(b).zip(specs) {
        let o = match (x, y, s.desc) {
            // Missing values stay last in both directions (`missing: _last`).
            (SortVal::Missing, _, true) | (_, SortVal::Missing, true) => x.cmp_asc(y),
            (_, _, true) => y.cmp_asc(x),
            (_, _, false) => x.cmp_asc(y),
        };
        if o != Ordering::Equal {
            return o;
        }
    }
    Ordering::Equal
}

/// Every matching document of `docs`, sorted by `req.sort` (index order without one).
pub(crate) fn run(
    docs: impl Iterator<Item = Arc<Doc>>,
    req: &SearchRequest,
    mapping: &dyn Mapping,
) -> Vec<Hit> {
    let mut hits: Vec<Hit> = docs
        .filter(|d| matches(d, &req.query, mapping))
        .map(|doc| Hit {
            sort: req
                .sort
                .iter()
                .map(|s| sort_value(&doc, s, mapping))
                .collect(),
            doc,
        })
        .collect();
    if req.sort.is_empty() {
        hits.sort_by_key(|h| h.doc.shard_doc);
    } else {
        hits.sort_by(|a, b| compare(&a.sort, &b.sort, &req.sort));
    }
    hits
}

/// The page after `search_after` (from the start without it).
pub(crate) fn page<'h>(hits: &'h [Hit], req: &SearchRequest) -> Result<&'h [Hit], EsError> {
    let start = match &req.search_after {
        None => 0,
        Some(after) => {
            let after: Vec<SortVal> = after
                .iter()
                .zip(&req.sort)
                .map(|(v, s)| after_value(v, s))
                .collect::<Result<_, _>>()?;
            hits.partition_point(|h| compare(&h.sort, &after, &req.sort) != Ordering::Greater)
        }
    };
    let end = (start + req.size).min(hits.len());
    Ok(&hits[start.min(end)..end])
}

fn after_value(v: &Value, spec: &SortSpec) -> Result<SortVal, EsError> {
    let bad = || {
        EsError::bad_request(
            "illegal_argument_exception",
            format!(
                "Failed to parse search_after value [{v}] for field [{}]",
                spec.field
            ),
        )
    };
    match v {
        Value::Number(n) => Ok(n
            .as_i64()
            .map(SortVal::Long)
            .unwrap_or_else(|| SortVal::Double(n.as_f64().unwrap_or(f64::NAN)))),
        Value::String(s) if matches!(spec.field.as_str(), "_shard_doc" | "_doc") => {
            s.parse().map(SortVal::Long).map_err(|_| bad())
        }
        Value::String(s) => Ok(SortVal::Str(s.clone())),
        Value::Null => Ok(SortVal::Missing),
        _ => Err(bad()),
    }
}

/// The hit as Elasticsearch renders it, serialised straight from the stored document.
pub(crate) struct HitView<'a> {
    pub hit: &'a Hit,
    pub req: &'a SearchRequest,
}

impl Serialize for HitView<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(None)?;
        m.serialize_entry("_index", &*self.hit.doc.index)?;
        m.serialize_entry("_id", &self.hit.doc.id)?;
        m.serialize_entry("_score", &self.req.sort.is_empty().then_some(1.0))?;
        match &self.req.source {
            SourceFilter::None => {}
            SourceFilter::All => m.serialize_entry("_source", &self.hit.doc.source)?,
            SourceFilter::Includes(paths) => m.serialize_entry(
                "_source",
                &Filtered {
                    v: &self.hit.doc.source,
                    prefix: "",
                    includes: paths,
                },
            )?,
        }
        if !self.req.sort.is_empty() {
            m.serialize_entry("sort", &self.hit.sort)?;
        }
        m.end()
    }
}

impl Serialize for SortVal {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            SortVal::Long(v) => s.serialize_i64(*v),
            SortVal::Double(v) => s.serialize_f64(*v),
            SortVal::Str(v) => s.serialize_str(v),
            SortVal::Missing => s.serialize_i64(i64::MAX),
        }
    }
}

#[cfg(test)]
pub(crate) fn render_hit(hit: &Hit, req: &SearchRequest) -> Value {
    serde_json::to_value(HitView { hit, req }).expect("hits serialise")
}

/// `path` is inside `pattern` (`a.b` inside `a`).
fn under(path: &str, pattern: &str) -> bool {
    path.len() > pattern.len()
        && path.starts_with(pattern)
        && path.as_bytes()[pattern.len()] == b'.'
}

/// Whether `path` is included whole, and whether something below it is.
fn include_match(path: &str, includes: &[String]) -> (bool, bool) {
    let mut whole = false;
    let mut descend = false;
    for inc in includes {
        let pattern = inc.strip_suffix(".*").unwrap_or(inc);
        if inc == "*" || pattern == path || under(path, pattern) {
            whole = true;
        } else if under(pattern, path) {
            descend = true;
        }
    }
    (whole, descend)
}

fn join<'a>(prefix: &str, key: &'a str) -> Cow<'a, str> {
    if prefix.is_empty() {
        Cow::Borrowed(key)
    } else {
        Cow::Owned(format!("{prefix}.{key}"))
    }
}

/// Whether filtering `v` keeps anything.
fn keeps_any(v: &Value, prefix: &str, includes: &[String]) -> bool {
    v.as_object().is_some_and(|obj| {
        obj.iter().any(|(k, child)| {
            let path = join(prefix, k);
            match include_match(&path, includes) {
                (true, _) => true,
                (false, true) => keeps_any(child, &path, includes),
                _ => false,
            }
        })
    })
}

/// The parts of a source named by `includes` (dotted paths, `x.*` for a subtree); objects
/// left empty are dropped, as Elasticsearch does.
struct Filtered<'a> {
    v: &'a Value,
    prefix: &'a str,
    includes: &'a [String],
}

impl Serialize for Filtered<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let Some(obj) = self.v.as_object() else {
            return self.v.serialize(s);
        };
        let mut m = s.serialize_map(None)?;
        for (k, child) in obj {
            let path = join(self.prefix, k);
            match include_match(&path, self.includes) {
                (true, _) => m.serialize_entry(k, child)?,
                (false, true) if keeps_any(child, &path, self.includes) => m.serialize_entry(
                    k,
                    &Filtered {
                        v: child,
                        prefix: &path,
                        includes: self.includes,
                    },
                )?,
                _ => {}
            }
        }
        m.end()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Dynamic;
    impl Mapping for Dynamic {
        fn is_date(&self, _: &str, _: &str) -> Option<bool> {
            None
        }
    }

    fn doc(seq: i64, id: &str, source: Value) -> Arc<Doc> {
        Arc::new(Doc {
            index: "logs".into(),
            id: id.into(),
            source,
            shard_doc: seq,
        })
    }

    #[test]
    fn lookup_reads_nested_flattened_and_mixed_objects() {
        let v = json!({"log": {"level": "warn"}, "jenkins.job": {"name": "a"}, "url.path": "/x"});
        assert_eq!(lookup(&v, "log.level"), Some(&json!("warn")));
        assert_eq!(lookup(&v, "jenkins.job.name"), Some(&json!("a")));
        assert_eq!(lookup(&v, "url.path"), Some(&json!("/x")));
        assert_eq!(lookup(&v, "log.missing"), None);
    }

    #[test]
    fn dates_parse_in_the_usual_shapes() {
        let ms = 1_795_000_000_000;
        let iso = DateTime::from_timestamp_millis(ms).unwrap().to_rfc3339();
        assert_eq!(parse_date(&json!(iso)), Some(ms));
        assert_eq!(parse_date(&json!(ms)), Some(ms));
        assert!(parse_date(&json!("2026-11-29")).is_some());
        assert!(parse_date(&json!("2026-11-29T10:00:00.123")).is_some());
        assert_eq!(parse_date(&json!("yesterday")), None);
    }

    #[test]
    fn equal_timestamps_page_by_the_tiebreaker() {
        let docs: Vec<_> = (0..5)
            .map(|i| {
                doc(
                    i,
                    &format!("d{i}"),
                    json!({"@timestamp": "2026-11-29T10:00:00Z"}),
                )
            })
            .collect();
        let body = json!({"size": 2, "pit": {"id": "p"}, "sort": [{"@timestamp": "asc"}, {"_shard_doc": "asc"}]});
        let mut req = parse_request(&body, true).unwrap();
        let hits = run(docs.into_iter(), &req, &Dynamic);
        let mut seen = Vec::new();
        loop {
            let p = page(&hits, &req).unwrap();
            if p.is_empty() {
                break;
            }
            seen.extend(p.iter().map(|h| h.doc.id.clone()));
            let last = render_hit(p.last().unwrap(), &req)["sort"].clone();
            req.search_after = Some(last.as_array().unwrap().clone());
        }
        assert_eq!(seen, ["d0", "d1", "d2", "d3", "d4"]);
    }

    #[test]
    fn range_on_dates_is_inclusive_and_source_is_filtered() {
        let docs = vec![
            doc(
                0,
                "a",
                json!({"@timestamp": "2026-11-29T10:00:00Z", "log": {"level": "info", "x": 1}}),
            ),
            doc(1, "b", json!({"@timestamp": "2026-11-29T10:00:01Z"})),
            doc(2, "c", json!({"@timestamp": "2026-11-29T10:00:02Z"})),
        ];
        let body = json!({"query": {"bool": {"filter": [{"range": {"@timestamp": {
            "gte": "2026-11-29T10:00:00.000Z", "lte": "2026-11-29T10:00:01.000Z"}}}]}},
            "sort": [{"@timestamp": {"order": "asc"}}, {"_id": "asc"}],
            "_source": {"includes": ["log.level", "@timestamp"]}});
        let req = parse_request(&body, false).unwrap();
        let hits = run(docs.into_iter(), &req, &Dynamic);
        assert_eq!(hits.len(), 2);
        let first = render_hit(&hits[0], &req);
        assert_eq!(
            first["_source"],
            json!({"@timestamp": "2026-11-29T10:00:00Z", "log": {"level": "info"}})
        );
        assert_eq!(first["sort"][1], "a");
    }

    #[test]
    fn shard_doc_needs_a_point_in_time() {
        let body = json!({"sort": [{"_shard_doc": "asc"}]});
        let err = parse_request(&body, false).unwrap_err();
        assert_eq!(err.status, 400);
        assert_eq!(
            err.body()["error"]["root_cause"][0]["type"],
            "illegal_argument_exception"
        );
    }
}
