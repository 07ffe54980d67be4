//! No action stays unclaimed for ever: requests no runner took are published again, and
//! expire with a reason and an event after a longer wait.

use crate::common::*;
use domain::Level;
use orchestrator::actions::sweep::{REPUBLISHED_HEADER, SweepReport};

/// Inserts an action waiting since `secs_ago`, as the orchestrator would have.
async fn waiting(o: &Orch, status: &str, secs_ago: i64) -> i64 {
    sqlx::query_scalar(
        "INSERT INTO action_executions
             (action_type, status, target_job, target_build, requested_by, channel,
              requires_approval, approved_by, approved_at, reason, created_at, updated_at)
         VALUES ('restart', $1, 'deploy-app', 7, 'alice', 'api', $1 <> 'requested',
                 CASE WHEN $1 = 'approved' THEN 'bob' END,
                 CASE WHEN $1 = 'approved' THEN now() - make_interval(secs => $2) END,
                 'flaky tests', now() - make_interval(secs => $2), now())
         RETURNING id",
    )
    .bind(status)
    .bind(secs_ago as f64)
    .fetch_one(o.pool())
    .await
    .unwrap()
}

#[tokio::test]
async fn unclaimed_actions_are_requested_again_then_expired_with_a_reason() {
    let o = Orch::start_with(|s| {
        // Driven by hand below.
        s.own.action_sweep.interval_secs = 3600;
        s.own.action_sweep.republish_after_secs = 30;
        s.own.action_sweep.expire_after_secs = 600;
    })
    .await;
    let mut events = o.events().await;

    // A rule's restart, left unclaimed long enough to expire.
    o.publish(jenkins(Level::Error, "BUILD FAILED", "deploy-app", 41))
        .await;
    let detected = events.expect("incident.detected", T).await;
    let incident_id = detected.envelope.payload["incident"]["id"]
        .as_i64()
        .unwrap();
    let stale = events.expect("action.requested", T).await.envelope.payload["action"]["id"]
        .as_i64()
        .unwrap();
    sqlx::query(
        "UPDATE action_executions SET created_at = now() - interval '2 hours' WHERE id = $1",
    )
    .bind(stale)
    .execute(o.pool())
    .await
    .unwrap();
    let requested = waiting(&o, "requested", 60).await;
    let approved = waiting(&o, "approved", 60).await;
    let fresh = waiting(&o, "requested", 5).await;
    let awaiting_people = waiting(&o, "pending_approval", 7200).await;

    let report = o.services.actions.sweep_once().await.unwrap();
    assert_eq!(
        report,
        SweepReport {
            republished: 2,
            expired: 1
        }
    );

    // The outbox publishes them in any order; gather until each has come.
    let mut seen = Vec::new();
    let wanted = [
        "action.requested",
        "action.approved",
        "action.rejected",
        "incident.updated",
    ];
    while !wanted.iter().all(|k| {
        seen.iter()
            .any(|m: &bus::Message<serde_json::Value>| m.envelope.kind == *k)
    }) {
        seen.push(events.next(T).await.expect("the sweep's events"));
    }
    let find = |kind: &str| {
        seen.iter()
            .find(|m| m.envelope.kind == kind)
            .unwrap()
            .clone()
    };
    let again = find("action.requested");
    assert_eq!(again.envelope.payload["action"]["id"], requested);
    assert_eq!(again.headers[REPUBLISHED_HEADER], "unclaimed");
    let again = find("action.approved");
    assert_eq!(again.envelope.payload["action"]["id"], approved);
    assert_eq!(again.envelope.payload["approved_by"], "bob");
    let rejected = find("action.rejected");
    assert_eq!(rejected.envelope.payload["action"]["action_id"], stale);
    assert_eq!(rejected.envelope.payload["rejected_by"], "system");
    assert_eq!(
        rejected.envelope.payload["reason"],
        "expired: not claimed within 10 min"
    );
    // Its incident hears of it, like of any rejection.
    let updated = find("incident.updated");
    assert_eq!(updated.envelope.payload["incident"]["id"], incident_id);
    assert_eq!(updated.envelope.payload["reason"], "action_rejected");

    let (status, by, why, reason): (String, String, String, Option<String>) = sqlx::query_as(
        "SELECT status, rejected_by, rejection_reason, reason FROM action_executions WHERE id = $1",
    )
    .bind(stale)
    .fetch_one(o.pool())
    .await
    .unwrap();
    assert_eq!((status.as_str(), by.as_str()), ("rejected", "system"));
    assert_eq!(why, "expired: not claimed within 10 min");
    assert_ne!(
        reason.as_deref(),
        Some(why.as_str()),
        "the request's reason is kept"
    );
    for id in [fresh, awaiting_people, requested, approved] {
        let status: String =
            sqlx::query_scalar("SELECT status FROM action_executions WHERE id = $1")
                .bind(id)
                .fetch_one(o.pool())
                .await
                .unwrap();
        assert_ne!(status, "rejected", "action {id}");
    }

    // Just re-published: nothing is due.
    assert_eq!(
        o.services.actions.sweep_once().await.unwrap(),
        SweepReport::default()
    );

    // Replicas sweeping at once publish each due row once.
    sqlx::query(
        "UPDATE action_executions SET requeued_at = now() - interval '1 minute' WHERE id = ANY($1)",
    )
    .bind(vec![requested, approved])
    .execute(o.pool())
    .await
    .unwrap();
    let (a, b, c) = tokio::join!(
        o.services.actions.sweep_once(),
        o.services.actions.sweep_once(),
        o.services.actions.sweep_once()
    );
    let total: usize = [a, b, c].into_iter().map(|r| r.unwrap().republished).sum();
    assert_eq!(total, 2);
}

#[tokio::test]
async fn the_sweep_runs_by_itself() {
    let o = Orch::start_with(|s| {
        s.own.action_sweep.interval_secs = 1;
        s.own.action_sweep.republish_after_secs = 2;
        s.own.action_sweep.expire_after_secs = 600;
    })
    .await;
    let mut events = o.events().await;
    let id = waiting(&o, "requested", 10).await;
    let again = events.expect("action.requested", T).await;
    assert_eq!(again.envelope.payload["action"]["id"], id);
}
