//! A running orchestrator against a test database and bus namespace.
#![allow(dead_code)]

use std::time::Duration;

use bus::OutgoingMessage;
use chrono::{DateTime, Utc};
use domain::{ApiLog, Envelope, JenkinsLog, Level, LogRecord};
use orchestrator::settings::{OrchestratorSections, Settings};
use orchestrator::{Application, Services};
use sqlx::PgPool;
use testkit::{Tap, TestBus, TestDb};
use tokio_util::sync::CancellationToken;

/// A bare token: a development admin.
pub const TOKEN: &str = "test-token";

/// Named test principals and their roles; each one's token is `tok-<name>`.
pub const PEOPLE: &[(&str, &str)] = &[
    ("vera", "viewer"),
    ("otto", "operator"),
    ("olga", "operator+approver"),
    ("anna", "approver"),
    ("abel", "approver"),
    ("ada", "admin"),
    ("nobody", ""),
];

/// The bearer token of one of [`PEOPLE`].
pub fn token_of(name: &str) -> String {
    format!("tok-{name}")
}

/// Slack users (acting through a trusted service on the bus) and their roles in the
/// tests' policy: the shipped policy plus these lines.
pub const SLACK_ROLES: &str = r#"
"slack:U_OPS" = ["operator"]
"slack:U_APP1" = ["approver"]
"slack:U_APP2" = ["approver"]
"slack-group:S_ONCALL" = ["operator", "approver"]
"oidc-group:sre" = ["operator", "approver"]
"oidc:viewer@example.com" = ["viewer"]
"#;

/// The tests' policy file: the shipped one with [`SLACK_ROLES`] added.
pub fn test_policy_file() -> std::path::PathBuf {
    let shipped = orchestrator::auth::DEFAULT_POLICY;
    let text = shipped.replacen("[roles]\n", &format!("[roles]\n{SLACK_ROLES}"), 1);
    assert_ne!(text, shipped, "the shipped policy has a [roles] table");
    let dir = std::env::temp_dir().join(format!("rb-policy-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("policy.toml");
    std::fs::write(&path, text).unwrap();
    path
}

fn token_entries() -> Vec<String> {
    let mut v = vec![TOKEN.to_string()];
    for (name, roles) in PEOPLE {
        let hash = orchestrator::auth::tokens::sha256(&token_of(name));
        v.push(format!("{name}:{roles}:{}", hex_of(&hash)));
    }
    v
}

fn hex_of(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}
pub const T: Duration = Duration::from_secs(15);

pub struct Orch {
    pub db: TestDb,
    pub tb: TestBus,
    pub services: Services,
    pub base: String,
    pub http: reqwest::Client,
    pub cancel: CancellationToken,
    pub settings: Settings,
}

pub fn settings(db: &TestDb, tb: &TestBus) -> Settings {
    let (mut common, mut own): (runtime::CommonSettings, OrchestratorSections) =
        runtime::load_with_env("", None, Some(Default::default())).unwrap();
    common.database = db.settings.clone();
    common.bus = tb.settings.clone();
    common.http.host = "127.0.0.1".into();
    common.http.port = 0;
    common.http.body_limit_bytes = 256 * 1024;
    common.outbox.poll_interval_ms = 100;
    common.shutdown.grace_secs = 5;
    own.api.tokens = token_entries().into_iter().map(Into::into).collect();
    own.policy.path = Some(test_policy_file());
    own.rules.reload_wait_ms = 500;
    own.ingest.batch_wait_ms = 50;
    own.incidents.update_interval_secs = 0;
    // No runner here unless a test brings one: fail fast into "commits unavailable".
    own.postmortem.changes_timeout_ms = 500;
    Settings { common, own }
}

impl Orch {
    pub async fn start() -> Orch {
        Self::start_with(|_| {}).await
    }

    pub async fn start_with(tweak: impl FnOnce(&mut Settings)) -> Orch {
        testkit::init_tracing();
        let (db, tb) = (TestDb::new().await, TestBus::new().await);
        let mut s = settings(&db, &tb);
        tweak(&mut s);
        let app = Application::build(s.clone())
            .await
            .expect("orchestrator starts");
        let base = format!("http://127.0.0.1:{}", app.port());
        let services = app.services().clone();
        let cancel = CancellationToken::new();
        tokio::spawn(app.run_until_stopped(cancel.clone()));
        Orch {
            db,
            tb,
            services,
            base,
            http: reqwest::Client::new(),
            cancel,
            settings: s,
        }
    }

    pub fn pool(&self) -> &PgPool {
        self.db.pool()
    }

    pub async fn events(&self) -> Tap {
        self.tb.tap(domain::names::exchange::EVENTS, &["#"]).await
    }

    pub async fn publish(&self, rec: LogRecord) -> Envelope<LogRecord> {
        let env = Envelope::new("tests", rec);
        self.tb.bus.publish(&env).await.unwrap();
        env
    }

    pub async fn republish(&self, env: &Envelope<LogRecord>) {
        self.tb
            .bus
            .publish_message(&OutgoingMessage::from_envelope(env))
            .await
            .unwrap();
    }

    pub async fn count(&self, sql: &str) -> i64 {
        sqlx::query_scalar(sql)
            .fetch_one(self.pool())
            .await
            .unwrap()
    }

    pub async fn wait_count(&self, sql: &str, n: i64) {
        let what = format!("`{sql}` = {n}");
        testkit::wait_until(&what, T, || async { self.count(sql).await == n }).await;
    }

    pub fn get(&self, path: &str) -> reqwest::RequestBuilder {
        self.http
            .get(format!("{}{path}", self.base))
            .bearer_auth(TOKEN)
    }

    pub fn post(&self, path: &str) -> reqwest::RequestBuilder {
        self.http
            .post(format!("{}{path}", self.base))
            .bearer_auth(TOKEN)
    }

    /// A request as one of [`PEOPLE`].
    pub fn as_(&self, who: &str, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        self.http
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(token_of(who))
    }
}

impl Drop for Orch {
    fn drop(&mut self) {
        self.cancel.cancel();
    }
}

pub fn ts(secs_ago: i64) -> DateTime<Utc> {
    Utc::now() - chrono::Duration::seconds(secs_ago)
}

pub fn jenkins(level: Level, message: &str, job: &str, build: i64) -> LogRecord {
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

pub fn api(status: u16, path: &str, latency: f64) -> LogRecord {
    LogRecord::Api(ApiLog {
        timestamp: Utc::now(),
        level: if status >= 500 {
            Level::Error
        } else {
            Level::Info
        },
        http_method: Some("GET".into()),
        http_status: status,
        path: Some(path.into()),
        latency_ms: Some(latency),
        service: Some("orders".into()),
        message: format!("GET {path} {status}"),
        details: None,
        source_id: Some(uuid::Uuid::now_v7().to_string()),
    })
}
