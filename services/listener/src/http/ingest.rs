//! `POST /ingest/{source}`: NDJSON log records in the bus's payload format (the
//! `log.jenkins` / `log.api` schemas in docs/schemas). Every line is checked on its own:
//! valid ones are published even when others are rejected, and the answer names the
//! rejected lines. 202 when all were published, 207 when some were rejected, 422 when none
//! was valid.

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use domain::{ApiLog, JenkinsLog, LogRecord, Source};
use serde_json::{Value, json};

use super::auth::require_bearer;
use super::{ApiError, HttpState, body, finish};
use crate::publish;

pub async fn handle(
    State(state): State<HttpState>,
    Path(source): Path<String>,
    headers: HeaderMap,
    raw: Result<Bytes, BytesRejection>,
) -> Response {
    let result = async {
        require_bearer(&state.ingest_token, &headers)?;
        let source: Source = source
            .parse()
            .map_err(|e: String| ApiError::new(StatusCode::NOT_FOUND, "not_found", e))?;
        let raw = body(raw, state.body_limit)?;
        let text = std::str::from_utf8(&raw)
            .map_err(|e| ApiError::bad_request(format!("body is not UTF-8: {e}")))?;
        let (lines, mut rejected) = parse_lines(source, text);
        if lines.is_empty() && rejected.is_empty() {
            return Err(ApiError::bad_request(
                "empty body: expected one JSON log record per line (NDJSON)",
            ));
        }
        let (numbers, records): (Vec<usize>, Vec<LogRecord>) = lines.into_iter().unzip();
        let results = publish::publish_records(&state.bus, records).await;
        let mut count = 0usize;
        for (line, r) in numbers.iter().zip(&results) {
            match r {
                Ok(()) => count += 1,
                Err(e) => rejected.push(Rejected {
                    line: *line,
                    error: format!("the broker did not confirm it, send it again: {e}"),
                }),
            }
        }
        let m = &state.metrics;
        m.published
            .with_label_values(&[source.as_str(), "ingest"])
            .inc_by(count as u64);
        m.publish_failures
            .with_label_values(&[source.as_str()])
            .inc_by((results.len() - count) as u64);
        if !numbers.is_empty() && count == 0 {
            return Err(ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "unavailable",
                "the broker did not confirm the records, send them again",
            ));
        }
        rejected.sort_by_key(|r| r.line);
        let list: Vec<Value> = rejected
            .iter()
            .map(|r| json!({"line": r.line, "error": r.error}))
            .collect();
        let body = json!({"published": count, "rejected": list});
        Ok(match (count, rejected.len()) {
            (_, 0) => (StatusCode::ACCEPTED, "published", body),
            (0, _) => {
                let mut body = body;
                body["error"] = "unprocessable".into();
                body["message"] = "no line is a valid log record".into();
                (StatusCode::UNPROCESSABLE_ENTITY, "invalid", body)
            }
            _ => (StatusCode::MULTI_STATUS, "partial", body),
        })
    }
    .await;
    finish(&state, "ingest", result)
}

struct Rejected {
    line: usize,
    error: String,
}

/// Valid records with their 1-based line numbers, and the rejected lines. Blank lines are
/// skipped.
fn parse_lines(source: Source, text: &str) -> (Vec<(usize, LogRecord)>, Vec<Rejected>) {
    let mut ok = Vec::new();
    let mut rejected = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        let parsed = match source {
            Source::Jenkins => serde_json::from_str::<JenkinsLog>(line).map(LogRecord::Jenkins),
            Source::Api => serde_json::from_str::<ApiLog>(line).map(LogRecord::Api),
        };
        let checked = parsed
            .map_err(|e| e.to_string())
            .and_then(|r| r.validate().map(|()| r).map_err(|e| e.to_string()));
        match checked {
            Ok(r) => ok.push((i + 1, r)),
            Err(error) => rejected.push(Rejected { line: i + 1, error }),
        }
    }
    (ok, rejected)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_line_stands_on_its_own() {
        let text = "{\"timestamp\":\"2026-11-29T10:00:00Z\",\"level\":\"ERROR\",\"message\":\"BUILD FAILED\",\"job_name\":\"a\",\"build_number\":1}\n\
                    \n\
                    not json\n\
                    {\"timestamp\":\"2026-11-29T10:00:00Z\",\"level\":\"info\"}\n\
                    {\"timestamp\":\"2026-11-29T10:00:00Z\",\"level\":\"info\",\"message\":\"x\",\"build_number\":-3}\n";
        let (ok, rejected) = parse_lines(Source::Jenkins, text);
        assert_eq!(ok.len(), 1);
        assert_eq!(ok[0].0, 1);
        let lines: Vec<usize> = rejected.iter().map(|r| r.line).collect();
        assert_eq!(lines, [3, 4, 5]);
        assert!(
            rejected[1].error.contains("message"),
            "{}",
            rejected[1].error
        );
        assert!(
            rejected[2].error.contains("build_number"),
            "{}",
            rejected[2].error
        );
    }
}
