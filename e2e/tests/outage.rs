//! PostgreSQL goes away under load, and nothing is lost, done twice or dead-lettered.
//!
//! Thousands of logs flow to the orchestrator, and failing builds open incidents whose
//! restarts queue up at the runner (two at a time, slow builds). Then PostgreSQL becomes
//! unavailable for about ten seconds: refusing connections in one test; answering with fast
//! errors in the other (connections accepted and closed at once, then a read-only database
//! as after a failover). Ingest batches, requests waiting for a slot and results recorded
//! meanwhile all meet the outage; the consumers pause instead of spending attempts, so at
//! the end every log is stored once, every action finished, every incident resolved, and
//! every dead-letter queue is empty.

use std::collections::HashMap;
use std::time::Duration;

use domain::names::QUEUES;
use domain::{ApiLog, Envelope, JenkinsLog, Level, LogRecord};
use runtime::ServiceSettings;
use testkit::jenkins::{FakeJenkins, FakeJenkinsConfig};
use testkit::proxy::{ProxyMode, TcpProxy};
use testkit::{TestBus, TestDb, wait_until};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// Logs that open nothing.
const QUIET: usize = 2_000;
/// Failing builds, each on its own job: an incident and a restart apiece, published first.
const FAILURES: usize = 8;
/// Publishing rounds, one every `ROUND` (about 12 s in all).
const ROUNDS: usize = 100;
const ROUND: Duration = Duration::from_millis(120);
/// How long everything may take to settle once the database is back.
const SETTLE: Duration = Duration::from_secs(25);

struct Spine {
    db: TestDb,
    tb: TestBus,
    jenkins: FakeJenkins,
    proxy: TcpProxy,
    orchestrator_port: u16,
    runner_port: u16,
    cancel: CancellationToken,
}

impl Spine {
    /// Both services, talking to PostgreSQL through a proxy the test controls.
    async fn start() -> Spine {
        testkit::init_tracing();
        let (db, tb) = (TestDb::new().await, TestBus::new().await);
        // Builds outlast the start of the outage, so restarts are running and waiting then.
        let jenkins = FakeJenkins::start(FakeJenkinsConfig {
            build_duration: Duration::from_secs(2),
            ..FakeJenkinsConfig::default()
        })
        .await;
        for i in 0..FAILURES {
            jenkins.add_build(&job(i), build(i), "FAILURE", &[]);
        }
        let proxy = TcpProxy::start(db.server_addr()).await;
        let env: HashMap<String, String> = [
            ("DATABASE_URL", db.url_through(proxy.port())),
            ("RABBITMQ_URL", tb.settings.url.clone()),
            ("JENKINS_URL", jenkins.url()),
            ("RUNBOOKS__BUS__NAMESPACE", tb.namespace.clone()),
            ("RUNBOOKS__BUS__RETRY_INITIAL_DELAY_MS", "50".into()),
            ("RUNBOOKS__BUS__RETRY_MAX_DELAY_MS", "1000".into()),
            ("RUNBOOKS__DATABASE__ACQUIRE_TIMEOUT_SECS", "1".into()),
            ("RUNBOOKS__DATABASE__CREATE_IF_MISSING", "false".into()),
            ("RUNBOOKS__HTTP__HOST", "127.0.0.1".into()),
            ("RUNBOOKS__HTTP__PORT", "0".into()),
            ("RUNBOOKS__OUTBOX__POLL_INTERVAL_MS", "100".into()),
            ("RUNBOOKS__OUTBOX__BACKOFF_BASE_MS", "100".into()),
            ("RUNBOOKS__OUTBOX__BACKOFF_MAX_MS", "1000".into()),
            ("RUNBOOKS__GUARD__ALLOWED_JOBS", "deploy-*".into()),
            ("RUNBOOKS__GUARD__MAX_CONCURRENT", "2".into()),
            ("RUNBOOKS__GUARD__COOLDOWN_WINDOW_MINS", "0".into()),
            ("RUNBOOKS__RUNNER__LEASE_SECS", "40".into()),
            ("RUNBOOKS__JENKINS__POLL_INTERVAL_MS", "20".into()),
            ("RUNBOOKS__JENKINS__WAIT_FOR_RESULT", "true".into()),
            ("RUNBOOKS__API__TOKENS", "t".into()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();
        let cancel = CancellationToken::new();
        let (common, own) =
            runtime::load_with_env(orchestrator::settings::DEFAULTS, None, Some(env.clone()))
                .unwrap();
        let orch = orchestrator::Application::build(orchestrator::Settings { common, own })
            .await
            .unwrap();
        let orchestrator_port = orch.port();
        tokio::spawn(orch.run_until_stopped(cancel.clone()));
        let run =
            runner::Application::build(runner::Settings::load_with_env(None, Some(env)).unwrap())
                .await
                .unwrap();
        let runner_port = run.port();
        tokio::spawn(run.run_until_stopped(cancel.clone()));
        Spine {
            db,
            tb,
            jenkins,
            proxy,
            orchestrator_port,
            runner_port,
            cancel,
        }
    }

    /// Publishes the load in rounds, as the listener would, failing builds among the rest.
    fn publish_load(&self) -> JoinHandle<()> {
        let bus = self.tb.bus.clone();
        tokio::spawn(async move {
            let logs: Vec<LogRecord> = (0..FAILURES)
                .map(failure)
                .chain((0..QUIET).map(quiet))
                .collect();
            let per_round = logs.len().div_ceil(ROUNDS);
            for round in logs.chunks(per_round) {
                let sends = round.iter().map(|log| {
                    let bus = bus.clone();
                    let env = Envelope::new("listener", log.clone());
                    async move { bus.publish(&env).await }
                });
                // Publishes share the channel and await their confirms together.
                for sent in futures_util::future::join_all(sends).await {
                    sent.expect("the broker takes every log");
                }
                tokio::time::sleep(ROUND).await;
            }
        })
    }

    async fn count(&self, sql: &str) -> i64 {
        // Read straight from the server: the proxy may be refusing.
        sqlx::query_scalar(sql)
            .fetch_one(self.db.pool())
            .await
            .unwrap_or(-1)
    }

    /// Waits for the pipeline to settle, then checks nothing was lost, doubled or
    /// dead-lettered.
    async fn assert_all_done(&self) {
        let logs = (QUIET + FAILURES) as i64;
        let stored = "SELECT (SELECT count(*) FROM logs_jenkins) + (SELECT count(*) FROM logs_api)";
        wait_until("every log stored", SETTLE, || async {
            self.count(stored).await == logs
        })
        .await;
        let finished = "SELECT count(*) FROM action_executions WHERE status = 'completed'";
        wait_until("every action completed", SETTLE, || async {
            self.count(finished).await == FAILURES as i64
        })
        .await;
        let resolved = "SELECT count(*) FROM incidents WHERE status = 'resolved'";
        wait_until("every incident resolved", SETTLE, || async {
            self.count(resolved).await == FAILURES as i64
        })
        .await;
        let distinct = "SELECT (SELECT count(DISTINCT source_id) FROM logs_jenkins)
                             + (SELECT count(DISTINCT source_id) FROM logs_api)";
        assert_eq!(self.count(distinct).await, logs, "each log once");
        assert_eq!(
            self.count("SELECT count(*) FROM action_executions").await,
            FAILURES as i64,
            "one action per failing build"
        );
        assert_eq!(
            self.count("SELECT count(*) FROM incidents").await,
            FAILURES as i64
        );
        assert_eq!(
            self.jenkins.triggers().len(),
            FAILURES,
            "each restart triggered once"
        );
        for q in QUEUES {
            let dlq = format!("{}.dlq", q.name);
            assert_eq!(self.tb.bus.queue_depth(&dlq).await.unwrap(), 0, "{dlq}");
        }
        // Both consumers met the outage and paused instead of spending attempts.
        for (port, queue) in [
            (self.orchestrator_port, "orchestrator.logs"),
            (self.runner_port, "action_requests"),
        ] {
            let metrics = metrics_page(port).await;
            let paused = metric(&metrics, "runbooks_bus_consumer_pauses_total", queue);
            assert!(paused >= 1.0, "{queue} never paused: {metrics}");
        }
    }
}

impl Drop for Spine {
    fn drop(&mut self) {
        self.cancel.cancel();
    }
}

fn job(i: usize) -> String {
    format!("deploy-svc-{i}")
}

fn build(i: usize) -> i64 {
    100 + i as i64
}

fn quiet(n: usize) -> LogRecord {
    let source_id = Some(format!("quiet-{n}"));
    if n.is_multiple_of(2) {
        LogRecord::Jenkins(JenkinsLog {
            timestamp: chrono::Utc::now(),
            level: Level::Info,
            message: format!("step {n} done"),
            job_name: Some("nightly".into()),
            build_number: Some(n as i64 + 1),
            details: None,
            source_id,
        })
    } else {
        LogRecord::Api(ApiLog {
            timestamp: chrono::Utc::now(),
            level: Level::Info,
            http_method: Some("GET".into()),
            http_status: 200,
            path: Some("/orders".into()),
            latency_ms: Some(12.0),
            service: Some("orders".into()),
            message: "GET /orders 200".into(),
            details: None,
            source_id,
        })
    }
}

fn failure(i: usize) -> LogRecord {
    LogRecord::Jenkins(JenkinsLog {
        timestamp: chrono::Utc::now(),
        level: Level::Error,
        message: "BUILD FAILED: tests did not compile".into(),
        job_name: Some(job(i)),
        build_number: Some(build(i)),
        details: None,
        source_id: Some(format!("failure-{i}")),
    })
}

async fn metrics_page(port: u16) -> String {
    reqwest::get(format!("http://127.0.0.1:{port}/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
}

/// The value of `name{...queue="<queue>"...}` in a Prometheus text page.
fn metric(text: &str, name: &str, queue: &str) -> f64 {
    let label = format!("queue=\"{queue}\"");
    text.lines()
        .filter(|l| l.starts_with(name) && l.contains(&label))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

#[tokio::test]
async fn a_database_refusing_connections_under_load_loses_nothing() {
    let spine = Spine::start().await;
    let load = spine.publish_load();
    tokio::time::sleep(Duration::from_secs(1)).await;
    spine.proxy.set_mode(ProxyMode::Refuse);
    tokio::time::sleep(Duration::from_secs(10)).await;
    spine.proxy.set_mode(ProxyMode::Up);
    load.await.unwrap();
    spine.assert_all_done().await;
}

#[tokio::test]
async fn a_database_failing_fast_under_load_loses_nothing() {
    let spine = Spine::start().await;
    let load = spine.publish_load();
    tokio::time::sleep(Duration::from_secs(1)).await;
    // Connections accepted and closed at once: every query fails immediately.
    spine.proxy.set_mode(ProxyMode::FailFast);
    tokio::time::sleep(Duration::from_secs(5)).await;
    spine.proxy.set_mode(ProxyMode::Up);
    // A failover in progress: the server answers, but refuses every write.
    spine.db.set_read_only(true).await;
    tokio::time::sleep(Duration::from_secs(5)).await;
    spine.db.set_read_only(false).await;
    load.await.unwrap();
    spine.assert_all_done().await;
}
