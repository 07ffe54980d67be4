//! Elasticsearch documents to log records, through a source's field mapping.

use chrono::{DateTime, NaiveDateTime, Utc};
use domain::{ApiLog, JenkinsLog, Level, LogRecord, Source};
use serde_json::{Map, Value};

use crate::es::Hit;
use crate::settings::FieldMap;

/// A record ready to publish and the timestamp it sorts by.
#[derive(Debug, Clone)]
pub struct Mapped {
    pub record: LogRecord,
    pub ts: DateTime<Utc>,
}

/// Finds a dotted path whether objects are nested (`{"log": {"level": ..}}`), flattened
/// (`{"log.level": ..}`) or a mix, as documents written by Filebeat or OpenTelemetry are.
pub fn lookup<'a>(doc: &'a Value, path: &str) -> Option<&'a Value> {
    if path.is_empty() {
        return None;
    }
    let obj = doc.as_object()?;
    if let Some(v) = obj.get(path) {
        return Some(v);
    }
    let mut end = path.len();
    while let Some(dot) = path[..end].rfind('.') {
        if let Some(inner) = obj.get(&path[..dot])
            && let Some(v) = lookup(inner, &path[dot + 1..])
        {
            return Some(v);
        }
        end = dot;
    }
    None
}

fn scalar(v: Option<&Value>) -> Option<&Value> {
    match v? {
        Value::Array(items) => items.first().filter(|v| !v.is_null()),
        Value::Null => None,
        other => Some(other),
    }
}

fn text(v: Option<&Value>) -> Option<String> {
    match scalar(v)? {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

fn number(v: Option<&Value>) -> Option<f64> {
    match scalar(v)? {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// ISO 8601 with or without zone (UTC assumed), or epoch milliseconds.
pub fn parse_timestamp(v: &Value) -> Option<DateTime<Utc>> {
    match v {
        Value::String(s) => DateTime::parse_from_rfc3339(s)
            .map(|d| d.with_timezone(&Utc))
            .ok()
            .or_else(|| {
                ["%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%d %H:%M:%S%.f"]
                    .iter()
                    .find_map(|f| NaiveDateTime::parse_from_str(s, f).ok())
                    .map(|d| d.and_utc())
            }),
        Value::Number(n) => n.as_i64().and_then(DateTime::from_timestamp_millis),
        _ => None,
    }
}

/// A message longer than the orchestrator stores (`domain::limits::MESSAGE` characters) is
/// cut with a marker at its end and flagged, rather than refused downstream.
fn truncate(s: String, details: &mut Map<String, Value>) -> String {
    match domain::limits::clip_message(&s) {
        None => s,
        Some(c) => {
            details.insert("message_truncated".into(), Value::Bool(true));
            c.text
        }
    }
}

/// The level, normalised; an unknown spelling becomes `info` with the raw value kept.
pub fn level(raw: Option<String>, details: &mut Map<String, Value>) -> Level {
    match raw {
        None => Level::Info,
        Some(raw) => raw.parse().unwrap_or_else(|_| {
            details.insert("raw_level".into(), Value::String(raw));
            Level::Info
        }),
    }
}

/// The document's timestamp; the first sort value (a date's epoch milliseconds) stands in
/// for a value in a format this does not parse.
pub fn parse_hit_ts(fields: &FieldMap, hit: &Hit) -> Option<DateTime<Utc>> {
    scalar(lookup(&hit.source, &fields.timestamp))
        .and_then(parse_timestamp)
        .or_else(|| hit.sort.first().and_then(parse_timestamp))
}

pub fn map_hit(source: Source, fields: &FieldMap, hit: &Hit) -> Result<Mapped, String> {
    let doc = &hit.source;
    let get = |path: &str| lookup(doc, path);
    let ts = parse_hit_ts(fields, hit)
        .ok_or_else(|| format!("no usable timestamp in `{}`", fields.timestamp))?;
    let mut details = Map::new();
    let level = level(text(get(&fields.level)), &mut details);
    let message = truncate(text(get(&fields.message)).unwrap_or_default(), &mut details);
    let source_id = Some(format!("{}/{}", hit.index, hit.id));
    let record = match source {
        Source::Jenkins => {
            let build = match number(get(&fields.build)) {
                Some(b) if b >= 0.0 && b.fract() == 0.0 => Some(b as i64),
                Some(_) | None => {
                    if let Some(raw) = scalar(get(&fields.build)) {
                        details.insert("raw_build".into(), raw.clone());
                    }
                    None
                }
            };
            LogRecord::Jenkins(JenkinsLog {
                timestamp: ts,
                level,
                message,
                job_name: text(get(&fields.job)).filter(|j| !j.is_empty() && j.len() <= 512),
                build_number: build,
                details: (!details.is_empty()).then_some(Value::Object(details)),
                source_id,
            })
        }
        Source::Api => {
            let status = number(get(&fields.status))
                .filter(|s| (100.0..=599.0).contains(s) && s.fract() == 0.0)
                .ok_or_else(|| format!("no HTTP status (100..=599) in `{}`", fields.status))?
                as u16;
            let latency = number(get(&fields.latency))
                .map(|v| fields.latency_unit.to_ms(v))
                .filter(|ms| ms.is_finite() && *ms >= 0.0);
            LogRecord::Api(ApiLog {
                timestamp: ts,
                level,
                http_method: text(get(&fields.method)).map(|m| m.to_ascii_uppercase()),
                http_status: status,
                path: text(get(&fields.path)),
                latency_ms: latency,
                service: text(get(&fields.service)),
                message,
                details: (!details.is_empty()).then_some(Value::Object(details)),
                source_id,
            })
        }
    };
    record.validate().map_err(|e| e.to_string())?;
    Ok(Mapped { record, ts })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn jenkins_fields() -> FieldMap {
        FieldMap {
            timestamp: "@timestamp".into(),
            level: "log.level".into(),
            message: "message".into(),
            job: "jenkins.job.name".into(),
            build: "jenkins.build.number".into(),
            ..FieldMap::default()
        }
    }

    fn api_fields() -> FieldMap {
        FieldMap {
            timestamp: "@timestamp".into(),
            level: "log.level".into(),
            message: "message".into(),
            method: "http.request.method".into(),
            status: "http.response.status_code".into(),
            path: "url.path".into(),
            latency: "event.duration".into(),
            service: "service.name".into(),
            ..FieldMap::default()
        }
    }

    fn hit(source: Value) -> Hit {
        Hit {
            index: "logs-jenkins-2026.11.29".into(),
            id: "AbC".into(),
            source,
            sort: vec![json!(1_795_946_400_000_i64), json!(7)],
        }
    }

    #[test]
    fn ecs_jenkins_documents_nested_or_flattened() {
        for doc in [
            json!({"@timestamp": "2026-11-29T10:00:00.123Z", "log": {"level": "ERROR"},
                "message": "Finished: FAILURE", "jenkins": {"job": {"name": "deploy-prod"}, "build": {"number": 42}}}),
            json!({"@timestamp": "2026-11-29T10:00:00.123Z", "log.level": "ERROR",
                "message": "Finished: FAILURE", "jenkins.job.name": "deploy-prod", "jenkins.build.number": "42"}),
        ] {
            let m = map_hit(Source::Jenkins, &jenkins_fields(), &hit(doc)).unwrap();
            let LogRecord::Jenkins(j) = &m.record else {
                panic!()
            };
            assert_eq!(j.level, Level::Error);
            assert_eq!(j.job_name.as_deref(), Some("deploy-prod"));
            assert_eq!(j.build_number, Some(42));
            assert_eq!(j.source_id.as_deref(), Some("logs-jenkins-2026.11.29/AbC"));
            assert_eq!(m.ts.timestamp_subsec_millis(), 123);
            assert_eq!(j.details, None);
        }
    }

    #[test]
    fn levels_are_normalised_and_unknown_ones_kept_raw() {
        for (raw, level) in [
            ("WARNING", Level::Warn),
            ("err", Level::Error),
            ("Critical", Level::Fatal),
        ] {
            let m = map_hit(
                Source::Jenkins,
                &jenkins_fields(),
                &hit(
                    json!({"@timestamp": "2026-11-29T10:00:00Z", "log.level": raw, "message": "x"}),
                ),
            )
            .unwrap();
            assert_eq!(m.record.level(), level, "{raw}");
        }
        let m = map_hit(
            Source::Jenkins,
            &jenkins_fields(),
            &hit(
                json!({"@timestamp": "2026-11-29T10:00:00Z", "log.level": "LOUD", "message": "x"}),
            ),
        )
        .unwrap();
        let LogRecord::Jenkins(j) = &m.record else {
            panic!()
        };
        assert_eq!(j.level, Level::Info);
        assert_eq!(j.details, Some(json!({"raw_level": "LOUD"})));
    }

    #[test]
    fn api_documents_convert_nanoseconds_and_need_a_status() {
        let doc = json!({"@timestamp": 1_795_946_400_000_i64, "log": {"level": "info"},
            "http": {"request": {"method": "get"}, "response": {"status_code": 503}},
            "url": {"path": "/orders"}, "event": {"duration": 1_500_000}, "service": {"name": "orders"}});
        let m = map_hit(Source::Api, &api_fields(), &hit(doc)).unwrap();
        let LogRecord::Api(a) = &m.record else {
            panic!()
        };
        assert_eq!(a.http_method.as_deref(), Some("GET"));
        assert_eq!(a.http_status, 503);
        assert_eq!(a.latency_ms, Some(1.5));
        assert_eq!(a.path.as_deref(), Some("/orders"));
        assert_eq!(a.service.as_deref(), Some("orders"));
        assert_eq!(a.message, "");
        let err = map_hit(
            Source::Api,
            &api_fields(),
            &hit(json!({"@timestamp": "2026-11-29T10:00:00Z", "http.response.status_code": 42})),
        )
        .unwrap_err();
        assert!(err.contains("http.response.status_code"), "{err}");
    }

    #[test]
    fn the_sort_value_stands_in_for_an_odd_timestamp_and_long_messages_are_cut() {
        let long = "é".repeat(domain::limits::MESSAGE + 1);
        let m = map_hit(
            Source::Jenkins,
            &jenkins_fields(),
            &hit(json!({"@timestamp": "29/11/2026", "message": long})),
        )
        .unwrap();
        assert_eq!(m.ts.timestamp_millis(), 1_795_946_400_000);
        assert_eq!(m.record.message().chars().count(), domain::limits::MESSAGE);
        assert!(m.record.message().ends_with(" characters]"));
        let LogRecord::Jenkins(j) = &m.record else {
            panic!()
        };
        assert_eq!(j.details.as_ref().unwrap()["message_truncated"], true);
    }
}
