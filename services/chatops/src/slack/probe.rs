//! The readiness check of a dependency with rate limits (Slack's `auth.test`): its answer is
//! reused for a while, so that probes polled every half second from several replicas never
//! turn into as many calls to Slack. Concurrent probes share one call.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Mutex;
use tokio::time::Instant;

/// The last answer and when it came.
type Last = Option<(Instant, Result<(), String>)>;

/// Runs `check` at most once per `ttl`; in between, the last answer is returned.
#[derive(Clone)]
pub struct CachedCheck {
    ttl: Duration,
    last: Arc<Mutex<Last>>,
}

impl CachedCheck {
    pub fn new(ttl: Duration) -> Self {
        CachedCheck {
            ttl,
            last: Arc::default(),
        }
    }

    pub async fn run<F, Fut>(&self, check: F) -> Result<(), String>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<(), String>>,
    {
        // Held across the call: a second probe waits for the first one's answer.
        let mut last = self.last.lock().await;
        if let Some((at, answer)) = last.as_ref()
            && at.elapsed() < self.ttl
        {
            return answer.clone();
        }
        let answer = check().await;
        *last = Some((Instant::now(), answer.clone()));
        answer
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

    #[tokio::test]
    async fn the_answer_is_reused_until_it_expires() {
        let calls = Arc::new(AtomicUsize::new(0));
        let cache = CachedCheck::new(Duration::from_millis(300));
        let probe = || {
            let calls = calls.clone();
            let cache = cache.clone();
            async move {
                cache
                    .run(|| async move {
                        calls.fetch_add(1, Ordering::SeqCst);
                        Err::<(), _>("invalid_auth".to_string())
                    })
                    .await
            }
        };
        for _ in 0..10 {
            assert_eq!(probe().await, Err("invalid_auth".into()));
        }
        assert_eq!(calls.load(Ordering::SeqCst), 1);
        tokio::time::sleep(Duration::from_millis(350)).await;
        let _ = probe().await;
        assert_eq!(calls.load(Ordering::SeqCst), 2);
    }
}
