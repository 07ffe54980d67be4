//! Tailing one source: take its lease (hot standby), then poll Elasticsearch from the
//! checkpoint, publish with confirms, and move the checkpoint over what the broker confirmed.

mod backoff;
pub mod last_sent;
pub mod mapping;
mod poll;
mod quiet;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use bus::Bus;
use domain::Source;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tracing::{Instrument, debug, info, info_span, warn};

use crate::es::EsClient;
use crate::metrics::ListenerMetrics;
use crate::repo::{CheckpointRepo, Lease};
use crate::settings::{SourceSettings, TailSettings};
use backoff::Backoff;
use poll::{PollError, TailState};
use quiet::{Quiet, Say};

/// How often a lasting poll failure is said again.
const FAILURE_REMINDER: Duration = Duration::from_secs(300);

/// The last Elasticsearch failure seen by a tailer, for the `elasticsearch` check.
#[derive(Clone, Default)]
pub struct EsHealth(Arc<Mutex<Option<String>>>);

impl EsHealth {
    fn set(&self, v: Option<String>) {
        *self.0.lock().unwrap_or_else(|e| e.into_inner()) = v;
    }

    pub fn ok(&self) {
        self.set(None);
    }

    pub fn fail(&self, reason: String) {
        self.set(Some(reason));
    }

    pub fn current(&self) -> Result<(), String> {
        match &*self.0.lock().unwrap_or_else(|e| e.into_inner()) {
            None => Ok(()),
            Some(e) => Err(e.clone()),
        }
    }
}

/// What every tailer shares.
#[derive(Clone)]
pub struct TailContext {
    pub es: EsClient,
    pub bus: Bus,
    pub repo: CheckpointRepo,
    pub metrics: ListenerMetrics,
    pub instance: String,
    pub tail: TailSettings,
    pub health: EsHealth,
}

pub struct Tailer {
    ctx: TailContext,
    source: Source,
    spec: SourceSettings,
}

async fn pause(token: &CancellationToken, d: Duration) {
    tokio::select! {
        _ = tokio::time::sleep(d) => {}
        _ = token.cancelled() => {}
    }
}

impl Tailer {
    pub fn new(ctx: TailContext, source: Source, spec: SourceSettings) -> Self {
        Tailer { ctx, source, spec }
    }

    /// Stands by until this replica gets the source's lease, tails while it holds it, and
    /// stands by again when it loses it; returns when `stop` fires.
    pub async fn run(self, stop: CancellationToken) -> anyhow::Result<()> {
        let source = self.source.as_str();
        let ttl = self.ctx.tail.lease();
        let standby = (ttl / 3).max(Duration::from_millis(200));
        let mut backoff = self.backoff();
        let mut waiting_logged = false;
        while !stop.is_cancelled() {
            match self.ctx.repo.acquire(source, &self.ctx.instance, ttl).await {
                Ok(Some(lease)) => {
                    backoff.reset();
                    waiting_logged = false;
                    self.hold(lease, &stop).await;
                }
                Ok(None) => {
                    if !waiting_logged {
                        info!(source, "another replica holds the source: standing by");
                        waiting_logged = true;
                    }
                    pause(&stop, standby).await;
                }
                Err(e) => {
                    let d = backoff.next_delay();
                    warn!(source, error = %e, retry_in_ms = d.as_millis() as u64, "cannot read the source's lease");
                    pause(&stop, d).await;
                }
            }
        }
        Ok(())
    }

    fn backoff(&self) -> Backoff {
        Backoff::new(
            Duration::from_millis(self.ctx.tail.retry_min_ms),
            Duration::from_millis(self.ctx.tail.retry_max_ms),
        )
    }

    async fn hold(&self, lease: Lease, stop: &CancellationToken) {
        let source = self.source.as_str();
        let ttl = self.ctx.tail.lease();
        info!(source, token = lease.token, checkpoint = ?lease.checkpoint, "holding the source");
        let held = self.ctx.metrics.source_held.with_label_values(&[source]);
        held.set(1);
        // Cancelled when the lease is lost, or with `stop`.
        let active = stop.child_token();
        let valid_until = Arc::new(Mutex::new(Instant::now() + ttl));
        let renewer = tokio::spawn(renew(
            self.ctx.repo.clone(),
            source,
            lease.token,
            ttl,
            valid_until.clone(),
            active.clone(),
        ));
        let mut st = TailState::new(&lease, self.ctx.tail.dedup_capacity, valid_until);
        let mut backoff = self.backoff();
        let mut quiet = Quiet::new(FAILURE_REMINDER);
        let mut fenced = false;
        while !active.is_cancelled() {
            let outcome = self
                .poll(&mut st, &active)
                .instrument(info_span!("poll", source))
                .await;
            self.record_lag(&st);
            match outcome {
                Ok(()) => {
                    self.ctx.health.ok();
                    backoff.reset();
                    if let Say::Recovered { failures, after } = quiet.succeeded(Instant::now()) {
                        info!(
                            source,
                            failures,
                            after_secs = after.as_secs(),
                            "polling works again"
                        );
                    }
                    pause(&active, self.spec.poll_interval()).await;
                }
                Err(PollError::Stopped) => break,
                Err(PollError::Fenced) => {
                    fenced = true;
                    break;
                }
                Err(e) => {
                    if let PollError::Es(es) = &e {
                        self.ctx
                            .metrics
                            .es_failures
                            .with_label_values(&[source, es.kind()])
                            .inc();
                        self.ctx.health.fail(es.to_string());
                    }
                    let d = backoff.next_delay();
                    let retry_in_ms = d.as_millis() as u64;
                    match quiet.failed(Instant::now()) {
                        Say::Failing { failures, since } => warn!(
                            source, error = %e, retry_in_ms, failures, failing_for_secs = since.as_secs(),
                            "poll failed, resuming from the checkpoint (said again every 5 min while it lasts)"
                        ),
                        _ => debug!(source, error = %e, retry_in_ms, "poll failed again"),
                    }
                    pause(&active, d).await;
                }
            }
        }
        renewer.abort();
        if !fenced {
            match self.save(&mut st).await {
                Ok(()) => {}
                Err(PollError::Fenced) => fenced = true,
                Err(e) => warn!(source, error = %e, "last checkpoint not written"),
            }
        }
        if fenced {
            warn!(
                source,
                token = st.token,
                "another replica took the source over: standing by"
            );
        } else if stop.is_cancelled() {
            // Hand over at once instead of making a standby wait for the lease to run out.
            match self.ctx.repo.release(source, st.token).await {
                Ok(()) => info!(source, "source released"),
                Err(e) => warn!(source, error = %e, "source not released; the lease will run out"),
            }
        }
        held.set(0);
    }
}

/// Renews the lease every third of its life. A refusal means another replica holds it now;
/// not reaching the database for a whole lease means one may: either way tailing stops.
async fn renew(
    repo: CheckpointRepo,
    source: &'static str,
    token: i64,
    ttl: Duration,
    valid_until: Arc<Mutex<Instant>>,
    active: CancellationToken,
) {
    let every = (ttl / 3).max(Duration::from_millis(100));
    loop {
        pause(&active, every).await;
        if active.is_cancelled() {
            return;
        }
        let asked = Instant::now();
        match repo.renew(source, token, ttl).await {
            Ok(true) => {
                *valid_until.lock().unwrap_or_else(|e| e.into_inner()) = asked + ttl;
            }
            Ok(false) => {
                warn!(source, token, "lease lost to another replica");
                active.cancel();
                return;
            }
            Err(e) => {
                let until = *valid_until.lock().unwrap_or_else(|e| e.into_inner());
                if Instant::now() >= until {
                    warn!(source, error = %e, "lease not renewed in time: stopping");
                    active.cancel();
                    return;
                }
                warn!(source, error = %e, "lease renewal failed, retrying");
            }
        }
    }
}
