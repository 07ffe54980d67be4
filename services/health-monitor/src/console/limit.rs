//! Failed console logins, counted two ways: per token prefix (the first 12 characters of
//! what was typed, `rbk_` + 8 hex of a real token) with a low limit, and per client address
//! with a high one. Behind a gateway every person shares one address: a guesser there locks
//! only the prefixes it tried, and when it reaches the address limit, the prefixes that
//! logged in successfully lately (the colleagues' tokens) are still let through — the rest
//! of each of those tokens is 244 random bits no guesser reaches.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

const MAX_TRACKED: usize = 10_000;
pub const PREFIX_CHARS: usize = 12;

#[derive(Default)]
struct Counts {
    by_prefix: HashMap<String, (u32, Instant)>,
    by_addr: HashMap<IpAddr, (u32, Instant)>,
    /// Prefixes that logged in successfully, and when.
    good: HashMap<String, Instant>,
}

/// How long a successful prefix stays exempt from the address limit.
const GOOD_FOR: Duration = Duration::from_secs(7 * 24 * 3600);

pub struct LoginLimiter {
    per_prefix: u32,
    per_addr: u32,
    window: Duration,
    counts: Mutex<Counts>,
}

/// The part of a typed token failures are counted by.
pub fn prefix(token: &str) -> String {
    token.chars().take(PREFIX_CHARS).collect()
}

fn left<K: std::hash::Hash + Eq>(
    map: &HashMap<K, (u32, Instant)>,
    k: &K,
    max: u32,
    window: Duration,
) -> Option<Duration> {
    let (n, since) = map.get(k)?;
    let age = since.elapsed();
    (*n >= max && age < window).then(|| window - age)
}

fn bump<K: std::hash::Hash + Eq>(map: &mut HashMap<K, (u32, Instant)>, k: K, window: Duration) {
    if map.len() >= MAX_TRACKED {
        map.retain(|_, (_, since)| since.elapsed() < window);
        if map.len() >= MAX_TRACKED {
            map.clear();
        }
    }
    let e = map.entry(k).or_insert((0, Instant::now()));
    if e.1.elapsed() >= window {
        *e = (0, Instant::now());
    }
    e.0 += 1;
}

impl LoginLimiter {
    pub fn new(per_prefix: u32, per_addr: u32, window: Duration) -> LoginLimiter {
        LoginLimiter {
            per_prefix,
            per_addr,
            window,
            counts: Mutex::default(),
        }
    }

    /// How long a login with this token from this address must wait, if it must.
    pub fn blocked_for(&self, addr: IpAddr, token: &str) -> Option<Duration> {
        let c = self.counts.lock().expect("limiter lock");
        let p = prefix(token);
        let known = c.good.get(&p).is_some_and(|at| at.elapsed() < GOOD_FOR);
        left(&c.by_prefix, &p, self.per_prefix, self.window).or_else(|| {
            (!known)
                .then(|| left(&c.by_addr, &addr, self.per_addr, self.window))
                .flatten()
        })
    }

    pub fn failed(&self, addr: IpAddr, token: &str) {
        let mut c = self.counts.lock().expect("limiter lock");
        bump(&mut c.by_prefix, prefix(token), self.window);
        bump(&mut c.by_addr, addr, self.window);
    }

    /// A good login clears its prefix's count (not the address's: that is everyone's).
    pub fn succeeded(&self, token: &str) {
        let mut c = self.counts.lock().expect("limiter lock");
        let p = prefix(token);
        c.by_prefix.remove(&p);
        if c.good.len() >= MAX_TRACKED {
            c.good.retain(|_, at| at.elapsed() < GOOD_FOR);
            if c.good.len() >= MAX_TRACKED {
                c.good.clear();
            }
        }
        c.good.insert(p, Instant::now());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_guesser_behind_the_gateway_locks_only_the_prefixes_it_tried() {
        let gateway: IpAddr = "10.0.0.1".parse().unwrap();
        let l = LoginLimiter::new(3, 100, Duration::from_secs(60));
        for _ in 0..3 {
            l.failed(gateway, "rbk_deadbeef0000");
        }
        assert!(
            l.blocked_for(gateway, "rbk_deadbeef1111").is_some(),
            "same prefix"
        );
        assert!(
            l.blocked_for(gateway, "rbk_cafe00001111").is_none(),
            "a colleague"
        );
        // Many different guesses from one address reach the address limit at last.
        let l = LoginLimiter::new(3, 5, Duration::from_secs(60));
        l.succeeded("rbk_0123456789ab");
        for i in 0..5 {
            l.failed(gateway, &format!("rbk_{i:08}x"));
        }
        assert!(l.blocked_for(gateway, "rbk_cafe00001111").is_some());
        assert!(
            l.blocked_for(gateway, "rbk_0123456789ab").is_none(),
            "a prefix that logged in lately still may"
        );
        let other: IpAddr = "10.0.0.2".parse().unwrap();
        assert!(l.blocked_for(other, "rbk_cafe00001111").is_none());
    }

    #[test]
    fn the_window_ends_the_wait() {
        let a: IpAddr = "127.0.0.1".parse().unwrap();
        let l = LoginLimiter::new(1, 100, Duration::from_millis(20));
        l.failed(a, "x");
        assert!(l.blocked_for(a, "x").is_some());
        std::thread::sleep(Duration::from_millis(30));
        assert!(l.blocked_for(a, "x").is_none());
    }
}
