//! A fake Elasticsearch speaking the subset of the REST API the listener uses, with
//! Elasticsearch's response and error shapes:
//!
//! - `PUT /{index}` (with `mappings` and `settings.index.refresh_interval`), `DELETE /{index}`,
//!   `HEAD /{index}`, `GET /`, `HEAD /`, `GET /_cluster/health`;
//! - writes: `POST /_bulk` and `POST /{index}/_bulk` (`index` and `create` actions, generated
//!   20-character ids, per-item errors), `PUT|POST /{index}/_doc/{id}`, `POST /{index}/_doc`,
//!   `PUT /{index}/_create/{id}`; indices are created on first write;
//! - `POST /_refresh`, `POST /{index}/_refresh`, and `?refresh=true|wait_for` on writes;
//! - `POST /{index}/_pit?keep_alive=1m` and `DELETE /_pit`;
//! - `POST /_search` (with a `pit`) and `POST /{index}/_search` (without), supporting `size`,
//!   `match_all` / `range` (`gte`, `gt`, `lte`, `lt` on dates or numbers) / `term` / `ids` /
//!   `bool` (`must`, `filter`) queries, `sort` on fields, `_shard_doc`, `_doc`, `_id` and
//!   `_index` in either order, `search_after`, `_source` includes and `track_total_hits`;
//! - index expressions: comma-separated names and `*` patterns (`logs-jenkins*`); a missing
//!   concrete index is a 404 `index_not_found_exception`, a pattern may match nothing.
//!
//! Behaviours it models, so tests can exercise them:
//!
//! - **Refresh delay**: written documents are invisible to searches until the index is
//!   refreshed: explicitly, by `?refresh`, or every `refresh_interval` (1 s by default as in
//!   Elasticsearch; `-1` in an index's settings or [`FakeEsConfig::refresh_interval`] `None`
//!   means only on request). A document can therefore appear after later ones were searched.
//! - **Points in time**: a PIT freezes what each index showed when it was opened (documents
//!   refreshed later stay invisible through it) and expires after its `keep_alive` unless a
//!   search extends it; an expired or unknown id is a 404 `search_phase_execution_exception`.
//!   [`FakeElasticsearch::set_pit_enabled`] turns the API off: the open call then answers 404
//!   "no handler found", as servers without `/{index}/_pit` (OpenSearch, old clusters) do.
//! - **Equal timestamps**: sorting is stable and total only through a tiebreaker; `_shard_doc`
//!   (PIT only, as in Elasticsearch) is unique per document, `_id` sorts as a keyword.
//! - **Dates** are `strict_date_optional_time` strings or epoch milliseconds, at millisecond
//!   precision; sort values of dates are epoch milliseconds, like Elasticsearch returns them.
//!   Without a mapping, a string that parses as a date is a date (dynamic date detection).
//! - **Faults**: [`FakeElasticsearch::set_down`] answers every request 503,
//!   [`FakeElasticsearch::set_delay`] delays every answer.
//!
//! Not modelled: scoring, aggregations, shards and replicas, `_id` fielddata restrictions of
//! Elasticsearch 8 (sorting on `_id` works, as on OpenSearch), security.

mod admin;
mod render;
mod request;
mod search;
mod server;
mod state;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

pub use admin::{EsAdmin, TestElasticsearch};
pub use state::FakeEsStats;

use server::Shared;
use state::State;

/// How the fake starts.
#[derive(Debug, Clone)]
pub struct FakeEsConfig {
    /// Refresh period of indices that do not set their own; `None`: only on request.
    pub refresh_interval: Option<Duration>,
    /// Whether `POST /{index}/_pit` exists.
    pub point_in_time: bool,
}

impl Default for FakeEsConfig {
    fn default() -> Self {
        FakeEsConfig {
            refresh_interval: Some(Duration::from_secs(1)),
            point_in_time: true,
        }
    }
}

/// A running fake Elasticsearch on `127.0.0.1`. It stops when dropped.
pub struct FakeElasticsearch {
    shared: Arc<Shared>,
    addr: SocketAddr,
    shutdown: Option<oneshot::Sender<()>>,
    tasks: Vec<JoinHandle<()>>,
}

impl FakeElasticsearch {
    pub async fn start(config: FakeEsConfig) -> Self {
        Self::start_on(SocketAddr::from(([127, 0, 0, 1], 0)), config)
            .await
            .expect("fake elasticsearch cannot bind 127.0.0.1:0")
    }

    /// [`FakeElasticsearch::start`] on a given address (the compose check's stand-in serves
    /// it on 0.0.0.0:9200).
    pub async fn start_on(addr: SocketAddr, config: FakeEsConfig) -> std::io::Result<Self> {
        let listener = TcpListener::bind(addr).await?;
        let addr = listener.local_addr()?;
        let shared = Arc::new(Shared {
            state: Mutex::new(State::new(config.refresh_interval, config.point_in_time)),
        });
        let app = axum::Router::new()
            .fallback(server::handle)
            .with_state(shared.clone());
        let (tx, rx) = oneshot::channel::<()>();
        let server = tokio::spawn(async move {
            let stopped = async {
                let _ = rx.await;
            };
            if let Err(e) = axum::serve(listener, app)
                .with_graceful_shutdown(stopped)
                .await
            {
                tracing::error!(error = %e, "fake elasticsearch stopped");
            }
        });
        let ticker_state = shared.clone();
        let ticker = tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_millis(20));
            loop {
                tick.tick().await;
                server::tick(&ticker_state);
            }
        });
        Ok(FakeElasticsearch {
            shared,
            addr,
            shutdown: Some(tx),
            tasks: vec![server, ticker],
        })
    }

    /// `http://127.0.0.1:PORT` (`http://ADDR:PORT` when started on another address).
    pub fn url(&self) -> String {
        if self.addr.ip().is_unspecified() {
            format!("http://127.0.0.1:{}", self.addr.port())
        } else {
            format!("http://{}", self.addr)
        }
    }

    /// An HTTP client for this server's index, bulk and refresh APIs.
    pub fn admin(&self) -> EsAdmin {
        EsAdmin::new(&self.url())
    }

    /// Turns the point-in-time API on or off (off: 404, as OpenSearch answers).
    pub fn set_pit_enabled(&self, enabled: bool) {
        self.shared.lock().pit_enabled = enabled;
    }

    /// While down, every request is answered 503.
    pub fn set_down(&self, down: bool) {
        self.shared.lock().down = down;
    }

    /// Every answer waits `delay` first.
    pub fn set_delay(&self, delay: Duration) {
        self.shared.lock().delay = delay;
    }

    /// Makes everything written so far searchable.
    pub fn refresh_all(&self) {
        let mut state = self.shared.lock();
        for ix in state.indices.values_mut() {
            ix.refresh();
        }
    }

    pub fn stats(&self) -> FakeEsStats {
        self.shared.lock().stats.clone()
    }

    /// Points in time currently open.
    pub fn open_pits(&self) -> usize {
        self.shared.lock().pits.len()
    }

    /// Documents written to indices matching `pattern` (visible or not).
    pub fn doc_count(&self, pattern: &str) -> usize {
        let state = self.shared.lock();
        state
            .indices
            .values()
            .filter(|ix| state::glob(pattern, &ix.name))
            .map(|ix| ix.doc_count())
            .sum()
    }
}

impl Drop for FakeElasticsearch {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        for t in &self.tasks {
            t.abort();
        }
    }
}

#[cfg(test)]
mod tests;
