//! The policy in use, replaceable at runtime (SIGHUP, `POST /api/rules/reload`).

use std::path::PathBuf;
use std::sync::{Arc, RwLock};

use crate::{Policy, PolicyError};

/// The policy in use, replaced atomically on reload.
#[derive(Clone)]
pub struct SharedPolicy {
    current: Arc<RwLock<Arc<Policy>>>,
    pub path: Option<PathBuf>,
}

impl SharedPolicy {
    pub fn new(policy: Policy, path: Option<PathBuf>) -> Self {
        SharedPolicy {
            current: Arc::new(RwLock::new(Arc::new(policy))),
            path,
        }
    }

    pub fn current(&self) -> Arc<Policy> {
        self.current.read().expect("policy lock").clone()
    }

    /// Loads the file again; on failure the policy in use stays.
    pub fn reload(&self) -> Result<Arc<Policy>, PolicyError> {
        let p = Arc::new(Policy::load(self.path.as_deref())?);
        *self.current.write().expect("policy lock") = p.clone();
        Ok(p)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ONE: &str =
        "[[actions]]\nname = \"only\"\nactions = [\"restart\"]\nroles = [\"operator\"]\n";

    #[test]
    fn a_failed_reload_keeps_the_policy_in_use() {
        let dir = std::env::temp_dir().join(format!("policy-shared-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("policy.toml");
        std::fs::write(&path, ONE).unwrap();
        let shared = SharedPolicy::new(Policy::load(Some(&path)).unwrap(), Some(path.clone()));
        let before = shared.current();

        std::fs::write(&path, ONE.replace("operator", "boss")).unwrap();
        let err = shared.reload().unwrap_err();
        assert!(
            matches!(&err, PolicyError::Invalid { reason, .. } if reason.contains("unknown role `boss`")),
            "{err}"
        );
        assert_eq!(shared.current().clauses[0].roles, [crate::Role::Operator]);

        std::fs::remove_file(&path).unwrap();
        let err = shared.reload().unwrap_err();
        assert!(
            err.to_string()
                .starts_with(&format!("policy {}: cannot read: ", path.display())),
            "{err}"
        );

        std::fs::write(&path, ONE.replace("operator", "admin")).unwrap();
        let now = shared.reload().unwrap();
        assert_eq!(now.clauses[0].roles, [crate::Role::Admin]);
        let clone = shared.clone();
        assert_eq!(
            clone.current().clauses[0].roles,
            [crate::Role::Admin],
            "clones share the slot"
        );
        assert_eq!(
            before.clauses[0].roles,
            [crate::Role::Operator],
            "snapshots stay valid"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn without_a_path_the_shipped_policy_is_used_and_reloads() {
        let shared = SharedPolicy::new(Policy::builtin(), None);
        assert_eq!(shared.reload().unwrap().origin, "built-in");
    }
}
