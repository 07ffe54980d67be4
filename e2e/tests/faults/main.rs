//! The fault-injection suite (issue #22): the production binaries — two orchestrators, two
//! runners, two chatops, a health-monitor and a listener, as separate processes — on a
//! PostgreSQL cluster and a RabbitMQ node of the suite's own, with fake Jenkins and Slack that
//! record every call. About 20,000 logs with a known set of failures and 1,000 malformed
//! messages flow in while faults hit at moments drawn from a seed: every service kind
//! SIGKILLed, the runners killed during a trigger POST, broker connections force-closed and the
//! broker stopped, PostgreSQL backends terminated and the server stopped for longer than the
//! runner's lease, Jenkins slow then 503, Slack 429 with `Retry-After` then 500s. Then the
//! independent records (the fakes' call logs, the database, the broker's queues) must show
//! nothing lost, nothing done twice, nothing stuck.
//!
//! `make faults` runs it (`make test` does too). `RUNBOOKS_FAULTS_SEED=<n>` replays a run,
//! `RUNBOOKS_FAULTS_LOGS=<n>` sizes it (malformed: a twentieth of that). docs/FAULTS.md.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use bus::{Bus, BusSettings};
use rand::SeedableRng;
use rand::rngs::StdRng;
use testkit::elasticsearch::{FakeElasticsearch, FakeEsConfig};
use testkit::jenkins::{FakeJenkins, FakeJenkinsConfig};
use testkit::slack::{FakeSlack, FakeSlackConfig};
use tokio_util::sync::CancellationToken;

mod fleet;
mod infra;
mod inject;
mod load;
mod verify;

use infra::{OwnPostgres, OwnRabbit};

const LEASE_SECS: u64 = 6;
/// How long everything may take to settle after the last fault.
const SETTLE: Duration = Duration::from_secs(150);

fn env_number(name: &str, default: u64) -> u64 {
    match std::env::var(name) {
        Ok(v) => v
            .trim()
            .parse()
            .unwrap_or_else(|_| panic!("{name}={v}: expected a number")),
        Err(_) => default,
    }
}

fn service_env(
    pg: &OwnPostgres,
    rabbit: &OwnRabbit,
    jenkins: &FakeJenkins,
    slack: &FakeSlack,
    es: &FakeElasticsearch,
) -> Vec<(String, String)> {
    let lease = LEASE_SECS.to_string();
    [
        ("DATABASE_URL", format!("{}/runbooks", pg.server_url())),
        ("RABBITMQ_URL", rabbit.url()),
        ("RUNBOOKS__HTTP__HOST", "127.0.0.1".into()),
        ("RUNBOOKS__HTTP__PORT", "0".into()),
        ("RUNBOOKS__TELEMETRY__LOG_FORMAT", "json".into()),
        ("RUST_LOG", "info".into()),
        ("RUNBOOKS__HEARTBEAT__INTERVAL_SECS", "1".into()),
        ("RUNBOOKS__BUS__RETRY_INITIAL_DELAY_MS", "50".into()),
        ("RUNBOOKS__BUS__RETRY_MAX_DELAY_MS", "1000".into()),
        ("RUNBOOKS__BUS__QUEUE_TYPE", queue_type().into()),
        ("RUNBOOKS__DATABASE__ACQUIRE_TIMEOUT_SECS", "1".into()),
        ("RUNBOOKS__DATABASE__CREATE_IF_MISSING", "false".into()),
        ("RUNBOOKS__OUTBOX__POLL_INTERVAL_MS", "100".into()),
        ("RUNBOOKS__OUTBOX__BACKOFF_BASE_MS", "100".into()),
        ("RUNBOOKS__OUTBOX__BACKOFF_MAX_MS", "1000".into()),
        ("RUNBOOKS__SHUTDOWN__GRACE_SECS", "2".into()),
        ("RUNBOOKS__API__TOKENS", "t".into()),
        ("RUNBOOKS__POSTMORTEM__ON_RESOLVE", "false".into()),
        ("RUNBOOKS__OLLAMA__ENABLED", "false".into()),
        ("JENKINS_URL", jenkins.url()),
        ("RUNBOOKS__GUARD__ALLOWED_JOBS", "deploy-*".into()),
        ("RUNBOOKS__GUARD__MAX_CONCURRENT", "4".into()),
        ("RUNBOOKS__GUARD__COOLDOWN_WINDOW_MINS", "0".into()),
        ("RUNBOOKS__RUNNER__LEASE_SECS", lease),
        ("RUNBOOKS__RUNNER__REAPER_INTERVAL_SECS", "2".into()),
        ("RUNBOOKS__JENKINS__POLL_INTERVAL_MS", "100".into()),
        ("RUNBOOKS__JENKINS__WAIT_FOR_RESULT", "true".into()),
        ("RUNBOOKS__JENKINS__REQUEST_TIMEOUT_MS", "5000".into()),
        ("SLACK_BOT_TOKEN", slack.bot_token().to_string()),
        ("SLACK_API_URL", slack.api_url()),
        ("RUNBOOKS__NOTIFY__DEFAULT_CHANNEL", verify::CHANNEL.into()),
        ("RUNBOOKS__NOTIFY__HEALTH_CHANNEL", "#health".into()),
        ("RUNBOOKS__NOTIFY__MIN_INTERVAL_MS", "20".into()),
        ("RUNBOOKS__NOTIFY__POLL_INTERVAL_MS", "50".into()),
        ("RUNBOOKS__NOTIFY__RETRY_BASE_MS", "200".into()),
        ("RUNBOOKS__NOTIFY__RETRY_MAX_MS", "2000".into()),
        // One parent message per incident, never a burst summary: countable.
        ("RUNBOOKS__NOTIFY__BURST_THRESHOLD", "100000".into()),
        ("RUNBOOKS__DASHBOARD__USER", "faults".into()),
        ("RUNBOOKS__DASHBOARD__PASSWORD", "faults-password".into()),
        ("RUNBOOKS__HEALTH__DOWN_AFTER_SECS", "5".into()),
        ("ELASTICSEARCH_URL", es.url()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect()
}

/// `TEST_BUS_QUEUE_TYPE=quorum` runs the suite on quorum queues.
fn queue_type() -> &'static str {
    match testkit::amqp::queue_type() {
        bus::QueueType::Quorum => "quorum",
        bus::QueueType::Classic => "classic",
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[ignore = "the fault-injection suite: needs the service binaries built; `make faults`"]
async fn nothing_is_lost_or_done_twice_under_faults() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let seed = env_number(
        "RUNBOOKS_FAULTS_SEED",
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos() as u64
            % 1_000_000,
    );
    let total = env_number("RUNBOOKS_FAULTS_LOGS", 20_000) as usize;
    let malformed = total / 20;
    println!(
        "faults: seed {seed} (replay: RUNBOOKS_FAULTS_SEED={seed}), {total} logs, \
         {malformed} malformed, {} queues",
        queue_type()
    );
    let mut rng = StdRng::seed_from_u64(seed);
    let started = Instant::now();

    let pg = tokio::task::block_in_place(OwnPostgres::start);
    let rabbit = tokio::task::block_in_place(OwnRabbit::start);
    let db_settings = store::DatabaseSettings {
        url: format!("{}/runbooks", pg.server_url()),
        max_connections: 5,
        ..store::DatabaseSettings::default()
    };
    let pool = store::connect(&db_settings).await.expect("own database");
    store::migrate(&pool).await.expect("migrations apply");

    let jenkins = FakeJenkins::start(FakeJenkinsConfig {
        queue_delay: Duration::from_millis(100),
        build_duration: Duration::from_millis(800),
        ..FakeJenkinsConfig::default()
    })
    .await;
    for i in 0..load::RESTARTS {
        jenkins.add_build(
            &load::restart_job(i),
            load::restart_build(i),
            "FAILURE",
            &[],
        );
    }
    let slack = FakeSlack::start(FakeSlackConfig::default()).await;
    let es = FakeElasticsearch::start(FakeEsConfig::default()).await;

    let env = service_env(&pg, &rabbit, &jenkins, &slack, &es);
    let mut fleet = fleet::Fleet::start(env).await;
    println!("faults: fleet ready after {:?}", started.elapsed());

    let cancel = CancellationToken::new();
    let bus_settings = BusSettings {
        url: rabbit.url(),
        confirm_timeout_ms: 5_000,
        connect_timeout_secs: 30,
        queue_type: testkit::amqp::queue_type(),
        ..BusSettings::default()
    };
    let bus = Bus::connect(&bus_settings, "faults-publisher", &cancel)
        .await
        .expect("publisher connects");
    let work = load::Workload::new(total, malformed, &mut rng);
    let stats = Arc::new(load::Published::default());
    let spread = Duration::from_secs(env_number("RUNBOOKS_FAULTS_PUBLISH_SECS", 45));
    let publisher = tokio::spawn(load::publish(
        bus.clone(),
        work.messages.clone(),
        spread,
        stats.clone(),
    ));

    let mut seen = inject::Observed::default();
    {
        let mut env = inject::Env {
            fleet: &mut fleet,
            pg: &pg,
            rabbit: &rabbit,
            jenkins: &jenkins,
            slack: &slack,
        };
        for (gap, fault) in inject::schedule(&mut rng) {
            tokio::time::sleep(gap).await;
            env.inject(fault, &mut rng, &mut seen).await;
        }
    }
    let last_fault = Instant::now();
    println!("faults: last fault at {:?}", started.elapsed());
    publisher.await.expect("publisher");
    println!(
        "faults: published {} (retried {}) by {:?}",
        stats.confirmed.load(Ordering::Relaxed),
        stats.retried.load(Ordering::Relaxed),
        started.elapsed()
    );

    let records = verify::Records {
        pool: &pool,
        jenkins: &jenkins,
        slack: &slack,
        rabbit: &rabbit,
        bus: &bus,
        work: &work,
    };
    records.settle(SETTLE).await;
    println!(
        "faults: settled {:.1} s after the last fault ({:.1} s in all)",
        last_fault.elapsed().as_secs_f64(),
        started.elapsed().as_secs_f64()
    );
    records.assert_all(&fleet, &seen).await;
    println!("faults: every check passed; seed {seed}");
    fleet.kill_all().await;
    cancel.cancel();
    bus.close().await;
    pool.close().await;
}
