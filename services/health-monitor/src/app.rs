use axum::Router;
use bus::ConsumerOptions;
use domain::names::queue;
use runtime::{RuntimeError, Service};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use crate::core::Core;
use crate::metrics::MonitorMetrics;
use crate::settings::{PASSWORD_KEY, SERVICE, Settings};
use crate::{api, catalog, events, leader, probes, rpc, uptime};

/// The health-monitor, wired exactly as in production; tests build it on port 0.
pub struct Application {
    service: Service,
    core: Core,
    routes: Router,
}

impl Application {
    pub async fn build(settings: Settings) -> Result<Application, RuntimeError> {
        settings.validate()?;
        if settings.own.dashboard.password.is_none() {
            // Monitoring matters more than the page: the service runs, the dashboard waits
            // for a password.
            tracing::warn!(
                key = PASSWORD_KEY,
                "no dashboard password set: the dashboard, /check-services and /audit are off (503) until {PASSWORD_KEY} is set"
            );
        }
        let mut service = Service::build(SERVICE, settings.common).await?;
        let core = Core::new(
            service.pool.clone(),
            service.bus.clone(),
            service.instance_id.clone(),
            settings.own,
            MonitorMetrics::register(&service.metrics),
        );
        spawn_tasks(&mut service, &core);
        service.spawn_outbox_relay();
        service.wrap_router(api::wrap(core.clone()));
        let routes = api::router(core.clone());
        Ok(Application {
            service,
            core,
            routes,
        })
    }

    pub fn port(&self) -> u16 {
        self.service.port()
    }

    /// The service layer, for tests that drive it directly.
    pub fn core(&self) -> &Core {
        &self.core
    }

    pub async fn run_until_stopped(self, cancel: CancellationToken) -> Result<(), RuntimeError> {
        self.service.run_until_stopped(self.routes, cancel).await
    }
}

fn spawn_tasks(service: &mut Service, core: &Core) {
    let opts = |queue| ConsumerOptions::new(&service.bus, queue).concurrency(4);
    let (heartbeats, events, commands) = (
        opts(queue::HEALTH_MONITOR_HEARTBEATS),
        opts(queue::HEALTH_MONITOR_EVENTS),
        opts(queue::HEALTH_MONITOR_COMMANDS),
    );
    let c = core.clone();
    service.consume("heartbeats", heartbeats, move |msg| {
        let c = c.clone();
        async move { catalog::heartbeat::handle(&c, msg).await }
    });
    let c = core.clone();
    service.consume("events", events, move |msg| {
        let c = c.clone();
        async move { events::handle(&c, msg).await }
    });
    let c = core.clone();
    service.serve("commands", commands, move |msg| {
        let c = c.clone();
        async move { rpc::handle(&c, msg).await }
    });
    let c = core.clone();
    service.spawn("sweep", |stop| catalog::sweep::run(c, stop));
    let (tx, rx) = watch::channel(false);
    let c = core.clone();
    service.spawn("leader", |stop| leader::run(c, tx, stop));
    let (c, r) = (core.clone(), rx.clone());
    service.spawn("probes", |stop| probes::scheduler::run(c, r, stop));
    let c = core.clone();
    service.spawn("uptime", |stop| uptime::run(c, rx, stop));
}
