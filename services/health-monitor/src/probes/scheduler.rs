//! Runs each target's probe every `interval_secs`, only on the leader, one probe per target
//! at a time and at most `max_concurrent_probes` at once.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use tokio::sync::{Semaphore, watch};
use tokio::task::JoinSet;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::core::Core;

const TICK: Duration = Duration::from_millis(200);

pub async fn run(
    core: Core,
    leader: watch::Receiver<bool>,
    stop: CancellationToken,
) -> anyhow::Result<()> {
    let targets = core.settings.health.targets.clone();
    if targets.is_empty() {
        stop.cancelled().await;
        return Ok(());
    }
    let permits = Arc::new(Semaphore::new(core.settings.health.max_concurrent_probes));
    let busy: Arc<Vec<AtomicBool>> =
        Arc::new(targets.iter().map(|_| AtomicBool::new(false)).collect());
    let mut due: Vec<Instant> = vec![Instant::now(); targets.len()];
    let mut running = JoinSet::new();
    let mut tick = tokio::time::interval(TICK);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = stop.cancelled() => break,
            _ = tick.tick() => {}
        }
        while running.try_join_next().is_some() {}
        if !*leader.borrow() {
            // A new leader probes at once: the previous one's schedule is unknown here.
            due.iter_mut().for_each(|d| *d = Instant::now());
            continue;
        }
        let now = Instant::now();
        for (i, target) in targets.iter().enumerate() {
            if now < due[i] || busy[i].swap(true, Ordering::SeqCst) {
                continue;
            }
            due[i] = now + Duration::from_secs(target.interval_secs);
            let (core, target, permits, busy) =
                (core.clone(), target.clone(), permits.clone(), busy.clone());
            running.spawn(async move {
                if let Ok(_permit) = permits.acquire().await {
                    crate::probes::probe_and_record(&core, &target).await;
                }
                busy[i].store(false, Ordering::SeqCst);
            });
        }
    }
    // Probes end within their timeout; let them record what they saw.
    while running.join_next().await.is_some() {}
    Ok(())
}
