//! The rule set in use, replaceable at runtime (SIGHUP, `POST /api/rules/reload`).

use std::path::Path;
use std::sync::{Arc, RwLock};

use super::compile::RuleSet;
use super::error::RulesError;

/// A handle on the current [`RuleSet`], cloned into every task that evaluates logs.
///
/// A rule set is immutable; reloading builds a new one and swaps the pointer. Readers take
/// an `Arc` snapshot with [`SharedRules::current`] (a batch is evaluated against one set
/// even if a reload happens meanwhile). A reload that fails to parse or validate never calls
/// [`SharedRules::replace`], so the previous rules keep running.
#[derive(Debug, Clone)]
pub struct SharedRules {
    inner: Arc<RwLock<Arc<RuleSet>>>,
}

impl SharedRules {
    pub fn new(rules: RuleSet) -> Self {
        SharedRules {
            inner: Arc::new(RwLock::new(Arc::new(rules))),
        }
    }

    /// A snapshot of the rules in use.
    pub fn current(&self) -> Arc<RuleSet> {
        // The lock only guards a pointer swap, which cannot panic half-way, so a poisoned
        // lock still holds a valid rule set.
        let guard = self.inner.read().unwrap_or_else(|e| e.into_inner());
        Arc::clone(&guard)
    }

    /// Installs `rules` and returns the previous set.
    pub fn replace(&self, rules: RuleSet) -> Arc<RuleSet> {
        let new = Arc::new(rules);
        let count = new.len();
        let old = {
            let mut guard = self.inner.write().unwrap_or_else(|e| e.into_inner());
            std::mem::replace(&mut *guard, new)
        };
        tracing::info!(rules = count, previous = old.len(), "rules replaced");
        old
    }

    /// Loads `path` and installs it if, and only if, it is valid. On error the current
    /// rules stay in place and the error says which rule is wrong and why.
    pub fn reload_from(&self, path: impl AsRef<Path>) -> Result<Arc<RuleSet>, RulesError> {
        let path = path.as_ref();
        match RuleSet::load(path) {
            Ok(rules) => {
                self.replace(rules);
                Ok(self.current())
            }
            Err(e) => {
                tracing::warn!(path = %path.display(), error = %e, "rules reload failed, keeping the previous rules");
                Err(e)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ONE: &str = "[[rule]]\nname = \"one\"\nsource = \"jenkins\"\nseverity = \"low\"\ntitle = \"t\"\n[rule.when]\nlevels = [\"error\"]\n";

    #[test]
    fn replace_swaps_and_snapshots_stay_valid() {
        let shared = SharedRules::new(RuleSet::from_toml_str(ONE).unwrap());
        let before = shared.current();
        let old = shared.replace(RuleSet::builtin());
        assert_eq!(old.len(), 1);
        assert_eq!(before.len(), 1);
        assert_eq!(shared.current().len(), RuleSet::builtin().len());
        let clone = shared.clone();
        clone.replace(RuleSet::from_toml_str(ONE).unwrap());
        assert_eq!(shared.current().len(), 1, "clones share the same slot");
    }

    #[test]
    fn a_failed_reload_keeps_the_previous_rules() {
        let dir = std::env::temp_dir().join(format!("rules-shared-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("rules.toml");
        let shared = SharedRules::new(RuleSet::from_toml_str(ONE).unwrap());

        std::fs::write(&path, ONE.replace("levels", "levls")).unwrap();
        let err = shared.reload_from(&path).unwrap_err();
        assert!(err.to_string().contains("levls"), "{err}");
        assert_eq!(shared.current().len(), 1);
        assert!(shared.current().get("one").is_some());

        std::fs::write(&path, crate::DEFAULT_RULES).unwrap();
        let now = shared.reload_from(&path).unwrap();
        assert!(now.get("jenkins_build_failure").is_some());
        assert!(shared.current().get("one").is_none());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
