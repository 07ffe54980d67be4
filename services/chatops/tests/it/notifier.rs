//! The Incident Notifier against the fake Slack: threads and updates, order and
//! redelivery, Slack outages, rate limits and bursts.

use std::time::Duration;

use chrono::Utc;
use domain::events::*;
use domain::{ActionStatus, ActionType, Channel, Envelope, Severity};
use testkit::slack::{Failure, FakeSlackConfig};
use testkit::wait_until;

use crate::common::*;

async fn quiet(h: &Harness) {
    // Nothing left to send: every message is at its last version.
    wait_until("the send queue to drain", T, || async {
        sqlx::query_scalar::<_, i64>(
            "SELECT count(*) FROM slack_messages WHERE status = 'active' AND sent_version < version",
        )
        .fetch_one(h.db.pool())
        .await
        .is_ok_and(|n| n == 0)
    })
    .await;
}

async fn applied(h: &Harness, n: i64) {
    wait_until("events to be applied", T, || async {
        sqlx::query_scalar::<_, i64>(
            "SELECT count(*) FROM inbox_messages WHERE consumer = 'chatops.notifier'",
        )
        .fetch_one(h.db.pool())
        .await
        .is_ok_and(|c| c >= n)
    })
    .await;
}

fn parents(h: &Harness) -> Vec<testkit::slack::Call> {
    h.slack
        .ok_calls("chat.postMessage")
        .into_iter()
        .filter(|c| c.thread_ts.is_none())
        .collect()
}

#[tokio::test]
async fn detected_then_resolved_is_one_parent_one_reply_one_update_and_redelivery_adds_nothing() {
    let h = Harness::start(&[("RUNBOOKS__NOTIFY__CHANNELS__CRITICAL", "#sev1")]).await;
    let at = Utc::now() - chrono::Duration::seconds(210);
    let (d, r) = (
        detected(1, Severity::Critical, at),
        resolved(1, Severity::Critical, at, 210.0),
    );
    h.publish(&d).await;
    wait_until("the parent message", T, || async { parents(&h).len() == 1 }).await;
    h.publish(&r).await;
    wait_until("the update", T, || async {
        !h.slack.ok_calls("chat.update").is_empty()
    })
    .await;
    quiet(&h).await;

    let parent = &parents(&h)[0];
    assert_eq!(
        parent.channel.as_deref(),
        Some("#sev1"),
        "severity picks the channel"
    );
    let text = parent.all_text();
    assert!(
        text.contains("CRITICAL") && text.contains("Build failed: deploy-prod #41"),
        "{text}"
    );
    assert!(
        text.contains("Acknowledge") && text.contains("Restart") && text.contains("Rollback"),
        "{text}"
    );
    assert!(
        text.contains("https://wiki.example.com/runbooks/build-failed|Runbook"),
        "{text}"
    );
    assert!(
        text.contains("&lt;!channel&gt;") && !text.contains("<!channel>"),
        "log text is escaped: {text}"
    );
    let ts = parent.ts.clone().unwrap();
    let thread = h.thread(&ts);
    assert_eq!(thread.len(), 1, "{thread:?}");
    assert!(
        thread[0].contains("Resolved by <@U0ALICE>") && thread[0].contains("MTTR 3.5 min"),
        "{thread:?}"
    );
    let updates = h.slack.ok_calls("chat.update");
    assert_eq!(updates.len(), 1);
    assert_eq!(updates[0].ts.as_deref(), Some(ts.as_str()));
    let now = h.slack.message(&ts).unwrap();
    assert!(
        now.contains("resolved") && now.contains("MTTR 3.5 min"),
        "{now}"
    );
    assert!(
        !now.contains("Acknowledge"),
        "no buttons once resolved: {now}"
    );
    let thread_row: (String, String) =
        sqlx::query_as("SELECT channel, ts FROM slack_threads WHERE incident_id = 1")
            .fetch_one(h.db.pool())
            .await
            .unwrap();
    assert_eq!(thread_row.1, ts);
    assert_eq!(Some(thread_row.0), parent.channel_id);

    // The outbox delivers at least once: the same two envelopes again.
    let calls = h.slack.calls().len();
    h.publish(&d).await;
    h.publish(&r).await;
    // Give the consumer the time to see both; a probe event behind them proves they passed.
    h.publish(&detected(99, Severity::Low, Utc::now())).await;
    wait_until("the probe incident", T, || async { parents(&h).len() == 2 }).await;
    quiet(&h).await;
    assert_eq!(
        h.slack.calls().len(),
        calls + 1,
        "only the probe was posted"
    );
}

#[tokio::test]
async fn resolved_before_detected_ends_in_the_same_state_without_extra_messages() {
    let h = Harness::start(&[]).await;
    let at = Utc::now() - chrono::Duration::seconds(210);
    let (d, r) = (
        detected(2, Severity::High, at),
        resolved(2, Severity::High, at, 210.0),
    );
    h.publish(&r).await;
    h.publish(&d).await;
    applied(&h, 2).await;
    quiet(&h).await;
    let p = parents(&h);
    assert_eq!(p.len(), 1, "one parent");
    let ts = p[0].ts.clone().unwrap();
    let now = h.slack.message(&ts).unwrap();
    assert!(
        now.contains("resolved") && now.contains("MTTR 3.5 min"),
        "{now}"
    );
    assert!(
        now.contains("BUILD FAILED"),
        "the detection's details arrived too: {now}"
    );
    assert_eq!(h.thread(&ts).len(), 1, "one thread reply");

    let before = h.slack.calls().len();
    h.publish(&r).await;
    h.publish(&d).await;
    h.publish(&detected(98, Severity::Low, Utc::now())).await;
    wait_until("the probe incident", T, || async { parents(&h).len() == 2 }).await;
    quiet(&h).await;
    assert_eq!(
        h.slack.calls().len(),
        before + 1,
        "redelivery posted nothing"
    );
}

#[tokio::test]
async fn nothing_is_lost_while_slack_is_down_and_no_delivery_attempt_is_burned() {
    let h = Harness::start(&[]).await;
    h.slack.down(503);
    let at = Utc::now();
    for id in 10..13 {
        h.publish(&detected(id, Severity::Medium, at)).await;
    }
    // The events are recorded and acked while Slack refuses everything.
    applied(&h, 3).await;
    wait_until("slack to be tried and refused", T, || async {
        h.slack
            .calls()
            .iter()
            .filter(|c| c.outcome == "503")
            .count()
            >= 2
    })
    .await;
    // Slack being away degrades chatops, it does not make it unready.
    let ready = h.http.get(h.url("/ready")).send().await.unwrap();
    assert_eq!(ready.status(), 200);
    let body: serde_json::Value = ready.json().await.unwrap();
    assert_eq!(body["status"], "degraded", "{body}");
    assert!(
        body["degraded"]
            .as_array()
            .unwrap()
            .iter()
            .any(|d| d == "slack"),
        "{body}"
    );
    let err: Option<String> =
        sqlx::query_scalar("SELECT last_error FROM slack_channels WHERE channel = '#incidents'")
            .fetch_one(h.db.pool())
            .await
            .unwrap();
    assert!(err.is_some_and(|e| e.contains("503")));
    h.slack.up();
    wait_until("every incident posted", T, || async {
        parents(&h).len() == 3
    })
    .await;
    for id in 10..13 {
        let title = format!("deploy-prod #{}", 40 + id);
        assert!(
            parents(&h).iter().any(|c| c.all_text().contains(&title)),
            "{title}"
        );
    }
    // Nothing went to the dead-letter queue, nothing was retried through the broker.
    let dlq =
        h.tb.bus
            .queue_depth(&format!(
                "{}.dlq",
                domain::names::queue::INCIDENT_NOTIFICATIONS
            ))
            .await
            .unwrap_or(0);
    assert_eq!(dlq, 0);
}

#[tokio::test]
async fn a_burst_is_grouped_paced_and_every_429_is_honoured() {
    let h = Harness::start_with(
        FakeSlackConfig {
            channel_rate: Some(Duration::from_millis(80)),
            ..FakeSlackConfig::default()
        },
        &[
            ("RUNBOOKS__NOTIFY__MIN_INTERVAL_MS", "150"),
            ("RUNBOOKS__NOTIFY__BURST_THRESHOLD", "5"),
        ],
    )
    .await;
    h.slack.fail_next(
        "chat.postMessage",
        1,
        Failure::RateLimited {
            retry_after_secs: 1,
        },
    );
    let at = Utc::now();
    let started = std::time::Instant::now();
    for id in 100..130 {
        h.publish(&detected(id, Severity::High, at)).await;
    }
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "published in a burst"
    );
    applied(&h, 30).await;
    // A 429 in the middle of the burst too.
    h.slack.fail_next(
        "chat.postMessage",
        1,
        Failure::RateLimited {
            retry_after_secs: 1,
        },
    );
    quiet(&h).await;

    let calls: Vec<_> = h
        .slack
        .calls()
        .into_iter()
        .filter(|c| c.method.starts_with("chat."))
        .collect();
    let ok: Vec<_> = calls.iter().filter(|c| c.ok()).collect();
    // Every incident is visible in a message of its own (standalone or in the burst thread).
    for id in 100..130 {
        let title = format!("deploy-prod #{}", 40 + id);
        assert!(
            ok.iter()
                .any(|c| c.method == "chat.postMessage" && c.all_text().contains(&title)),
            "{title} missing"
        );
    }
    // Grouped: a few standalone messages and one summary, the rest in its thread.
    let top = parents(&h);
    assert!(
        top.len() <= 6,
        "flooded the channel with {} messages",
        top.len()
    );
    let summary = top
        .iter()
        .find(|c| c.all_text().contains("incidents at once"))
        .expect("a burst summary");
    let in_thread = h.thread(summary.ts.as_deref().unwrap()).len();
    assert!(in_thread >= 24, "only {in_thread} in the summary's thread");
    let final_summary = h.slack.message(summary.ts.as_deref().unwrap()).unwrap();
    assert!(
        final_summary.contains(&format!("{in_thread} incidents at once")),
        "{final_summary}"
    );
    // Paced: accepted messages are at least the interval apart (with a little slack for
    // timers), and every 429 was followed by a wait of its Retry-After.
    for w in ok.windows(2) {
        let gap = w[1].at.duration_since(w[0].at);
        assert!(gap >= Duration::from_millis(135), "messages {gap:?} apart");
    }
    let limited: Vec<_> = calls
        .iter()
        .enumerate()
        .filter(|(_, c)| c.outcome == "429")
        .collect();
    assert!(limited.len() >= 2, "the injected 429s were hit");
    for (i, c) in limited {
        let next = calls[i + 1..].first().expect("a call after each 429");
        assert!(
            next.at.duration_since(c.at) >= Duration::from_millis(950),
            "retried {:?} after a 429 asking for 1 s",
            next.at.duration_since(c.at)
        );
    }
}

fn action_summary(id: i64, incident: i64, status: ActionStatus) -> domain::action::ActionSummary {
    domain::action::ActionSummary {
        id,
        action_type: ActionType::Rollback,
        status,
        target_job: "deploy-prod".into(),
        target_build: Some(40),
        incident_id: Some(incident),
        requested_by: "slack:U0ALICE".into(),
        channel: Channel::Slack,
        requires_approval: true,
        approvals_required: 1,
        requested_via: Some("amqp:chatops".into()),
        params: None,
        reason: Some("bad release".into()),
        created_at: Utc::now(),
    }
}

#[tokio::test]
async fn actions_waiting_for_approval_get_buttons_in_the_incident_thread() {
    let h = Harness::start(&[]).await;
    // The action's event comes before its incident's: the incident waits for its facts.
    h.publish(&Envelope::new(
        "orchestrator",
        Event::ActionRequested(ActionRequested {
            action: action_summary(7, 3, ActionStatus::PendingApproval),
        }),
    ))
    .await;
    h.publish(&detected(3, Severity::Critical, Utc::now()))
        .await;
    wait_until("the action card", T, || async {
        h.slack
            .ok_calls("chat.postMessage")
            .iter()
            .any(|c| c.all_text().contains("Action #7"))
    })
    .await;
    let parent = parents(&h);
    assert_eq!(parent.len(), 1, "the card went into the incident's thread");
    let ts = parent[0].ts.clone().unwrap();
    let card = h
        .slack
        .ok_calls("chat.postMessage")
        .into_iter()
        .find(|c| c.all_text().contains("Action #7"))
        .unwrap();
    assert_eq!(card.thread_ts.as_deref(), Some(ts.as_str()));
    let text = card.all_text();
    assert!(
        text.contains("Approve") && text.contains("Deny") && text.contains("action_approve"),
        "{text}"
    );
    assert!(
        h.slack
            .message(&ts)
            .unwrap()
            .contains("waiting for approval")
    );

    h.publish(&Envelope::new(
        "orchestrator",
        Event::ActionApproved(ActionApproved {
            action: action_summary(7, 3, ActionStatus::Approved),
            approved_by: "slack:U0BOB".into(),
            approved_at: Utc::now(),
        }),
    ))
    .await;
    let card_ts = card.ts.clone().unwrap();
    wait_until("the card to lose its buttons", T, || async {
        h.slack
            .message(&card_ts)
            .is_some_and(|t| !t.contains("Approve") && t.contains("approved by <@U0BOB>"))
    })
    .await;
    wait_until("the approval reply", T, || async {
        h.thread(&ts).iter().any(|t| t.contains("👍 Action #7"))
    })
    .await;
}

#[tokio::test]
async fn health_changes_and_postmortems_are_posted() {
    let h = Harness::start(&[]).await;
    let down = ServiceHealthChanged {
        service: "runner".into(),
        instance_id: Some("runner-a".into()),
        reason: Some("no heartbeat for 30 s".into()),
        last_seen_at: Some(Utc::now()),
        changed_at: Utc::now(),
    };
    h.publish(&Envelope::with_kind(
        "health.service.down",
        "health-monitor",
        Event::ServiceDown(down),
    ))
    .await;
    let mut with_memory = detected(4, Severity::Low, Utc::now());
    if let Event::IncidentDetected(d) = &mut with_memory.payload {
        d.memory = Some(domain::postmortem::IncidentMemory {
            seen_before: 3,
            last_incident_id: Some(2),
            last_fixed_by: Some("restart".into()),
            last_mttr_seconds: Some(210.0),
            last_resolved_at: Some(Utc::now()),
            same_failure: None,
            best_similarity: None,
        });
    }
    h.publish(&with_memory).await;
    h.publish(&Envelope::new(
        "orchestrator",
        Event::PostmortemGenerated(PostmortemGenerated {
            postmortem_id: 11,
            incident_id: 4,
            version: 2,
            title: "Disk full on the build agent".into(),
            summary: Some("Logs filled the disk.".into()),
            writer: domain::postmortem::Writer::Llm,
            url: Some("https://runbooks.example/api/incidents/4/postmortem".into()),
            length: 900,
            generated_at: Utc::now(),
        }),
    ))
    .await;
    wait_until("the health message in #ops", T, || async {
        h.slack.ok_calls("chat.postMessage").iter().any(|c| {
            c.channel.as_deref() == Some("#ops")
                && c.all_text().contains("Service `runner` is down")
        })
    })
    .await;
    wait_until("the post-mortem reply", T, || async {
        let p = parents(&h);
        p.iter()
            .find(|c| c.all_text().contains("deploy-prod #44"))
            .and_then(|c| c.ts.clone())
            .is_some_and(|ts| {
                h.thread(&ts).iter().any(|t| {
                    t.contains("Post-mortem v2 of incident #4")
                        && t.contains("written by the LLM")
                        && t.contains("Logs filled the disk.")
                        && t.contains(
                            "<https://runbooks.example/api/incidents/4/postmortem|Full report>",
                        )
                        && t.contains("`/devops postmortem 4`")
                })
            })
    })
    .await;
    // The parent keeps the memory and names the post-mortem by its incident.
    wait_until("the parent to show memory and post-mortem", T, || async {
        parents(&h)
            .iter()
            .find(|c| c.all_text().contains("deploy-prod #44"))
            .and_then(|c| c.ts.clone())
            .and_then(|ts| h.slack.message(&ts))
            .is_some_and(|t| {
                t.contains("🧠 Seen 3 times before; last fixed by restart in 3.5 min (incident #2)")
                    && t.contains(
                        "*Post-mortem v2:* Disk full on the build agent (`/devops postmortem 4`)",
                    )
            })
    })
    .await;
}

#[tokio::test]
async fn without_a_bot_token_messages_go_to_the_console() {
    let h = Harness::start(&[("SLACK_BOT_TOKEN", "")]).await;
    h.publish(&detected(5, Severity::Medium, Utc::now())).await;
    wait_until("the console to take the message", T, || async {
        sqlx::query_scalar::<_, Option<String>>(
            "SELECT ts FROM slack_messages WHERE key = 'incident:5'",
        )
        .fetch_optional(h.db.pool())
        .await
        .ok()
        .flatten()
        .flatten()
        .is_some()
    })
    .await;
    assert!(h.slack.calls().is_empty(), "slack was not called");
}
