//! The operator console in a real browser, against a real orchestrator and health-monitor:
//! two people log in with their own tokens; the critical incident is on top; the requester
//! of a stop cannot approve it, a colleague can; acknowledging works; the post-mortem opens.
//! Screenshots go to `target/ci-artifacts/console/`. Also, without a browser: the headers,
//! cookies, CSRF and login limits the console promises.

use std::collections::HashMap;
use std::path::PathBuf;
use std::time::Duration;

use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use testkit::browser::Browser;
use testkit::{TestBus, TestDb};
use tokio_util::sync::CancellationToken;

const ADMIN: &str = "t";
const PEOPLE: &[(&str, &str)] = &[
    ("otto", "operator+approver"),
    ("anna", "operator+approver"),
    ("vera", "viewer"),
];
const W: Duration = Duration::from_secs(20);

/// A person's token, in the shape `orchestrator token new` makes.
fn token(name: &str) -> String {
    format!("rbk_{}", hex::encode(Sha256::digest(name.as_bytes())))
}

struct Stack {
    db: TestDb,
    _tb: TestBus,
    orch: String,
    console: String,
    http: reqwest::Client,
    cancel: CancellationToken,
}

impl Drop for Stack {
    fn drop(&mut self) {
        self.cancel.cancel();
    }
}

async fn stack() -> Stack {
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
    async fn api(&self, who: &str, method: reqwest::Method, path: &str, body: Value) -> Value {
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

    async fn log(&self, message: &str, job: &str, build: i64) {
        let rec = json!({"timestamp": chrono::Utc::now().to_rfc3339(), "level": "error",
            "message": message, "job_name": job, "build_number": build,
            "source_id": uuid::Uuid::new_v4().to_string()});
        let r = self
            .api("admin", reqwest::Method::POST, "/mcp/logs/jenkins", rec)
            .await;
        assert_eq!(r["incidents_opened"], 1, "{r}");
    }
}

fn shots() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/ci-artifacts/console")
}

async fn log_in(b: &mut Browser, base: &str, who: &str) {
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
async fn click(b: &mut Browser, selector: &str, then: &str) {
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

#[tokio::test]
async fn people_work_the_console_in_a_real_browser() {
    let s = stack().await;
    // A medium incident first, then a critical one: the critical one must lead anyway.
    s.log("Build timed out (after 30 minutes)", "nightly-report", 4)
        .await;
    s.log(
        "java.lang.OutOfMemoryError: Java heap space",
        "deploy-big",
        7,
    )
    .await;
    // otto asks to stop a build; the policy wants approvers other than him.
    let stop = s
        .api(
            "otto",
            reqwest::Method::POST,
            "/api/actions",
            json!({"action_type": "stop", "target_job": "nightly-report", "target_build": 4,
                   "reason": "runaway build"}),
        )
        .await;
    assert_eq!(stop["status"], "pending_approval", "{stop}");
    let stop_id = stop["id"].as_i64().unwrap();

    let dir = shots();
    let mut otto = Browser::launch().await;
    log_in(&mut otto, &s.console, "otto").await;
    otto.wait_for("document.querySelector('#incidents tbody tr')", W)
        .await;
    let order = otto
        .eval("Array.from(document.querySelectorAll('#incidents tbody tr')).map(r => r.dataset.severity)")
        .await;
    assert_eq!(
        order,
        json!(["critical", "medium"]),
        "the critical incident is on top"
    );
    let queued = otto
        .eval(&format!(
            "!!document.querySelector('#queue tr[data-action=\"{stop_id}\"]')"
        ))
        .await;
    assert_eq!(
        queued,
        Value::Bool(true),
        "the stop waits in the approval queue"
    );
    let waits = otto
        .eval(&format!(
            "document.querySelector('#queue tr[data-action=\"{stop_id}\"]').innerText"
        ))
        .await;
    assert!(
        waits.as_str().unwrap().contains("other than otto"),
        "{waits}"
    );
    otto.screenshot(&dir.join("01-overview-otto.png")).await;

    // The requester's own approval is refused by the orchestrator's policy.
    click(
        &mut otto,
        &format!("button.approve[data-action=\"{stop_id}\"]"),
        "document.getElementById('flash')",
    )
    .await;
    let flash = otto.eval("document.getElementById('flash').className + ' ' + document.getElementById('flash').innerText").await;
    let flash = flash.as_str().unwrap();
    assert!(
        flash.contains("error") && flash.contains("refused"),
        "{flash}"
    );
    otto.screenshot(&dir.join("02-own-approval-refused.png"))
        .await;
    let approvals: i64 =
        sqlx::query_scalar("SELECT count(*) FROM action_approvals WHERE action_id = $1")
            .bind(stop_id)
            .fetch_one(s.db.pool())
            .await
            .unwrap();
    assert_eq!(approvals, 0);

    // A colleague approves it from her own session.
    let mut anna = Browser::launch().await;
    log_in(&mut anna, &s.console, "anna").await;
    click(
        &mut anna,
        &format!("button.approve[data-action=\"{stop_id}\"]"),
        "document.getElementById('flash')",
    )
    .await;
    let flash = anna
        .eval("document.getElementById('flash').innerText")
        .await;
    assert!(
        flash.as_str().unwrap().contains("approval of action"),
        "{flash}"
    );
    anna.screenshot(&dir.join("03-approved-by-anna.png")).await;
    let approvers: Vec<String> =
        sqlx::query_scalar("SELECT approver FROM action_approvals WHERE action_id = $1")
            .bind(stop_id)
            .fetch_all(s.db.pool())
            .await
            .unwrap();
    assert_eq!(approvers, ["anna"]);

    // Anna acknowledges the critical incident; the console and the orchestrator agree.
    click(
        &mut anna,
        "#incidents tr[data-severity=\"critical\"] button.acknowledge",
        "document.querySelector('#incidents tr[data-severity=\"critical\"][data-status=\"acknowledged\"]')",
    )
    .await;
    let by: Option<String> =
        sqlx::query_scalar("SELECT acknowledged_by FROM incidents WHERE job_name = 'deploy-big'")
            .fetch_one(s.db.pool())
            .await
            .unwrap();
    assert_eq!(by.as_deref(), Some("anna"));
    anna.screenshot(&dir.join("04-acknowledged.png")).await;

    // The incident page and its post-mortem.
    click(
        &mut anna,
        "#incidents tr[data-severity=\"critical\"] a.incident-link",
        "document.getElementById('timeline')",
    )
    .await;
    anna.screenshot(&dir.join("05-incident.png")).await;
    click(
        &mut anna,
        "#postmortem-link",
        "document.getElementById('postmortem-markdown')",
    )
    .await;
    let md = anna
        .eval("document.getElementById('postmortem-markdown').innerText")
        .await;
    assert!(md.as_str().unwrap().contains("deploy-big"), "{md}");
    anna.screenshot(&dir.join("06-postmortem.png")).await;

    // Wall mode in the dark theme, and the page updates itself without a reload.
    otto.goto(&format!("{}/console?theme=dark&wall=1", s.console))
        .await;
    otto.wait_for("document.body.classList.contains('wall')", W)
        .await;
    otto.eval("window.__marker = 1; true").await;
    otto.wait_for(
        "window.__marker === 1 && document.querySelector('#incidents tr[data-status=\"acknowledged\"]') && document.getElementById('updated').textContent.startsWith('updated')",
        W,
    )
    .await;
    otto.screenshot(&dir.join("07-wall-dark.png")).await;
    // The charts are drawn from the events the monitor stored.
    let bars = otto
        .eval("document.querySelectorAll('#incidents-per-day rect[data-count]').length")
        .await;
    assert!(bars.as_i64().unwrap() >= 1, "{bars}");
}

#[tokio::test]
async fn the_console_is_safe_by_default() {
    let s = stack().await;
    let login = s
        .http
        .get(format!("{}/console/login", s.console))
        .send()
        .await
        .unwrap();
    let csp = login.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_string();
    assert!(
        csp.contains("default-src 'none'") && csp.contains("script-src 'self'"),
        "{csp}"
    );
    assert!(!csp.contains("unsafe-inline"), "{csp}");
    let pre = login.headers()["set-cookie"].to_str().unwrap().to_string();
    assert!(
        pre.contains("HttpOnly") && pre.contains("SameSite=Strict"),
        "{pre}"
    );
    let csrf_cookie = pre.split(';').next().unwrap().to_string();
    let html = login.text().await.unwrap();
    let csrf = html
        .split("name=\"csrf\" value=\"")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap()
        .to_string();
    // Not logged in: the console sends people to the form.
    let r = s
        .http
        .get(format!("{}/console", s.console))
        .send()
        .await
        .unwrap();
    assert_eq!(
        (
            r.status().as_u16(),
            r.headers()["location"].to_str().unwrap()
        ),
        (303, "/console/login")
    );

    let post = |form: Vec<(&'static str, String)>, cookie: String, origin: Option<&'static str>| {
        let mut req = s
            .http
            .post(format!("{}/console/login", s.console))
            .header("cookie", cookie)
            .form(&form);
        if let Some(o) = origin {
            req = req.header("origin", o);
        }
        req.send()
    };
    // Without the form's CSRF token, or from another site: refused, nobody logged in.
    let r = post(
        vec![("token", token("otto")), ("csrf", "x".into())],
        csrf_cookie.clone(),
        None,
    )
    .await
    .unwrap();
    assert_eq!(r.status(), 403);
    let r = post(
        vec![("token", token("otto")), ("csrf", csrf.clone())],
        csrf_cookie.clone(),
        Some("https://evil.example"),
    )
    .await
    .unwrap();
    assert_eq!(r.status(), 403);
    // A right token logs in: a session cookie that scripts cannot read, Secure behind TLS.
    let r = s
        .http
        .post(format!("{}/console/login", s.console))
        .header("cookie", csrf_cookie.clone())
        .header("x-forwarded-proto", "https")
        .form(&[("token", token("vera")), ("csrf", csrf.clone())])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    let session = r
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_string())
        .find(|c| c.starts_with("rb_console="))
        .unwrap();
    for flag in ["HttpOnly", "SameSite=Strict", "Secure", "Path=/console"] {
        assert!(session.contains(flag), "{flag}: {session}");
    }
    // A viewer sees the console but the orchestrator refuses her acknowledgement.
    let cookie = session.split(';').next().unwrap().to_string();
    let page = s
        .http
        .get(format!("{}/console", s.console))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 200);
    let body = page.text().await.unwrap();
    assert!(
        body.contains("id=\"principal\">vera<"),
        "logged in as herself"
    );
    let csrf2 = body
        .split("name=\"csrf\" value=\"")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap()
        .to_string();
    let r = s
        .http
        .post(format!("{}/console/incidents/1/acknowledge", s.console))
        .header("cookie", &cookie)
        .form(&[("csrf", "wrong")])
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.status(),
        403,
        "a button without its CSRF token does nothing"
    );
    let r = s
        .http
        .post(format!("{}/console/incidents/1/acknowledge", s.console))
        .header("cookie", &cookie)
        .form(&[("csrf", csrf2.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    let page = s
        .http
        .get(format!("{}/console", s.console))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        page.contains("id=\"flash\" class=\"flash error\""),
        "the refusal is shown"
    );

    // Wrong tokens: the prefix tried is locked after 3, a colleague's token still works
    // from the same (gateway) address.
    let guess = format!("{}0000", &token("otto")[..12]);
    for _ in 0..3 {
        let r = post(
            vec![("token", guess.clone()), ("csrf", csrf.clone())],
            csrf_cookie.clone(),
            None,
        )
        .await
        .unwrap();
        assert_eq!(r.status(), 401);
    }
    let r = post(
        vec![("token", token("otto")), ("csrf", csrf.clone())],
        csrf_cookie.clone(),
        None,
    )
    .await
    .unwrap();
    assert_eq!(
        r.status(),
        429,
        "the tried prefix waits, even with the right token"
    );
    assert!(r.headers().contains_key("retry-after"));
    let r = post(
        vec![("token", token("anna")), ("csrf", csrf.clone())],
        csrf_cookie.clone(),
        None,
    )
    .await
    .unwrap();
    assert_eq!(
        r.status(),
        303,
        "a colleague behind the same address is not locked out"
    );
}
