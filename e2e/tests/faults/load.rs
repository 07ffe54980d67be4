//! The workload: quiet logs with a known set of failures among them, and malformed messages,
//! shuffled by the seed and published as the listener would, each one retried until the
//! broker confirms it (the broker goes away during the run, so some are sent twice; the
//! pipeline must store them once).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use bus::{Bus, OutgoingMessage};
use domain::{ApiLog, Envelope, JenkinsLog, Level, LogRecord};
use rand::Rng;
use rand::seq::SliceRandom;

/// Failing builds on jobs the runner may restart: an incident and a restart each.
pub const RESTARTS: usize = 12;
/// Jobs running out of memory (no action): an incident each, with `1 + i % 5` occurrences.
pub const COUNTED: usize = 8;

pub fn restart_job(i: usize) -> String {
    format!("deploy-f-{i:02}")
}

pub fn restart_build(i: usize) -> i64 {
    100 + i as i64
}

pub fn counted_job(i: usize) -> String {
    format!("oom-c-{i:02}")
}

pub fn occurrences(i: usize) -> i64 {
    1 + (i % 5) as i64
}

/// What was published and what the pipeline must end with.
pub struct Workload {
    pub messages: Vec<OutgoingMessage>,
    /// Valid logs (each must be stored exactly once).
    pub valid: usize,
    /// message id → why it is malformed.
    pub malformed: BTreeMap<String, &'static str>,
}

fn jenkins(level: Level, message: String, job: String, build: i64, id: String) -> LogRecord {
    LogRecord::Jenkins(JenkinsLog {
        timestamp: chrono::Utc::now(),
        level,
        message,
        job_name: Some(job),
        build_number: Some(build),
        details: None,
        source_id: Some(id),
    })
}

fn quiet(n: usize) -> LogRecord {
    if n.is_multiple_of(2) {
        jenkins(
            Level::Info,
            format!("step {n} done"),
            "nightly".into(),
            n as i64 + 1,
            format!("quiet-{n}"),
        )
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
            source_id: Some(format!("quiet-{n}")),
        })
    }
}

fn log_message(log: LogRecord) -> OutgoingMessage {
    OutgoingMessage::from_envelope(&Envelope::new("listener", log))
}

/// A message the orchestrator must refuse (dead-letter, with a reason), and why.
fn malformed(n: usize) -> (OutgoingMessage, &'static str) {
    let raw = |body: &[u8]| {
        let mut m = log_message(quiet(0));
        m.message_id = uuid::Uuid::now_v7().to_string();
        m.body = body.to_vec();
        m
    };
    let bad_log = |build: i64, id: &str| {
        log_message(jenkins(
            Level::Info,
            "bad".into(),
            "nightly".into(),
            build,
            id.into(),
        ))
    };
    match n % 4 {
        0 => (raw(b"{not json"), "not json"),
        1 => (raw(br#"{"hello": 1}"#), "not an envelope"),
        2 => (
            bad_log(-4, &format!("negative-{n}")),
            "negative build number",
        ),
        _ => (bad_log(7, "   "), "blank source id"),
    }
}

impl Workload {
    pub fn new(total: usize, malformed_count: usize, rng: &mut impl Rng) -> Workload {
        let counted: usize = (0..COUNTED).map(|i| occurrences(i) as usize).sum();
        assert!(total > RESTARTS + counted, "RUNBOOKS_FAULTS_LOGS too small");
        let mut logs: Vec<LogRecord> = (0..RESTARTS)
            .map(|i| {
                jenkins(
                    Level::Error,
                    "BUILD FAILED: tests did not compile".into(),
                    restart_job(i),
                    restart_build(i),
                    format!("failure-{i}"),
                )
            })
            .collect();
        for i in 0..COUNTED {
            for k in 0..occurrences(i) {
                logs.push(jenkins(
                    Level::Error,
                    "java.lang.OutOfMemoryError: Java heap space".into(),
                    counted_job(i),
                    k + 1,
                    format!("oom-{i}-{k}"),
                ));
            }
        }
        let quiet_count = total - logs.len();
        logs.extend((0..quiet_count).map(quiet));
        let mut messages: Vec<OutgoingMessage> = logs.into_iter().map(log_message).collect();
        let mut bad = BTreeMap::new();
        for n in 0..malformed_count {
            let (m, why) = malformed(n);
            bad.insert(m.message_id.clone(), why);
            messages.push(m);
        }
        messages.shuffle(rng);
        Workload {
            messages,
            valid: total,
            malformed: bad,
        }
    }
}

/// Counters the publisher keeps.
#[derive(Default)]
pub struct Published {
    pub confirmed: AtomicUsize,
    /// Publishes that failed (no confirm, broker away) and were sent again.
    pub retried: AtomicUsize,
}

/// Publishes everything over about `spread`, in rounds of concurrent publishes that await
/// their confirms together; a publish without a confirm is sent again until confirmed.
pub async fn publish(
    bus: Bus,
    messages: Vec<OutgoingMessage>,
    spread: Duration,
    stats: Arc<Published>,
) {
    const ROUND: usize = 200;
    let rounds = messages.len().div_ceil(ROUND).max(1);
    let pause = spread / rounds as u32;
    for chunk in messages.chunks(ROUND) {
        let started = tokio::time::Instant::now();
        let sends = chunk.iter().map(|m| {
            let (bus, stats) = (bus.clone(), stats.clone());
            async move {
                while let Err(e) = bus.publish_message(m).await {
                    if stats.retried.fetch_add(1, Ordering::Relaxed) % 500 == 0 {
                        println!("faults: publish not confirmed ({e}); sending again");
                    }
                    tokio::time::sleep(Duration::from_millis(250)).await;
                }
                stats.confirmed.fetch_add(1, Ordering::Relaxed);
            }
        });
        futures_util::future::join_all(sends).await;
        tokio::time::sleep(pause.saturating_sub(started.elapsed())).await;
    }
}
