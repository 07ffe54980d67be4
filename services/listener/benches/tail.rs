//! `make bench`: documents per second from Elasticsearch (the testkit fake, in this process)
//! to confirmed publish on the local RabbitMQ, next to the raw rates of each side. Prints
//! numbers; asserts nothing.
//!
//! Sizes: `BENCH_DOCS` (default 100000), `BENCH_PAGE` (page size, default 1000);
//! `BENCH_ONLY=read,publish,tail,fallback,v2` runs some of the measures (`v2` sets a
//! RabbitMQ policy on its own namespace with `rabbitmqctl`, and clears it). Each line also shows
//! the CPU seconds this process and the broker (`beam.smp`) spent on it.

use std::time::{Duration, Instant};

use chrono::Utc;
use listener::Application;
use listener::es::EsClient;
use listener::es::query::{PageRequest, search_body};
use listener::settings::{ListenerSections, PitMode, Settings};
use serde_json::{Value, json};
use testkit::elasticsearch::{FakeEsConfig, TestElasticsearch};
use testkit::{TestBus, TestDb};
use tokio_util::sync::CancellationToken;

/// The production binary's allocator.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn env_or(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn rate(n: usize, d: Duration) -> f64 {
    n as f64 / d.as_secs_f64()
}

/// User + system CPU seconds of a process, from /proc (Linux).
fn cpu_secs(pid: &str) -> f64 {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return 0.0;
    };
    // Fields after the parenthesised command name; utime and stime are the 12th and 13th.
    let rest = stat.rsplit(')').next().unwrap_or("");
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    (ticks(11) + ticks(12)) / 100.0
}

fn broker_pid() -> Option<String> {
    let out = std::process::Command::new("pgrep")
        .args(["-o", "beam.smp"])
        .output()
        .ok()?;
    let pid = String::from_utf8_lossy(&out.stdout).trim().to_string();
    (!pid.is_empty()).then_some(pid)
}

/// CPU seconds of (this process, the broker) since `since`.
struct Cpu {
    me: f64,
    broker: f64,
    broker_pid: Option<String>,
}

impl Cpu {
    fn now() -> Cpu {
        let broker_pid = broker_pid();
        Cpu {
            me: cpu_secs("self"),
            broker: broker_pid.as_deref().map_or(0.0, cpu_secs),
            broker_pid,
        }
    }

    fn since(&self) -> String {
        let me = cpu_secs("self") - self.me;
        let broker = self.broker_pid.as_deref().map_or(0.0, cpu_secs) - self.broker;
        format!("cpu: listener {me:.1} s, broker {broker:.1} s")
    }
}

/// Filebeat-shaped ECS documents over the last four minutes, 50 per timestamp.
fn docs(n: usize) -> Vec<(String, Value)> {
    let start = Utc::now() - chrono::Duration::minutes(4);
    (0..n)
        .map(|i| {
            let at = start + chrono::Duration::milliseconds((i / 50) as i64);
            let id = format!("doc-{i:07}");
            let level = ["INFO", "WARN", "ERROR"][i % 3];
            let doc = json!({
                "@timestamp": at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
                "log": {"level": level},
                "message": format!("[Pipeline] stage {} of build {} finished", i % 7, i % 500),
                "event": {"id": id, "dataset": "jenkins.log"},
                "jenkins": {"job": {"name": format!("team/app-{}", i % 40)}, "build": {"number": i % 500}},
                "host": {"name": "agent-3"}, "agent": {"type": "filebeat", "version": "8.15.3"},
                "ecs": {"version": "8.11.0"},
            });
            (id, doc)
        })
        .collect()
}

fn settings(
    db: &TestDb,
    tb: &TestBus,
    es: &TestElasticsearch,
    page: usize,
    pit: PitMode,
) -> Settings {
    let (mut common, mut own): (runtime::CommonSettings, ListenerSections) =
        runtime::load_with_env(listener::settings::DEFAULTS, None, Some(Default::default()))
            .unwrap();
    common.database = db.settings.clone();
    common.bus = tb.settings.clone();
    common.http.host = "127.0.0.1".into();
    common.http.port = 0;
    common.telemetry.log_level = "warn".into();
    own.elasticsearch.url = es.url();
    own.elasticsearch.point_in_time = pit;
    own.sources.api.enabled = false;
    let j = &mut own.sources.jenkins;
    j.index = es.index("logs-jenkins*");
    j.page_size = page;
    j.poll_interval_ms = 200;
    Settings { common, own }
}

fn metric(text: &str, name: &str) -> f64 {
    text.lines()
        .filter(|l| l.starts_with(name) && l[name.len()..].starts_with('{'))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

/// Classic queues v2 for this run's queues only (a policy on its namespace), as RabbitMQ
/// 3.13 recommends for new deployments; v1 is the default of the 3.10 broker here.
struct QueueV2(String);

impl QueueV2 {
    fn apply(namespace: &str) -> Option<QueueV2> {
        let name = format!("bench-cqv2-{namespace}");
        let ok = std::process::Command::new("rabbitmqctl")
            .args(["set_policy", "--apply-to", "queues", &name])
            .arg(format!("^{namespace}\\."))
            .arg(r#"{"queue-version":2}"#)
            .output()
            .is_ok_and(|o| o.status.success());
        ok.then_some(QueueV2(name))
    }
}

impl Drop for QueueV2 {
    fn drop(&mut self) {
        let _ = std::process::Command::new("rabbitmqctl")
            .args(["clear_policy", &self.0])
            .output();
    }
}

/// Starts a listener on the seeded index and times first read to last confirm.
async fn tail(
    es: &TestElasticsearch,
    n: usize,
    page: usize,
    pit: PitMode,
    v2: bool,
) -> (Duration, String) {
    let (db, tb) = (TestDb::new().await, TestBus::new().await);
    let _policy = if v2 {
        let p = QueueV2::apply(&tb.namespace);
        assert!(p.is_some(), "rabbitmqctl set_policy failed");
        // Let the broker convert the (empty) queue before the run starts.
        tokio::time::sleep(Duration::from_millis(500)).await;
        p
    } else {
        None
    };
    let app = Application::build(settings(&db, &tb, es, page, pit))
        .await
        .expect("listener starts");
    let metrics = app.metrics();
    let cancel = CancellationToken::new();
    let run = tokio::spawn(app.run_until_stopped(cancel.clone()));
    let mut first_read = None;
    let mut cpu = None;
    let deadline = Instant::now() + Duration::from_secs(600);
    let (done, used) = loop {
        let text = metrics.render();
        if first_read.is_none() && metric(&text, "runbooks_listener_documents_read_total") > 0.0 {
            first_read = Some(Instant::now());
            cpu = Some(Cpu::now());
        }
        if metric(&text, "runbooks_listener_documents_published_total") >= n as f64 {
            break (
                Instant::now(),
                cpu.as_ref().map(Cpu::since).unwrap_or_default(),
            );
        }
        assert!(Instant::now() < deadline, "not done in 10 minutes");
        tokio::time::sleep(Duration::from_millis(5)).await;
    };
    cancel.cancel();
    let _ = run.await;
    (done - first_read.expect("documents were read"), used)
}

/// Pages through the index with a point in time, as the listener does, decoding hits.
async fn raw_read(es: &TestElasticsearch, n: usize, page: usize) -> (Duration, String) {
    let (_, own): (runtime::CommonSettings, ListenerSections) =
        runtime::load_with_env(listener::settings::DEFAULTS, None, Some(Default::default()))
            .unwrap();
    let mut source = own.sources.jenkins.clone();
    source.page_size = page;
    let mut es_settings = own.elasticsearch.clone();
    es_settings.url = es.url();
    let client = EsClient::new(&es_settings).unwrap();
    let index = es.index("logs-jenkins*");
    let (from, to) = (Utc::now() - chrono::Duration::minutes(10), Utc::now());
    let cpu = Cpu::now();
    let started = Instant::now();
    let mut pit = client.open_pit(&index).await.unwrap();
    let mut after: Option<Vec<Value>> = None;
    let mut read = 0;
    loop {
        let body = search_body(
            &source,
            &PageRequest {
                from,
                to,
                pit: pit.as_deref().map(|p| (p, "60s")),
                search_after: after.as_deref(),
            },
        );
        let p = client.search(&index, pit.is_some(), body).await.unwrap();
        pit = p.pit_id.or(pit);
        read += p.hits.len();
        match p.hits.last() {
            Some(h) => after = Some(h.sort.clone()),
            None => break,
        }
    }
    assert_eq!(read, n);
    (started.elapsed(), cpu.since())
}

/// Publishing with confirms alone, in windows like the listener's.
async fn raw_publish(n: usize, page: usize) -> (Duration, String) {
    let tb = TestBus::new().await;
    let record = |i: usize| {
        domain::LogRecord::Jenkins(domain::JenkinsLog {
            timestamp: Utc::now(),
            level: domain::Level::Info,
            message: format!("[Pipeline] stage {} finished", i % 7),
            job_name: Some("team/app".into()),
            build_number: Some(1),
            details: None,
            source_id: Some(format!("logs-jenkins-x/doc-{i:07}")),
        })
    };
    let trace = bus::trace::current_headers();
    let msgs: Vec<_> = (0..n)
        .map(|i| listener::publish::message(record(i), &trace))
        .collect();
    let k = env_or("BENCH_CONNECTIONS", 1);
    let cancel = CancellationToken::new();
    let mut buses = vec![tb.bus.clone()];
    for _ in 1..k {
        buses.push(
            bus::Bus::connect(&tb.settings, "bench", &cancel)
                .await
                .unwrap(),
        );
    }
    let cpu = Cpu::now();
    let started = Instant::now();
    let mut inflight = std::collections::VecDeque::new();
    for (i, chunk) in msgs.chunks(page).enumerate() {
        let (bus, chunk) = (buses[i % k].clone(), chunk.to_vec());
        inflight.push_back(tokio::spawn(async move {
            listener::publish::publish_all(&bus, &chunk).await
        }));
        if inflight.len() * page >= 8_000 {
            let r = inflight.pop_front().unwrap().await.unwrap();
            assert!(r.iter().all(Result::is_ok));
        }
    }
    for h in inflight {
        assert!(h.await.unwrap().iter().all(Result::is_ok));
    }
    (started.elapsed(), cpu.since())
}

#[tokio::main(flavor = "multi_thread")]
async fn main() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let n = env_or("BENCH_DOCS", 100_000);
    let page = env_or("BENCH_PAGE", 1_000);
    println!("listener benchmark: {n} documents, pages of {page}");

    let es = TestElasticsearch::start_fake(FakeEsConfig::default()).await;
    let index = es.index("logs-jenkins-bench");
    es.admin().create_index(&index, false).await;
    es.admin().index_docs(&index, &docs(n), true).await;

    let only = std::env::var("BENCH_ONLY").unwrap_or_default();
    let run = |what: &str| only.is_empty() || only.split(',').any(|o| o.trim() == what);
    let report = |what: &str, unit: &str, d: Duration, cpu: String| {
        println!(
            "  {what:<58} {:>8.0} {unit}  ({:.2} s, {cpu})",
            rate(n, d),
            d.as_secs_f64(),
        );
    };
    // The broker finishes deleting the previous run's queue (and its messages) in the
    // background; start each measure once it is idle, so its CPU is not counted twice.
    let idle = || async {
        let Some(pid) = broker_pid() else { return };
        let deadline = Instant::now() + Duration::from_secs(30);
        let mut quiet = 0;
        while quiet < 2 && Instant::now() < deadline {
            let before = cpu_secs(&pid);
            tokio::time::sleep(Duration::from_millis(500)).await;
            quiet = if cpu_secs(&pid) - before < 0.05 {
                quiet + 1
            } else {
                0
            };
        }
    };
    if run("read") {
        let (d, cpu) = raw_read(&es, n, page).await;
        report(
            "raw read (fake Elasticsearch, PIT + search_after, decode):",
            "docs/s",
            d,
            cpu,
        );
    }
    if run("publish") {
        idle().await;
        let (d, cpu) = raw_publish(n, page).await;
        report("raw publish (confirms, 8000 in flight):", "msg/s ", d, cpu);
    }
    if run("tail") {
        idle().await;
        let (d, cpu) = tail(&es, n, page, PitMode::Auto, false).await;
        report(
            "listener, point in time: read -> confirmed publish:",
            "docs/s",
            d,
            cpu,
        );
    }
    if run("fallback") {
        idle().await;
        let (d, cpu) = tail(&es, n, page, PitMode::Off, false).await;
        report(
            "listener, fallback (no PIT): read -> confirmed publish:",
            "docs/s",
            d,
            cpu,
        );
    }
    if run("v2") {
        idle().await;
        let (d, cpu) = tail(&es, n, page, PitMode::Auto, true).await;
        report(
            "listener, point in time, classic queues v2:",
            "docs/s",
            d,
            cpu,
        );
    }
}
