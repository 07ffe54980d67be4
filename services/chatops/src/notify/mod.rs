//! Incident Notifier: consumes `incident_notifications`, records each event's effect on the
//! Slack messages (once per envelope id, in one transaction), and lets the paced sender
//! bring Slack up to date. The AMQP message is acked as soon as that is durable, so Slack
//! being down never holds the queue nor burns delivery attempts.

mod apply;
pub mod format;
mod memory;
pub mod metrics;
pub mod repo;
mod sender;
pub mod view;

use std::sync::Arc;

use bus::{HandlerError, Message};
use domain::events::Event;
use sqlx::PgPool;
use tokio::sync::Notify;

pub use metrics::NotifyMetrics;
pub use sender::Sender;

use crate::settings::NotifySettings;

/// The inbox consumer name of the notifier.
pub const CONSUMER: &str = "chatops.notifier";

#[derive(Clone)]
pub struct Notifier {
    pub pool: PgPool,
    pub cfg: NotifySettings,
    pub wake: Arc<Notify>,
    pub metrics: NotifyMetrics,
}

/// A database failure as a handler outcome, as the store sorts it.
fn db(e: impl Into<store::StoreError>) -> HandlerError {
    e.into().into()
}

impl Notifier {
    pub async fn handle(&self, msg: Message<Event>) -> Result<(), HandlerError> {
        let kind = msg.envelope.kind.clone();
        let mut tx = self.pool.begin().await.map_err(db)?;
        let fresh = store::inbox::first_time(&mut tx, CONSUMER, msg.envelope.id)
            .await
            .map_err(db)?;
        if !fresh {
            self.metrics
                .events
                .with_label_values(&[&kind, "duplicate"])
                .inc();
            tracing::debug!(kind, "event already applied");
            return Ok(());
        }
        apply::apply(&mut tx, &self.cfg, msg.envelope.id, &msg.envelope.payload)
            .await
            .map_err(db)?;
        tx.commit().await.map_err(db)?;
        self.metrics
            .events
            .with_label_values(&[&kind, "applied"])
            .inc();
        self.wake.notify_waiters();
        Ok(())
    }
}

#[cfg(test)]
mod tests;
