//! Cache of the CSRF crumb Jenkins requires on POST requests.

use std::future::Future;

use reqwest::header::{HeaderName, HeaderValue};
use tokio::sync::Mutex;

use super::error::JenkinsError;

/// A crumb and the header that carries it (`Jenkins-Crumb` by default). The value is a
/// sensitive header value: `Debug` shows `Sensitive`, never the crumb.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Crumb {
    pub field: HeaderName,
    pub value: HeaderValue,
}

impl Crumb {
    pub fn new(field: HeaderName, mut value: HeaderValue) -> Crumb {
        value.set_sensitive(true);
        Crumb { field, value }
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
        Crumb::new(
            HeaderName::from_static("jenkins-crumb"),
            HeaderValue::from_static(value),
        )
    }

    #[test]
    fn the_value_is_never_printed() {
        let printed = format!("{:?}", crumb("c0ffee-crumb"));
        assert!(!printed.contains("c0ffee"), "{printed}");
        assert!(printed.contains("jenkins-crumb"), "{printed}");
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
