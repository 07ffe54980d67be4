//! The operator console in a real browser, against a real orchestrator and health-monitor:
//! two people log in with their own tokens; the critical incident is on top; the requester
//! of a stop cannot approve it, a colleague can; acknowledging works; the post-mortem opens.
//! Screenshots go to `target/ci-artifacts/console/`.

mod console_common;

use console_common::*;
use serde_json::{Value, json};
use testkit::browser::Browser;

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
