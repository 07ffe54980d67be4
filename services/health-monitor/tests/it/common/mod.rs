//! Running health-monitors against a test database and bus namespace, services that beat
//! from the test, and HTTP helpers.
#![allow(dead_code)]

use std::time::Duration;

use chrono::Utc;
use health_monitor::Application;
use health_monitor::core::Core;
use health_monitor::settings::{DEFAULTS, HealthMonitorSections, Settings};
use runtime::Heartbeater;
use serde_json::Value;
use telemetry::{Metrics, ReadyCheck};
use testkit::{Tap, TestBus, TestDb};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

pub const T: Duration = Duration::from_secs(20);
pub const USER: &str = "ops";
pub const PASSWORD: &str = "correct horse battery staple";
/// The producer tests register events as, and its token.
pub const PRODUCER: &str = "deploy-bot";
pub const PRODUCER_TOKEN: &str = "deploy-bot-token-0123456789";

pub fn settings(db: &TestDb, tb: &TestBus) -> Settings {
    let (mut common, mut own): (runtime::CommonSettings, HealthMonitorSections) =
        runtime::load_with_env(DEFAULTS, None, Some(Default::default())).unwrap();
    common.database = db.settings.clone();
    common.bus = tb.settings.clone();
    common.http.host = "127.0.0.1".into();
    common.http.port = 0;
    common.outbox.poll_interval_ms = 100;
    common.shutdown.grace_secs = 5;
    common.heartbeat.interval_secs = 1;
    own.health.down_after_secs = 2;
    own.health.sweep_interval_ms = 200;
    own.health.leader_lease_secs = 3;
    own.health.failures_before_down = 1;
    own.dashboard.user = USER.into();
    own.dashboard.password = Some(PASSWORD.into());
    own.dashboard.incidents_timeout_ms = 500;
    own.events
        .producers
        .insert(PRODUCER.into(), PRODUCER_TOKEN.into());
    Settings { common, own }
}

pub struct Monitor {
    pub core: Core,
    pub base: String,
    pub cancel: CancellationToken,
    pub handle: JoinHandle<Result<(), runtime::RuntimeError>>,
}

/// One or more health-monitors sharing a database and a bus namespace.
pub struct Harness {
    pub db: TestDb,
    pub tb: TestBus,
    pub monitors: Vec<Monitor>,
    pub http: reqwest::Client,
    pub settings: Settings,
}

impl Harness {
    pub async fn start() -> Harness {
        Self::start_with(1, |_| {}).await
    }

    pub async fn start_with(replicas: usize, tweak: impl FnOnce(&mut Settings)) -> Harness {
        testkit::init_tracing();
        let (db, tb) = (TestDb::new().await, TestBus::new().await);
        let mut s = settings(&db, &tb);
        tweak(&mut s);
        let mut h = Harness {
            db,
            tb,
            monitors: Vec::new(),
            http: reqwest::Client::new(),
            settings: s,
        };
        for _ in 0..replicas {
            h.add_monitor().await;
        }
        h
    }

    pub async fn add_monitor(&mut self) {
        let app = Application::build(self.settings.clone())
            .await
            .expect("health-monitor starts");
        let base = format!("http://127.0.0.1:{}", app.port());
        let core = app.core().clone();
        let cancel = CancellationToken::new();
        let handle = tokio::spawn(app.run_until_stopped(cancel.clone()));
        self.monitors.push(Monitor {
            core,
            base,
            cancel,
            handle,
        });
    }

    pub fn core(&self) -> &Core {
        &self.monitors[0].core
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.monitors[0].base)
    }

    pub fn get(&self, path: &str) -> reqwest::RequestBuilder {
        self.http.get(self.url(path))
    }

    pub fn authed(&self, path: &str) -> reqwest::RequestBuilder {
        self.get(path).basic_auth(USER, Some(PASSWORD))
    }

    pub async fn get_json(&self, path: &str) -> (u16, Value) {
        body(self.get(path).send().await.unwrap()).await
    }

    /// `health.service.*` events from now on.
    pub async fn health_events(&self) -> Tap {
        self.tb
            .tap(domain::names::exchange::EVENTS, &["health.service.*"])
            .await
    }

    pub async fn service(&self, name: &str) -> Option<Value> {
        let (_, v) = self.get_json("/api/services").await;
        v["services"]
            .as_array()?
            .iter()
            .find(|s| s["service"] == name)
            .cloned()
    }

    /// Waits until `/api/services` shows `name` with `status`.
    pub async fn wait_status(&self, name: &str, status: &str) -> Value {
        let what = format!("{name} to be {status}");
        testkit::wait_for(&what, T, || async {
            self.service(name).await.filter(|s| s["status"] == status)
        })
        .await
    }

    pub async fn count(&self, sql: &str) -> i64 {
        sqlx::query_scalar(sql)
            .fetch_one(self.db.pool())
            .await
            .unwrap()
    }
}

impl Drop for Harness {
    fn drop(&mut self) {
        for m in &self.monitors {
            m.cancel.cancel();
        }
    }
}

pub async fn body(resp: reqwest::Response) -> (u16, Value) {
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap_or(Value::Null))
}

/// A service that heartbeats from the test, like a Runbooks process would.
pub struct FakeService {
    pub name: String,
    pub instance_id: String,
    beater: Heartbeater,
    stop: CancellationToken,
    task: JoinHandle<()>,
}

impl FakeService {
    pub fn start(tb: &TestBus, name: &str) -> FakeService {
        Self::start_with(tb, name, Vec::new())
    }

    pub fn start_with(tb: &TestBus, name: &str, checks: Vec<ReadyCheck>) -> FakeService {
        let instance_id = format!(
            "{name}-test-{}",
            &uuid::Uuid::new_v4().simple().to_string()[..6]
        );
        let beater = Heartbeater {
            bus: tb.bus.clone(),
            service: name.into(),
            instance_id: instance_id.clone(),
            started_at: Utc::now(),
            // Announced as 1 s (the smallest); beating faster keeps it clearly alive.
            interval: Duration::from_millis(300),
            checks,
            metrics: Metrics::new(name),
        };
        let stop = CancellationToken::new();
        let task = tokio::spawn(beater.clone().run(stop.clone()));
        FakeService {
            name: name.into(),
            instance_id,
            beater,
            stop,
            task,
        }
    }

    /// What SIGKILL looks like to the monitor: the heartbeats stop, no farewell.
    pub fn kill(self) {
        self.task.abort();
    }

    /// A clean SIGTERM: the last heartbeat says `stopping`.
    pub async fn terminate(self) {
        self.stop.cancel();
        let _ = self.task.await;
        self.beater.beat(true).await.expect("farewell sent");
    }
}

/// Messages about `service` among `msgs`, by type.
pub fn about<'a>(
    msgs: &'a [bus::Message<Value>],
    kind: &str,
    service: &str,
) -> Vec<&'a bus::Message<Value>> {
    msgs.iter()
        .filter(|m| m.envelope.kind == kind && m.envelope.payload["service"] == service)
        .collect()
}

/// Waits for one `kind` event about `service`, then watches `quiet` more for duplicates;
/// returns every matching event seen.
pub async fn expect_once(tap: &mut Tap, kind: &str, service: &str, quiet: Duration) -> Vec<Value> {
    let mut seen = Vec::new();
    let deadline = tokio::time::Instant::now() + T;
    while seen.is_empty() {
        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
        let m = tap
            .next(left)
            .await
            .unwrap_or_else(|| panic!("no {kind} for {service} within {T:?}"));
        if m.envelope.kind == kind && m.envelope.payload["service"] == service {
            seen.push(m.envelope.payload.clone());
        }
    }
    for m in tap.drain(quiet).await {
        if m.envelope.kind == kind && m.envelope.payload["service"] == service {
            seen.push(m.envelope.payload);
        }
    }
    seen
}
