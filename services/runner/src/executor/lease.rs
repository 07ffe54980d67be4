//! Keeps a claim alive while its action runs: a runner that stops renewing (it died) lets
//! the lease expire, and the reaper then declares the action lost.

use std::future::Future;
use std::time::Duration;

use tracing::{debug, error, warn};

use crate::repo::ActionRepository;

/// Runs `work`, renewing the lease of action `id` every third of `lease`.
pub async fn hold<F: Future>(
    repo: &ActionRepository,
    id: i64,
    runner: &str,
    lease: Duration,
    work: F,
) -> F::Output {
    let every = (lease / 3).max(Duration::from_millis(100));
    let renew = async {
        let mut lost = false;
        loop {
            tokio::time::sleep(every).await;
            match repo.renew_lease(id, runner, lease).await {
                Ok(true) => debug!(action_id = id, "lease renewed"),
                Ok(false) if !lost => {
                    lost = true;
                    error!(
                        action_id = id,
                        "lease lost while the action runs (expired, or taken over by another runner)"
                    );
                }
                Ok(false) => {}
                // The lease is long enough to outlive a few failed renewals.
                Err(e) => warn!(action_id = id, error = %e, "lease renewal failed"),
            }
        }
    };
    tokio::select! {
        out = work => out,
        _ = renew => unreachable!("lease renewal never ends"),
    }
}
