//! A labelled set of 36 Jenkins failures for the similar-incident memory: which earlier
//! incidents are really the same failure as each one. Driven through the production
//! pipeline (logs on the bus → stored → detected), then scored: for every incident, the
//! earlier incidents the memory counts (and a post-mortem cites) against the labels.
//! Shared by the test `memory::the_labelled_set_scores` and `cargo bench --bench memory`.
//!
//! Every build ends with `Finished: FAILURE`, as Jenkins' do; most print the line that says
//! why before it, in a shape that varies (hosts, sizes, names, ids) between repeats.
//! Ground truth: two incidents are alike when their causes are the same class; an incident
//! whose build printed no cause is alike with the same job's earlier failures (all the
//! memory can know of it).

use std::time::Duration;

/// How long one step of the set may take.
const WAIT: Duration = Duration::from_secs(30);

use chrono::Utc;
use domain::{Envelope, JenkinsLog, Level, LogRecord};
use sqlx::PgPool;

/// One failed build: its job, its cause class (`None`: nothing but `Finished: FAILURE`) and
/// the line it printed.
pub struct Case {
    pub job: &'static str,
    pub cause: Option<&'static str>,
    pub line: String,
}

fn case(job: &'static str, cause: &'static str, line: String) -> Case {
    Case {
        job,
        cause: Some(cause),
        line,
    }
}

fn bare(job: &'static str) -> Case {
    Case {
        job,
        cause: None,
        line: String::new(),
    }
}

fn db(host: &str, port: u16, tries: u32) -> String {
    format!("could not connect to {host}:{port} after {tries} retries: connection refused")
}

fn oom(heap: &str) -> String {
    format!("java.lang.OutOfMemoryError: Java heap space (max heap {heap})")
}

fn npm404(pkg: &str) -> String {
    format!("npm ERR! 404 Not Found - GET https://registry.npmjs.org/{pkg} - Not found")
}

fn disk(job: &str) -> String {
    format!("java.io.IOException: No space left on device: /var/lib/jenkins/workspace/{job}/target")
}

fn tests(run: u32, failed: u32) -> String {
    format!("Tests run: {run}, Failures: {failed}, Errors: 0, Skipped: 2")
}

fn tls() -> String {
    "sun.security.validator.ValidatorException: PKIX path building failed: unable to find valid certification path to requested target".into()
}

fn pull(image: &str) -> String {
    format!(
        "Error response from daemon: pull access denied for {image}, repository does not exist or may require 'docker login'"
    )
}

fn agent(minutes: u32, label: &str) -> String {
    format!(
        "Timeout after {minutes} minutes waiting for an agent with label '{label}' to come online"
    )
}

/// The set, in the order the failures happen.
pub fn cases() -> Vec<Case> {
    vec![
        case("api-build", "db", db("10.0.0.5", 5432, 3)),
        case("web-build", "npm404", npm404("left-padd")),
        case("api-build", "tests", tests(412, 3)),
        case("etl-nightly", "oom", oom("2g")),
        bare("docs-build"),
        case("deploy-prod", "tls", tls()),
        case("web-build", "npm404", npm404("@acme/ui-kit")),
        case("api-build", "db", db("10.0.0.6", 6432, 5)),
        case("etl-nightly", "disk", disk("etl-nightly")),
        case("image-build", "pull", pull("acme/base-jdk")),
        case("report-build", "agent", agent(15, "linux-large")),
        case("etl-nightly", "oom", oom("4g")),
        bare("docs-build"),
        case("deploy-staging", "tls", tls()),
        case("web-build", "tests", tests(88, 1)),
        case("billing-build", "db", db("db.billing.internal", 5432, 10)),
        case("image-build", "disk", disk("image-build")),
        case("report-build", "oom", oom("1g")),
        case("api-build", "tests", tests(415, 7)),
        case("deploy-prod", "pull", pull("acme/api")),
        bare("billing-build"),
        case("web-build", "npm404", npm404("eslint-config-acme")),
        case("report-build", "agent", agent(30, "windows")),
        case("etl-nightly", "db", db("10.0.3.1", 5432, 3)),
        case("image-build", "pull", pull("acme/worker")),
        case("docs-build", "disk", disk("docs-build")),
        case("billing-build", "tests", tests(51, 2)),
        case("deploy-staging", "db", db("10.9.0.2", 5432, 1)),
        case("etl-nightly", "oom", oom("8g")),
        case("api-build", "tls", tls()),
        case("web-build", "agent", agent(10, "linux-small")),
        bare("api-build"),
        case("report-build", "disk", disk("report-build")),
        case("deploy-prod", "db", db("10.0.0.5", 5432, 3)),
        case("image-build", "oom", oom("2g")),
        case("billing-build", "npm404", npm404("stripe-mock")),
    ]
}

/// Whether `a` and an earlier `b` are the same failure by the labels.
pub fn alike(a: &Case, b: &Case) -> bool {
    match (a.cause, b.cause) {
        (Some(x), Some(y)) => x == y,
        _ => a.job == b.job,
    }
}

/// How the memory did: pairs (incident, earlier incident) it counted, those that are alike
/// by the labels, and those it should have counted.
#[derive(Debug, Default, Clone, Copy)]
pub struct Score {
    pub incidents: usize,
    pub predicted: usize,
    pub correct: usize,
    pub expected: usize,
    /// Incidents the memory said were seen before when nothing alike had happened.
    pub false_memories: usize,
}

impl Score {
    pub fn precision(&self) -> f64 {
        if self.predicted == 0 {
            1.0
        } else {
            self.correct as f64 / self.predicted as f64
        }
    }

    pub fn recall(&self) -> f64 {
        if self.expected == 0 {
            1.0
        } else {
            self.correct as f64 / self.expected as f64
        }
    }
}

fn log(level: Level, message: &str, job: &str, build: i64) -> LogRecord {
    LogRecord::Jenkins(JenkinsLog {
        timestamp: Utc::now(),
        level,
        message: message.into(),
        job_name: Some(job.into()),
        build_number: Some(build),
        details: None,
        source_id: Some(uuid::Uuid::now_v7().to_string()),
    })
}

async fn count(pool: &PgPool, sql: &str, job: &str, build: i64) -> i64 {
    sqlx::query_scalar(sql)
        .bind(job)
        .bind(build)
        .fetch_one(pool)
        .await
        .unwrap()
}

/// Plays the set through a running orchestrator (its bus and database) and scores the
/// memory at `threshold` (the orchestrator's `incidents.similarity_threshold`).
pub async fn run(bus: &bus::Bus, pool: &PgPool, threshold: f32) -> Score {
    let set = cases();
    let mut ids: Vec<i64> = Vec::new();
    let mut builds: std::collections::HashMap<&str, i64> = Default::default();
    for c in &set {
        let build = builds.entry(c.job).or_insert(0);
        *build += 2;
        let b = *build;
        if c.cause.is_some() {
            let rec = log(Level::Error, &c.line, c.job, b);
            bus.publish(&Envelope::new("memory-set", rec))
                .await
                .unwrap();
            // The cause is stored before the result line, as a build prints it.
            testkit::wait_until("the cause line", WAIT, || async {
                count(
                    pool,
                    "SELECT count(*) FROM logs_jenkins WHERE job_name = $1 AND build_number = $2",
                    c.job,
                    b,
                )
                .await
                    == 1
            })
            .await;
        }
        let fin = log(Level::Error, "Finished: FAILURE", c.job, b);
        bus.publish(&Envelope::new("memory-set", fin))
            .await
            .unwrap();
        // Both lines stored (so detected) before the incident is looked at.
        let lines = if c.cause.is_some() { 2 } else { 1 };
        testkit::wait_until("the result line", WAIT, || async {
            count(
                pool,
                "SELECT count(*) FROM logs_jenkins WHERE job_name = $1 AND build_number = $2",
                c.job,
                b,
            )
            .await
                == lines
        })
        .await;
        let open = "SELECT count(*) FROM incidents WHERE job_name = $1 AND build_number = $2";
        testkit::wait_until(&format!("the incident of {} #{b}", c.job), WAIT, || async {
            count(pool, open, c.job, b).await == 1
        })
        .await;
        let id: i64 = sqlx::query_scalar(
            "SELECT id FROM incidents WHERE job_name = $1 AND build_number = $2",
        )
        .bind(c.job)
        .bind(b)
        .fetch_one(pool)
        .await
        .unwrap();
        ids.push(id);
        // The next build succeeds: the recovery rule resolves the incident, so the job's
        // next failure opens a new one.
        let ok = log(Level::Info, "Finished: SUCCESS", c.job, b + 1);
        bus.publish(&Envelope::new("memory-set", ok)).await.unwrap();
        testkit::wait_until("the recovery", WAIT, || async {
            count(
                pool,
                "SELECT count(*) FROM incidents
                 WHERE job_name = $1 AND build_number = $2 AND status = 'resolved'",
                c.job,
                b,
            )
            .await
                == 1
        })
        .await;
    }
    score_ids(pool, &ids, threshold).await
}

/// The set's incidents (played by [`run`] on this database) scored again at `threshold`.
#[allow(dead_code)] // used by the benchmark only
pub async fn score(pool: &PgPool, threshold: f32) -> Score {
    let ids: Vec<i64> = sqlx::query_scalar("SELECT id FROM incidents ORDER BY id")
        .fetch_all(pool)
        .await
        .unwrap();
    score_ids(pool, &ids, threshold).await
}

async fn score_ids(pool: &PgPool, ids: &[i64], threshold: f32) -> Score {
    let set = cases();
    assert_eq!(ids.len(), set.len(), "one incident per case");
    let mut conn = pool.acquire().await.unwrap();
    let mut score = Score {
        incidents: set.len(),
        ..Score::default()
    };
    for (i, c) in set.iter().enumerate() {
        let subject = orchestrator::repo::similar::subject(&mut *conn, ids[i])
            .await
            .unwrap()
            .unwrap();
        let found = orchestrator::repo::similar::similar(&mut conn, &subject, threshold, 100)
            .await
            .unwrap();
        let expected: Vec<usize> = (0..i).filter(|&j| alike(c, &set[j])).collect();
        score.expected += expected.len();
        score.predicted += found.len();
        for f in &found {
            let j = ids
                .iter()
                .position(|id| *id == f.incident.id)
                .expect("a set incident");
            assert!(j < i, "only earlier incidents are remembered");
            if expected.contains(&j) {
                score.correct += 1;
            }
        }
        if expected.is_empty() && !found.is_empty() {
            score.false_memories += 1;
        }
    }
    score
}
