//! Starts the chatops as in production against a test database, a bus namespace, the fake
//! Slack and the fake Ollama; builds events and signed Slack requests.

use std::collections::HashMap;
use std::time::Duration;

use chrono::{DateTime, Utc};
use domain::events::*;
use domain::incident::IncidentSummary;
use domain::{
    Envelope, IncidentStatus, JenkinsLog, Level, LogRecord, ResolutionMethod, Severity, Source,
};
use runtime::ServiceSettings;
use testkit::ollama::FakeOllama;
use testkit::slack::{FakeSlack, FakeSlackConfig};
use testkit::{TestBus, TestDb};
use tokio_util::sync::CancellationToken;

pub const T: Duration = Duration::from_secs(30);
pub const SECRET: &str = "test-signing-secret";

pub struct Harness {
    pub db: TestDb,
    pub tb: TestBus,
    pub slack: FakeSlack,
    pub ollama: FakeOllama,
    pub port: u16,
    pub http: reqwest::Client,
    cancel: CancellationToken,
}

impl Drop for Harness {
    fn drop(&mut self) {
        self.cancel.cancel();
    }
}

pub fn env_for(
    db: &TestDb,
    tb: &TestBus,
    slack: &FakeSlack,
    ollama: &FakeOllama,
    extra: &[(&str, &str)],
) -> HashMap<String, String> {
    let mut env: HashMap<String, String> = [
        ("DATABASE_URL", db.url().to_string()),
        ("RABBITMQ_URL", tb.settings.url.clone()),
        ("RUNBOOKS__BUS__NAMESPACE", tb.namespace.clone()),
        ("RUNBOOKS__HTTP__HOST", "127.0.0.1".into()),
        ("RUNBOOKS__HTTP__PORT", "0".into()),
        ("SLACK_BOT_TOKEN", slack.bot_token().to_string()),
        ("SLACK_API_URL", slack.api_url()),
        ("SLACK_SIGNING_SECRET", SECRET.into()),
        (
            "RUNBOOKS__SLACK__RESPONSE_URL_PREFIXES",
            slack.response_url_prefix(),
        ),
        ("OLLAMA_URL", ollama.url()),
        ("OLLAMA_MODEL", "llama3.2".into()),
        ("RUNBOOKS__NOTIFY__DEFAULT_CHANNEL", "#incidents".into()),
        ("RUNBOOKS__NOTIFY__HEALTH_CHANNEL", "#ops".into()),
        ("RUNBOOKS__NOTIFY__MIN_INTERVAL_MS", "100".into()),
        ("RUNBOOKS__NOTIFY__POLL_INTERVAL_MS", "50".into()),
        ("RUNBOOKS__NOTIFY__RETRY_BASE_MS", "100".into()),
        ("RUNBOOKS__NOTIFY__RETRY_MAX_MS", "400".into()),
        ("RUNBOOKS__GUARD__ALLOWED_JOBS", "deploy-*".into()),
        ("RUNBOOKS__BOT__COMMAND_TIMEOUT_MS", "8000".into()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    for (k, v) in extra {
        env.insert(k.to_string(), v.to_string());
    }
    env
}

impl Harness {
    pub async fn start(extra: &[(&str, &str)]) -> Harness {
        Self::start_with(FakeSlackConfig::default(), extra).await
    }

    pub async fn start_with(cfg: FakeSlackConfig, extra: &[(&str, &str)]) -> Harness {
        testkit::init_tracing();
        let (db, tb) = (TestDb::new().await, TestBus::new().await);
        let slack = FakeSlack::start(cfg).await;
        let ollama = FakeOllama::start("llama3.2").await;
        let env = env_for(&db, &tb, &slack, &ollama, extra);
        let settings = chatops::Settings::load_with_env(None, Some(env)).unwrap();
        let app = chatops::Application::build(settings).await.unwrap();
        let port = app.port();
        let cancel = CancellationToken::new();
        tokio::spawn(app.run_until_stopped(cancel.clone()));
        Harness {
            db,
            tb,
            slack,
            ollama,
            port,
            http: reqwest::Client::new(),
            cancel,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    pub async fn publish(&self, env: &Envelope<Event>) {
        self.tb.bus.publish(env).await.unwrap();
    }

    /// Posts `body` to `path` signed now with the test secret.
    pub async fn signed(&self, path: &str, content_type: &str, body: &str) -> reqwest::Response {
        let ts = Utc::now().timestamp();
        self.signed_at(path, content_type, body, ts, SECRET).await
    }

    pub async fn signed_at(
        &self,
        path: &str,
        content_type: &str,
        body: &str,
        ts: i64,
        secret: &str,
    ) -> reqwest::Response {
        self.http
            .post(self.url(path))
            .header("content-type", content_type)
            .header("x-slack-request-timestamp", ts.to_string())
            .header("x-slack-signature", testkit::slack::sign(secret, ts, body))
            .body(body.to_string())
            .send()
            .await
            .unwrap()
    }

    /// `/devops <text>` from `user`; the JSON answered at once.
    pub async fn slash(&self, user: &str, text: &str) -> serde_json::Value {
        let body = serde_urlencoded::to_string([
            ("command", "/devops"),
            ("text", text),
            ("user_id", user),
            ("channel_id", "C0OPS"),
            ("team_id", "T0FAKE"),
            ("response_url", &self.slack.response_url()),
            ("trigger_id", "1.2.3"),
        ])
        .unwrap();
        let res = self
            .signed(
                "/slack/commands",
                "application/x-www-form-urlencoded",
                &body,
            )
            .await;
        assert_eq!(res.status(), 200);
        res.json().await.unwrap()
    }

    /// An `app_mention` event from `user` in `C0OPS`.
    pub async fn mention(
        &self,
        event_id: &str,
        user: &str,
        ts: &str,
        text: &str,
    ) -> reqwest::Response {
        self.slack.add_user_message("C0OPS", ts, text);
        let body = Self::mention_body(event_id, user, ts, text);
        self.signed("/slack/events", "application/json", &body)
            .await
    }

    /// Slack's retry of a mention: the same event, signed again a second later.
    pub async fn mention_retry(
        &self,
        event_id: &str,
        user: &str,
        ts: &str,
        text: &str,
    ) -> reqwest::Response {
        let body = Self::mention_body(event_id, user, ts, text);
        let now = Utc::now().timestamp() + 1;
        self.http
            .post(self.url("/slack/events"))
            .header("content-type", "application/json")
            .header("x-slack-request-timestamp", now.to_string())
            .header(
                "x-slack-signature",
                testkit::slack::sign(SECRET, now, &body),
            )
            .header("x-slack-retry-num", "1")
            .header("x-slack-retry-reason", "http_timeout")
            .body(body)
            .send()
            .await
            .unwrap()
    }

    fn mention_body(event_id: &str, user: &str, ts: &str, text: &str) -> String {
        serde_json::json!({
            "type": "event_callback", "team_id": "T0FAKE", "api_app_id": "A0APP",
            "event_id": event_id, "event_time": Utc::now().timestamp(),
            "event": {"type": "app_mention", "user": user, "channel": "C0OPS", "ts": ts,
                      "text": format!("<@U0BOT> {text}"), "event_ts": ts}
        })
        .to_string()
    }

    /// The replies posted in the thread of `ts` (in order), as text.
    pub fn thread(&self, ts: &str) -> Vec<String> {
        self.slack
            .ok_calls("chat.postMessage")
            .into_iter()
            .filter(|c| c.thread_ts.as_deref() == Some(ts))
            .map(|c| c.all_text())
            .collect()
    }
}

pub fn summary(
    id: i64,
    severity: Severity,
    status: IncidentStatus,
    detected: DateTime<Utc>,
) -> IncidentSummary {
    IncidentSummary {
        id,
        fingerprint: format!("fp-{id}"),
        rule: "build-failed".into(),
        rules: Vec::new(),
        title: format!("Build failed: deploy-prod #{}", 40 + id),
        severity,
        status,
        source: Source::Jenkins,
        job_name: Some("deploy-prod".into()),
        build_number: Some(40 + id),
        service: None,
        path: None,
        runbook_url: Some("https://wiki.example.com/runbooks/build-failed".into()),
        occurrences: 1,
        detected_at: detected,
        last_seen_at: detected,
    }
}

pub fn detected(id: i64, severity: Severity, at: DateTime<Utc>) -> Envelope<Event> {
    Envelope::new(
        "orchestrator",
        Event::IncidentDetected(IncidentDetected {
            incident: summary(id, severity, IncidentStatus::Open, at),
            first_log: LogRecord::Jenkins(JenkinsLog {
                timestamp: at,
                level: Level::Error,
                message: "BUILD FAILED: tests did not compile <!channel>".into(),
                job_name: Some("deploy-prod".into()),
                build_number: Some(40 + id),
                details: None,
                source_id: Some(format!("doc-{id}")),
            }),
            action_id: None,
            memory: None,
        }),
    )
}

pub fn resolved(id: i64, severity: Severity, at: DateTime<Utc>, mttr: f64) -> Envelope<Event> {
    let resolved_at = at + chrono::Duration::milliseconds((mttr * 1000.0) as i64);
    Envelope::new(
        "orchestrator",
        Event::IncidentResolved(IncidentResolved {
            incident: summary(id, severity, IncidentStatus::Resolved, at),
            resolved_by: "slack:U0ALICE".into(),
            resolved_at,
            resolution_method: ResolutionMethod::Manual,
            mttr_seconds: mttr,
            action_id: None,
        }),
    )
}
