use std::sync::Arc;

use axum::Router;
use domain::Source;
use runtime::{RuntimeError, Service};
use tokio_util::sync::CancellationToken;
use tracing::info;

use crate::error::ListenerError;
use crate::es::EsClient;
use crate::http::{self, HttpState};
use crate::metrics::ListenerMetrics;
use crate::repo::CheckpointRepo;
use crate::settings::{ListenerSections, SERVICE, Settings};
use crate::tail::{EsHealth, TailContext, Tailer};

/// The listener, wired exactly as in production; tests build it on port 0.
pub struct Application {
    service: Service,
    routes: Router,
}

impl Application {
    pub async fn build(settings: Settings) -> Result<Application, ListenerError> {
        settings.validate()?;
        let Settings { common, own } = settings;
        // A bad Elasticsearch setting stops the start before anything connects.
        let es = (own.elasticsearch.configured())
            .then(|| EsClient::new(&own.elasticsearch))
            .transpose()?;
        let body_limit = common.http.body_limit_bytes;
        let mut service = Service::build(SERVICE, common).await?;
        let metrics = ListenerMetrics::register(&service.metrics);
        match es {
            Some(es) => tail(&mut service, es, &own, &metrics),
            // Said once here rather than as a poll failure every few seconds: nothing is
            // broken, there is just nothing to tail.
            None => info!(
                "no Elasticsearch configured (ELASTICSEARCH_URL): tailing is off; \
                 webhooks and NDJSON ingest are served"
            ),
        }
        let routes = http::router(HttpState {
            bus: service.bus.clone(),
            metrics,
            webhooks: Arc::new(own.webhooks.clone()),
            ingest_token: own.ingest.token.clone(),
            body_limit,
        });
        Ok(Application { service, routes })
    }

    pub fn port(&self) -> u16 {
        self.service.port()
    }

    pub fn instance_id(&self) -> &str {
        &self.service.instance_id
    }

    /// The Prometheus registry, for benchmarks and tests.
    pub fn metrics(&self) -> telemetry::Metrics {
        self.service.metrics.clone()
    }

    pub async fn run_until_stopped(self, cancel: CancellationToken) -> Result<(), RuntimeError> {
        self.service.run_until_stopped(self.routes, cancel).await
    }
}

/// Tails every enabled source, with the `elasticsearch` dependency check.
fn tail(service: &mut Service, es: EsClient, own: &ListenerSections, metrics: &ListenerMetrics) {
    let health = EsHealth::default();
    let (ping, last) = (es.clone(), health.clone());
    service.add_check(telemetry::external_check("elasticsearch", move || {
        let (ping, last) = (ping.clone(), last.clone());
        async move {
            ping.ping().await?;
            last.current()
        }
    }));
    let ctx = TailContext {
        es,
        bus: service.bus.clone(),
        repo: CheckpointRepo::new(service.pool.clone()),
        metrics: metrics.clone(),
        instance: service.instance_id.clone(),
        tail: own.tail.clone(),
        health,
    };
    for source in Source::ALL {
        let spec = own.sources.get(source).clone();
        if !spec.enabled {
            info!(source = source.as_str(), "source disabled");
            continue;
        }
        info!(
            source = source.as_str(),
            index = %spec.index,
            overlap_secs = spec.overlap_secs,
            lag_ms = spec.lag_ms,
            "tailing"
        );
        let tailer = Tailer::new(ctx.clone(), source, spec);
        let task = match source {
            Source::Jenkins => "tail-jenkins",
            Source::Api => "tail-api",
        };
        service.spawn(task, move |stop| tailer.run(stop));
    }
}
