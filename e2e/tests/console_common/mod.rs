//! What the console tests share: a real orchestrator and health-monitor on one database
//! and bus namespace, people with their own tokens, and browser steps.
#![allow(dead_code)]

use std::collections::HashMap;
use std::path::PathBuf;
use std::time::Duration;

use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use testkit::browser::Browser;
use testkit::{TestBus, TestDb};
use tokio_util::sync::CancellationToken;

pub const ADMIN: &str = "t";
pub const PEOPLE: &[(&str, &str)] = &[
    ("otto", "operator+approver"),
    ("anna", "operator+approver"),
    ("vera", "viewer"),
];
pub const W: Duration = Duration::from_secs(20);

/// A person's token, in the shape `orchestrator token new` makes.
pub fn token(name: &str) -> String {
    format!("rbk_{}", hex::encode(Sha256::digest(name.as_bytes())))
}

pub struct Stack {
    pub db: TestDb,
    _tb: TestBus,
    pub orch: String,
    pub console: String,
    pub http: reqwest::Client,
    pub cancel: CancellationToken,
}

impl Drop for Stack {
    fn drop(&mut self) {
        self.cancel.cancel();
    }
}

pub async fn stack() -> Stack {
    testkit::init_tracing();
    let (db, tb) = (TestDb::new().await, TestBus::new().await);
    let mut tokens = vec![ADMIN.to_string()];
    for (name, roles) in PEOPLE {
        let hash = hex::encode(Sha256::digest(token(name).as_bytes()));
        tokens.push(format!("{name}:{roles}:{hash}"));
    }
    let env: HashMap<String, String> = [
        ("DATABASE_URL", db.url().to_string()),
        ("RABBITMQ_URL", tb.settings.url.clone()),
        ("RUNBOOKS__BUS__NAMESPACE", tb.namespace.clone()),
        ("RUNBOOKS__HTTP__HOST", "127.0.0.1".into()),
        ("RUNBOOKS__HTTP__PORT", "0".into()),
        ("RUNBOOKS__OUTBOX__POLL_INTERVAL_MS", "100".into()),
        ("RUNBOOKS__HEARTBEAT__INTERVAL_SECS", "1".into()),
        ("RUNBOOKS__API__TOKENS", tokens.join(",")),
        ("RUNBOOKS__CONSOLE__MAX_FAILED_LOGINS", "3".into()),
        ("RUNBOOKS__CONSOLE__REFRESH_SECS", "2".into()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    let cancel = CancellationToken::new();
    let (common, own) =
        runtime::load_with_env(orchestrator::settings::DEFAULTS, None, Some(env.clone())).unwrap();
    let orch = orchestrator::Application::build(orchestrator::Settings { common, own })
        .await
        .unwrap();
    let orch_url = format!("http://127.0.0.1:{}", orch.port());
    tokio::spawn(orch.run_until_stopped(cancel.clone()));
    let (common, own) =
        runtime::load_with_env(health_monitor::settings::DEFAULTS, None, Some(env)).unwrap();
    let hm = health_monitor::Application::build(health_monitor::settings::Settings { common, own })
        .await
        .unwrap();
    let console = format!("http://127.0.0.1:{}", hm.port());
    tokio::spawn(hm.run_until_stopped(cancel.clone()));
    Stack {
        db,
        _tb: tb,
        orch: orch_url,
        console,
        http: reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap(),
        cancel,
    }
}

impl Stack {
    pub async fn api(&self, who: &str, method: reqwest::Method, path: &str, body: Value) -> Value {
        let bearer = if who == "admin" {
            ADMIN.to_string()
        } else {
            token(who)
        };
        let r = self
            .http
            .request(method, format!("{}{path}", self.orch))
            .bearer_auth(bearer)
            .json(&body)
            .send()
            .await
            .unwrap();
        assert!(r.status().is_success(), "{path}: {}", r.status());
        r.json().await.unwrap()
    }

    pub async fn log(&self, message: &str, job: &str, build: i64) {
        let rec = json!({"timestamp": chrono::Utc::now().to_rfc3339(), "level": "error",
            "message": message, "job_name": job, "build_number": build,
            "source_id": uuid::Uuid::new_v4().to_string()});
        let r = self
            .api("admin", reqwest::Method::POST, "/mcp/logs/jenkins", rec)
            .await;
        assert_eq!(r["incidents_opened"], 1, "{r}");
    }
}

pub fn shots() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/ci-artifacts/console")
}

pub async fn log_in(b: &mut Browser, base: &str, who: &str) {
    b.goto(&format!("{base}/console")).await;
    b.wait_for("document.getElementById('login')", W).await;
    let js = format!(
        "document.getElementById('token').value = {}; document.getElementById('login-submit').click(); true",
        serde_json::to_string(&token(who)).unwrap()
    );
    b.eval(&js).await;
    b.wait_for(
        &format!("document.getElementById('principal') && document.getElementById('principal').textContent === '{who}'"),
        W,
    )
    .await;
}

/// Clicks the first element matching `selector` and waits for the page after it.
pub async fn click(b: &mut Browser, selector: &str, then: &str) {
    let js = format!(
        "(function(){{ var e = document.querySelector({}); if (!e) return false; e.click(); return true; }})()",
        serde_json::to_string(selector).unwrap()
    );
    assert_eq!(
        b.eval(&js).await,
        Value::Bool(true),
        "nothing matches {selector}"
    );
    b.wait_for(then, W).await;
}
