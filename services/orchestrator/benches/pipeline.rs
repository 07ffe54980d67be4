//! `make bench`: the ingest pipeline against the local PostgreSQL and RabbitMQ, next to the
//! raw broker and raw insert rates so it reads as a fraction of both. Prints numbers; asserts
//! nothing.
//!
//! Sizes: `BENCH_LOGS` (default 20000), `BENCH_RATE` (default 1000/s), `BENCH_SECONDS` (10).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bus::{BatchOutcome, ConsumerOptions, OutgoingMessage};
use chrono::Utc;
use domain::{Envelope, JenkinsLog, Level, LogRecord};
use futures_util::StreamExt;
use futures_util::stream;
use hdrhistogram::Histogram;
use orchestrator::Application;
use testkit::{TestBus, TestDb};
use tokio::sync::Mutex;
use tokio_util::sync::CancellationToken;

fn env_or(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn log(i: usize, failing_job: Option<&str>) -> LogRecord {
    LogRecord::Jenkins(JenkinsLog {
        timestamp: Utc::now(),
        level: if failing_job.is_some() {
            Level::Error
        } else {
            Level::Info
        },
        message: if failing_job.is_some() {
            "BUILD FAILED".into()
        } else {
            format!("step {i} done")
        },
        job_name: Some(
            failing_job
                .map(str::to_string)
                .unwrap_or_else(|| format!("job-{}", i % 97)),
        ),
        build_number: Some(i as i64 + 1),
        details: None,
        source_id: Some(uuid::Uuid::now_v7().to_string()),
    })
}

async fn publish_all(bus: &bus::Bus, msgs: Vec<OutgoingMessage>) {
    stream::iter(msgs)
        .for_each_concurrent(256, |m| async move {
            bus.publish_message(&m).await.expect("publish")
        })
        .await;
}

async fn wait_stored(db: &TestDb, n: usize) {
    loop {
        let c: i64 = sqlx::query_scalar("SELECT count(*) FROM logs_jenkins")
            .fetch_one(db.pool())
            .await
            .unwrap();
        if c as usize >= n {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

fn rate(n: usize, d: Duration) -> f64 {
    n as f64 / d.as_secs_f64()
}

#[tokio::main(flavor = "multi_thread")]
async fn main() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let n = env_or("BENCH_LOGS", 20_000);
    let fixed_rate = env_or("BENCH_RATE", 1_000);
    let seconds = env_or("BENCH_SECONDS", 10);
    println!("runbooks ingest benchmark: {n} logs, latency at {fixed_rate} logs/s for {seconds}s");
    println!(
        "(machine: {} cores)",
        std::thread::available_parallelism()
            .map(|p| p.get())
            .unwrap_or(1)
    );

    // 1. Raw batched insert: the same multi-row statement the ingest uses.
    let db = TestDb::new().await;
    let records: Vec<LogRecord> = (0..n).map(|i| log(i, None)).collect();
    let t = Instant::now();
    for chunk in records.chunks(500) {
        let news: Vec<_> = chunk
            .iter()
            .enumerate()
            .map(|(index, r)| orchestrator::repo::logs::NewLog {
                index,
                source_id: r.source_id().unwrap().to_string(),
                message_id: None,
                record: r,
            })
            .collect();
        let rows: Vec<_> = news
            .iter()
            .map(|n| match n.record {
                LogRecord::Jenkins(j) => (n, j),
                _ => unreachable!(),
            })
            .collect();
        let mut tx = db.pool.begin().await.unwrap();
        orchestrator::repo::logs::insert_jenkins(&mut tx, &rows)
            .await
            .unwrap();
        tx.commit().await.unwrap();
    }
    let insert = rate(n, t.elapsed());
    drop(db);

    // 2. Raw broker: publish with confirms, consume in batches with one multiple-ack.
    let tb = TestBus::new().await;
    tb.bus
        .declare_queue("bench.raw", "logs", &["logs.#"])
        .await
        .unwrap();
    tb.track_queue("bench.raw");
    let msgs: Vec<_> = (0..n)
        .map(|i| OutgoingMessage::from_envelope(&Envelope::new("bench", log(i, None))))
        .collect();
    let t = Instant::now();
    publish_all(&tb.bus, msgs).await;
    let publish_time = t.elapsed();
    let seen = Arc::new(Mutex::new(0usize));
    let cancel = CancellationToken::new();
    let (s, c, b) = (seen.clone(), cancel.clone(), tb.bus.clone());
    let t = Instant::now();
    tokio::spawn(async move {
        let opts = ConsumerOptions::new(&b, "bench.raw").batch(500, Duration::from_millis(5));
        b.consume_batches(
            opts,
            move |batch: bus::Batch<LogRecord>| {
                let s = s.clone();
                async move {
                    *s.lock().await += batch.len();
                    Ok(BatchOutcome::done())
                }
            },
            c,
        )
        .await
    });
    while *seen.lock().await < n {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let consume_time = t.elapsed();
    cancel.cancel();
    let broker_pub = rate(n, publish_time);
    let broker_con = rate(n, consume_time);

    // 3. The pipeline: the real orchestrator consuming `orchestrator.logs`.
    let db = TestDb::new().await;
    let tb2 = TestBus::new().await;
    let (mut common, own): (
        runtime::CommonSettings,
        orchestrator::settings::OrchestratorSections,
    ) = runtime::load_with_env("", None, Some(HashMap::new())).unwrap();
    common.database = db.settings.clone();
    common.bus = tb2.settings.clone();
    common.http.host = "127.0.0.1".into();
    common.telemetry.log_level = "warn".into();
    // 3a. Drain: the queue is filled first, then the orchestrator starts and stores it all.
    let msgs: Vec<_> = (0..n)
        .map(|i| OutgoingMessage::from_envelope(&Envelope::new("bench", log(i, None))))
        .collect();
    publish_all(&tb2.bus, msgs).await;
    let app = Application::build(orchestrator::Settings { common, own })
        .await
        .unwrap();
    let stop = CancellationToken::new();
    let t = Instant::now();
    tokio::spawn(app.run_until_stopped(stop.clone()));
    wait_stored(&db, n).await;
    let drain = rate(n, t.elapsed());

    // 3b. End to end: publishing and storing at the same time.
    let msgs: Vec<_> = (0..n)
        .map(|i| OutgoingMessage::from_envelope(&Envelope::new("bench", log(n + i, None))))
        .collect();
    let t = Instant::now();
    publish_all(&tb2.bus, msgs).await;
    wait_stored(&db, 2 * n).await;
    let pipeline = rate(n, t.elapsed());

    // 4. Latency at a fixed rate: every 100th log is a failure of a new job, which opens an
    // incident; measure publish → `incident.detected` seen on the bus.
    let mut tap = tb2.tap("logs.events", &["incident.detected"]).await;
    let total = fixed_rate * seconds;
    let sent_at: Arc<Mutex<HashMap<String, Instant>>> = Arc::default();
    let sender = {
        let (bus, sent_at) = (tb2.bus.clone(), sent_at.clone());
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_secs(1) / fixed_rate as u32);
            for i in 0..total {
                tick.tick().await;
                let job = (i % 100 == 0).then(|| format!("lat-{i}"));
                let env = Envelope::new("bench", log(i, job.as_deref()));
                if let Some(j) = job {
                    sent_at.lock().await.insert(j, Instant::now());
                }
                let bus = bus.clone();
                tokio::spawn(async move { bus.publish(&env).await.expect("publish") });
            }
        })
    };
    let mut hist = Histogram::<u64>::new(3).unwrap();
    let expected = total.div_ceil(100);
    let deadline = Instant::now() + Duration::from_secs(seconds as u64 + 30);
    while (hist.len() as usize) < expected && Instant::now() < deadline {
        if let Some(m) = tap.next(Duration::from_secs(5)).await {
            let job = m.envelope.payload["incident"]["job_name"]
                .as_str()
                .unwrap_or_default()
                .to_string();
            if let Some(t0) = sent_at.lock().await.get(&job) {
                hist.record(t0.elapsed().as_micros() as u64).unwrap();
            }
        }
    }
    sender.await.unwrap();
    stop.cancel();

    println!();
    println!("| measure | result |");
    println!("|---|---|");
    println!("| raw broker publish (confirms, 256 in flight) | {broker_pub:.0} msg/s |");
    println!("| raw broker consume (batches of 500, multi-ack) | {broker_con:.0} msg/s |");
    println!("| raw batched insert (UNNEST, 500 rows/tx) | {insert:.0} rows/s |");
    println!(
        "| pipeline: queued logs stored (drain) | {drain:.0} logs/s ({:.0}% of raw consume, {:.0}% of raw insert) |",
        100.0 * drain / broker_con,
        100.0 * drain / insert
    );
    println!(
        "| pipeline: publish and store at once | {pipeline:.0} logs/s ({:.0}% of raw publish) |",
        100.0 * pipeline / broker_pub
    );
    println!(
        "| publish → incident.detected at {fixed_rate} logs/s, p50 | {:.1} ms |",
        hist.value_at_quantile(0.5) as f64 / 1000.0
    );
    println!(
        "| publish → incident.detected at {fixed_rate} logs/s, p99 | {:.1} ms |",
        hist.value_at_quantile(0.99) as f64 / 1000.0
    );
    println!("| incidents measured | {} of {expected} |", hist.len());
}
