//! The assembler: reads the files, connects, builds the services once, hands them to the
//! doors (REST, `/mcp`, the `command.*` RPC) and to the consumers and background tasks.

use axum::Router;
use bus::ConsumerOptions;
use domain::Event;
use domain::names::queue;
use runtime::{RuntimeError, Service};
use tokio_util::sync::CancellationToken;

use crate::api::auth::Authn;
use crate::metrics::OrchestratorMetrics;
use crate::rpc::Commands;
use crate::services::{Loaded, Resources, Services, StartError};
use crate::settings::{SERVICE, Settings};
use crate::{api, mcp};

/// The orchestrator, wired exactly as in production; tests build it on port 0.
pub struct Application {
    service: Service,
    services: Services,
    routes: Router,
}

impl Application {
    pub async fn build(settings: Settings) -> Result<Application, StartError> {
        let own = settings.own;
        // Bad rules, policy or tokens stop the start before anything connects.
        let loaded = Loaded::read(&own)?;
        for t in loaded.tokens.entries().iter().filter(|t| t.bare) {
            tracing::warn!(
                principal = %t.name,
                "a bare API token is configured: it acts as an admin; use `orchestrator token new` for real tokens"
            );
        }
        if loaded.tokens.is_empty() && loaded.oidc.is_none() {
            tracing::warn!(
                "no API tokens configured: /api and /mcp answer 401 (see `orchestrator token new`)"
            );
        }
        let body_limit = settings.common.http.body_limit_bytes;
        let bus_user = settings.common.bus.user();
        let mut service = Service::build(SERVICE, settings.common).await?;
        let services = Services::assemble(
            &own,
            &loaded,
            Resources {
                pool: service.pool.clone(),
                bus: service.bus.clone(),
                metrics: OrchestratorMetrics::register(&service.metrics),
                instance: service.instance_id.clone(),
            },
        );
        if let Some(l) = services.postmortems.llm().cloned() {
            // Without Ollama, reports come from the template: degraded, not unready.
            service.add_check(telemetry::external_check("ollama", move || {
                let l = l.clone();
                async move { l.check().await }
            }));
        }
        let commands = Commands::new(
            services.clone(),
            loaded.policy.clone(),
            own.commands.clone(),
            bus_user,
            loaded.tokens.clone(),
        );
        spawn_consumers(&mut service, &services, &own.ingest, commands);
        service.spawn_outbox_relay();
        let retention = services.retention.clone();
        service.spawn("retention", |stop| async move {
            retention.run(stop).await;
            Ok(())
        });
        let actions = services.actions.clone();
        service.spawn("action-sweep", |stop| async move {
            actions.run_sweeps(stop).await;
            Ok(())
        });
        let runbooks = services.runbooks.clone();
        service.spawn("runbook-conductor", |stop| async move {
            runbooks.run_conductor(stop).await;
            Ok(())
        });
        let pager = crate::runbooks::escalate::Pager::new(
            service.pool.clone(),
            own.runbooks.escalation.clone(),
        )?;
        service.spawn("runbook-pager", |stop| async move {
            pager.run(stop).await;
            Ok(())
        });
        let rules = services.rules.clone();
        service.spawn("rules-reload-on-sighup", |stop| {
            rules.reload_on_sighup(stop)
        });
        let rules = services.rules.clone();
        service.spawn("rules-reload-listener", |stop| rules.listen(stop));

        let authn = Authn {
            tokens: loaded.tokens.clone(),
            policy: loaded.policy.clone(),
            channel: domain::Channel::Api,
            oidc: loaded.oidc.clone(),
        };
        let routes = api::router(services.clone(), authn.clone(), body_limit);
        // MCP over streamable HTTP at `/mcp` (see `mcp::http`).
        let shared = mcp::Shared::new(services.clone(), service.bus.clone(), own.mcp.clone());
        let stop = service.stop_token();
        let loopback = service.local_addr().ip().is_loopback();
        let pool = service.pool.clone();
        let mcp = mcp::http::router(shared, authn, pool, body_limit, loopback, stop);
        Ok(Application {
            service,
            services,
            routes: routes.merge(mcp),
        })
    }

    pub fn port(&self) -> u16 {
        self.service.port()
    }

    /// The service layer, for tools and tests that drive it directly.
    pub fn services(&self) -> &Services {
        &self.services
    }

    pub async fn run_until_stopped(self, cancel: CancellationToken) -> Result<(), RuntimeError> {
        self.service.run_until_stopped(self.routes, cancel).await
    }
}

fn spawn_consumers(
    service: &mut Service,
    services: &Services,
    ingest: &crate::settings::IngestSettings,
    commands: Commands,
) {
    let bus = service.bus.clone();
    for _ in 0..ingest.consumers {
        let logs = services.logs.clone();
        let opts = ConsumerOptions::new(&bus, queue::ORCHESTRATOR_LOGS).batch(
            ingest.batch_size,
            std::time::Duration::from_millis(ingest.batch_wait_ms),
        );
        service.consume_batches("ingest", opts, move |batch| {
            let logs = logs.clone();
            async move { logs.ingest_batch(batch).await }
        });
    }
    let actions = services.actions.clone();
    let opts = ConsumerOptions::new(&bus, queue::ORCHESTRATOR_ACTION_RESULTS).concurrency(4);
    service.consume("action-results", opts, move |msg: bus::Message<Event>| {
        let actions = actions.clone();
        async move { actions.apply_result(msg).await }
    });
    let postmortems = services.postmortems.clone();
    // Writing one report can take a while (the LLM); two at a time per replica.
    let opts = ConsumerOptions::new(&bus, queue::ORCHESTRATOR_POSTMORTEMS).concurrency(2);
    service.consume("postmortems", opts, move |msg: bus::Message<Event>| {
        let postmortems = postmortems.clone();
        async move { postmortems.on_resolved(msg).await }
    });
    let opts = ConsumerOptions::new(&bus, queue::ORCHESTRATOR_COMMANDS).concurrency(8);
    service.serve("commands", opts, move |msg| {
        let commands = commands.clone();
        async move { commands.handle(msg).await }
    });
}
