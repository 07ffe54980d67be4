//! Exponential backoff with jitter, for retries of failed messages and for the probes of a
//! paused consumer.

use std::time::Duration;

use rand::Rng;

/// Delays that grow from `initial` by `multiplier` per step, capped at `max`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Backoff {
    pub initial: Duration,
    pub max: Duration,
    pub multiplier: f64,
}

impl Backoff {
    /// `multiplier` below 1 is taken as 1 and `max` below `initial` as `initial`, so a
    /// misconfiguration never shrinks delays to nothing.
    pub fn new(initial: Duration, max: Duration, multiplier: f64) -> Self {
        let multiplier = if multiplier.is_finite() && multiplier >= 1.0 {
            multiplier
        } else {
            1.0
        };
        Backoff {
            initial,
            max: max.max(initial),
            multiplier,
        }
    }

    /// The same delay every time (tests, tools).
    pub fn fixed(delay: Duration) -> Self {
        Backoff::new(delay, delay, 1.0)
    }

    /// The ceiling of the `step`-th delay (1-based): `initial * multiplier^(step-1)`, at most
    /// `max`.
    pub fn ceiling(&self, step: u32) -> Duration {
        let exp = step.saturating_sub(1).min(64) as i32;
        let secs = self.initial.as_secs_f64() * self.multiplier.powi(exp);
        if !secs.is_finite() || secs >= self.max.as_secs_f64() {
            self.max
        } else {
            Duration::from_secs_f64(secs)
        }
    }

    /// Full jitter: uniform in `[0, ceiling(step)]`. Retries of many messages failing at
    /// once (a deadlock storm) spread out instead of colliding again.
    pub fn full_jitter(&self, step: u32) -> Duration {
        jitter(Duration::ZERO, self.ceiling(step))
    }

    /// Uniform in `[ceiling/2, ceiling]`: probes of an unavailable dependency spread out but
    /// never hammer it back to back.
    pub fn probe(&self, step: u32) -> Duration {
        let ceiling = self.ceiling(step);
        jitter(ceiling / 2, ceiling)
    }
}

fn jitter(low: Duration, high: Duration) -> Duration {
    if high <= low {
        return high;
    }
    let nanos = (high - low).as_nanos().min(u64::MAX as u128) as u64;
    low + Duration::from_nanos(rand::rng().random_range(0..=nanos))
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: Duration = Duration::from_millis(1);

    #[test]
    fn ceilings_grow_by_the_multiplier_up_to_the_max() {
        let b = Backoff::new(100 * MS, 1_000 * MS, 2.0);
        let ceilings: Vec<_> = (1..=6).map(|n| b.ceiling(n)).collect();
        assert_eq!(
            ceilings,
            [
                100 * MS,
                200 * MS,
                400 * MS,
                800 * MS,
                1_000 * MS,
                1_000 * MS
            ]
        );
        assert_eq!(b.ceiling(0), 100 * MS);
        assert_eq!(b.ceiling(u32::MAX), 1_000 * MS, "no overflow");
    }

    #[test]
    fn jittered_delays_stay_within_their_bounds() {
        let b = Backoff::new(100 * MS, 10_000 * MS, 3.0);
        for step in 1..8 {
            let ceiling = b.ceiling(step);
            let mut distinct = std::collections::HashSet::new();
            for _ in 0..200 {
                let full = b.full_jitter(step);
                assert!(full <= ceiling, "{full:?} > {ceiling:?}");
                let probe = b.probe(step);
                assert!(probe >= ceiling / 2 && probe <= ceiling, "{probe:?}");
                distinct.insert(full);
            }
            assert!(distinct.len() > 50, "delays are spread, not fixed");
        }
    }

    #[test]
    fn bad_settings_never_shrink_delays() {
        let b = Backoff::new(200 * MS, 50 * MS, 0.5);
        assert_eq!(b.max, 200 * MS);
        assert_eq!(b.ceiling(5), 200 * MS);
        assert_eq!(Backoff::new(MS, MS, f64::NAN).multiplier, 1.0);
        assert_eq!(
            Backoff::fixed(Duration::ZERO).full_jitter(3),
            Duration::ZERO
        );
    }
}
