use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use bus::ConsumerOptions;
use domain::events::Event;
use domain::names::queue;
use runtime::{RuntimeError, Service};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

use crate::bot::exec::Executor;
use crate::bot::llm::Llm;
use crate::bot::validate::JobAllowlist;
use crate::bot::verify::Verifier;
use crate::bot::{self, Bot};
use crate::notify::{Notifier, NotifyMetrics, Sender, repo};
use crate::settings::{SERVICE, Settings};
use crate::slack::{ConsoleSink, Groups, Sink, WebSlack};

/// The chatops, wired exactly as in production; tests build it on port 0.
pub struct Application {
    service: Service,
    routes: Router,
}

fn io(e: impl std::fmt::Display) -> RuntimeError {
    RuntimeError::Settings(runtime::SettingsError::Invalid(e.to_string()))
}

impl Application {
    pub async fn build(settings: Settings) -> Result<Application, RuntimeError> {
        let own = settings.own;
        let mut service = Service::build(SERVICE, settings.common).await?;
        let metrics = NotifyMetrics::register(&service.metrics);
        let wake = Arc::new(Notify::new());
        let slack = &own.slack;

        let web = WebSlack::new(
            &slack.api_url,
            slack.bot_token.is_set().then(|| slack.bot_token.expose()),
            slack.request_timeout(),
        )
        .map_err(|e| io(format!("slack client: {e}")))?;
        let sink = if slack.bot_token.is_set() {
            let check = web.clone();
            let cache =
                crate::slack::probe::CachedCheck::new(Duration::from_secs(slack.check_cache_secs));
            service.add_check(telemetry::external_check("slack", move || {
                let (w, cache) = (check.clone(), cache.clone());
                async move {
                    cache
                        .run(|| async move {
                            w.auth_test().await.map(|_| ()).map_err(|e| e.to_string())
                        })
                        .await
                }
            }));
            Sink::Web(web.clone())
        } else {
            info!("no slack bot token: notifications go to the console");
            Sink::Console(ConsoleSink::new())
        };
        let llm = if own.ollama.enabled {
            let llm = Llm::new(&own.ollama).map_err(io)?;
            let check = llm.clone();
            service.add_check(telemetry::external_check("ollama", move || {
                let l = check.clone();
                async move { l.check().await }
            }));
            Some(llm)
        } else {
            None
        };

        // Notifier: the consumer records, the senders deliver.
        let notifier = Notifier {
            pool: service.pool.clone(),
            cfg: own.notify.clone(),
            wake: wake.clone(),
            metrics: metrics.clone(),
        };
        let opts = ConsumerOptions::new(&service.bus, queue::INCIDENT_NOTIFICATIONS);
        service.consume("notifier", opts, move |msg: bus::Message<Event>| {
            let n = notifier.clone();
            async move { n.handle(msg).await }
        });
        let sender = Sender {
            pool: service.pool.clone(),
            sink,
            cfg: own.notify.clone(),
            instance: service.instance_id.clone(),
            wake: wake.clone(),
            lease: slack.request_timeout() + Duration::from_secs(5),
            metrics: metrics.clone(),
        };
        for i in 0..own.notify.senders.max(1) {
            let s = sender.clone();
            service.spawn(
                if i == 0 {
                    "slack-sender"
                } else {
                    "slack-sender+"
                },
                move |stop| s.run(stop),
            );
        }
        let (pool, m, days) = (
            service.pool.clone(),
            metrics.clone(),
            own.notify.retention_days,
        );
        let inbox_hours = service.settings.outbox.inbox_retention_hours;
        service.spawn("slack-upkeep", move |stop| async move {
            let mut gauge = tokio::time::interval(Duration::from_secs(30));
            let mut clean = tokio::time::interval(Duration::from_secs(3600));
            loop {
                tokio::select! {
                    _ = stop.cancelled() => return Ok(()),
                    _ = gauge.tick() => {
                        if let Ok(n) = repo::backlog(&pool).await {
                            m.backlog.set(n);
                        }
                    }
                    _ = clean.tick() => {
                        if let Err(e) = repo::cleanup(&pool, days).await {
                            warn!(error = %e, "slack cleanup failed");
                        }
                        // chatops runs no outbox relay, which would otherwise prune the inbox.
                        if let Err(e) = store::inbox::cleanup(&pool, inbox_hours).await {
                            warn!(error = %e, "inbox cleanup failed");
                        }
                    }
                }
            }
        });

        // Bot.
        let allow = JobAllowlist::new(&own.guard.allowed_jobs).map_err(io)?;
        let bot = Arc::new(Bot {
            pool: service.pool.clone(),
            exec: Executor {
                bus: service.bus.clone(),
                timeout: Duration::from_millis(own.bot.command_timeout_ms),
                postmortem_timeout: Duration::from_millis(own.bot.postmortem_timeout_ms),
                groups: Groups::new(
                    slack.bot_token.is_set().then(|| web.clone()),
                    Duration::from_secs(slack.groups_ttl_secs),
                ),
            },
            llm,
            allow,
            web: web.clone(),
            verifier: slack
                .signing_secret
                .is_set()
                .then(|| Verifier::new(slack.signing_secret.expose())),
            response_prefixes: slack.response_url_prefixes.clone(),
            inline_reply: Duration::from_millis(own.bot.inline_reply_ms),
            wake,
            metrics,
        });
        if slack.app_token.is_set() {
            let (b, client, token) = (
                bot.clone(),
                web.client(),
                slack.app_token.expose().to_string(),
            );
            service.spawn("socket-mode", move |stop| {
                bot::socket::run(b, client, token, stop)
            });
        }
        let routes = bot::routes(bot).layer(axum::extract::DefaultBodyLimit::max(
            service.settings.http.body_limit_bytes,
        ));
        Ok(Application { service, routes })
    }

    pub fn port(&self) -> u16 {
        self.service.port()
    }

    pub async fn run_until_stopped(self, cancel: CancellationToken) -> Result<(), RuntimeError> {
        self.service.run_until_stopped(self.routes, cancel).await
    }
}
