//! Webhooks and NDJSON ingest over HTTP: valid, invalid, unsigned and wrongly signed
//! requests and their exact answers; what reaches the bus.

use std::time::Duration;

use listener::http::github_signature;
use listener::settings::{Secret, Settings};
use serde_json::{Value, json};
use testkit::{Tap, TestBus, TestDb};

use crate::common::*;

pub(crate) struct Hooks {
    pub(crate) l: Listener,
    pub(crate) tap: Tap,
    http: reqwest::Client,
    _db: TestDb,
    _tb: TestBus,
}

pub(crate) async fn start(tweak: impl FnOnce(&mut Settings)) -> Hooks {
    testkit::init_tracing();
    let (db, tb) = (TestDb::new().await, TestBus::new().await);
    let es = fake_es().await;
    let mut s = settings(&db, &tb, &es);
    s.own.sources.jenkins.enabled = false;
    s.own.sources.api.enabled = false;
    s.common.http.body_limit_bytes = 64 * 1024;
    tweak(&mut s);
    let tap = logs_tap(&tb).await;
    let l = Listener::start(s).await;
    Hooks {
        l,
        tap,
        http: reqwest::Client::new(),
        _db: db,
        _tb: tb,
    }
}

impl Hooks {
    pub(crate) async fn post(
        &self,
        path: &str,
        headers: &[(&str, &str)],
        body: impl Into<reqwest::Body>,
    ) -> (u16, Value) {
        let mut req = self.http.post(self.l.url(path)).body(body);
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        let resp = req.send().await.unwrap();
        let status = resp.status().as_u16();
        (status, resp.json().await.unwrap_or(Value::Null))
    }

    pub(crate) fn requests(&self, endpoint: &str, outcome: &str) -> f64 {
        self.l.metric(
            "runbooks_listener_webhook_requests_total",
            &[("endpoint", endpoint), ("outcome", outcome)],
        )
    }
}

fn failed_build() -> Value {
    json!({"name": "deploy-prod", "url": "job/deploy-prod/",
        "build": {"number": 42, "phase": "COMPLETED", "status": "FAILURE",
            "full_url": "https://ci.example.com/job/deploy-prod/42/",
            "log": "[INFO] building\njava.lang.OutOfMemoryError: Java heap space\n"}})
}

#[tokio::test]
async fn jenkins_notifications_become_jenkins_records() {
    let mut h = start(|_| {}).await;
    let (status, body) = h
        .post("/webhooks/jenkins", &[], failed_build().to_string())
        .await;
    assert_eq!(
        (status, body),
        (202, json!({"status": "published", "published": 3}))
    );
    let msgs = h.tap.collect(3, T).await;
    let finished = msgs.last().unwrap();
    assert_eq!(finished.routing_key, "logs.jenkins.error");
    assert_eq!(finished.envelope.kind, "log.jenkins");
    let p = &finished.envelope.payload;
    assert_eq!(p["message"], "Finished: FAILURE");
    assert_eq!(p["job_name"], "deploy-prod");
    assert_eq!(p["build_number"], 42);
    assert_eq!(p["source_id"], "jenkins-webhook:deploy-prod#42:finished");
    assert_eq!(
        p["details"]["url"],
        "https://ci.example.com/job/deploy-prod/42/"
    );
    assert_eq!(
        msgs[1].envelope.payload["message"],
        "java.lang.OutOfMemoryError: Java heap space"
    );

    // Jenkins retries: the same source ids, harmless downstream.
    let (status, _) = h
        .post("/webhooks/jenkins", &[], failed_build().to_string())
        .await;
    assert_eq!(status, 202);
    let again = h.tap.collect(3, T).await;
    assert_eq!(
        again.last().unwrap().envelope.payload["source_id"],
        p["source_id"]
    );

    let ok = json!({"name": "deploy-prod", "build": {"number": 43, "phase": "FINALIZED", "status": "SUCCESS"}});
    assert_eq!(
        h.post("/webhooks/jenkins", &[], ok.to_string()).await.0,
        202
    );
    let m = h.tap.collect(1, T).await.remove(0);
    assert_eq!(m.routing_key, "logs.jenkins.info");
    assert_eq!(m.envelope.payload["message"], "Finished: SUCCESS");

    let queued = json!({"name": "deploy-prod", "build": {"number": 44, "phase": "QUEUED"}});
    assert_eq!(
        h.post("/webhooks/jenkins", &[], queued.to_string()).await,
        (
            202,
            json!({"status": "ignored", "reason": "phase QUEUED carries no outcome"})
        )
    );
    let (status, body) = h.post("/webhooks/jenkins", &[], "{not json").await;
    assert_eq!(status, 400);
    assert_eq!(body["error"], "bad_request");
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .starts_with("body is not JSON"),
        "{body}"
    );
    let no_number = json!({"name": "deploy-prod", "build": {"phase": "STARTED"}});
    assert_eq!(
        h.post("/webhooks/jenkins", &[], no_number.to_string())
            .await,
        (
            422,
            json!({"error": "unprocessable", "field": "build.number",
            "message": "`build.number` must be a non-negative integer"})
        )
    );
    assert!(
        h.tap.drain(Duration::from_millis(300)).await.is_empty(),
        "nothing from bad requests"
    );
    assert_eq!(h.requests("jenkins", "published"), 3.0);
    assert_eq!(h.requests("jenkins", "ignored"), 1.0);
    assert_eq!(h.requests("jenkins", "invalid"), 2.0);
    h.l.stop().await;
}

#[tokio::test]
async fn the_scm_of_a_notification_travels_in_details_and_bad_scm_is_refused() {
    let mut h = start(|_| {}).await;
    let mut body = failed_build();
    body["build"]["scm"] = json!({
        "url": "https://git.example.com/deploy.git", "branch": "origin/main",
        "commit": "9f8e7d6c5b4a", "changes": ["Jenkinsfile", "deploy/run.sh"],
        "culprits": ["Ann Lee"]
    });
    let (status, _) = h.post("/webhooks/jenkins", &[], body.to_string()).await;
    assert_eq!(status, 202);
    let msgs = h.tap.collect(3, T).await;
    for m in &msgs {
        assert_eq!(
            m.envelope.payload["details"]["scm"],
            json!({"url": "https://git.example.com/deploy.git", "branch": "origin/main",
                   "commit": "9f8e7d6c5b4a", "changes": ["Jenkinsfile", "deploy/run.sh"],
                   "culprits": ["Ann Lee"]}),
            "{}",
            m.envelope.payload["message"]
        );
    }

    body["build"]["scm"]["changes"] = json!("Jenkinsfile");
    assert_eq!(
        h.post("/webhooks/jenkins", &[], body.to_string()).await,
        (
            422,
            json!({"error": "unprocessable", "field": "build.scm.changes",
                   "message": "`build.scm.changes` must be a list of strings"})
        )
    );
    assert!(
        h.tap.drain(Duration::from_millis(300)).await.is_empty(),
        "nothing from a bad scm"
    );
    h.l.stop().await;
}

#[tokio::test]
async fn a_jenkins_secret_is_required_once_configured() {
    let mut h = start(|s| s.own.webhooks.jenkins_secret = Secret::new("hush")).await;
    let body = failed_build().to_string();
    let unauthorized =
        json!({"error": "unauthorized", "message": "missing or wrong X-Jenkins-Secret header"});
    assert_eq!(
        h.post("/webhooks/jenkins", &[], body.clone()).await,
        (401, unauthorized.clone())
    );
    assert_eq!(
        h.post(
            "/webhooks/jenkins",
            &[("X-Jenkins-Secret", "hush!")],
            body.clone()
        )
        .await,
        (401, unauthorized)
    );
    assert!(h.tap.drain(Duration::from_millis(200)).await.is_empty());
    let (status, _) = h
        .post("/webhooks/jenkins", &[("X-Jenkins-Secret", "hush")], body)
        .await;
    assert_eq!(status, 202);
    h.tap.collect(3, T).await;
    assert_eq!(h.requests("jenkins", "unauthorized"), 2.0);
    h.l.stop().await;
}

pub(crate) const GITHUB_SECRET: &str = "It's a Secret to Everybody";

fn run(conclusion: &str) -> String {
    json!({"action": "completed", "repository": {"full_name": "octo/shop"},
        "workflow_run": {"id": 987, "name": "CI", "run_number": 42, "run_attempt": 1,
            "conclusion": conclusion, "head_branch": "main", "head_sha": "abc123",
            "html_url": "https://github.com/octo/shop/actions/runs/987",
            "updated_at": "2026-11-29T10:00:00Z"}})
    .to_string()
}

#[tokio::test]
async fn github_deliveries_must_be_signed() {
    let mut h = start(|s| s.own.webhooks.github_secret = Secret::new(GITHUB_SECRET)).await;
    // GitHub's documented example: this secret, this payload, this signature.
    let documented = "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17";
    let ping = [
        ("X-GitHub-Event", "ping"),
        ("X-Hub-Signature-256", documented),
    ];
    assert_eq!(
        h.post("/webhooks/github", &ping, "Hello, World!").await,
        (202, json!({"status": "ignored", "reason": "ping"}))
    );
    let wrong =
        json!({"error": "unauthorized", "message": "X-Hub-Signature-256 does not match the body"});
    assert_eq!(
        h.post("/webhooks/github", &ping, "Hello, World?").await,
        (401, wrong.clone())
    );

    let body = run("failure");
    let sig = github_signature(GITHUB_SECRET.as_bytes(), body.as_bytes());
    let event = ("X-GitHub-Event", "workflow_run");
    assert_eq!(
        h.post("/webhooks/github", &[event], body.clone()).await,
        (
            401,
            json!({"error": "unauthorized", "message": "missing X-Hub-Signature-256 header"})
        )
    );
    let other = github_signature(b"another secret", body.as_bytes());
    assert_eq!(
        h.post(
            "/webhooks/github",
            &[event, ("X-Hub-Signature-256", &other)],
            body.clone()
        )
        .await,
        (401, wrong)
    );
    assert!(h.tap.drain(Duration::from_millis(200)).await.is_empty());

    let signed = [event, ("X-Hub-Signature-256", sig.as_str())];
    assert_eq!(
        h.post("/webhooks/github", &signed, body).await,
        (202, json!({"status": "published", "published": 1}))
    );
    let m = h.tap.collect(1, T).await.remove(0);
    assert_eq!(m.routing_key, "logs.jenkins.error");
    let p = &m.envelope.payload;
    assert_eq!(p["job_name"], "octo/shop/CI");
    assert_eq!(p["build_number"], 42);
    assert_eq!(
        p["message"],
        "GitHub Actions CI #42 on main: Finished: FAILURE"
    );
    assert_eq!(
        p["source_id"],
        "github:octo/shop/actions/runs/987/attempts/1"
    );

    let success = run("success");
    let sig = github_signature(GITHUB_SECRET.as_bytes(), success.as_bytes());
    h.post(
        "/webhooks/github",
        &[event, ("X-Hub-Signature-256", &sig)],
        success,
    )
    .await;
    let m = h.tap.collect(1, T).await.remove(0);
    assert_eq!(m.routing_key, "logs.jenkins.info");
    assert!(
        m.envelope.payload["message"]
            .as_str()
            .unwrap()
            .ends_with("Finished: SUCCESS")
    );

    let skipped = run("skipped");
    let sig = github_signature(GITHUB_SECRET.as_bytes(), skipped.as_bytes());
    assert_eq!(
        h.post(
            "/webhooks/github",
            &[event, ("X-Hub-Signature-256", &sig)],
            skipped
        )
        .await,
        (
            202,
            json!({"status": "ignored", "reason": "conclusion `skipped`"})
        )
    );
    let bad = json!({"action": "completed", "repository": {"full_name": "octo/shop"}}).to_string();
    let sig = github_signature(GITHUB_SECRET.as_bytes(), bad.as_bytes());
    let (status, body) = h
        .post(
            "/webhooks/github",
            &[event, ("X-Hub-Signature-256", &sig)],
            bad,
        )
        .await;
    assert_eq!(
        (status, body["field"].as_str()),
        (422, Some("workflow_run.name"))
    );
    assert!(h.tap.drain(Duration::from_millis(200)).await.is_empty());
    assert_eq!(h.requests("github", "unauthorized"), 3.0);
    h.l.stop().await;
}

#[tokio::test]
async fn github_without_a_secret_refuses_everything() {
    let h = start(|_| {}).await;
    let body = run("failure");
    assert_eq!(
        h.post(
            "/webhooks/github",
            &[("X-GitHub-Event", "workflow_run")],
            body
        )
        .await,
        (
            503,
            json!({"error": "not_configured",
            "message": "GitHub webhooks are off: set RUNBOOKS__WEBHOOKS__GITHUB_SECRET"})
        )
    );
    h.l.stop().await;
}

#[tokio::test]
async fn ndjson_ingest_publishes_valid_lines_and_names_the_rest() {
    let mut h = start(|s| s.own.ingest.token = Secret::new("ingest-token")).await;
    let auth = [("Authorization", "Bearer ingest-token")];
    let api = "{\"timestamp\":\"2026-11-29T10:00:00Z\",\"level\":\"ERROR\",\"http_method\":\"GET\",\"http_status\":503,\"path\":\"/orders\",\"latency_ms\":12.5,\"service\":\"orders\",\"message\":\"upstream down\",\"source_id\":\"gw-1\"}\n\
               {\"timestamp\":\"2026-11-29T10:00:01Z\",\"level\":\"info\",\"http_status\":200,\"source_id\":\"gw-2\"}\n";
    assert_eq!(
        h.post("/ingest/api", &[], api).await,
        (
            401,
            json!({"error": "unauthorized", "message": "missing or wrong bearer token (Authorization: Bearer ...)"})
        )
    );
    assert_eq!(
        h.post("/ingest/api", &auth, api).await,
        (202, json!({"published": 2, "rejected": []}))
    );
    let msgs = h.tap.collect(2, T).await;
    assert_eq!(msgs[0].routing_key, "logs.api.error");
    assert_eq!(msgs[0].envelope.kind, "log.api");
    assert_eq!(msgs[0].envelope.payload["source_id"], "gw-1");
    assert_eq!(msgs[1].routing_key, "logs.api.info");

    let mixed = "{\"timestamp\":\"2026-11-29T10:00:00Z\",\"level\":\"error\",\"message\":\"BUILD FAILED\",\"job_name\":\"a\"}\n\
                 {\"timestamp\":\"yesterday\",\"level\":\"error\",\"message\":\"x\"}\n\
                 \n\
                 {\"timestamp\":\"2026-11-29T10:00:00Z\",\"level\":\"error\",\"message\":\"x\",\"build_number\":-1}\n";
    let (status, body) = h.post("/ingest/jenkins", &auth, mixed).await;
    assert_eq!(status, 207, "{body}");
    assert_eq!(body["published"], 1);
    let rejected = body["rejected"].as_array().unwrap();
    assert_eq!(rejected.len(), 2);
    assert_eq!(rejected[0]["line"], 2);
    assert!(
        rejected[0]["error"].as_str().unwrap().contains("timestamp")
            || rejected[0]["error"].as_str().unwrap().contains("input"),
        "{body}"
    );
    assert_eq!(
        rejected[1],
        json!({"line": 4, "error": "build_number -1 is negative"})
    );
    let m = h.tap.collect(1, T).await.remove(0);
    assert_eq!(m.routing_key, "logs.jenkins.error");

    let (status, body) = h.post("/ingest/jenkins", &auth, "nope\n").await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(body["error"], "unprocessable");
    assert_eq!(body["published"], 0);
    assert_eq!(body["rejected"][0]["line"], 1);
    assert_eq!(
        h.post("/ingest/nginx", &auth, api).await,
        (
            404,
            json!({"error": "not_found", "message": "unknown log source `nginx` (expected jenkins or api)"})
        )
    );
    assert_eq!(
        h.post("/ingest/api", &auth, "\n\n").await,
        (
            400,
            json!({"error": "bad_request", "message": "empty body: expected one JSON log record per line (NDJSON)"})
        )
    );
    let big = api.repeat(64 * 1024 / api.len() + 1);
    assert_eq!(
        h.post("/ingest/api", &auth, big).await,
        (
            413,
            json!({"error": "payload_too_large", "message": "body larger than 65536 bytes"})
        )
    );
    assert!(h.tap.drain(Duration::from_millis(300)).await.is_empty());
    assert_eq!(h.requests("ingest", "published"), 1.0);
    assert_eq!(h.requests("ingest", "partial"), 1.0);
    assert_eq!(h.requests("ingest", "too_large"), 1.0);
    assert_eq!(
        h.l.metric(
            "runbooks_listener_documents_published_total",
            &[("path", "ingest")]
        ),
        3.0
    );
    h.l.stop().await;
}
