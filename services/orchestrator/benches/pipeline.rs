//! `make bench`: the ingest pipeline against the local PostgreSQL and RabbitMQ, next to the
//! raw broker and raw insert rates so it reads as a fraction of both. Prints numbers; asserts
//! nothing.
//!
//! Sizes: `BENCH_LOGS` (default 20000), `BENCH_RATES` (default `100,1000,5000` logs/s, paced),
//! `BENCH_SECONDS` (per rate, default 10); `BENCH_LONG=1` raises the defaults to 100000 logs and
//! 30 s per rate. Writes `results.md` and `latency.svg` to
//! `target/bench/` (or `BENCH_OUT`).

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

#[path = "support/report.rs"]
mod report;
use report::{LatencyPoint, RssSampler};

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
    // `BENCH_LONG=1`: larger defaults for a steadier figure (a few minutes more).
    let long = std::env::var_os("BENCH_LONG").is_some();
    let n = env_or("BENCH_LOGS", if long { 100_000 } else { 20_000 });
    let rates: Vec<usize> = std::env::var("BENCH_RATES")
        .unwrap_or_else(|_| "100,1000,5000".into())
        .split(',')
        .filter_map(|r| r.trim().parse().ok())
        .collect();
    let seconds = env_or("BENCH_SECONDS", if long { 30 } else { 10 });
    println!(
        "runbooks ingest benchmark: {n} logs, latency at {rates:?} logs/s for {seconds}s each"
    );
    let rss = RssSampler::start();
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
    rss.reset();
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

    // 4. Latency at fixed rates: 20 logs a second are failures of a new job, each opening an
    // incident; measure publish → `incident.detected` seen on the bus (through the outbox).
    let mut tap = tb2.tap("logs.events", &["incident.detected"]).await;
    let mut points = Vec::new();
    let mut event_arrivals: Vec<(uuid::Uuid, chrono::DateTime<Utc>)> = Vec::new();
    let mut offset = 2 * n;
    for &fixed_rate in &rates {
        let (point, arrivals) = paced(&tb2.bus, &mut tap, fixed_rate, seconds, offset).await;
        offset += fixed_rate * seconds;
        event_arrivals.extend(arrivals);
        points.push(point);
    }
    let peak_rss = rss.peak_mib();
    // Outbox: the detecting transaction's row (`created_at` is that transaction's start, so
    // this is an upper bound of commit → publish) to the event arriving on the tap, which is
    // after the broker confirmed it to the relay.
    let mut outbox = Histogram::<u64>::new(3).unwrap();
    for chunk in event_arrivals.chunks(1000) {
        let ids: Vec<uuid::Uuid> = chunk.iter().map(|(id, _)| *id).collect();
        let created: Vec<(uuid::Uuid, chrono::DateTime<Utc>)> = sqlx::query_as(
            "SELECT event_id, created_at FROM outbox_events WHERE event_id = ANY($1)",
        )
        .bind(&ids)
        .fetch_all(db.pool())
        .await
        .unwrap();
        let created: HashMap<_, _> = created.into_iter().collect();
        for (id, at) in chunk {
            if let Some(c) = created.get(id) {
                let us = (*at - *c).num_microseconds().unwrap_or(0).max(0) as u64;
                outbox.record(us).unwrap();
            }
        }
    }
    stop.cancel();

    let mut t = String::new();
    let mut row = |m: &str, v: String, target: &str| {
        t.push_str(&format!("| {m} | {v} | {target} |\n"));
    };
    row(
        "raw broker publish = the Rust publisher's own rate (lapin, confirms, 256 in flight)",
        format!("{broker_pub:.0} msg/s"),
        "",
    );
    row(
        "raw broker consume (batches of 500, multi-ack)",
        format!("{broker_con:.0} msg/s"),
        "",
    );
    row(
        "raw batched insert (UNNEST, 500 rows/tx)",
        format!("{insert:.0} rows/s"),
        "",
    );
    row(
        "pipeline: queued logs stored (drain)",
        format!(
            "{drain:.0} logs/s ({:.2} of raw consume, {:.2} of raw insert)",
            drain / broker_con,
            drain / insert
        ),
        "≥ 0.8 of raw consume",
    );
    row(
        "pipeline: publish and store at once",
        format!(
            "{pipeline:.0} logs/s ({:.2} of raw publish, {:.2} of raw insert)",
            pipeline / broker_pub,
            pipeline / insert
        ),
        "",
    );
    for p in &points {
        row(
            &format!(
                "publish → incident.detected at {} logs/s (achieved {:.0}), p50 / p99 / p999",
                p.rate, p.achieved
            ),
            format!(
                "{:.1} / {:.1} / {:.1} ms ({} of {} incidents)",
                p.p50, p.p99, p.p999, p.samples, p.expected
            ),
            if p.rate == 1_000 { "p99 < 50 ms" } else { "" },
        );
    }
    row(
        "outbox row → event delivered (after confirm), p50 / p99",
        format!(
            "{:.1} / {:.1} ms ({} events)",
            outbox.value_at_quantile(0.5) as f64 / 1000.0,
            outbox.value_at_quantile(0.99) as f64 / 1000.0,
            outbox.len()
        ),
        "p99 < 25 ms",
    );
    row(
        "peak RSS of this process (orchestrator in-process + bench publisher/tap)",
        format!("{peak_rss:.1} MiB"),
        "< 40 MiB per service",
    );
    let table = format!("| measure | result | target |\n|---|---|---|\n{t}");
    println!();
    print!("{table}");
    let dir = report::out_dir();
    std::fs::write(dir.join("results.md"), &table).unwrap();
    std::fs::write(
        dir.join("latency.svg"),
        report::chart_svg(&points, "orchestrator: publish → incident.detected"),
    )
    .unwrap();
    println!("\nwrote {}/results.md and latency.svg", dir.display());
}

/// Publishes `rate` logs a second for `seconds`; 20 a second (at most every log) are failures
/// of a fresh job. Returns the latency point and the (event id, arrival) of each detection.
async fn paced(
    bus: &bus::Bus,
    tap: &mut testkit::Tap,
    rate: usize,
    seconds: usize,
    offset: usize,
) -> (LatencyPoint, Vec<(uuid::Uuid, chrono::DateTime<Utc>)>) {
    let total = rate * seconds;
    let every = (rate / 20).max(1);
    let sent_at: Arc<Mutex<HashMap<String, Instant>>> = Arc::default();
    let started = Instant::now();
    let sender = {
        let (bus, sent_at) = (bus.clone(), sent_at.clone());
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_secs(1) / rate as u32);
            for i in 0..total {
                tick.tick().await;
                let job = (i % every == 0).then(|| format!("lat-{}", offset + i));
                let env = Envelope::new("bench", log(offset + i, job.as_deref()));
                if let Some(j) = job {
                    sent_at.lock().await.insert(j, Instant::now());
                }
                let bus = bus.clone();
                tokio::spawn(async move { bus.publish(&env).await.expect("publish") });
            }
            started.elapsed()
        })
    };
    let mut hist = Histogram::<u64>::new(3).unwrap();
    let mut arrivals = Vec::new();
    let expected = total.div_ceil(every);
    let deadline = Instant::now() + Duration::from_secs(seconds as u64 + 30);
    while (hist.len() as usize) < expected && Instant::now() < deadline {
        if let Some(m) = tap.next(Duration::from_secs(5)).await {
            let now = Utc::now();
            let job = m.envelope.payload["incident"]["job_name"]
                .as_str()
                .unwrap_or_default()
                .to_string();
            if let Some(t0) = sent_at.lock().await.get(&job) {
                hist.record(t0.elapsed().as_micros() as u64).unwrap();
                arrivals.push((m.envelope.id, now));
            }
        }
    }
    let sent_in = sender.await.unwrap();
    let achieved = total as f64 / sent_in.as_secs_f64();
    let q = |x: f64| hist.value_at_quantile(x) as f64 / 1000.0;
    let point = LatencyPoint {
        rate,
        achieved,
        samples: hist.len(),
        expected,
        p50: q(0.5),
        p99: q(0.99),
        p999: q(0.999),
    };
    (point, arrivals)
}
