use std::sync::OnceLock;

use opentelemetry::global;
use opentelemetry::trace::TracerProvider as _;
use opentelemetry_otlp::{SpanExporter, WithExportConfig};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::SdkTracerProvider;
use opentelemetry_sdk::trace::span_processor_with_async_runtime::BatchSpanProcessor;
use tracing_subscriber::fmt::format::JsonFields;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer};

use crate::json::{DispatchCapture, DispatchSlot, JsonFormat};
use crate::settings::{LogFormat, TelemetrySettings};

/// Flushes pending spans when dropped (call [`TelemetryGuard::shutdown`] to wait for it).
pub struct TelemetryGuard {
    provider: SdkTracerProvider,
}

impl TelemetryGuard {
    pub fn shutdown(self) {
        let _ = self.provider.shutdown();
    }
}

#[derive(Debug, thiserror::Error)]
pub enum TelemetryError {
    #[error("invalid telemetry.log_level `{0}`: {1}")]
    Filter(String, String),
    #[error("cannot build the OTLP exporter for {0}: {1}")]
    Exporter(String, String),
    #[error("a global subscriber is already installed")]
    AlreadyInstalled,
}

/// Installs the global subscriber: logs to stdout (JSON or pretty), spans to OpenTelemetry
/// (exported over OTLP/HTTP when an endpoint is set; otherwise kept only so that trace ids
/// exist and propagate through the bus). Must run inside a Tokio runtime.
pub fn init(
    settings: &TelemetrySettings,
    service: &str,
    instance: &str,
) -> Result<TelemetryGuard, TelemetryError> {
    let filter = match std::env::var("RUST_LOG") {
        Ok(v) if !v.is_empty() => {
            EnvFilter::try_new(&v).map_err(|e| TelemetryError::Filter(v, e.to_string()))?
        }
        _ => EnvFilter::try_new(&settings.log_level)
            .map_err(|e| TelemetryError::Filter(settings.log_level.clone(), e.to_string()))?,
    };

    let mut builder = SdkTracerProvider::builder().with_resource(
        Resource::builder()
            .with_service_name(service.to_string())
            .with_attribute(opentelemetry::KeyValue::new(
                "service.instance.id",
                instance.to_string(),
            ))
            .build(),
    );
    if let Some(endpoint) = settings.otlp_endpoint.as_deref().filter(|e| !e.is_empty()) {
        let url = format!("{}/v1/traces", endpoint.trim_end_matches('/'));
        let exporter = SpanExporter::builder()
            .with_http()
            .with_endpoint(url.clone())
            .build()
            .map_err(|e| TelemetryError::Exporter(url, e.to_string()))?;
        builder = builder.with_span_processor(
            BatchSpanProcessor::builder(exporter, opentelemetry_sdk::runtime::Tokio).build(),
        );
    }
    let provider = builder.build();
    global::set_text_map_propagator(TraceContextPropagator::new());
    global::set_tracer_provider(provider.clone());
    let otel = tracing_opentelemetry::layer().with_tracer(provider.tracer(service.to_string()));

    let slot = DispatchSlot::default();
    let fmt = match settings.log_format {
        LogFormat::Json => tracing_subscriber::fmt::layer()
            .fmt_fields(JsonFields::new())
            .event_format(JsonFormat {
                service: service.into(),
                instance: instance.into(),
                dispatch: slot.clone(),
            })
            .boxed(),
        LogFormat::Pretty => tracing_subscriber::fmt::layer().compact().boxed(),
    };
    tracing_subscriber::registry()
        .with(filter)
        .with(otel)
        .with(DispatchCapture(slot))
        .with(fmt)
        .try_init()
        .map_err(|_| TelemetryError::AlreadyInstalled)?;
    Ok(TelemetryGuard { provider })
}

/// For tests: the same layers (so trace ids exist), pretty output captured by the test
/// harness, installed once per process.
pub fn init_for_tests() {
    static ONCE: OnceLock<()> = OnceLock::new();
    ONCE.get_or_init(|| {
        let provider = SdkTracerProvider::builder().build();
        global::set_text_map_propagator(TraceContextPropagator::new());
        let otel = tracing_opentelemetry::layer().with_tracer(provider.tracer("tests"));
        // The filter applies to printed lines only: spans stay traced (and carry trace ids)
        // whatever the verbosity.
        let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("warn"));
        let _ = tracing_subscriber::registry()
            .with(otel.with_filter(tracing_subscriber::filter::LevelFilter::INFO))
            .with(
                tracing_subscriber::fmt::layer()
                    .with_test_writer()
                    .compact()
                    .with_filter(filter),
            )
            .try_init();
    });
}
