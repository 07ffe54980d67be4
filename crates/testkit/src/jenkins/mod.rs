//! A fake Jenkins speaking the parts of the Jenkins HTTP API the runner uses:
//! the crumb issuer, job and build JSON, `build`/`buildWithParameters` with
//! queue items, `stop`, Jenkins-style 401/403/404. Builds carry the commits of
//! their change log (git plugin shape: `changeSets` on Pipeline runs, `changeSet`
//! on freestyle builds), and `tree=` keeps only the fields it names, as Jenkins
//! does. Faults and delays can be injected and every call is recorded for
//! assertions.

mod config;
mod json;
mod path;
mod server;
mod state;
mod tree;

use std::io;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tokio::time::Instant;

pub use config::FakeJenkinsConfig;
pub use state::{Endpoint, FakeBuild, FakeCommit, JobKind, RecordedCall};

use server::Shared;
use state::{FailRule, State};

/// A running fake Jenkins. The server stops when this is dropped.
pub struct FakeJenkins {
    shared: Arc<Shared>,
    addr: SocketAddr,
    shutdown: Option<oneshot::Sender<()>>,
    server: Option<JoinHandle<()>>,
}

impl FakeJenkins {
    /// Starts on `127.0.0.1` on a free port.
    pub async fn start(config: FakeJenkinsConfig) -> Self {
        Self::start_on(SocketAddr::from(([127, 0, 0, 1], 0)), config)
            .await
            .expect("fake jenkins cannot bind 127.0.0.1:0")
    }

    /// Starts on `addr` (the simulator binds a fixed port).
    pub async fn start_on(addr: SocketAddr, config: FakeJenkinsConfig) -> io::Result<Self> {
        let listener = TcpListener::bind(addr).await?;
        let addr = listener.local_addr()?;
        let base = match &config.public_url {
            Some(url) => url.trim_end_matches('/').to_owned(),
            None if addr.ip().is_unspecified() => format!("http://127.0.0.1:{}", addr.port()),
            None => format!("http://{addr}"),
        };
        let shared = Arc::new(Shared {
            state: Mutex::new(State::new(&config)),
            config,
            base,
        });
        let app = axum::Router::new()
            .fallback(server::handle)
            .with_state(Arc::clone(&shared));
        let (shutdown_tx, shutdown_rx) = oneshot::channel::<()>();
        let server = tokio::spawn(async move {
            let stopped = async {
                let _ = shutdown_rx.await;
            };
            if let Err(e) = axum::serve(listener, app)
                .with_graceful_shutdown(stopped)
                .await
            {
                tracing::error!(error = %e, "fake jenkins server stopped");
            }
        });
        Ok(Self {
            shared,
            addr,
            shutdown: Some(shutdown_tx),
            server: Some(server),
        })
    }

    /// Base URL, without a trailing slash (`http://127.0.0.1:PORT`, or the
    /// configured `public_url`).
    pub fn url(&self) -> String {
        self.shared.base.clone()
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    pub fn config(&self) -> &FakeJenkinsConfig {
        &self.shared.config
    }

    /// Stops listening and closes idle connections, as a Jenkins going away
    /// would; returns once the server is down. The recorded state stays readable.
    pub async fn shutdown(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(server) = self.server.take() {
            let _ = server.await;
        }
    }

    // ----- seeding -----

    /// Adds a job; `team/app` is job `app` in folder `team`.
    pub fn add_job(&self, name: &str) {
        self.shared.lock().add_job(name);
    }

    /// Adds a Pipeline job (its builds list their commits under `changeSets`); a job that
    /// exists already becomes one.
    pub fn add_pipeline_job(&self, name: &str) {
        let mut state = self.shared.lock();
        state.add_job(name);
        if let Some(job) = state.jobs.get_mut(name) {
            job.kind = JobKind::Pipeline;
        }
    }

    /// Sets the commits of an existing build (its change log). Panics when the build does
    /// not exist: a test seeding commits of nothing is wrong.
    pub fn set_commits(&self, job: &str, number: i64, commits: Vec<FakeCommit>) {
        assert!(
            self.shared.lock().set_commits(job, number, commits),
            "fake jenkins has no build {job} #{number}"
        );
    }

    /// Adds (or replaces) a build. A `None` result makes it a running build.
    pub fn add_build<'a>(
        &self,
        job: &str,
        number: i64,
        result: impl Into<Option<&'a str>>,
        params: &[(&str, &str)],
    ) {
        let params = params
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        self.shared
            .lock()
            .add_build(job, number, result.into(), params);
    }

    /// Results for the next builds to finish, in order, before `fail_rate`
    /// and `default_result` apply again.
    pub fn push_results(&self, results: &[&str]) {
        let mut state = self.shared.lock();
        state
            .next_results
            .extend(results.iter().map(|r| (*r).to_owned()));
    }

    // ----- inspection -----

    pub fn build(&self, job: &str, number: i64) -> Option<FakeBuild> {
        self.shared
            .lock()
            .jobs
            .get(job)
            .and_then(|j| j.builds.get(&number).cloned())
    }

    /// Builds of `job`, oldest first.
    pub fn builds(&self, job: &str) -> Vec<FakeBuild> {
        self.shared
            .lock()
            .jobs
            .get(job)
            .map(|j| j.builds.values().cloned().collect())
            .unwrap_or_default()
    }

    pub fn calls(&self) -> Vec<RecordedCall> {
        self.shared.lock().calls.clone()
    }

    /// Calls with `method` whose raw (encoded) path starts with `path_prefix`.
    pub fn calls_matching(&self, method: &str, path_prefix: &str) -> Vec<RecordedCall> {
        self.shared
            .lock()
            .calls
            .iter()
            .filter(|c| c.method.eq_ignore_ascii_case(method) && c.path.starts_with(path_prefix))
            .cloned()
            .collect()
    }

    /// Every `build`/`buildWithParameters` POST received, whatever it was answered.
    pub fn triggers(&self) -> Vec<RecordedCall> {
        self.shared
            .lock()
            .calls
            .iter()
            .filter(|c| c.is_trigger())
            .cloned()
            .collect()
    }

    pub fn clear_calls(&self) {
        self.shared.lock().calls.clear();
    }

    /// Builds currently `building`.
    pub fn running_builds(&self) -> usize {
        self.shared.lock().running
    }

    /// The most builds that were `building` at the same time.
    pub fn max_concurrent_building(&self) -> usize {
        self.shared.lock().max_running
    }

    /// Waits until no build is running and no queue item is waiting.
    pub async fn wait_until_idle(&self, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        loop {
            {
                let state = self.shared.lock();
                let queued = state
                    .queue
                    .values()
                    .any(|q| q.build.is_none() && !q.cancelled);
                if state.running == 0 && !queued {
                    return true;
                }
            }
            if Instant::now() >= deadline {
                return false;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    // ----- CSRF -----

    /// The crumb currently accepted.
    pub fn crumb(&self) -> String {
        self.shared.lock().crumb.clone()
    }

    /// Replaces the crumb, as when a session expires; returns the new one.
    pub fn rotate_crumb(&self) -> String {
        self.shared.lock().rotate_crumb()
    }

    pub fn set_csrf(&self, enabled: bool) {
        self.shared.lock().csrf = enabled;
    }

    // ----- faults -----

    /// The next `n` POST requests are answered with `status`.
    pub fn fail_next(&self, n: usize, status: u16) {
        self.push_rule(Some("POST"), "", n, status);
    }

    /// The next `n` requests with `method` whose path starts with `path_prefix`
    /// are answered with `status`.
    pub fn fail_next_matching(&self, method: &str, path_prefix: &str, n: usize, status: u16) {
        self.push_rule(Some(method), path_prefix, n, status);
    }

    fn push_rule(&self, method: Option<&str>, path_prefix: &str, n: usize, status: u16) {
        if n == 0 {
            return;
        }
        self.shared.lock().fail_rules.push(FailRule {
            method: method.map(str::to_owned),
            path_prefix: path_prefix.to_owned(),
            remaining: n,
            status,
        });
    }

    /// Answers requests whose path starts with `path_prefix` (all requests
    /// when `None`) only after `delay`.
    pub fn set_delay(&self, path_prefix: Option<&str>, delay: Duration) {
        let mut state = self.shared.lock();
        let prefix = path_prefix.map(str::to_owned);
        state.delays.retain(|(p, _)| *p != prefix);
        if !delay.is_zero() {
            state.delays.push((prefix, delay));
        }
    }

    pub fn clear_delays(&self) {
        self.shared.lock().delays.clear();
    }

    /// While down, every request is answered 503.
    pub fn set_down(&self, down: bool) {
        self.shared.lock().down = down;
    }

    /// The next `n` queue items are cancelled instead of starting a build.
    pub fn cancel_next_queue_items(&self, n: usize) {
        self.shared.lock().cancel_next += n;
    }
}

impl Drop for FakeJenkins {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

#[cfg(test)]
mod tests;
