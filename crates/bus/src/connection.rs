use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use lapin::options::ConfirmSelectOptions;
use lapin::{Channel, Connection, ConnectionProperties};
use tokio::sync::{OnceCell, oneshot};
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

use crate::error::BusError;
use crate::metrics::BusMetrics;
use crate::names::Names;
use crate::settings::BusSettings;

/// A connection to RabbitMQ with a confirm-mode channel for publishing. Cheap to clone.
#[derive(Clone)]
pub struct Bus {
    pub(crate) inner: Arc<Inner>,
}

pub(crate) struct Inner {
    pub(crate) conn: Connection,
    pub(crate) publisher: Channel,
    pub(crate) settings: BusSettings,
    pub(crate) names: Names,
    pub(crate) producer: String,
    pub(crate) rpc: OnceCell<RpcClient>,
    pub(crate) metrics: BusMetrics,
}

impl Bus {
    /// Connects, retrying with backoff until `connect_timeout_secs` has passed or `cancel`
    /// fires. Once connected, lapin recovers the connection, channels and consumers by itself
    /// after a network failure or a broker-side close.
    pub async fn connect(
        settings: &BusSettings,
        producer: &str,
        cancel: &CancellationToken,
    ) -> Result<Bus, BusError> {
        let started = Instant::now();
        let limit = Duration::from_secs(settings.connect_timeout_secs);
        let mut delay = Duration::from_millis(200);
        let url = settings.redacted_url();
        loop {
            let props = ConnectionProperties::default()
                .with_connection_name(producer.into())
                .enable_auto_recover()
                // Keep recovering for as long as the process lives: a broker restart must
                // never leave a service connected to nothing.
                .configure_backoff(|b| {
                    b.with_min_delay(Duration::from_millis(250))
                        .with_max_delay(Duration::from_secs(5))
                        .without_max_times()
                });
            let attempt = async {
                let conn = Connection::connect(&settings.url, props).await?;
                let publisher = conn.create_channel().await?;
                publisher
                    .confirm_select(ConfirmSelectOptions::default())
                    .await?;
                Ok::<_, lapin::Error>((conn, publisher))
            };
            match attempt.await {
                Ok((conn, publisher)) => {
                    info!(url, producer, "connected to the broker");
                    return Ok(Bus {
                        inner: Arc::new(Inner {
                            conn,
                            publisher,
                            settings: settings.clone(),
                            names: Names::new(&settings.namespace),
                            producer: producer.to_string(),
                            rpc: OnceCell::new(),
                            metrics: BusMetrics::new(),
                        }),
                    });
                }
                Err(e) => {
                    let waited = started.elapsed();
                    if waited >= limit || cancel.is_cancelled() {
                        return Err(BusError::Connect {
                            url,
                            waited,
                            reason: e.to_string(),
                        });
                    }
                    warn!(url, error = %e, retry_in_ms = delay.as_millis() as u64, "broker unreachable");
                    tokio::select! {
                        _ = tokio::time::sleep(delay) => {}
                        _ = cancel.cancelled() => {
                            return Err(BusError::Connect { url, waited, reason: e.to_string() });
                        }
                    }
                    delay = (delay * 2).min(Duration::from_secs(5));
                }
            }
        }
    }

    pub fn names(&self) -> &Names {
        &self.inner.names
    }

    /// The `producer` written in the envelopes this bus creates (requests, replies).
    pub fn producer(&self) -> &str {
        &self.inner.producer
    }

    pub fn settings(&self) -> &BusSettings {
        &self.inner.settings
    }

    /// Adds the consumers' counters (`bus_consumer_*`, `bus_messages_*`, `bus_rpc_*`) to
    /// `registry`. Call once per registry.
    pub fn register_metrics(&self, registry: &prometheus::Registry) -> Result<(), BusError> {
        self.inner
            .metrics
            .register(registry)
            .map_err(|e| BusError::Metrics(e.to_string()))
    }

    pub fn is_connected(&self) -> bool {
        self.inner.conn.status().connected() && self.inner.publisher.status().connected()
    }

    /// Readiness: the connection and the publishing channel are both up.
    pub async fn check(&self) -> Result<(), String> {
        if self.is_connected() {
            Ok(())
        } else {
            let st = self.inner.conn.status();
            let state = if st.reconnecting() {
                "reconnecting"
            } else if st.blocked() {
                "blocked by the broker"
            } else if st.closed() || st.closing() {
                "closed"
            } else {
                "down"
            };
            Err(format!("broker connection is {state}"))
        }
    }

    pub(crate) async fn channel(&self) -> Result<Channel, BusError> {
        Ok(self.inner.conn.create_channel().await?)
    }

    /// Closes the connection; pending publishes fail.
    pub async fn close(&self) {
        if self.inner.conn.status().connected()
            && let Err(e) = self.inner.conn.close(200, "shutdown".into()).await
        {
            warn!(error = %e, "closing the broker connection failed");
        }
    }
}

/// Callers waiting for a reply, by correlation id.
pub(crate) type Pending = Arc<Mutex<HashMap<String, oneshot::Sender<Vec<u8>>>>>;

/// The caller's side of request/reply (see `rpc`): one channel that both publishes requests
/// and consumes replies, as direct reply-to requires. Defined here, where `Bus` holds it,
/// so that the connection does not import the request/reply module built on it.
pub(crate) struct RpcClient {
    pub(crate) channel: Channel,
    pub(crate) pending: Pending,
}
