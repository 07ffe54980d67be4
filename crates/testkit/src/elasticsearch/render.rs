//! Hits as Elasticsearch renders them, serialised straight from the stored documents.

use std::borrow::Cow;

use serde::ser::{Serialize, SerializeMap, Serializer};
use serde_json::Value;

use super::request::{SearchRequest, SourceFilter};
use super::search::{Hit, SortVal};

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
