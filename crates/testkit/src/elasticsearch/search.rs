//! Evaluating a search: matching documents, sort values (dates as epoch milliseconds like
//! Elasticsearch returns them), ordering with a tiebreaker, and the page after `search_after`.

use std::cmp::Ordering;
use std::sync::Arc;

use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
use serde_json::Value;

use super::request::{EsError, Query, SearchRequest, SortSpec};
use super::state::Doc;

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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::elasticsearch::render::render_hit;
    use crate::elasticsearch::request::parse_request;
    use serde_json::json;

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
