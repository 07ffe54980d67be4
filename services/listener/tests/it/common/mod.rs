//! A listener against a test database, bus namespace and Elasticsearch (the fake, or the
//! server `ELASTICSEARCH_URL` names).
#![allow(dead_code)]

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use chrono::{DateTime, SecondsFormat, Utc};
use listener::settings::{ListenerSections, PitMode, Settings};
use listener::{Application, repo::CheckpointRepo, repo::CheckpointRow};
use serde_json::{Value, json};
use testkit::elasticsearch::{FakeEsConfig, TestElasticsearch};
use testkit::{Tap, TestBus, TestDb};
use tokio_util::sync::CancellationToken;

pub const T: Duration = Duration::from_secs(30);

/// Settings for in-process listeners: short intervals, this test's index patterns.
pub fn settings(db: &TestDb, tb: &TestBus, es: &TestElasticsearch) -> Settings {
    let (mut common, mut own): (runtime::CommonSettings, ListenerSections) =
        runtime::load_with_env(listener::settings::DEFAULTS, None, Some(Default::default()))
            .unwrap();
    common.database = db.settings.clone();
    common.bus = tb.settings.clone();
    common.http.host = "127.0.0.1".into();
    common.http.port = 0;
    common.heartbeat.interval_secs = 1;
    common.shutdown.grace_secs = 5;
    own.elasticsearch.url = es.url();
    for (s, name) in [
        (&mut own.sources.jenkins, "logs-jenkins*"),
        (&mut own.sources.api, "logs-api*"),
    ] {
        s.index = es.index(name);
        s.poll_interval_ms = 200;
        s.lag_ms = 100;
        s.overlap_secs = 60;
        s.lookback_secs = 600;
        s.page_size = 700;
    }
    own.tail.lease_secs = 2;
    own.tail.checkpoint_interval_ms = 100;
    own.tail.retry_min_ms = 50;
    own.tail.retry_max_ms = 500;
    Settings { common, own }
}

/// The same settings as environment variables, for the binary.
pub fn env(db: &TestDb, tb: &TestBus, es: &TestElasticsearch) -> Vec<(String, String)> {
    let mut env = testkit::process::service_env(db, tb);
    for (k, v) in [
        ("RUNBOOKS__ELASTICSEARCH__URL", es.url()),
        (
            "RUNBOOKS__SOURCES__JENKINS__INDEX",
            es.index("logs-jenkins*"),
        ),
        ("RUNBOOKS__SOURCES__API__INDEX", es.index("logs-api*")),
        ("RUNBOOKS__SOURCES__JENKINS__POLL_INTERVAL_MS", "100".into()),
        ("RUNBOOKS__SOURCES__JENKINS__LAG_MS", "100".into()),
        ("RUNBOOKS__SOURCES__JENKINS__OVERLAP_SECS", "60".into()),
        ("RUNBOOKS__SOURCES__JENKINS__LOOKBACK_SECS", "600".into()),
        ("RUNBOOKS__SOURCES__JENKINS__PAGE_SIZE", "100".into()),
        ("RUNBOOKS__SOURCES__API__ENABLED", "false".into()),
        ("RUNBOOKS__TAIL__LEASE_SECS", "2".into()),
        ("RUNBOOKS__TAIL__CHECKPOINT_INTERVAL_MS", "100".into()),
        ("RUNBOOKS__TAIL__RETRY_MIN_MS", "50".into()),
        ("RUNBOOKS__TAIL__RETRY_MAX_MS", "500".into()),
    ] {
        env.push((k.to_string(), v));
    }
    env
}

pub async fn fake_es() -> TestElasticsearch {
    TestElasticsearch::start_fake(FakeEsConfig::default()).await
}

/// A listener running in this process.
pub struct Listener {
    pub base: String,
    pub metrics: telemetry::Metrics,
    pub cancel: CancellationToken,
    pub done: tokio::task::JoinHandle<()>,
}

impl Listener {
    pub async fn start(settings: Settings) -> Listener {
        let app = Application::build(settings).await.expect("listener starts");
        let base = format!("http://127.0.0.1:{}", app.port());
        let metrics = app.metrics();
        let cancel = CancellationToken::new();
        let c = cancel.clone();
        let done = tokio::spawn(async move {
            app.run_until_stopped(c).await.expect("clean stop");
        });
        Listener {
            base,
            metrics,
            cancel,
            done,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// A counter or gauge summed over the series whose labels include `labels`.
    pub fn metric(&self, name: &str, labels: &[(&str, &str)]) -> f64 {
        metric(&self.metrics.render(), name, labels)
    }

    pub async fn stop(self) {
        self.cancel.cancel();
        tokio::time::timeout(T, self.done)
            .await
            .expect("stops in time")
            .unwrap();
    }
}

/// Sums the samples of `name` whose labels include every pair of `labels`.
pub fn metric(text: &str, name: &str, labels: &[(&str, &str)]) -> f64 {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .filter(|l| l.starts_with(name) && l[name.len()..].starts_with(['{', ' ']))
        .filter(|l| {
            labels
                .iter()
                .all(|(k, v)| l.contains(&format!("{k}=\"{v}\"")))
        })
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

pub async fn metric_of(url: &str, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    let text = reqwest::get(url).await.ok()?.text().await.ok()?;
    Some(metric(&text, name, labels))
}

pub fn ts(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// An ECS Jenkins document as Filebeat would write it.
pub fn jenkins_doc(id: &str, at: DateTime<Utc>, level: &str, message: &str) -> Value {
    json!({
        "@timestamp": ts(at),
        "log": {"level": level},
        "message": message,
        "event": {"id": id},
        "jenkins": {"job": {"name": "deploy-prod"}, "build": {"number": 42}},
    })
}

/// `n` documents spread over `distinct` timestamps from `start`, 1 ms apart, so that many
/// share each timestamp; ids `d00000`...
pub fn docs_sharing_timestamps(
    n: usize,
    distinct: usize,
    start: DateTime<Utc>,
) -> Vec<(String, Value)> {
    (0..n)
        .map(|i| {
            let id = format!("d{i:05}");
            let at = start + chrono::Duration::milliseconds((i % distinct) as i64);
            let level = ["INFO", "WARNING", "ERROR"][i % 3];
            let doc = jenkins_doc(&id, at, level, &format!("line {i}"));
            (id, doc)
        })
        .collect()
}

/// How often each `source_id` arrived.
pub fn counts(msgs: &[bus::Message<Value>]) -> HashMap<String, usize> {
    let mut out = HashMap::new();
    for m in msgs {
        let id = m.envelope.payload["source_id"]
            .as_str()
            .expect("a source_id")
            .to_string();
        *out.entry(id).or_default() += 1;
    }
    out
}

pub async fn logs_tap(tb: &TestBus) -> Tap {
    tb.tap(domain::names::exchange::LOGS, &["logs.#"]).await
}

pub async fn checkpoint(db: &TestDb, source: &str) -> Option<CheckpointRow> {
    CheckpointRepo::new(db.pool.clone())
        .load(source)
        .await
        .unwrap()
}

/// Ids in the persisted LastSentStore.
pub fn sent_ids(row: &CheckpointRow) -> HashSet<String> {
    row.sent_ids
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|e| e[0].as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

pub fn pit_off(s: &mut Settings) {
    s.own.elasticsearch.point_in_time = PitMode::Off;
}
