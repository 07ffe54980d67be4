//! The service catalog: heartbeats register instances with no configuration, silent
//! instances go down, and a service goes `down` when none of its instances is alive and
//! `up` again when one comes back, each transition announced once through the outbox.
//!
//! Service states (`monitored_services.state`):
//! ```text
//! (new heartbeat) ─► up ──(every instance silent)──► down ──(heartbeat)──► up
//!                    │  └─(every instance said goodbye)─► stopped ──(heartbeat)──► up
//! ```
//! Only `up → down` and `down → up` are announced (`health.service.down` / `.up`); a clean
//! shutdown is not an outage and a first heartbeat is not a recovery.

pub mod heartbeat;
pub mod sweep;
pub mod view;

use chrono::{DateTime, Utc};
use domain::events::ServiceHealthChanged;
use domain::{Envelope, Event};
use sqlx::PgConnection;

use crate::settings::SERVICE;

/// Enqueues `health.service.down` (or `.up`) in the caller's transaction.
pub async fn announce(
    tx: &mut PgConnection,
    down: bool,
    service: &str,
    instance_id: Option<String>,
    reason: String,
    last_seen_at: Option<DateTime<Utc>>,
) -> Result<(), store::StoreError> {
    let change = ServiceHealthChanged {
        service: service.to_string(),
        instance_id,
        reason: Some(reason),
        last_seen_at,
        changed_at: Utc::now(),
    };
    let event = if down {
        Event::ServiceDown(change)
    } else {
        Event::ServiceUp(change)
    };
    store::outbox::enqueue(tx, SERVICE, &Envelope::new(SERVICE, event)).await
}
