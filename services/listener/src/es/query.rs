//! The search bodies: a time range sorted by timestamp with a unique tiebreaker, so that
//! `search_after` pages through documents sharing a timestamp without skipping any.

use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{Value, json};

use crate::settings::SourceSettings;

/// Where a page starts and what it reads.
pub struct PageRequest<'a> {
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    /// The point in time to search through, `None` for the fallback.
    pub pit: Option<(&'a str, &'a str)>,
    /// Sort values of the last hit of the previous page.
    pub search_after: Option<&'a [Value]>,
}

fn millis(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

pub fn search_body(source: &SourceSettings, page: &PageRequest<'_>) -> Value {
    let ts = &source.fields.timestamp;
    let tiebreaker = match page.pit {
        // Unique per document within a point in time, and cheap.
        Some(_) => json!({"_shard_doc": "asc"}),
        None => json!({ source.tiebreaker.as_str(): {"order": "asc"} }),
    };
    let mut body = json!({
        "size": source.page_size,
        "query": {"bool": {"filter": [{"range": {ts.as_str(): {
            "gte": millis(page.from),
            "lte": millis(page.to),
            "format": "strict_date_optional_time",
        }}}]}},
        "sort": [
            {ts.as_str(): {"order": "asc", "unmapped_type": "date"}},
            tiebreaker,
        ],
        "_source": {"includes": source.fields.all()},
        "track_total_hits": false,
    });
    if let Some((id, keep_alive)) = page.pit {
        body["pit"] = json!({"id": id, "keep_alive": keep_alive});
    }
    if let Some(after) = page.search_after {
        body["search_after"] = Value::Array(after.to_vec());
    }
    body
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::settings::FieldMap;

    fn source() -> SourceSettings {
        SourceSettings {
            index: "logs-jenkins*".into(),
            page_size: 500,
            fields: FieldMap {
                timestamp: "@timestamp".into(),
                level: "log.level".into(),
                message: "message".into(),
                ..FieldMap::default()
            },
            ..SourceSettings::default()
        }
    }

    #[test]
    fn with_a_point_in_time_the_tiebreaker_is_shard_doc() {
        let from = "2026-11-29T10:00:00Z".parse().unwrap();
        let to = "2026-11-29T10:05:00.5Z".parse().unwrap();
        let after = [json!(1), json!(2)];
        let body = search_body(
            &source(),
            &PageRequest {
                from,
                to,
                pit: Some(("abc", "60s")),
                search_after: Some(&after),
            },
        );
        assert_eq!(body["pit"], json!({"id": "abc", "keep_alive": "60s"}));
        assert_eq!(body["sort"][1], json!({"_shard_doc": "asc"}));
        assert_eq!(body["search_after"], json!([1, 2]));
        let range = &body["query"]["bool"]["filter"][0]["range"]["@timestamp"];
        assert_eq!(range["gte"], "2026-11-29T10:00:00.000Z");
        assert_eq!(range["lte"], "2026-11-29T10:05:00.500Z");
        assert_eq!(
            body["_source"]["includes"],
            json!(["@timestamp", "log.level", "message"])
        );
    }

    #[test]
    fn without_one_it_is_the_configured_field() {
        let t = "2026-11-29T10:00:00Z".parse().unwrap();
        let body = search_body(
            &source(),
            &PageRequest {
                from: t,
                to: t,
                pit: None,
                search_after: None,
            },
        );
        assert!(body.get("pit").is_none());
        assert!(body.get("search_after").is_none());
        assert_eq!(body["sort"][1], json!({"_id": {"order": "asc"}}));
        assert_eq!(body["size"], 500);
    }
}
