use std::time::Duration;

use axum::Router;
use runtime::Service;
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

use crate::commands::CommandServer;
use crate::consumer;
use crate::error::RunnerError;
use crate::executor::{ActionExecutor, ExecutorParts, JenkinsExecutor};
use crate::jenkins::JenkinsClient;
use crate::metrics::RunnerMetrics;
use crate::reaper::LeaseReaper;
use crate::repo::ActionRepository;
use crate::settings::{SERVICE, Settings};

/// The runner, wired exactly as in production; tests build it on port 0.
pub struct Application {
    service: Service,
}

impl Application {
    pub async fn build(settings: Settings) -> Result<Application, RunnerError> {
        let guard = settings.validate()?;
        let Settings { common, own } = settings;
        let has_url = !own.jenkins.url.trim().is_empty();
        // A dry-run runner never acts on Jenkins: the executor gets no client at all. With
        // a URL it still reads build changes (a GET) for `command.jenkins.changes`.
        let acts = has_url && !own.guard.dry_run;
        if has_url {
            // Refuse a bad URL before connecting to anything.
            JenkinsClient::new(own.jenkins.clone())?;
        }
        let mut service = Service::build(SERVICE, common).await?;
        let metrics = RunnerMetrics::register(&service.metrics);

        let reader = if has_url {
            Some(JenkinsClient::with_latency_observer(
                own.jenkins.clone(),
                metrics.jenkins_observer(),
            )?)
        } else {
            None
        };
        // Only a runner that acts checks Jenkins for readiness: a dry run calls Jenkins
        // for nothing but the reads it is asked for.
        let client = if acts { reader.clone() } else { None };
        if let Some(ping) = client.clone() {
            service.add_check(telemetry::external_check("jenkins", move || {
                let ping = ping.clone();
                async move { ping.ping().await.map_err(|e| e.to_string()) }
            }));
        }
        if own.guard.dry_run {
            warn!(
                reads_changes = has_url,
                "dry run: actions are claimed and recorded, jenkins is never asked to build or stop"
            );
        }
        if guard.allows_nothing() {
            warn!("guard.allowed_jobs is empty: every action will be rejected");
        }
        info!(
            concurrency = own.runner.concurrency,
            max_concurrent = guard.max_concurrent,
            lease_secs = own.runner.lease_secs,
            "runner configured"
        );

        let repo = ActionRepository::new(service.pool.clone());
        let executor = ActionExecutor::new(ExecutorParts {
            repo: repo.clone(),
            guard,
            jenkins: JenkinsExecutor::new(client),
            metrics: metrics.clone(),
            runner_id: service.instance_id.clone(),
            lease: own.runner.lease(),
            dry_run: own.guard.dry_run,
            stop: service.stop_token(),
            deadline: service.drain_deadline_token(),
        });
        let commands = CommandServer::new(&service.bus, reader, &own.commands, metrics.clone());
        let opts = commands.options(&service.bus);
        let commands = std::sync::Arc::new(commands);
        service.serve("commands", opts, move |msg| {
            let commands = commands.clone();
            async move { commands.handle(msg).await }
        });
        // The outbox relay outlives this consumer at shutdown (see `Service`), so results of
        // actions finishing while it drains still leave.
        let (opts, ex) = (
            consumer::options(&service.bus, &own.runner),
            executor.clone(),
        );
        service.consume(
            "action-consumer",
            opts,
            move |msg: bus::Message<domain::Event>| {
                let executor = ex.clone();
                async move { consumer::handle(&executor, msg).await }
            },
        );
        let reaper = LeaseReaper::new(
            repo,
            metrics,
            Duration::from_secs(own.runner.reaper_interval_secs),
            executor,
        );
        service.spawn("lease-reaper", move |stop| async move {
            reaper.run(stop).await;
            Ok(())
        });
        service.spawn_outbox_relay();
        Ok(Application { service })
    }

    pub fn port(&self) -> u16 {
        self.service.port()
    }

    /// The id this replica writes to `claimed_by`.
    pub fn instance_id(&self) -> &str {
        &self.service.instance_id
    }

    pub async fn run_until_stopped(self, cancel: CancellationToken) -> Result<(), RunnerError> {
        Ok(self
            .service
            .run_until_stopped(Router::new(), cancel)
            .await?)
    }
}
