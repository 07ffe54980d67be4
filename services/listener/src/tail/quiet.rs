//! How often a lasting failure is said: a poll that keeps failing (Elasticsearch down for
//! twenty minutes) warns once when it starts, then at most once per reminder interval with
//! the count so far, and once more when it ends — not a warning per retry.

use std::time::Duration;

use tokio::time::Instant;

/// What to say about this failure or success.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Say {
    /// Nothing new: log it at debug level.
    Quiet,
    /// Warn: the first failure (`failures == 1`) or a reminder.
    Failing { failures: u64, since: Duration },
    /// It works again after `failures` failed polls.
    Recovered { failures: u64, after: Duration },
}

#[derive(Debug)]
pub struct Quiet {
    remind: Duration,
    since: Option<Instant>,
    said: Option<Instant>,
    failures: u64,
}

impl Quiet {
    pub fn new(remind: Duration) -> Self {
        Quiet {
            remind,
            since: None,
            said: None,
            failures: 0,
        }
    }

    pub fn failed(&mut self, now: Instant) -> Say {
        self.failures += 1;
        let since = *self.since.get_or_insert(now);
        let due = self
            .said
            .is_none_or(|s| now.duration_since(s) >= self.remind);
        if !due {
            return Say::Quiet;
        }
        self.said = Some(now);
        Say::Failing {
            failures: self.failures,
            since: now.duration_since(since),
        }
    }

    pub fn succeeded(&mut self, now: Instant) -> Say {
        let Some(since) = self.since.take() else {
            return Say::Quiet;
        };
        let failures = std::mem::take(&mut self.failures);
        self.said = None;
        Say::Recovered {
            failures,
            after: now.duration_since(since),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 140 "poll failed" warnings in 24 minutes became one, a reminder every 5 minutes, and
    /// the recovery.
    #[test]
    fn a_lasting_failure_is_said_once_then_reminded_then_its_end() {
        let t0 = Instant::now();
        let mut q = Quiet::new(Duration::from_secs(300));
        assert_eq!(q.succeeded(t0), Say::Quiet, "nothing to recover from");
        assert_eq!(
            q.failed(t0),
            Say::Failing {
                failures: 1,
                since: Duration::ZERO
            }
        );
        let mut warned = 0;
        for i in 1..=140u64 {
            let now = t0 + Duration::from_secs(i * 10);
            if matches!(q.failed(now), Say::Failing { .. }) {
                warned += 1;
            }
        }
        assert_eq!(warned, 4, "one reminder per 5 minutes of 23 and a bit");
        assert_eq!(
            q.succeeded(t0 + Duration::from_secs(1410)),
            Say::Recovered {
                failures: 141,
                after: Duration::from_secs(1410)
            }
        );
        // A new outage is said again at once.
        assert!(matches!(
            q.failed(t0 + Duration::from_secs(1420)),
            Say::Failing { failures: 1, .. }
        ));
    }
}
