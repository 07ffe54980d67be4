//! External targets: services outside Runbooks (seed 001's auth, product, order services)
//! checked with `GET url`. Only configured URLs are ever requested, a bounded number of
//! them, each within its timeout.

use serde::{Deserialize, Deserializer};

/// Most targets one monitor probes.
pub const MAX_TARGETS: usize = 100;
/// Longest probe timeout.
pub const MAX_TIMEOUT_MS: u64 = 30_000;
/// Longest `body_contains`.
pub const MAX_BODY_MATCH: usize = 1024;

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Target {
    /// The service name it is catalogued and alerted under.
    pub name: String,
    /// `http` or `https`; no credentials in it.
    pub url: String,
    #[serde(default = "default_interval")]
    pub interval_secs: u64,
    #[serde(default = "default_timeout")]
    pub timeout_ms: u64,
    #[serde(default = "default_status")]
    pub expected_status: u16,
    /// When set, the response body (its first 64 KiB) must contain this text.
    #[serde(default)]
    pub body_contains: Option<String>,
}

fn default_interval() -> u64 {
    30
}

fn default_timeout() -> u64 {
    5000
}

fn default_status() -> u16 {
    200
}

impl Target {
    pub fn simple(name: &str, url: &str) -> Target {
        Target {
            name: name.into(),
            url: url.into(),
            interval_secs: default_interval(),
            timeout_ms: default_timeout(),
            expected_status: default_status(),
            body_contains: None,
        }
    }
}

/// Accepts a TOML array of tables or, from the environment, `name=url,name=url`.
pub fn targets<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<Target>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Raw {
        List(Vec<Target>),
        Pairs(String),
    }
    match Raw::deserialize(d)? {
        Raw::List(v) => Ok(v),
        Raw::Pairs(s) => s
            .split(',')
            .map(str::trim)
            .filter(|p| !p.is_empty())
            .map(|pair| {
                let (name, url) = pair.split_once('=').ok_or_else(|| {
                    serde::de::Error::custom(format!("`{pair}` is not `name=url` (health.targets)"))
                })?;
                Ok(Target::simple(name.trim(), url.trim()))
            })
            .collect(),
    }
}

/// A service name as it may appear in routing keys, URLs and the catalog.
pub fn valid_service_name(name: &str) -> bool {
    (1..=64).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
        && name.as_bytes()[0].is_ascii_alphanumeric()
}

/// Checks every target; the error names the key and the target.
pub fn validate(targets: &[Target]) -> Result<(), String> {
    if targets.len() > MAX_TARGETS {
        return Err(format!(
            "health.targets: {} targets, at most {MAX_TARGETS}",
            targets.len()
        ));
    }
    let mut seen = std::collections::HashSet::new();
    for t in targets {
        let err = |why: String| Err(format!("health.targets: `{}`: {why}", t.name));
        if !valid_service_name(&t.name) {
            return err("the name must be 1-64 letters, digits, `-`, `_` or `.`".into());
        }
        if !seen.insert(t.name.as_str()) {
            return err("the name is used twice".into());
        }
        let url = match url::Url::parse(&t.url) {
            Ok(u) => u,
            Err(e) => return err(format!("invalid url: {e}")),
        };
        if !matches!(url.scheme(), "http" | "https") {
            return err("the url must be http or https".into());
        }
        if url.host_str().is_none() {
            return err("the url has no host".into());
        }
        if !url.username().is_empty() || url.password().is_some() {
            // It would show in the catalog and logs; probes are anonymous health checks.
            return err("the url must not carry credentials".into());
        }
        if !(1..=3600).contains(&t.interval_secs) {
            return err("interval_secs must be between 1 and 3600".into());
        }
        if !(100..=MAX_TIMEOUT_MS).contains(&t.timeout_ms) {
            return err(format!(
                "timeout_ms must be between 100 and {MAX_TIMEOUT_MS}"
            ));
        }
        if !(100..=599).contains(&t.expected_status) {
            return err("expected_status must be an HTTP status (100-599)".into());
        }
        if let Some(m) = &t.body_contains
            && (m.is_empty() || m.len() > MAX_BODY_MATCH)
        {
            return err(format!("body_contains must be 1-{MAX_BODY_MATCH} bytes"));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_restricted() {
        assert!(valid_service_name("order-service"));
        assert!(valid_service_name("auth.v2_x"));
        for bad in ["", "-x", "a b", "a/b", "é", &"x".repeat(65)] {
            assert!(!valid_service_name(bad), "{bad}");
        }
    }

    #[test]
    fn targets_are_validated() {
        let ok = Target::simple("auth", "http://auth:3000/health");
        assert!(validate(std::slice::from_ref(&ok)).is_ok());
        let cases = [
            (
                Target::simple("auth", "http://u:p@auth/health"),
                "credentials",
            ),
            (
                Target::simple("auth", "file:///etc/passwd"),
                "http or https",
            ),
            (Target::simple("a b", "http://x/"), "name"),
            (
                Target {
                    timeout_ms: 60_000,
                    ..ok.clone()
                },
                "timeout_ms",
            ),
            (
                Target {
                    expected_status: 42,
                    ..ok.clone()
                },
                "expected_status",
            ),
        ];
        for (t, why) in cases {
            let e = validate(&[t]).unwrap_err();
            assert!(e.contains(why) && e.contains("health.targets"), "{e}");
        }
        let e = validate(&[ok.clone(), ok.clone()]).unwrap_err();
        assert!(e.contains("twice"), "{e}");
        let many: Vec<Target> = (0..=MAX_TARGETS)
            .map(|i| Target::simple(&format!("t{i}"), "http://x/"))
            .collect();
        assert!(validate(&many).unwrap_err().contains("at most"));
    }
}
