use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;

use axum::Router;
use bus::{BatchHandler, Bus, ConsumerOptions, Handler, Message};
use chrono::Utc;
use domain::commands::CommandReply;
use sqlx::PgPool;
use store::OutboxRelay;
use store::outbox::RelayMetrics;
use telemetry::{Metrics, ReadyCheck};
use tokio::net::TcpListener;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

use crate::error::RuntimeError;
use crate::heartbeat::Heartbeater;
use crate::settings::CommonSettings;

/// The wiring every service starts with: database (created and migrated when allowed),
/// broker (topology declared), metrics, readiness checks, an HTTP listener, background
/// tasks that stop together, heartbeats.
pub struct Service {
    pub name: &'static str,
    pub instance_id: String,
    pub settings: CommonSettings,
    pub pool: PgPool,
    pub bus: Bus,
    pub metrics: Metrics,
    checks: Vec<ReadyCheck>,
    listener: TcpListener,
    /// Cancelled when the service stops; background tasks watch it.
    stop: CancellationToken,
    /// Cancelled when the drain is about to run out of time (see `drain_deadline_token`).
    deadline: CancellationToken,
    tasks: JoinSet<()>,
    /// The outbox relay, stopped after the tasks (see `spawn_outbox_relay`).
    relay: Option<(CancellationToken, tokio::task::JoinHandle<()>)>,
    /// Applied to the complete router (see `wrap_router`).
    wrap: Option<RouterWrap>,
}

type RouterWrap = Box<dyn FnOnce(Router) -> Router + Send>;

impl Service {
    pub async fn build(
        name: &'static str,
        settings: CommonSettings,
    ) -> Result<Service, RuntimeError> {
        crate::install_crypto_provider();
        let instance_id = settings
            .instance
            .id
            .clone()
            .unwrap_or_else(|| crate::new_instance_id(name));
        let stop = CancellationToken::new();

        let pool = store::connect(&settings.database).await?;
        if settings.database.auto_migrate {
            store::migrate(&pool).await?;
        }
        let bus = Bus::connect(&settings.bus, &instance_id, &stop).await?;
        bus.declare_topology().await?;
        let metrics = Metrics::new(name);
        bus.register_metrics(metrics.registry())?;

        let addr = format!("{}:{}", settings.http.host, settings.http.port);
        let listener = TcpListener::bind(&addr)
            .await
            .map_err(|source| RuntimeError::Bind {
                addr: addr.clone(),
                source,
            })?;

        let db = pool.clone();
        let broker = bus.clone();
        let checks = vec![
            telemetry::check("database", move || {
                let db = db.clone();
                async move {
                    sqlx::query("SELECT 1")
                        .execute(&db)
                        .await
                        .map(|_| ())
                        .map_err(|e| e.to_string())
                }
            }),
            telemetry::check("broker", move || {
                let broker = broker.clone();
                async move { broker.check().await }
            }),
        ];
        Ok(Service {
            name,
            instance_id,
            metrics,
            settings,
            pool,
            bus,
            checks,
            listener,
            stop,
            deadline: CancellationToken::new(),
            tasks: JoinSet::new(),
            relay: None,
            wrap: None,
        })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.listener.local_addr().expect("bound listener")
    }

    pub fn port(&self) -> u16 {
        self.local_addr().port()
    }

    /// Adds a readiness check (it also shows in heartbeats). Checks of systems outside
    /// Runbooks must be built with `telemetry::external_check`: they report `degraded`
    /// and never fail readiness.
    pub fn add_check(&mut self, check: ReadyCheck) {
        self.checks.push(check);
    }

    /// The token background tasks stop on.
    pub fn stop_token(&self) -> CancellationToken {
        self.stop.clone()
    }

    /// Cancelled shortly before the shutdown grace runs out (the last `handoff` of it, see
    /// [`Service::handoff`]), while the tasks still run: work that cannot finish in time
    /// uses it to leave a state another replica can take over (a runner hands its Jenkins
    /// actions back) instead of being aborted mid-way.
    pub fn drain_deadline_token(&self) -> CancellationToken {
        self.deadline.clone()
    }

    /// How long before the end of the grace the drain deadline fires: a quarter of the
    /// grace, at most 2 s.
    pub fn handoff(grace: Duration) -> Duration {
        (grace / 4).min(Duration::from_secs(2))
    }

    /// Runs a background task until the service stops; it must return soon after the
    /// token is cancelled (after finishing what it holds).
    pub fn spawn<F, Fut>(&mut self, task: &'static str, f: F)
    where
        F: FnOnce(CancellationToken) -> Fut,
        Fut: Future<Output = anyhow::Result<()>> + Send + 'static,
    {
        let fut = f(self.stop.clone());
        let stop = self.stop.clone();
        self.tasks.spawn(async move {
            match fut.await {
                Ok(()) => info!(task, "task finished"),
                Err(e) => {
                    // A dead consumer or relay would silently stall the pipeline; stop the
                    // whole service so the orchestrator (docker, k8s) restarts it.
                    tracing::error!(task, error = %e, "task failed, stopping the service");
                    stop.cancel();
                }
            }
        });
    }

    /// Consumes `opts.queue` with `handler` as the background task `task`, until the
    /// service stops (the messages in hand finish first). A consumer that fails for good
    /// stops the service, like any task.
    pub fn consume<T, H>(&mut self, task: &'static str, opts: ConsumerOptions, handler: H)
    where
        T: domain::Decode + Send + Sync + 'static,
        H: Handler<T>,
    {
        let bus = self.bus.clone();
        self.spawn(task, move |stop| async move {
            bus.consume(opts, handler, stop).await?;
            Ok(())
        });
    }

    /// [`Service::consume`] a batch at a time (see `bus::BatchHandler`).
    pub fn consume_batches<T, H>(&mut self, task: &'static str, opts: ConsumerOptions, handler: H)
    where
        T: domain::Decode + Send + Sync + 'static,
        H: BatchHandler<T>,
    {
        let bus = self.bus.clone();
        self.spawn(task, move |stop| async move {
            bus.consume_batches(opts, handler, stop).await?;
            Ok(())
        });
    }

    /// Answers the `command.*` requests of `opts.queue` with `handler` (see `Bus::serve`)
    /// as the background task `task`, until the service stops.
    pub fn serve<H, Fut>(&mut self, task: &'static str, opts: ConsumerOptions, handler: H)
    where
        H: Fn(Message<serde_json::Value>) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = CommandReply> + Send,
    {
        let bus = self.bus.clone();
        self.spawn(task, move |stop| async move {
            bus.serve(opts, handler, stop).await?;
            Ok(())
        });
    }

    /// Publishes this service's outbox rows (for services that write events with their
    /// database changes). It keeps running while the other tasks drain at shutdown and
    /// stops after them, so events of work finished meanwhile still leave.
    pub fn spawn_outbox_relay(&mut self) {
        if self.relay.is_some() {
            return;
        }
        let relay = OutboxRelay::new(
            self.pool.clone(),
            self.bus.clone(),
            self.settings.outbox.clone(),
        )
        .with_metrics(RelayMetrics::register(self.metrics.registry()));
        let stop = CancellationToken::new();
        let handle = tokio::spawn(relay.run(stop.clone()));
        self.relay = Some((stop, handle));
    }

    /// Transforms the complete router, the service's routes together with `/health`,
    /// `/ready` and `/metrics`, just before it is served: for middleware that must see every
    /// route (request metrics, CORS, content negotiation on `/metrics`).
    pub fn wrap_router(&mut self, f: impl FnOnce(Router) -> Router + Send + 'static) {
        self.wrap = Some(Box::new(f));
    }

    /// Serves `routes` plus `/health`, `/ready`, `/metrics`, sends heartbeats, and waits for
    /// `cancel` (SIGTERM) or a failed task. Then it stops taking work, lets in-flight work
    /// finish (up to `shutdown.grace_secs`), says goodbye on the bus and closes it.
    pub async fn run_until_stopped(
        mut self,
        routes: Router,
        cancel: CancellationToken,
    ) -> Result<(), RuntimeError> {
        let router = routes.merge(telemetry::ops_router(
            self.name,
            self.metrics.clone(),
            self.checks.clone(),
        ));
        let router = match self.wrap.take() {
            Some(wrap) => wrap(router),
            None => router,
        };
        let stop = self.stop.clone();
        let port = self.port();
        info!(service = self.name, instance = %self.instance_id, port, "http listening");
        let server_stop = stop.clone();
        // Header, body and total timeouts; the peer address for handlers (see `serve`).
        let timeouts = self.settings.http.timeouts()?;
        let server = tokio::spawn(crate::serve::serve(
            self.listener,
            router,
            timeouts,
            server_stop,
        ));
        let heartbeater = Heartbeater {
            bus: self.bus.clone(),
            service: self.name.to_string(),
            instance_id: self.instance_id.clone(),
            started_at: Utc::now(),
            interval: Duration::from_secs(self.settings.heartbeat.interval_secs.max(1)),
            checks: self.checks.clone(),
            metrics: self.metrics.clone(),
        };
        let beats = tokio::spawn(heartbeater.clone().run(stop.clone()));

        tokio::select! {
            _ = cancel.cancelled() => info!("stop requested"),
            _ = stop.cancelled() => warn!("stopping after a task failure"),
        }
        stop.cancel();

        let grace = Duration::from_secs(self.settings.shutdown.grace_secs);
        let handoff = Self::handoff(grace);
        let mut drained = tokio::time::timeout(grace - handoff, async {
            while self.tasks.join_next().await.is_some() {}
        })
        .await
        .is_ok();
        if !drained {
            info!(
                handoff_ms = handoff.as_millis() as u64,
                "drain deadline: handing unfinished work over"
            );
            self.deadline.cancel();
            drained = tokio::time::timeout(handoff, async {
                while self.tasks.join_next().await.is_some() {}
            })
            .await
            .is_ok();
        }
        if !drained {
            warn!(
                grace_secs = grace.as_secs(),
                "in-flight work did not finish in time, aborting it"
            );
            self.tasks.abort_all();
        }
        if let Some((relay_stop, relay)) = self.relay.take() {
            relay_stop.cancel();
            if tokio::time::timeout(grace, relay).await.is_err() {
                warn!("outbox relay did not stop in time");
            }
        }
        let _ = beats.await;
        if let Err(e) = heartbeater.beat(true).await {
            warn!(error = %e, "farewell heartbeat not sent");
        }
        let served = tokio::time::timeout(grace, server).await;
        self.bus.close().await;
        self.pool.close().await;
        info!(service = self.name, "stopped");
        match served {
            Ok(Ok(Err(e))) => Err(RuntimeError::Http(e)),
            _ => Ok(()),
        }
    }
}
