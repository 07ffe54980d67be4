//! Indices, their refresh cycle and points in time.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;
use tokio::time::Instant;

use super::request::EsError;
use super::search::{Hit, Mapping, lookup};

pub(crate) struct Doc {
    pub index: Arc<str>,
    pub id: String,
    pub source: Value,
    /// `_shard_doc`: the index's ordinal in the high bits, the document's sequence below,
    /// so it is unique and stable within a point in time, like Lucene's doc ids per shard.
    pub shard_doc: i64,
}

/// Searchable documents of one index as of a refresh.
pub(crate) type Segment = Arc<Vec<Arc<Doc>>>;

pub(crate) struct Index {
    pub name: Arc<str>,
    ordinal: i64,
    next_seq: i64,
    /// What searches see: the documents as of the last refresh.
    pub searchable: Segment,
    /// Indexed since the last refresh, invisible until the next one.
    pending: Vec<Arc<Doc>>,
    versions: HashMap<String, u64>,
    /// Bumped at every refresh that changed something.
    pub generation: u64,
    pub mappings: Value,
    /// `None`: refreshed only on request (`refresh_interval: -1`).
    pub refresh_interval: Option<Duration>,
    last_refresh: Instant,
}

pub(crate) enum WriteOp {
    Index,
    Create,
}

pub(crate) struct Written {
    pub version: u64,
    pub created: bool,
}

impl Index {
    pub fn refresh(&mut self) -> bool {
        self.last_refresh = Instant::now();
        if self.pending.is_empty() {
            return false;
        }
        let pending = std::mem::take(&mut self.pending);
        let replaced: HashSet<&str> = pending.iter().map(|d| d.id.as_str()).collect();
        let mut docs: Vec<Arc<Doc>> = self
            .searchable
            .iter()
            .filter(|d| !replaced.contains(d.id.as_str()))
            .cloned()
            .collect();
        // An id indexed twice before a refresh: the last write wins.
        let mut last: HashMap<&str, usize> = HashMap::new();
        for (i, d) in pending.iter().enumerate() {
            last.insert(d.id.as_str(), i);
        }
        docs.extend(
            pending
                .iter()
                .enumerate()
                .filter(|(i, d)| last[d.id.as_str()] == *i)
                .map(|(_, d)| d.clone()),
        );
        self.searchable = Arc::new(docs);
        self.generation += 1;
        true
    }

    pub fn write(&mut self, id: String, source: Value, op: WriteOp) -> Result<Written, EsError> {
        let previous = self.versions.get(&id).copied();
        if previous.is_some() && matches!(op, WriteOp::Create) {
            return Err(EsError::new(
                409,
                "version_conflict_engine_exception",
                format!(
                    "[{id}]: version conflict, document already exists (current version [{}])",
                    previous.unwrap_or(1)
                ),
            )
            .with("index", &*self.name));
        }
        let version = previous.map_or(1, |v| v + 1);
        self.versions.insert(id.clone(), version);
        let seq = self.next_seq;
        self.next_seq += 1;
        self.pending.push(Arc::new(Doc {
            index: self.name.clone(),
            id,
            source,
            shard_doc: (self.ordinal << 32) | seq,
        }));
        Ok(Written {
            version,
            created: previous.is_none(),
        })
    }

    pub fn doc_count(&self) -> usize {
        self.versions.len()
    }

    pub fn due(&self, now: Instant) -> bool {
        !self.pending.is_empty()
            && self
                .refresh_interval
                .is_some_and(|i| now.duration_since(self.last_refresh) >= i)
    }
}

pub(crate) struct Pit {
    pub indices: Vec<(Arc<str>, Segment)>,
    pub expires: Instant,
    /// The last sorted result (query + sort), reused by the following pages.
    pub cache: Option<(String, Arc<Vec<Hit>>)>,
}

#[derive(Debug, Clone, Default)]
pub struct FakeEsStats {
    pub searches: usize,
    pub searches_with_pit: usize,
    pub pits_opened: usize,
    pub pits_closed: usize,
    pub pit_refused: usize,
    pub bulk_requests: usize,
    pub documents_returned: usize,
    pub refused_while_down: usize,
}

pub(crate) struct State {
    pub indices: BTreeMap<String, Index>,
    next_ordinal: i64,
    pub pits: HashMap<String, Pit>,
    pub pit_enabled: bool,
    pub down: bool,
    pub delay: Duration,
    pub default_refresh: Option<Duration>,
    pub stats: FakeEsStats,
    /// Sorted results of searches without a point in time, keyed by query + sort and the
    /// generations of the indices they read; dropped when a refresh changes them.
    pub search_cache: Option<(String, Arc<Vec<Hit>>)>,
}

impl State {
    pub fn new(default_refresh: Option<Duration>, pit_enabled: bool) -> Self {
        State {
            indices: BTreeMap::new(),
            next_ordinal: 0,
            pits: HashMap::new(),
            pit_enabled,
            down: false,
            delay: Duration::ZERO,
            default_refresh,
            stats: FakeEsStats::default(),
            search_cache: None,
        }
    }

    pub fn create_index(&mut self, name: &str, body: &Value) -> Result<(), EsError> {
        validate_index_name(name)?;
        if self.indices.contains_key(name) {
            return Err(EsError::bad_request(
                "resource_already_exists_exception",
                format!("index [{name}/fake-uuid] already exists"),
            )
            .with("index", name));
        }
        let settings = &body["settings"];
        let interval =
            lookup(settings, "index.refresh_interval").or_else(|| settings.get("refresh_interval"));
        let refresh_interval = match interval {
            None => self.default_refresh,
            Some(v) => parse_interval(v)?,
        };
        self.insert_index(name, body["mappings"].clone(), refresh_interval);
        Ok(())
    }

    fn insert_index(&mut self, name: &str, mappings: Value, refresh_interval: Option<Duration>) {
        let ordinal = self.next_ordinal;
        self.next_ordinal += 1;
        self.indices.insert(
            name.to_string(),
            Index {
                name: name.into(),
                ordinal,
                next_seq: 0,
                searchable: Arc::new(Vec::new()),
                pending: Vec::new(),
                versions: HashMap::new(),
                generation: 0,
                mappings,
                refresh_interval,
                last_refresh: Instant::now(),
            },
        );
    }

    /// The index a write goes to, created on first use as `action.auto_create_index` does.
    pub fn index_for_write(&mut self, name: &str) -> Result<&mut Index, EsError> {
        if !self.indices.contains_key(name) {
            validate_index_name(name)?;
            self.insert_index(name, Value::Null, self.default_refresh);
        }
        Ok(self.indices.get_mut(name).expect("just inserted"))
    }

    /// Index names a request path names: comma-separated names and `*` patterns. A missing
    /// concrete name is an `index_not_found_exception`; a pattern may match nothing.
    pub fn resolve(&self, expr: &str) -> Result<Vec<String>, EsError> {
        let mut out = Vec::new();
        for part in expr.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            if part == "_all" || part.contains('*') {
                let pattern = if part == "_all" { "*" } else { part };
                out.extend(
                    self.indices
                        .keys()
                        .filter(|n| !n.starts_with('.') || pattern.starts_with('.'))
                        .filter(|n| glob(pattern, n))
                        .cloned(),
                );
            } else if self.indices.contains_key(part) {
                out.push(part.to_string());
            } else {
                return Err(EsError::new(
                    404,
                    "index_not_found_exception",
                    format!("no such index [{part}]"),
                )
                .with("index", part)
                .with("resource.type", "index_or_alias")
                .with("resource.id", part));
            }
        }
        out.sort();
        out.dedup();
        Ok(out)
    }

    pub fn expire_pits(&mut self, now: Instant) {
        self.pits.retain(|_, p| p.expires > now);
    }
}

impl Mapping for State {
    fn is_date(&self, index: &str, field: &str) -> Option<bool> {
        mapping_is_date(&self.indices.get(index)?.mappings, field)
    }
}

/// The date-ness of `field` in index mappings (`None` when the mapping does not say).
pub(crate) fn mapping_is_date(mappings: &Value, field: &str) -> Option<bool> {
    let mut node = mappings.get("properties")?;
    let mut parts = field.split('.').peekable();
    while let Some(p) = parts.next() {
        let f = node.get(p)?;
        if parts.peek().is_none() {
            let t = f.get("type")?.as_str()?;
            return Some(matches!(t, "date" | "date_nanos"));
        }
        node = f.get("properties")?;
    }
    None
}

fn validate_index_name(name: &str) -> Result<(), EsError> {
    let bad = name.is_empty()
        || name.starts_with(['_', '-', '+'])
        || name.chars().any(|c| {
            c.is_ascii_uppercase()
                || matches!(
                    c,
                    '\\' | '/' | '*' | '?' | '"' | '<' | '>' | '|' | ' ' | ',' | '#' | ':'
                )
        });
    if bad {
        return Err(EsError::bad_request(
            "invalid_index_name_exception",
            format!("Invalid index name [{name}]"),
        )
        .with("index", name));
    }
    Ok(())
}

/// `1s`, `500ms`, `2m`, `-1` (never).
pub(crate) fn parse_interval(v: &Value) -> Result<Option<Duration>, EsError> {
    let s = match v {
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        _ => String::new(),
    };
    if s == "-1" {
        return Ok(None);
    }
    parse_time_value(&s).map(Some).ok_or_else(|| {
        EsError::bad_request(
            "illegal_argument_exception",
            format!("failed to parse setting [index.refresh_interval] with value [{s}]"),
        )
    })
}

/// Elasticsearch time units: `ms`, `s`, `m`, `h`, `d`.
pub(crate) fn parse_time_value(s: &str) -> Option<Duration> {
    let split = s.find(|c: char| !c.is_ascii_digit())?;
    let (n, unit) = s.split_at(split);
    let n: u64 = n.parse().ok()?;
    Some(match unit {
        "ms" => Duration::from_millis(n),
        "s" => Duration::from_secs(n),
        "m" => Duration::from_secs(n * 60),
        "h" => Duration::from_secs(n * 3600),
        "d" => Duration::from_secs(n * 86_400),
        _ => return None,
    })
}

/// `*` matches any run of characters.
pub(crate) fn glob(pattern: &str, name: &str) -> bool {
    let parts: Vec<&str> = pattern.split('*').collect();
    if parts.len() == 1 {
        return pattern == name;
    }
    let (first, last) = (parts[0], parts[parts.len() - 1]);
    if !name.starts_with(first) || name.len() < first.len() + last.len() || !name.ends_with(last) {
        return false;
    }
    let mut rest = &name[first.len()..name.len() - last.len()];
    for mid in &parts[1..parts.len() - 1] {
        match rest.find(mid) {
            Some(i) => rest = &rest[i + mid.len()..],
            None => return false,
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn globs_and_intervals() {
        assert!(glob("logs-jenkins*", "logs-jenkins-2026.11.29"));
        assert!(glob("logs-*-prod", "logs-api-prod"));
        assert!(!glob("logs-jenkins*", "logs-api"));
        assert!(glob("*", "x"));
        assert_eq!(parse_time_value("1m"), Some(Duration::from_secs(60)));
        assert_eq!(parse_interval(&json!("-1")).unwrap(), None);
        assert!(parse_interval(&json!("soon")).is_err());
    }

    #[test]
    fn documents_are_invisible_until_a_refresh() {
        let mut s = State::new(None, true);
        let idx = s.index_for_write("logs").unwrap();
        idx.write("a".into(), json!({}), WriteOp::Index).unwrap();
        assert!(idx.searchable.is_empty());
        assert!(idx.refresh());
        assert_eq!(idx.searchable.len(), 1);
        let again = idx
            .write("a".into(), json!({"v": 2}), WriteOp::Index)
            .unwrap();
        assert_eq!((again.version, again.created), (2, false));
        assert!(idx.write("a".into(), json!({}), WriteOp::Create).is_err());
        idx.refresh();
        assert_eq!(idx.searchable.len(), 1);
        assert_eq!(idx.searchable[0].source["v"], 2);
    }

    #[test]
    fn missing_concrete_indices_are_404_and_patterns_may_match_nothing() {
        let s = State::new(None, true);
        assert_eq!(s.resolve("logs-*").unwrap(), Vec::<String>::new());
        assert_eq!(s.resolve("logs").unwrap_err().status, 404);
    }

    #[test]
    fn mappings_say_which_fields_are_dates() {
        let m = json!({"properties": {"@timestamp": {"type": "date"},
            "event": {"properties": {"created": {"type": "date_nanos"}, "id": {"type": "keyword"}}}}});
        assert_eq!(mapping_is_date(&m, "@timestamp"), Some(true));
        assert_eq!(mapping_is_date(&m, "event.created"), Some(true));
        assert_eq!(mapping_is_date(&m, "event.id"), Some(false));
        assert_eq!(mapping_is_date(&m, "other"), None);
    }
}
