//! The verdict, from records the services do not keep themselves: the fake Jenkins' and fake
//! Slack's call logs, the broker's queues (dead letters read back with their reasons) and the
//! database rows, checked against what the workload is known to contain.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use bus::Bus;
use domain::names::QUEUES;
use sqlx::PgPool;
use testkit::jenkins::FakeJenkins;
use testkit::slack::FakeSlack;

use crate::fleet::Fleet;
use crate::infra::OwnRabbit;
use crate::inject::Observed;
use crate::load::{self, Workload};

/// Where incidents are posted.
pub const CHANNEL: &str = "#incidents";

/// Outcomes of a restart that say nothing reached Jenkins.
const NOTHING_RAN: [&str; 4] = [
    "runner_lost",
    "not_triggered",
    "lease_unconfirmed",
    "runner_stopped",
];

pub struct Records<'a> {
    pub pool: &'a PgPool,
    pub jenkins: &'a FakeJenkins,
    pub slack: &'a FakeSlack,
    pub rabbit: &'a OwnRabbit,
    pub bus: &'a Bus,
    pub work: &'a Workload,
}

/// Every job with an expected incident, and the incident's fingerprint and occurrences.
fn expected_incidents() -> Vec<(String, String, i64)> {
    let restarts = (0..load::RESTARTS).map(|i| {
        let job = load::restart_job(i);
        (job.clone(), format!("jenkins_build_failure:{job}"), 1)
    });
    let counted = (0..load::COUNTED).map(|i| {
        let job = load::counted_job(i);
        let fp = format!("jenkins_out_of_resources:{job}");
        (job, fp, load::occurrences(i))
    });
    restarts.chain(counted).collect()
}

impl Records<'_> {
    async fn count(&self, sql: &str) -> i64 {
        sqlx::query_scalar(sql)
            .fetch_one(self.pool)
            .await
            .unwrap_or(-1)
    }

    /// Accepted parent messages (not thread replies) naming each job.
    fn slack_parents(&self) -> BTreeMap<String, usize> {
        let parents: Vec<String> = self
            .slack
            .ok_calls("chat.postMessage")
            .into_iter()
            .filter(|c| c.thread_ts.is_none())
            .map(|c| c.all_text())
            .collect();
        expected_incidents()
            .into_iter()
            .map(|(job, _, _)| {
                let n = parents.iter().filter(|t| t.contains(&job)).count();
                (job, n)
            })
            .collect()
    }

    /// Waits until the pipeline is quiet: every log stored, every incident open, no action
    /// in flight, the outbox drained, Slack caught up, the dead letters all there.
    pub async fn settle(&self, timeout: Duration) {
        let stored = "SELECT (SELECT count(*) FROM logs_jenkins) + (SELECT count(*) FROM logs_api)";
        let in_flight = "SELECT count(*) FROM action_executions
                         WHERE status IN ('requested', 'approved', 'running')";
        let pending = "SELECT count(*) FROM outbox_events WHERE status = 'pending'";
        let unresolved = "SELECT count(*) FROM action_executions a JOIN incidents i
                          ON i.id = a.incident_id
                          WHERE a.status = 'completed' AND i.status <> 'resolved'";
        let dlq = format!("{}.dlq", domain::names::queue::ORCHESTRATOR_LOGS);
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let logs = self.count(stored).await;
            let incidents = self.count("SELECT count(*) FROM incidents").await;
            let actions = self.count(in_flight).await;
            let outbox = self.count(pending).await + self.count(unresolved).await;
            let slack_missing = self.slack_parents().values().filter(|n| **n == 0).count();
            let dead = self.bus.queue_depth(&dlq).await.unwrap_or(0) as usize;
            let done = logs == self.work.valid as i64
                && incidents == expected_incidents().len() as i64
                && actions == 0
                && outbox == 0
                && slack_missing == 0
                && dead >= self.work.malformed.len();
            if done {
                return;
            }
            if tokio::time::Instant::now() >= deadline {
                panic!(
                    "not settled within {timeout:?}: {logs}/{} logs stored, {incidents} incidents, \
                     {actions} actions in flight, {outbox} outbox events pending or \
                     restarted incidents open, \
                     {slack_missing} incidents not in Slack, {dead}/{} dead letters",
                    self.work.valid,
                    self.work.malformed.len()
                );
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    }

    pub async fn assert_all(&self, fleet: &Fleet, seen: &Observed) {
        self.assert_logs().await;
        self.assert_incidents().await;
        self.assert_actions().await;
        self.assert_slack();
        self.assert_dead_letters().await;
        self.assert_queues_empty().await;
        let panics = fleet.panics();
        assert!(panics.is_empty(), "services panicked: {panics:#?}");
        for r in &fleet.replicas {
            println!("faults: {} SIGKILLed {} time(s)", r.name(), r.kills);
        }
        for (kind, _) in crate::fleet::REPLICAS {
            let kills: usize = fleet
                .replicas
                .iter()
                .filter(|r| r.kind == kind)
                .map(|r| r.kills)
                .sum();
            assert!(kills >= 1, "{kind} was never killed");
        }
        let missing: Vec<_> = seen.running.difference(&seen.not_ready).collect();
        assert!(
            missing.is_empty(),
            "/ready stayed 200 during an outage: {missing:?}"
        );
        println!(
            "faults: runners killed during a trigger POST: {}",
            if seen.trigger_kill_hit {
                "yes"
            } else {
                "no trigger was in flight"
            }
        );
    }

    async fn assert_logs(&self) {
        for (table, _) in [("logs_jenkins", ()), ("logs_api", ())] {
            let dup = self
                .count(&format!(
                    "SELECT count(*) - count(DISTINCT source_id) FROM {table}"
                ))
                .await;
            assert_eq!(dup, 0, "{table}: a log stored twice");
        }
        let stored = self
            .count("SELECT (SELECT count(*) FROM logs_jenkins) + (SELECT count(*) FROM logs_api)")
            .await;
        assert_eq!(
            stored, self.work.valid as i64,
            "every valid log stored once"
        );
        println!("faults: {stored} logs stored, each once");
    }

    async fn assert_incidents(&self) {
        let rows: Vec<(String, i64)> =
            sqlx::query_as("SELECT fingerprint, occurrences FROM incidents")
                .fetch_all(self.pool)
                .await
                .unwrap();
        let expected = expected_incidents();
        assert_eq!(rows.len(), expected.len(), "incidents: {rows:?}");
        for (_, fp, occurrences) in expected {
            let found: Vec<_> = rows.iter().filter(|(f, _)| *f == fp).collect();
            assert_eq!(found.len(), 1, "{fp}: {found:?}");
            assert_eq!(found[0].1, occurrences, "{fp}: occurrences");
        }
        println!(
            "faults: {} incidents, each once, with exact occurrence counts",
            rows.len()
        );
    }

    async fn assert_actions(&self) {
        type Row = (i64, String, String, Option<String>, Option<String>, String);
        let rows: Vec<Row> = sqlx::query_as(
            "SELECT a.id, a.target_job, a.status, a.error_kind, a.result->>'build_result',
                    i.status
             FROM action_executions a JOIN incidents i ON i.id = a.incident_id ORDER BY a.id",
        )
        .fetch_all(self.pool)
        .await
        .unwrap();
        assert_eq!(
            rows.len(),
            load::RESTARTS,
            "one restart per failing build: {rows:?}"
        );
        let triggers = self.jenkins.triggers();
        let mut outcomes: BTreeMap<String, usize> = BTreeMap::new();
        for i in 0..load::RESTARTS {
            let job = load::restart_job(i);
            let of_job: Vec<&Row> = rows.iter().filter(|r| r.1 == job).collect();
            assert_eq!(of_job.len(), 1, "{job}: {of_job:?}");
            let (id, _, status, kind, build_result, incident) = of_job[0];
            let sent: Vec<_> = triggers
                .iter()
                .filter(|t| t.job.as_deref() == Some(job.as_str()))
                .collect();
            let new_builds: Vec<_> = self
                .jenkins
                .builds(&job)
                .into_iter()
                .filter(|b| b.number != load::restart_build(i))
                .collect();
            let what = format!(
                "action {id} on {job}: {status} {kind:?}; triggers {sent:?}; builds {new_builds:?}"
            );
            assert!(sent.len() <= 1, "trigger sent twice: {what}");
            assert!(new_builds.len() <= 1, "two builds: {what}");
            match status.as_str() {
                "completed" => {
                    assert_eq!(new_builds.len(), 1, "{what}");
                    assert_eq!(new_builds[0].result.as_deref(), Some("SUCCESS"), "{what}");
                    assert_eq!(build_result.as_deref(), Some("SUCCESS"), "{what}");
                    assert_eq!(incident, "resolved", "{what}");
                }
                "failed" => {
                    let kind = kind.as_deref().unwrap_or("");
                    if NOTHING_RAN.contains(&kind) {
                        assert!(
                            new_builds.is_empty(),
                            "reported nothing ran, Jenkins ran it: {what}"
                        );
                    }
                    if kind == "build_failed" {
                        assert_ne!(
                            new_builds.first().and_then(|b| b.result.as_deref()),
                            Some("SUCCESS"),
                            "{what}"
                        );
                    }
                    assert_ne!(incident, "resolved", "{what}");
                }
                other => panic!("action left {other}: {what}"),
            }
            let key = format!(
                "{status}{}",
                kind.as_deref()
                    .map(|k| format!(" ({k})"))
                    .unwrap_or_default()
            );
            *outcomes.entry(key).or_default() += 1;
        }
        println!(
            "faults: restarts: {outcomes:?}; every one reached Jenkins at most once and says what Jenkins did"
        );
    }

    fn assert_slack(&self) {
        let parents = self.slack_parents();
        let wrong: Vec<_> = parents.iter().filter(|(_, n)| **n != 1).collect();
        assert!(
            wrong.is_empty(),
            "incidents not posted exactly once: {wrong:?}"
        );
        let failed = self.slack.calls().iter().filter(|c| !c.ok()).count();
        println!(
            "faults: every incident posted to Slack once ({failed} calls refused by the fake on the way)"
        );
    }

    async fn assert_dead_letters(&self) {
        let dlq = format!("{}.dlq", domain::names::queue::ORCHESTRATOR_LOGS);
        let mut ids = BTreeSet::new();
        let mut reasons: BTreeMap<&str, BTreeSet<String>> = BTreeMap::new();
        let mut copies = 0;
        while let Some(m) = self.bus.fetch(&dlq).await.expect("read the dead letters") {
            copies += 1;
            let id = m.properties.message_id.clone().unwrap_or_default();
            let why = self.work.malformed.get(&id).unwrap_or_else(|| {
                panic!("a valid message was dead-lettered: {id} {:?}", m.headers)
            });
            let reason = m
                .headers
                .get(bus::header::DEATH_REASON)
                .cloned()
                .unwrap_or_default();
            assert!(
                !reason.trim().is_empty(),
                "{id} ({why}) dead-lettered without a reason"
            );
            reasons
                .entry(why)
                .or_default()
                .insert(reason.chars().take(80).collect());
            ids.insert(id);
        }
        assert_eq!(
            ids.len(),
            self.work.malformed.len(),
            "every malformed message dead-lettered"
        );
        println!(
            "faults: {} malformed messages dead-lettered ({copies} copies: the publisher resent some)",
            ids.len()
        );
        for (why, rs) in reasons {
            println!(
                "faults:   {why}: {}",
                rs.into_iter().take(2).collect::<Vec<_>>().join(" | ")
            );
        }
        for q in QUEUES
            .iter()
            .filter(|q| q.name != domain::names::queue::ORCHESTRATOR_LOGS)
        {
            let dlq = format!("{}.dlq", q.name);
            assert_eq!(
                self.bus.queue_depth(&dlq).await.unwrap(),
                0,
                "{dlq} has dead letters"
            );
        }
    }

    /// Work queues drained and nothing unacknowledged (heartbeats keep flowing, so those are
    /// given a moment).
    async fn assert_queues_empty(&self) {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
        loop {
            let busy: Vec<_> = tokio::task::block_in_place(|| self.rabbit.queues())
                .into_iter()
                .filter(|(name, ready, unacked)| {
                    !name.starts_with("amq.") && (*ready > 0 || *unacked > 0)
                })
                .collect();
            if busy.is_empty() {
                println!("faults: every queue empty, nothing unacknowledged");
                return;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "queues not drained: {busy:?}"
            );
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    }
}
