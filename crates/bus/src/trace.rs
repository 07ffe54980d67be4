//! W3C trace context in AMQP headers, so one trace follows a log from the listener to the
//! Slack notification.

use std::collections::BTreeMap;

use opentelemetry::Context;
use opentelemetry::propagation::{Extractor, Injector, TextMapPropagator};
use opentelemetry::trace::TraceContextExt;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use tracing_opentelemetry::OpenTelemetrySpanExt;

use crate::message::headers::TRACEPARENT;

struct MapInjector<'a>(&'a mut BTreeMap<String, String>);

impl Injector for MapInjector<'_> {
    fn set(&mut self, key: &str, value: String) {
        self.0.insert(key.to_string(), value);
    }
}

struct MapExtractor<'a>(&'a BTreeMap<String, String>);

impl Extractor for MapExtractor<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).map(String::as_str)
    }

    fn keys(&self) -> Vec<&str> {
        self.0.keys().map(String::as_str).collect()
    }
}

/// The trace headers of the current span. When no span is being traced (no OpenTelemetry
/// layer, or a message published outside any request) a new trace starts here, so every
/// message still carries a `traceparent` that consumers can continue.
pub fn current_headers() -> BTreeMap<String, String> {
    let cx = tracing::Span::current().context();
    let mut map = BTreeMap::new();
    if cx.span().span_context().is_valid() {
        TraceContextPropagator::new().inject_context(&cx, &mut MapInjector(&mut map));
    }
    map.entry(TRACEPARENT.to_string())
        .or_insert_with(new_traceparent);
    map
}

/// The remote context carried by a message's headers (empty when there is none).
pub fn extract(headers: &BTreeMap<String, String>) -> Context {
    TraceContextPropagator::new().extract(&MapExtractor(headers))
}

/// Makes `span` a child of the trace in `headers`. Without an OpenTelemetry layer there is
/// nothing to attach to, which is fine.
pub fn link_span(span: &tracing::Span, headers: &BTreeMap<String, String>) {
    let cx = extract(headers);
    if cx.span().span_context().is_valid() {
        let _ = span.set_parent(cx);
    }
}

/// A fresh sampled `traceparent` (version 00).
pub fn new_traceparent() -> String {
    let trace_id: u128 = rand::random::<u128>() | 1;
    let span_id: u64 = rand::random::<u64>() | 1;
    format!("00-{trace_id:032x}-{span_id:016x}-01")
}

/// The trace id inside a `traceparent`, if it is well formed.
pub fn trace_id_of(traceparent: &str) -> Option<&str> {
    let mut parts = traceparent.split('-');
    let (_version, trace) = (parts.next()?, parts.next()?);
    (trace.len() == 32 && trace.bytes().all(|b| b.is_ascii_hexdigit())).then_some(trace)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_message_outside_any_trace_starts_one() {
        let h = current_headers();
        let tp = &h[TRACEPARENT];
        assert!(trace_id_of(tp).is_some(), "{tp}");
        let cx = extract(&h);
        assert!(cx.span().span_context().is_valid());
        assert_eq!(
            format!("{:032x}", cx.span().span_context().trace_id()),
            trace_id_of(tp).unwrap()
        );
    }

    #[test]
    fn malformed_headers_give_an_empty_context() {
        let h = BTreeMap::from([(TRACEPARENT.to_string(), "garbage".to_string())]);
        assert!(!extract(&h).span().span_context().is_valid());
    }
}
