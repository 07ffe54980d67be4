//! Holds (or waits for) the leader lease and tells the leader-only tasks through a watch.

use std::time::Duration;

use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use crate::core::Core;
use crate::repo::lease;

pub async fn run(
    core: Core,
    leader: watch::Sender<bool>,
    stop: CancellationToken,
) -> anyhow::Result<()> {
    let ttl = core.settings.health.leader_lease_secs;
    // Renewing three times per lease: one missed renewal never loses it, and a monitor that
    // cannot renew stops acting as leader long before another may take over.
    let renew = Duration::from_millis(ttl * 1000 / 3);
    loop {
        let held = match lease::acquire(&core.pool, &core.instance_id, ttl).await {
            Ok(held) => held,
            Err(e) => {
                tracing::warn!(error = %e, "leader lease not renewed");
                false
            }
        };
        if held != *leader.borrow() {
            tracing::info!(leader = held, instance = %core.instance_id, "leadership changed");
            core.metrics.leader.set(i64::from(held));
        }
        leader.send_replace(held);
        tokio::select! {
            _ = stop.cancelled() => break,
            _ = tokio::time::sleep(renew) => {}
        }
    }
    if *leader.borrow() {
        leader.send_replace(false);
        core.metrics.leader.set(0);
        if let Err(e) = lease::release(&core.pool, &core.instance_id).await {
            tracing::warn!(error = %e, "leader lease not released; it expires by itself");
        }
    }
    Ok(())
}
