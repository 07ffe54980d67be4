//! Cache of the CSRF crumb Jenkins requires on POST requests.

use std::fmt;
use std::future::Future;

use reqwest::header::{HeaderName, HeaderValue};
use tokio::sync::Mutex;

use super::error::JenkinsError;

/// A crumb and the header that carries it (`Jenkins-Crumb` by default).
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct Crumb {
    pub field: HeaderName,
    pub value: HeaderValue,
}

impl fmt::Debug for Crumb {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Crumb")
            .field("field", &self.field)
            .field("value", &"<redacted>")
            .finish()
    }
}

#[derive(Debug)]
enum State {
    Unknown,
    /// The crumb issuer answered 404: CSRF protection is off.
    Disabled,
    Active(Crumb),
}

/// The lock is held while fetching so that concurrent POSTs share one fetch
/// instead of each asking the crumb issuer.
#[derive(Debug)]
pub(crate) struct CrumbCache {
    state: Mutex<State>,
}

impl CrumbCache {
    pub fn new() -> Self {
        Self {
            state: Mutex::new(State::Unknown),
        }
    }

    /// The cached crumb, fetched on first use. `None` when CSRF is off.
    pub async fn get<F, Fut>(&self, fetch: F) -> Result<Option<Crumb>, JenkinsError>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<Option<Crumb>, JenkinsError>>,
    {
        let mut state = self.state.lock().await;
        match &*state {
            State::Active(crumb) => Ok(Some(crumb.clone())),
            State::Disabled => Ok(None),
            State::Unknown => {
                let fetched = fetch().await?;
                *state = to_state(fetched.clone());
                Ok(fetched)
            }
        }
    }

    /// Replaces `stale` (the crumb a rejected POST carried) with a fresh one.
    /// When another task already replaced it, its crumb is reused.
    pub async fn refresh<F, Fut>(
        &self,
        stale: Option<&Crumb>,
        fetch: F,
    ) -> Result<Option<Crumb>, JenkinsError>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<Option<Crumb>, JenkinsError>>,
    {
        let mut state = self.state.lock().await;
        if let State::Active(current) = &*state
            && stale != Some(current)
        {
            return Ok(Some(current.clone()));
        }
        match fetch().await {
            Ok(fetched) => {
                *state = to_state(fetched.clone());
                Ok(fetched)
            }
            Err(e) => {
                *state = State::Unknown;
                Err(e)
            }
        }
    }
}

fn to_state(crumb: Option<Crumb>) -> State {
    match crumb {
        Some(c) => State::Active(c),
        None => State::Disabled,
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

    fn crumb(value: &'static str) -> Crumb {
        Crumb {
            field: HeaderName::from_static("jenkins-crumb"),
            value: HeaderValue::from_static(value),
        }
    }

    #[tokio::test]
    async fn fetches_once_and_refreshes_only_a_stale_crumb() {
        let cache = CrumbCache::new();
        let fetches = AtomicUsize::new(0);
        let fetch = |value: &'static str| {
            let fetches = &fetches;
            move || async move {
                fetches.fetch_add(1, Ordering::SeqCst);
                Ok(Some(crumb(value)))
            }
        };
        assert_eq!(cache.get(fetch("a")).await.unwrap(), Some(crumb("a")));
        assert_eq!(cache.get(fetch("x")).await.unwrap(), Some(crumb("a")));
        assert_eq!(fetches.load(Ordering::SeqCst), 1);

        let stale = crumb("a");
        assert_eq!(
            cache.refresh(Some(&stale), fetch("b")).await.unwrap(),
            Some(crumb("b"))
        );
        // A second task holding the same stale crumb reuses the fresh one.
        assert_eq!(
            cache.refresh(Some(&stale), fetch("c")).await.unwrap(),
            Some(crumb("b"))
        );
        assert_eq!(fetches.load(Ordering::SeqCst), 2);
    }

    #[tokio::test]
    async fn remembers_that_csrf_is_off() {
        let cache = CrumbCache::new();
        let fetches = AtomicUsize::new(0);
        let fetch = || async {
            fetches.fetch_add(1, Ordering::SeqCst);
            Ok(None)
        };
        assert_eq!(cache.get(fetch).await.unwrap(), None);
        assert_eq!(cache.get(fetch).await.unwrap(), None);
        assert_eq!(fetches.load(Ordering::SeqCst), 1);
    }
}
