//! What the runner's acceptance tests share: a database, a bus namespace and a fake Jenkins
//! per test; action rows inserted the way the orchestrator inserts them; requests published
//! as the orchestrator's relay publishes them; runner `Application`s on port 0; and a tap on
//! `logs.events` collecting the runner's `action.*` results.

#![allow(dead_code)]

use std::collections::HashMap;
use std::time::Duration;

use bus::Message;
use chrono::{DateTime, Utc};
use domain::action::ActionSummary;
use domain::events::{ActionApproved, ActionRequested};
use domain::names::exchange;
use domain::{ActionStatus, ActionType, Channel, Envelope, Event};
use runner::{Application, RunnerError, Settings};
use runtime::ServiceSettings;
use serde_json::{Value, json};
use testkit::jenkins::{Endpoint, FakeJenkins, FakeJenkinsConfig, RecordedCall};
use testkit::{Tap, TestBus, TestDb};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

pub const WAIT: Duration = Duration::from_secs(15);

pub const RESULT_KINDS: [&str; 4] = [
    "action.started",
    "action.completed",
    "action.failed",
    "action.rejected",
];

/// An action as the orchestrator would insert it.
#[derive(Debug, Clone)]
pub struct NewAction {
    pub action_type: ActionType,
    pub job: String,
    pub build: Option<i64>,
    pub params: Value,
    pub requires_approval: bool,
}

impl NewAction {
    pub fn restart(job: &str, build: i64) -> Self {
        Self::new(ActionType::Restart, job, Some(build))
    }

    pub fn rollback(job: &str, build: Option<i64>) -> Self {
        Self::new(ActionType::Rollback, job, build)
    }

    pub fn stop(job: &str, build: i64) -> Self {
        Self::new(ActionType::Stop, job, Some(build))
    }

    pub fn new(action_type: ActionType, job: &str, build: Option<i64>) -> Self {
        NewAction {
            action_type,
            job: job.into(),
            build,
            params: json!({}),
            requires_approval: false,
        }
    }

    pub fn params(mut self, params: Value) -> Self {
        self.params = params;
        self
    }

    pub fn needing_approval(mut self) -> Self {
        self.requires_approval = true;
        self
    }
}

/// The columns a test looks at.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Row {
    pub status: String,
    pub claimed_by: Option<String>,
    pub dry_run: Option<bool>,
    pub result: Option<Value>,
    pub error: Option<String>,
    pub reason: Option<String>,
    pub rejection_reason: Option<String>,
    pub error_kind: Option<String>,
    pub jenkins_queue_id: Option<i64>,
    pub rejected_by: Option<String>,
    pub started_at: Option<DateTime<Utc>>,
    pub completed_at: Option<DateTime<Utc>>,
    pub lease_expires_at: Option<DateTime<Utc>>,
}

pub struct RunningRunner {
    pub instance_id: String,
    pub port: u16,
    cancel: CancellationToken,
    handle: JoinHandle<Result<(), RunnerError>>,
}

impl RunningRunner {
    /// SIGTERM, in effect: stop taking requests, finish the ones in hand, exit.
    pub async fn stop(self) {
        self.cancel.cancel();
        tokio::time::timeout(WAIT, self.handle)
            .await
            .expect("runner stops in time")
            .expect("runner task")
            .expect("runner stops cleanly");
    }

    pub async fn metrics(&self) -> String {
        reqwest::get(format!("http://127.0.0.1:{}/metrics", self.port))
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    }
}

pub struct Harness {
    pub db: TestDb,
    pub tb: TestBus,
    pub jenkins: FakeJenkins,
    pub events: Events,
    pub runners: Vec<RunningRunner>,
}

impl Harness {
    pub async fn new() -> Harness {
        Self::with_jenkins(FakeJenkinsConfig {
            csrf: true,
            ..FakeJenkinsConfig::default()
        })
        .await
    }

    pub async fn with_jenkins(config: FakeJenkinsConfig) -> Harness {
        testkit::init_tracing();
        let (db, tb, jenkins) =
            tokio::join!(TestDb::new(), TestBus::new(), FakeJenkins::start(config));
        let events = Events {
            tap: tb.tap(exchange::EVENTS, &RESULT_KINDS).await,
            seen: Vec::new(),
        };
        Harness {
            db,
            tb,
            jenkins,
            events,
            runners: Vec::new(),
        }
    }

    /// Settings loaded through the real loader from the environment a deployment would
    /// set, pointed at this test's database, namespace and fake Jenkins, with short timings.
    pub fn settings(&self) -> Settings {
        let env: HashMap<String, String> = [
            ("DATABASE_URL", self.db.url().to_string()),
            ("RABBITMQ_URL", self.tb.settings.url.clone()),
            ("JENKINS_URL", self.jenkins.url()),
            ("RUNBOOKS__BUS__NAMESPACE", self.tb.namespace.clone()),
            ("RUNBOOKS__BUS__RETRY_DELAY_MS", "10".into()),
            ("RUNBOOKS__HTTP__HOST", "127.0.0.1".into()),
            ("RUNBOOKS__HTTP__PORT", "0".into()),
            ("RUNBOOKS__OUTBOX__POLL_INTERVAL_MS", "50".into()),
            ("RUNBOOKS__SHUTDOWN__GRACE_SECS", "10".into()),
            ("RUNBOOKS__RUNNER__LEASE_SECS", "2".into()),
            ("RUNBOOKS__RUNNER__REAPER_INTERVAL_SECS", "1".into()),
            ("RUNBOOKS__GUARD__ALLOWED_JOBS", "**".into()),
            ("RUNBOOKS__GUARD__WAIT_POLL_MS", "50".into()),
            ("RUNBOOKS__GUARD__COOLDOWN_WINDOW_MINS", "0".into()),
            ("RUNBOOKS__JENKINS__POLL_INTERVAL_MS", "10".into()),
            ("RUNBOOKS__JENKINS__REQUEST_TIMEOUT_MS", "2000".into()),
            ("RUNBOOKS__JENKINS__QUEUE_TIMEOUT_SECS", "5".into()),
            ("RUNBOOKS__JENKINS__WAIT_TIMEOUT_SECS", "10".into()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();
        Settings::load_with_env(None, Some(env)).expect("test settings")
    }

    /// Starts a runner with the test settings changed by `tweak`.
    pub async fn start_runner(&mut self, tweak: impl FnOnce(&mut Settings)) -> &RunningRunner {
        let mut settings = self.settings();
        tweak(&mut settings);
        let app = Application::build(settings).await.expect("runner builds");
        let cancel = CancellationToken::new();
        let runner = RunningRunner {
            instance_id: app.instance_id().to_string(),
            port: app.port(),
            cancel: cancel.clone(),
            handle: tokio::spawn(app.run_until_stopped(cancel)),
        };
        self.runners.push(runner);
        self.runners.last().unwrap()
    }

    /// SIGTERM to the runner started `index`-th; returns once it exited.
    pub async fn stop_runner(&mut self, index: usize) {
        self.runners.remove(index).stop().await;
    }

    /// Stops every runner, as a deployment's SIGTERM would.
    pub async fn stop(&mut self) {
        for r in self.runners.drain(..) {
            r.stop().await;
        }
    }

    /// Inserts an action the way the orchestrator does and returns its summary.
    pub async fn insert(&self, a: NewAction) -> ActionSummary {
        let status = if a.requires_approval {
            ActionStatus::PendingApproval
        } else {
            ActionStatus::Requested
        };
        let (id, created_at): (i64, DateTime<Utc>) = sqlx::query_as(
            "INSERT INTO action_executions
                 (action_type, status, target_job, target_build, requested_by, channel,
                  requires_approval, params, reason)
             VALUES ($1, $2, $3, $4, 'alice', 'api', $5, $6, 'test request')
             RETURNING id, created_at",
        )
        .bind(a.action_type.as_str())
        .bind(status.as_str())
        .bind(&a.job)
        .bind(a.build)
        .bind(a.requires_approval)
        .bind(&a.params)
        .fetch_one(self.db.pool())
        .await
        .expect("action row");
        ActionSummary {
            id,
            action_type: a.action_type,
            status,
            target_job: a.job,
            target_build: a.build,
            incident_id: None,
            requested_by: "alice".into(),
            channel: Channel::Api,
            requires_approval: a.requires_approval,
            approvals_required: u32::from(a.requires_approval),
            requested_via: None,
            params: Some(a.params),
            reason: Some("test request".into()),
            created_at,
        }
    }

    pub fn requested(action: &ActionSummary) -> Envelope<Event> {
        Envelope::new(
            "orchestrator",
            Event::ActionRequested(ActionRequested {
                action: action.clone(),
            }),
        )
    }

    pub async fn publish(&self, env: &Envelope<Event>) {
        self.tb.bus.publish(env).await.expect("published");
    }

    /// Inserts an action and publishes its `action.requested`.
    pub async fn request(&self, a: NewAction) -> ActionSummary {
        let action = self.insert(a).await;
        self.publish(&Self::requested(&action)).await;
        action
    }

    /// Approves the row as the orchestrator does, then publishes `action.approved`.
    pub async fn approve(&self, action: &ActionSummary) {
        let approved_at: DateTime<Utc> = sqlx::query_scalar(
            "UPDATE action_executions
             SET status = 'approved', approved_by = 'bob', approved_at = now(), updated_at = now()
             WHERE id = $1 AND status = 'pending_approval'
             RETURNING approved_at",
        )
        .bind(action.id)
        .fetch_one(self.db.pool())
        .await
        .expect("approved");
        let mut summary = action.clone();
        summary.status = ActionStatus::Approved;
        let env = Envelope::new(
            "orchestrator",
            Event::ActionApproved(ActionApproved {
                action: summary,
                approved_by: "bob".into(),
                approved_at,
            }),
        );
        self.publish(&env).await;
    }

    pub async fn row(&self, id: i64) -> Row {
        sqlx::query_as(
            "SELECT status, claimed_by, dry_run, result, error, reason, rejection_reason,
                    error_kind, jenkins_queue_id, rejected_by, started_at, completed_at,
                    lease_expires_at
             FROM action_executions WHERE id = $1",
        )
        .bind(id)
        .fetch_one(self.db.pool())
        .await
        .expect("action row")
    }

    /// Waits until the row reaches `status` and returns it.
    pub async fn wait_status(&self, id: i64, status: &str) -> Row {
        let what = format!("action {id} to be {status}");
        testkit::wait_for(&what, WAIT, || async {
            let row = self.row(id).await;
            (row.status == status).then_some(row)
        })
        .await
    }

    /// Jenkins calls that belong to actions (health pings of `/api/json` left out), as
    /// `METHOD path`, consecutive repeats (queue polls) collapsed.
    pub fn action_calls(&self) -> Vec<String> {
        let mut out: Vec<String> = action_calls(&self.jenkins)
            .iter()
            .map(|c| format!("{} {}", c.method, c.path))
            .collect();
        out.dedup();
        out
    }
}

pub fn action_calls(jenkins: &FakeJenkins) -> Vec<RecordedCall> {
    jenkins
        .calls()
        .into_iter()
        .filter(|c| c.endpoint != Endpoint::Root)
        .collect()
}

/// The runner's results seen on `logs.events`, kept so that waiting for one event does not
/// lose the others.
pub struct Events {
    tap: Tap,
    seen: Vec<Message<Value>>,
}

fn action_id(m: &Message<Value>) -> Option<i64> {
    m.envelope.payload["action"]["action_id"].as_i64()
}

impl Events {
    /// Waits for the `kind` event of action `id`.
    pub async fn expect(&mut self, kind: &str, id: i64) -> Message<Value> {
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            if let Some(m) = self
                .seen
                .iter()
                .find(|m| m.envelope.kind == kind && action_id(m) == Some(id))
            {
                return m.clone();
            }
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            match self.tap.next(left).await {
                Some(m) => self.seen.push(m),
                None => panic!(
                    "no `{kind}` for action {id} within {WAIT:?}; seen: {:?}",
                    self.kinds()
                ),
            }
        }
    }

    /// Collects what arrives within `window`, then returns the kinds seen for action `id`.
    pub async fn settle(&mut self, window: Duration, id: i64) -> Vec<String> {
        let more = self.tap.drain(window).await;
        self.seen.extend(more);
        self.seen
            .iter()
            .filter(|m| action_id(m) == Some(id))
            .map(|m| m.envelope.kind.clone())
            .collect()
    }

    /// `(kind, action id)` of everything seen so far.
    pub fn kinds(&self) -> Vec<(String, Option<i64>)> {
        self.seen
            .iter()
            .map(|m| (m.envelope.kind.clone(), action_id(m)))
            .collect()
    }

    /// Every event of `kind` seen so far.
    pub fn all(&self, kind: &str) -> Vec<Message<Value>> {
        self.seen
            .iter()
            .filter(|m| m.envelope.kind == kind)
            .cloned()
            .collect()
    }
}
