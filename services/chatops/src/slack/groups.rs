//! Slack user groups of a user (`slack-group:S…`), sent with every command so the
//! orchestrator's policy can give roles to groups. Read from `usergroups.list` and cached;
//! when Slack does not answer, the last list known is used.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::Mutex;
use tracing::warn;

use super::WebSlack;

type Members = HashMap<String, Vec<String>>;
/// When the members were read, and the list.
type Cached = Option<(Instant, Arc<Members>)>;

#[derive(Clone)]
pub struct Groups {
    web: Option<WebSlack>,
    ttl: Duration,
    cache: Arc<Mutex<Cached>>,
}

impl Groups {
    /// `web` is `None` without a bot token: nobody has groups then.
    pub fn new(web: Option<WebSlack>, ttl: Duration) -> Self {
        Groups {
            web,
            ttl,
            cache: Arc::default(),
        }
    }

    /// The user's groups as principals (`slack-group:S0OPS`).
    pub async fn of(&self, user: &str) -> Vec<String> {
        let Some(web) = &self.web else {
            return Vec::new();
        };
        let mut cache = self.cache.lock().await;
        let fresh = cache
            .as_ref()
            .is_some_and(|(at, _)| at.elapsed() < self.ttl);
        if !fresh {
            match web.usergroup_members().await {
                Ok(m) => *cache = Some((Instant::now(), Arc::new(m))),
                Err(e) => {
                    warn!(error = %e, "slack user groups not read, using the last known");
                    // Do not ask again at every command while Slack is away.
                    let last = cache.take().map(|(_, m)| m).unwrap_or_default();
                    *cache = Some((Instant::now(), last));
                }
            }
        }
        cache
            .as_ref()
            .and_then(|(_, m)| m.get(user).cloned())
            .unwrap_or_default()
            .into_iter()
            .map(|g| format!("slack-group:{g}"))
            .collect()
    }
}
