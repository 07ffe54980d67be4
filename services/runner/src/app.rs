use std::time::Duration;

use axum::Router;
use runtime::Service;
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

use crate::consumer::ActionConsumer;
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
        // A dry-run runner never calls Jenkins, so it does not even build a client.
        let jenkins_url = !own.jenkins.url.trim().is_empty() && !own.guard.dry_run;
        if jenkins_url {
            // Refuse a bad URL before connecting to anything.
            JenkinsClient::new(own.jenkins.clone())?;
        }
        let mut service = Service::build(SERVICE, common).await?;
        let metrics = RunnerMetrics::register(&service.metrics);

        let client = if jenkins_url {
            let client = JenkinsClient::with_latency_observer(
                own.jenkins.clone(),
                metrics.jenkins_observer(),
            )?;
            let ping = client.clone();
            service.add_check(telemetry::external_check("jenkins", move || {
                let ping = ping.clone();
                async move { ping.ping().await.map_err(|e| e.to_string()) }
            }));
            Some(client)
        } else {
            None
        };
        if own.guard.dry_run {
            warn!("dry run: actions are claimed and recorded, jenkins is never called");
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
        let consumer = ActionConsumer::new(&service.bus, executor.clone(), &own.runner);
        // The outbox relay outlives this consumer at shutdown (see `Service`), so results of
        // actions finishing while it drains still leave.
        service.spawn("action-consumer", move |stop| async move {
            consumer.run(stop).await?;
            Ok(())
        });
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
