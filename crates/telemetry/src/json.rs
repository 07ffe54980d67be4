//! The JSON log line: event fields, the fields of the enclosing spans, and the service,
//! instance and trace ids as top-level keys so Kibana can filter on them.

use std::fmt;

use opentelemetry::trace::TraceContextExt;
use serde_json::{Map, Value};
use std::sync::{Arc, OnceLock};
use tracing::field::{Field, Visit};
use tracing::{Event, Subscriber};

use tracing::dispatcher::WeakDispatch;
use tracing_opentelemetry::get_otel_context;
use tracing_subscriber::Layer;
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields, FormattedFields};
use tracing_subscriber::registry::LookupSpan;

pub(crate) struct JsonFormat {
    pub service: String,
    pub instance: String,
    /// The subscriber this format runs in, to read span contexts: `Span::current()` is a
    /// disabled span inside a subscriber callback.
    pub dispatch: DispatchSlot,
}

/// Filled by [`DispatchCapture`] when the subscriber is registered.
pub(crate) type DispatchSlot = Arc<OnceLock<WeakDispatch>>;

/// A layer that only remembers the dispatch it is registered with.
pub(crate) struct DispatchCapture(pub DispatchSlot);

impl<S: Subscriber> Layer<S> for DispatchCapture {
    fn on_register_dispatch(&self, dispatch: &tracing::Dispatch) {
        let _ = self.0.set(dispatch.downgrade());
    }
}

struct Fields<'a>(&'a mut Map<String, Value>);

impl Visit for Fields<'_> {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.insert(field.name().into(), Value::from(value));
    }
    fn record_i64(&mut self, field: &Field, value: i64) {
        self.0.insert(field.name().into(), Value::from(value));
    }
    fn record_u64(&mut self, field: &Field, value: u64) {
        self.0.insert(field.name().into(), Value::from(value));
    }
    fn record_f64(&mut self, field: &Field, value: f64) {
        self.0.insert(field.name().into(), Value::from(value));
    }
    fn record_bool(&mut self, field: &Field, value: bool) {
        self.0.insert(field.name().into(), Value::from(value));
    }
    fn record_error(&mut self, field: &Field, value: &(dyn std::error::Error + 'static)) {
        self.0
            .insert(field.name().into(), Value::from(value.to_string()));
    }
    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.0
            .insert(field.name().into(), Value::from(format!("{value:?}")));
    }
}

impl<S, N> FormatEvent<S, N> for JsonFormat
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        let meta = event.metadata();
        let mut line = Map::new();
        line.insert(
            "timestamp".into(),
            chrono::Utc::now()
                .to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
                .into(),
        );
        line.insert("level".into(), meta.level().as_str().to_lowercase().into());
        line.insert("target".into(), meta.target().into());
        line.insert("service".into(), self.service.clone().into());
        line.insert("instance".into(), self.instance.clone().into());

        let mut fields = Map::new();
        event.record(&mut Fields(&mut fields));
        if let Some(msg) = fields.remove("message") {
            line.insert("message".into(), msg);
        }

        // Span fields were formatted as JSON by `JsonFields` when the span was created.
        let mut span_fields = Map::new();
        let mut span_name = None;
        if let Some(scope) = ctx.event_scope() {
            for span in scope.from_root() {
                span_name = Some(span.name());
                let ext = span.extensions();
                if let Some(f) = ext.get::<FormattedFields<N>>()
                    && let Ok(Value::Object(map)) = serde_json::from_str::<Value>(f.as_str())
                {
                    span_fields.extend(map);
                }
            }
        }
        if let Some(name) = span_name {
            line.insert("span".into(), name.into());
        }
        for (k, v) in span_fields.into_iter().chain(fields) {
            line.entry(k).or_insert(v);
        }

        let cx = ctx
            .lookup_current()
            .zip(self.dispatch.get().and_then(WeakDispatch::upgrade))
            .and_then(|(span, dispatch)| get_otel_context(&span.id(), &dispatch));
        let sc = cx.map(|cx| cx.span().span_context().clone());
        if let Some(sc) = sc.filter(|sc| sc.is_valid()) {
            line.insert("trace_id".into(), sc.trace_id().to_string().into());
            line.insert("span_id".into(), sc.span_id().to_string().into());
        }
        let text = serde_json::to_string(&line).map_err(|_| fmt::Error)?;
        writeln!(writer, "{text}")
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write;
    use std::sync::{Arc, Mutex};

    use opentelemetry::trace::TracerProvider as _;
    use tracing_subscriber::fmt::MakeWriter;
    use tracing_subscriber::fmt::format::JsonFields;
    use tracing_subscriber::layer::SubscriberExt;

    use super::JsonFormat;

    #[derive(Clone, Default)]
    struct Buf(Arc<Mutex<Vec<u8>>>);

    impl Write for Buf {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    impl<'a> MakeWriter<'a> for Buf {
        type Writer = Buf;
        fn make_writer(&'a self) -> Buf {
            self.clone()
        }
    }

    #[test]
    fn log_lines_carry_service_instance_trace_and_span_fields() {
        let buf = Buf::default();
        let provider = opentelemetry_sdk::trace::SdkTracerProvider::builder().build();
        let slot = super::DispatchSlot::default();
        let subscriber = tracing_subscriber::registry()
            .with(tracing_opentelemetry::layer().with_tracer(provider.tracer("t")))
            .with(super::DispatchCapture(slot.clone()))
            .with(
                tracing_subscriber::fmt::layer()
                    .fmt_fields(JsonFields::new())
                    .event_format(JsonFormat {
                        service: "runner".into(),
                        instance: "runner-h-1".into(),
                        dispatch: slot,
                    })
                    .with_writer(buf.clone()),
            );
        tracing::subscriber::with_default(subscriber, || {
            let span = tracing::info_span!("handle", queue = "action_requests");
            let _g = span.enter();
            tracing::warn!(action_id = 7, "guard rejected the action");
        });
        let text = String::from_utf8(buf.0.lock().unwrap().clone()).unwrap();
        let line: serde_json::Value = serde_json::from_str(text.lines().next().unwrap()).unwrap();
        assert_eq!(line["service"], "runner");
        assert_eq!(line["instance"], "runner-h-1");
        assert_eq!(line["level"], "warn");
        assert_eq!(line["message"], "guard rejected the action");
        assert_eq!(line["action_id"], 7);
        assert_eq!(
            line["queue"], "action_requests",
            "span fields are inlined: {line}"
        );
        assert_eq!(line["span"], "handle");
        let trace = line["trace_id"]
            .as_str()
            .unwrap_or_else(|| panic!("trace id in {line}"));
        assert_eq!(trace.len(), 32);
        assert_ne!(trace, "0".repeat(32));
    }
}
