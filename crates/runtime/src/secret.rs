//! A secret from the configuration (a token, a password, a signing key): usable through
//! [`Secret::expose`], never printed, so `{:?}` of a settings struct can go to a log.

use std::fmt;

use serde::Deserialize;

#[derive(Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    pub fn new(s: impl Into<String>) -> Self {
        Secret(s.into())
    }

    /// The value itself, for the one place that sends or compares it.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// Whether a value was configured. A value of blanks counts as set: a secret that
    /// guards a door must not switch the guard off because of a stray space.
    pub fn is_set(&self) -> bool {
        !self.0.is_empty()
    }

    /// Set, but only blanks: almost certainly a configuration mistake.
    pub fn is_blank(&self) -> bool {
        self.is_set() && self.0.trim().is_empty()
    }
}

impl From<&str> for Secret {
    fn from(s: &str) -> Self {
        Secret::new(s)
    }
}

impl From<String> for Secret {
    fn from(s: String) -> Self {
        Secret(s)
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(if self.is_set() {
            "[redacted]"
        } else {
            "[unset]"
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn never_printed_but_usable() {
        let s: Secret = serde_json::from_str("\"hunter2\"").unwrap();
        assert_eq!(s.expose(), "hunter2");
        assert!(s.is_set());
        for printed in [format!("{s:?}"), format!("{s}"), format!("{:?}", Some(&s))] {
            assert!(!printed.contains("hunter2"), "{printed}");
            assert!(printed.contains("[redacted]"), "{printed}");
        }
        assert_eq!(format!("{:?}", Secret::default()), "[unset]");
        assert!(!Secret::default().is_set());
        assert!(Secret::new("  ").is_set() && Secret::new("  ").is_blank());
        assert!(!Secret::new("x").is_blank());
    }
}
