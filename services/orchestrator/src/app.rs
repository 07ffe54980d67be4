use std::sync::Arc;

use axum::Router;
use bus::ConsumerOptions;
use domain::Event;
use domain::names::queue;
use rules::{RuleSet, RulesError, SharedRules};
use runtime::{RuntimeError, Service};
use tokio_util::sync::CancellationToken;

use crate::actions::apply_result;
use crate::auth::{Policy, SharedPolicy};
use crate::core::Core;
use crate::metrics::OrchestratorMetrics;
use crate::settings::{SERVICE, Settings};
use crate::{api, retention, rpc};

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error(transparent)]
    Runtime(#[from] RuntimeError),
    #[error("rules: {0}")]
    Rules(#[from] RulesError),
    #[error(transparent)]
    Policy(#[from] crate::auth::PolicyError),
    #[error(transparent)]
    Settings(#[from] runtime::SettingsError),
}

/// The orchestrator, wired exactly as in production; tests build it on port 0.
pub struct Application {
    service: Service,
    core: Core,
    routes: Router,
}

impl Application {
    pub async fn build(settings: Settings) -> Result<Application, StartError> {
        // Bad rules stop the start before anything connects.
        let rules = RuleSet::load_or_builtin(settings.own.rules.path.as_deref())?;
        tracing::info!(
            rules = rules.len(),
            enabled = rules.enabled_count(),
            "rules loaded"
        );
        let policy = Policy::load(settings.own.policy.path.as_deref())?;
        let tokens = settings.own.api.token_set()?;
        for t in tokens.entries().iter().filter(|t| t.bare) {
            tracing::warn!(
                principal = %t.name,
                "a bare API token is configured: it acts as an admin; use `orchestrator token new` for real tokens"
            );
        }
        if tokens.is_empty() {
            tracing::warn!(
                "no API tokens configured: /api and /mcp answer 401 (see `orchestrator token new`)"
            );
        }
        let body_limit = settings.common.http.body_limit_bytes;
        let bus_user = settings.common.bus.user();
        let llm = crate::postmortem::llm::Llm::new(&settings.own.ollama);
        let mut service = Service::build(SERVICE, settings.common).await?;
        if let Some(l) = llm.clone() {
            // Without Ollama, reports come from the template: degraded, not unready.
            service.add_check(telemetry::external_check("ollama", move || {
                let l = l.clone();
                async move { l.check().await }
            }));
        }
        let core = Core {
            pool: service.pool.clone(),
            rules: SharedRules::new(rules),
            policy: SharedPolicy::new(policy, settings.own.policy.path.clone()),
            tokens: Arc::new(tokens),
            settings: Arc::new(settings.own),
            metrics: OrchestratorMetrics::register(&service.metrics),
            bus_user,
            instance: service.instance_id.clone(),
            bus: service.bus.clone(),
            llm,
        };
        spawn_consumers(&mut service, &core);
        service.spawn_outbox_relay();
        let c = core.clone();
        service.spawn("retention", |stop| async move {
            retention::run(c, stop).await;
            Ok(())
        });
        let c = core.clone();
        service.spawn("action-sweep", |stop| async move {
            crate::actions::sweep::run(c, stop).await;
            Ok(())
        });
        let c = core.clone();
        service.spawn("rules-reload-on-sighup", |stop| reload_on_sighup(c, stop));
        let (c, instance) = (core.clone(), service.instance_id.clone());
        service.spawn("rules-reload-listener", |stop| {
            crate::reload::listen(c, instance, stop)
        });
        let routes = api::router(core.clone(), body_limit);
        // MCP over streamable HTTP at `/mcp` (see `mcp::http`).
        let stop = service.stop_token();
        let mcp = crate::mcp::http::router(core.clone(), service.bus.clone(), body_limit, stop);
        let routes = routes.merge(mcp);
        Ok(Application {
            service,
            core,
            routes,
        })
    }

    pub fn port(&self) -> u16 {
        self.service.port()
    }

    /// The service layer, for tools and tests that drive it directly.
    pub fn core(&self) -> &Core {
        &self.core
    }

    pub async fn run_until_stopped(self, cancel: CancellationToken) -> Result<(), RuntimeError> {
        self.service.run_until_stopped(self.routes, cancel).await
    }
}

fn spawn_consumers(service: &mut Service, core: &Core) {
    let bus = service.bus.clone();
    let ingest = &core.settings.ingest;
    for _ in 0..ingest.consumers {
        let (bus, c) = (bus.clone(), core.clone());
        let opts = ConsumerOptions::new(&bus, queue::ORCHESTRATOR_LOGS).batch(
            ingest.batch_size,
            std::time::Duration::from_millis(ingest.batch_wait_ms),
        );
        service.spawn("ingest", |stop| async move {
            bus.consume_batches(
                opts,
                move |batch| {
                    let c = c.clone();
                    async move { c.ingest_batch(batch).await }
                },
                stop,
            )
            .await?;
            Ok(())
        });
    }
    let (b, c) = (bus.clone(), core.clone());
    service.spawn("action-results", |stop| async move {
        let opts = ConsumerOptions::new(&b, queue::ORCHESTRATOR_ACTION_RESULTS).concurrency(4);
        b.consume(
            opts,
            move |msg: bus::Message<Event>| {
                let c = c.clone();
                async move { apply_result(&c, msg).await }
            },
            stop,
        )
        .await?;
        Ok(())
    });
    let (b, c) = (bus.clone(), core.clone());
    service.spawn("postmortems", |stop| async move {
        // Writing one report can take a while (the LLM); two at a time per replica.
        let opts = ConsumerOptions::new(&b, queue::ORCHESTRATOR_POSTMORTEMS).concurrency(2);
        b.consume(
            opts,
            move |msg: bus::Message<Event>| {
                let c = c.clone();
                async move { crate::postmortem::on_resolved(&c, msg).await }
            },
            stop,
        )
        .await?;
        Ok(())
    });
    let (b, c) = (bus, core.clone());
    service.spawn("commands", |stop| async move {
        let opts = ConsumerOptions::new(&b, queue::ORCHESTRATOR_COMMANDS).concurrency(8);
        b.serve(
            opts,
            move |msg| {
                let c = c.clone();
                async move { rpc::handle(&c, msg).await }
            },
            stop,
        )
        .await?;
        Ok(())
    });
}

async fn reload_on_sighup(core: Core, stop: CancellationToken) -> anyhow::Result<()> {
    #[cfg(unix)]
    {
        let mut hup = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup())?;
        loop {
            tokio::select! {
                _ = stop.cancelled() => break,
                _ = hup.recv() => {
                    let actor = crate::auth::Actor::system("sighup");
                    match core.reload_rules(&actor).await {
                        Ok(_) => {
                            let replicas = core.broadcast_reload().await;
                            tracing::info!(replicas, "rules reloaded on every replica that answered");
                        }
                        Err(e) => tracing::warn!(error = %e, "rules reload failed, keeping the previous rules"),
                    }
                }
            }
        }
    }
    #[cfg(not(unix))]
    stop.cancelled().await;
    Ok(())
}
