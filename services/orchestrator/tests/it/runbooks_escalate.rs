//! Runbook escalations page people for real: PagerDuty Events API v2 and a signed webhook
//! (the fakes in `testkit::pagerduty` record every call), at most once per run, against real
//! PostgreSQL and RabbitMQ.

use std::time::Duration;

use domain::Level;
use hmac::{Hmac, Mac};
use orchestrator::runbooks::escalate::Pager;
use orchestrator::settings::{EscalationSettings, Settings};
use sha2::Sha256;
use testkit::pagerduty::FakePagerDuty;

use super::runbooks::*;
use crate::common::*;

const KEY: &str = "R0UT1NGKEYFORHIGHSEVERITY0000000";
const SECRET: &str = "whsec-test-escalation";

/// The deadline runbook (restart → verify times out → no rollback possible → escalate),
/// paging the fake for `high` incidents (the build-failure rule's severity).
fn paging(
    pd: &FakePagerDuty,
    more: impl FnOnce(&mut EscalationSettings),
) -> impl FnOnce(&mut Settings) {
    let (url, hook) = (pd.url().to_string(), pd.hook_url("ops"));
    move |s| {
        tweak("1s")(s);
        let e = &mut s.own.runbooks.escalation;
        e.pagerduty_url = url;
        e.high.pagerduty_routing_key = KEY.into();
        e.high.webhook_url = Some(hook);
        e.high.webhook_secret = SECRET.into();
        e.retry_base_ms = 100;
        e.poll_ms = 100;
        e.timeout_ms = 1000;
        e.lease_secs = 2;
        more(e);
    }
}

/// Starts the deadline path on a new incident of `job`: the run, once its restart is done.
async fn failing_run(o: &Orch, job: &str) -> (i64, i64) {
    o.publish(jenkins(Level::Error, "Finished: FAILURE", job, 3))
        .await;
    let incident = incident_for(o, job).await;
    let run = run_of(o, incident).await;
    runner_finishes(o, action_of(o, run, "restart").await, "completed").await;
    (incident, run)
}

async fn step_details(o: &Orch, run: i64, step: &str) -> serde_json::Value {
    sqlx::query_scalar("SELECT details FROM runbook_steps WHERE run_id = $1 AND step = $2")
        .bind(run)
        .bind(step)
        .fetch_one(o.pool())
        .await
        .unwrap()
}

#[tokio::test]
async fn an_escalation_pages_once_through_pagerduty_and_the_signed_webhook() {
    let pd = FakePagerDuty::start(&[KEY]).await;
    // PagerDuty is briefly unwell: the first event is answered 500.
    pd.fail_next("enqueue", 1, 500);
    let o = Orch::start_with(paging(&pd, |_| {})).await;
    let (incident, run) = failing_run(&o, "paged-build").await;
    wait_run(&o, run, "escalated").await;
    let dedup = format!("runbook-run-{run}");

    // Two calls (the 500, then the retry), one accepted trigger, one alert.
    let calls = pd.calls_to("enqueue");
    assert_eq!(
        calls.iter().map(|c| c.status).collect::<Vec<_>>(),
        vec![500, 202]
    );
    assert_eq!(pd.accepted("trigger").len(), 1);
    let alerts = pd.alerts();
    assert_eq!(alerts.len(), 1, "{alerts:?}");
    assert_eq!(alerts[0].dedup_key, dedup);
    assert_eq!(alerts[0].triggers, 1);
    assert_eq!(
        alerts[0].severity, "error",
        "high maps to PagerDuty's error"
    );
    assert!(
        alerts[0].summary.contains(&format!("incident #{incident}")),
        "{}",
        alerts[0].summary
    );
    // The retry is the same event.
    assert_eq!(calls[0].body, calls[1].body);

    // The webhook: once, signed over timestamp and body with the configured secret.
    let hooks = pd.calls_to("hook:ops");
    assert_eq!(hooks.len(), 1);
    let h = &hooks[0];
    let ts: i64 = h.headers["x-runbooks-timestamp"].parse().unwrap();
    assert!((chrono::Utc::now().timestamp() - ts).abs() < 60);
    let mut mac = Hmac::<Sha256>::new_from_slice(SECRET.as_bytes()).unwrap();
    mac.update(format!("{ts}.").as_bytes());
    mac.update(&h.raw);
    let want = format!("v1={}", hex::encode(mac.finalize().into_bytes()));
    assert_eq!(h.headers["x-runbooks-signature"], want);
    assert_eq!(h.headers["idempotency-key"], dedup);
    assert_eq!(h.body["event_action"], "trigger");
    assert_eq!(h.body["details"]["run_id"], run);
    assert!(
        !String::from_utf8_lossy(&h.raw).contains(KEY),
        "no routing key in the webhook"
    );

    // The step records who was paged and how it went; the audit trail has it too.
    let details = step_details(&o, run, "escalate").await;
    let pages = details["pages"].as_array().unwrap();
    let by_target = |t: &str| pages.iter().find(|p| p["target"] == t).unwrap().clone();
    assert_eq!(
        (
            by_target("pagerduty")["status"].as_str(),
            by_target("pagerduty")["attempts"].as_i64()
        ),
        (Some("sent"), Some(2))
    );
    assert_eq!(by_target("webhook")["status"], "sent");
    assert_eq!(
        o.count(&format!(
            "SELECT count(*) FROM outbox_events WHERE routing_key = 'audit.runbook.paged'
               AND payload->'payload'->'details'->>'run_id' = '{run}'"
        ))
        .await,
        1
    );
    // REST shows the pages; no secret is stored anywhere in them.
    let body: serde_json::Value = o
        .get(&format!("/api/runbook-runs/{run}"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(body["pages"].as_array().unwrap().len(), 2, "{body}");
    assert_eq!(body["pages"][0]["dedup_key"], dedup);
    let leaked = o
        .count(&format!(
            "SELECT count(*) FROM runbook_pages WHERE payload::text LIKE '%{KEY}%' OR payload::text LIKE '%{SECRET}%'"
        ))
        .await;
    assert_eq!(leaked, 0);

    // A person resolves the incident: the PagerDuty alert is resolved with the same key.
    let r = o
        .as_(
            "ada",
            reqwest::Method::POST,
            &format!("/api/incidents/{incident}/resolve"),
        )
        .json(&serde_json::json!({"note": "fixed by hand"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    testkit::wait_until("the alert is resolved", T, || async {
        pd.alerts()[0].status == "resolved"
    })
    .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(pd.accepted("resolve").len(), 1);
    assert_eq!(pd.accepted("resolve")[0].body["dedup_key"], dedup);
    assert_eq!(pd.accepted("trigger").len(), 1);
    assert_eq!(pd.calls_to("hook:ops").len(), 1);
}

#[tokio::test]
async fn a_page_whose_sender_died_mid_call_is_sent_once_more_with_the_same_key() {
    let pd = FakePagerDuty::start(&[KEY]).await;
    // The app's own pager looks once at start, then not for an hour: this test plays the
    // pagers itself.
    let o = Orch::start_with(paging(&pd, |e| {
        e.poll_ms = 3_600_000;
        e.high.webhook_url = None;
    }))
    .await;
    let (_, run) = failing_run(&o, "crashy-build").await;
    o.wait_count(
        &format!("SELECT count(*) FROM runbook_pages WHERE run_id = {run} AND status = 'pending'"),
        1,
    )
    .await;
    // A pager claims the page (committed) and dies before its call.
    let claimed = orchestrator::repo::pages::claim(o.pool(), 2)
        .await
        .unwrap()
        .expect("a page to claim");
    assert_eq!((claimed.status.as_str(), claimed.attempts), ("sending", 1));
    // Other pagers leave the claim alone while its lease lasts ...
    let cfg = o.settings.own.runbooks.escalation.clone();
    let pagers: Vec<Pager> = (0..4)
        .map(|_| Pager::new(o.pool().clone(), cfg.clone()).unwrap())
        .collect();
    assert_eq!(pagers[0].tick().await.unwrap(), 0);
    assert!(pd.calls().is_empty());
    assert_eq!(step_status(&o, run, "escalate").await, "running");
    // ... and once it ran out, exactly one of four racing pagers sends it again.
    tokio::time::sleep(Duration::from_millis(2100)).await;
    let sent: usize = futures_util::future::join_all(pagers.iter().map(|p| p.tick()))
        .await
        .into_iter()
        .map(|r| r.unwrap())
        .sum();
    assert_eq!(sent, 1);
    assert_eq!(pd.calls_to("enqueue").len(), 1);
    assert_eq!(pd.alerts().len(), 1);
    assert_eq!(pd.alerts()[0].dedup_key, format!("runbook-run-{run}"));
    wait_run(&o, run, "escalated").await;
    let details = step_details(&o, run, "escalate").await;
    assert_eq!(details["pages"][0]["attempts"], 2, "{details}");
    assert_eq!(details["pages"][0]["status"], "sent");
    // One escalate step, one page row.
    assert_eq!(
        o.count(&format!(
            "SELECT count(*) FROM runbook_steps WHERE run_id = {run} AND step = 'escalate'"
        ))
        .await,
        1
    );
    assert_eq!(
        o.count(&format!(
            "SELECT count(*) FROM runbook_pages WHERE run_id = {run}"
        ))
        .await,
        1
    );
}

#[tokio::test]
async fn a_refused_page_fails_the_step_and_the_run_still_escalates() {
    // A routing key PagerDuty does not know: 400, not retried.
    let pd = FakePagerDuty::start(&["SOMEOTHERKEY"]).await;
    let o = Orch::start_with(paging(&pd, |e| e.high.webhook_url = None)).await;
    let (incident, run) = failing_run(&o, "refused-build").await;
    wait_run(&o, run, "escalated").await;
    let calls = pd.calls_to("enqueue");
    assert_eq!(calls.len(), 1);
    assert_eq!(calls[0].status, 400);
    assert_eq!(step_status(&o, run, "escalate").await, "failed");
    let details = step_details(&o, run, "escalate").await;
    assert_eq!(details["pages"][0]["status"], "failed");
    assert!(
        details["pages"][0]["error"]
            .as_str()
            .unwrap()
            .contains("HTTP 400"),
        "{details}"
    );
    assert_eq!(incident_state(&o, incident).await.0, "open");
}

#[tokio::test]
async fn without_a_pager_for_the_severity_the_escalation_says_so() {
    let pd = FakePagerDuty::start(&[KEY]).await;
    // Configured for critical only; the build failure is high.
    let o = Orch::start_with(paging(&pd, |e| {
        e.critical = e.high.clone();
        e.high = Default::default();
    }))
    .await;
    let (_, run) = failing_run(&o, "quiet-build").await;
    wait_run(&o, run, "escalated").await;
    assert!(pd.calls().is_empty());
    let details = step_details(&o, run, "escalate").await;
    assert_eq!(details["note"], "no pager is configured for severity high");
    assert_eq!(step_status(&o, run, "escalate").await, "succeeded");
}

#[tokio::test]
async fn a_run_that_ends_unverified_pages_too() {
    let pd = FakePagerDuty::start(&[KEY]).await;
    // No branch after the verification: its deadline ends the run unverified.
    let bare = r#"
[[runbook]]
name = "bare-restart"
version = 1

[[runbook.step]]
name = "restart"
kind = "restart"
timeout = "20s"

[[runbook.step]]
name = "check"
kind = "verify"
params = { condition = "next_build_success" }
timeout = "1s"

[[runbook.step]]
name = "done"
kind = "resolve"
"#;
    let file = write_temp(
        "runbooks.toml",
        &format!("{}\n{bare}", ::runbooks::DEFAULT_RUNBOOKS),
    );
    let page = paging(&pd, |e| {
        e.high.webhook_url = None;
        // The unit-test rule's incidents are medium.
        e.medium = e.high.clone();
    });
    let o = Orch::start_with(move |s| {
        page(s);
        s.own.runbooks.path = Some(file);
    })
    .await;
    o.publish(jenkins(
        Level::Error,
        "Tests run: 10, Failures: 2",
        "bare-build",
        9,
    ))
    .await;
    let incident = incident_for(&o, "bare-build").await;
    let r = o
        .as_(
            "otto",
            reqwest::Method::POST,
            &format!("/api/incidents/{incident}/runbook"),
        )
        .json(&serde_json::json!({"runbook": "bare-restart"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let run = r.json::<serde_json::Value>().await.unwrap()["id"]
        .as_i64()
        .unwrap();
    runner_finishes(&o, action_of(&o, run, "restart").await, "completed").await;
    wait_run(&o, run, "escalated").await;
    let outcome: String = sqlx::query_scalar("SELECT outcome FROM runbook_runs WHERE id = $1")
        .bind(run)
        .fetch_one(o.pool())
        .await
        .unwrap();
    assert_eq!(outcome, "unverified");
    testkit::wait_until("the unverified run paged", T, || async {
        pd.accepted("trigger").len() == 1
    })
    .await;
    assert_eq!(pd.alerts()[0].dedup_key, format!("runbook-run-{run}"));
    assert!(pd.alerts()[0].summary.contains("without verified recovery"));
    // The run's own page (no step), recorded sent once PagerDuty's answer is in.
    o.wait_count(
        &format!(
            "SELECT count(*) FROM runbook_pages WHERE run_id = {run} AND step_id IS NULL AND status = 'sent'"
        ),
        1,
    )
    .await;
}
