//! The event log and the audit trail: `POST/GET /events`, every `logs.events` message
//! stored once, `audit.*` also in `audit_log`, `GET /audit` behind basic auth.

use std::time::Duration;

use chrono::Utc;
use domain::events::{AuditOutcome, AuditRecord};
use domain::{Channel, Envelope, Event};
use serde_json::json;

use crate::common::{Harness, T, body};

async fn post(h: &Harness, json: &serde_json::Value) -> (u16, serde_json::Value) {
    body(
        h.http
            .post(h.url("/events"))
            .bearer_auth(crate::common::PRODUCER_TOKEN)
            .json(json)
            .send()
            .await
            .unwrap(),
    )
    .await
}

#[tokio::test]
async fn post_and_list_events_with_validation() {
    let h = Harness::start().await;
    let (code, ev) = post(
        &h,
        &json!({"type": "deploy.finished", "payload": {"app": "shop", "version": "1.2"}}),
    )
    .await;
    assert_eq!(code, 201, "{ev}");
    assert_eq!(ev["type"], "deploy.finished");
    assert_eq!(ev["severity"], "info");
    assert_eq!(ev["producer"], crate::common::PRODUCER);
    assert_eq!(ev["payload"]["app"], "shop");

    // The sender's id makes a retry harmless.
    let id = uuid::Uuid::now_v7();
    let e = json!({"type": "error", "payload": {"message": "Connection failed"}, "severity": "error", "id": id});
    let (code, first) = post(&h, &e).await;
    assert_eq!(code, 201);
    let (code, again) = post(&h, &e).await;
    assert_eq!(code, 200);
    assert_eq!(first["id"], again["id"]);

    let (code, page) = h.get_json("/events?type=deploy.*").await;
    assert_eq!(code, 200, "{page}");
    assert_eq!(page["items"].as_array().unwrap().len(), 1);
    assert_eq!(page["items"][0]["type"], "deploy.finished");
    let (_, page) = h.get_json("/events?limit=1").await;
    assert_eq!(page["items"][0]["type"], "error", "newest first");
    let before = page["next_before"].as_i64().expect("a next page");
    let (_, next) = h
        .get_json(&format!("/events?limit=1&before={before}"))
        .await;
    assert_eq!(next["items"][0]["type"], "deploy.finished");
    let since = (Utc::now() + chrono::Duration::hours(1)).to_rfc3339();
    let url = reqwest::Url::parse_with_params(&h.url("/events"), &[("since", since)]).unwrap();
    let (_, none) = body(h.http.get(url).send().await.unwrap()).await;
    assert_eq!(none["items"], json!([]));

    // Bad input: a JSON error naming what was wrong, nothing stored.
    let before_count = h.count("SELECT count(*) FROM system_events").await;
    let resp = h
        .http
        .post(h.url("/events"))
        .bearer_auth(crate::common::PRODUCER_TOKEN)
        .header("content-type", "application/json")
        .body("{\"type\": \"x\", ")
        .send()
        .await
        .unwrap();
    let (code, err) = body(resp).await;
    assert_eq!(code, 400, "bad JSON");
    assert_eq!(err["error"], "bad_request");
    let (code, err) = post(&h, &json!({"payload": {}})).await;
    assert_eq!(code, 422);
    assert!(err["message"].as_str().unwrap().contains("type"), "{err}");
    let (code, err) = post(
        &h,
        &json!({"type": "audit.incident.resolve", "payload": {}}),
    )
    .await;
    assert_eq!(code, 422);
    assert!(
        err["message"].as_str().unwrap().contains("reserved"),
        "{err}"
    );
    let (code, _) = post(&h, &json!({"type": "x", "payload": {}, "severity": "loud"})).await;
    assert_eq!(code, 422);
    let (code, _) = post(&h, &json!({"type": "x", "payload": {}, "extra": 1})).await;
    assert_eq!(code, 422, "unknown fields are refused");
    let big = "x".repeat(70 * 1024);
    let (code, err) = post(&h, &json!({"type": "x", "payload": {"blob": big}})).await;
    assert_eq!(code, 413, "{err}");
    let resp = h
        .http
        .post(h.url("/events"))
        .bearer_auth(crate::common::PRODUCER_TOKEN)
        .body("type=x")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 415);
    let (code, _) = h.get_json("/events?since=yesterday").await;
    assert_eq!(code, 400);
    let (code, _) = h.get_json("/events?limit=0").await;
    assert_eq!(code, 400);
    let (code, _) = h.get_json("/events?type=a%25b").await;
    assert_eq!(code, 400, "no LIKE metacharacters");
    assert_eq!(
        h.count("SELECT count(*) FROM system_events").await,
        before_count
    );
}

/// An unauthenticated caller forged `orchestrator.database.lost` as critical from the
/// orchestrator and got 201: registration needs a producer's token, and the producer is
/// whoever authenticated.
#[tokio::test]
async fn events_are_registered_only_by_authenticated_producers() {
    let h = Harness::start().await;
    let forged = json!({"type": "orchestrator.database.lost", "severity": "critical",
                        "producer": "orchestrator", "payload": {}});
    let anonymous = h
        .http
        .post(h.url("/events"))
        .json(&forged)
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status(), 401);
    assert!(
        anonymous.headers()["www-authenticate"]
            .to_str()
            .unwrap()
            .starts_with("Bearer")
    );
    let wrong = h
        .http
        .post(h.url("/events"))
        .bearer_auth("not-a-producer-token")
        .json(&forged)
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), 401);
    // A real producer cannot speak for another one.
    let (code, err) = post(&h, &forged).await;
    assert_eq!(code, 422, "{err}");
    assert!(
        err["message"].as_str().unwrap().contains("producer"),
        "{err}"
    );
    assert_eq!(h.count("SELECT count(*) FROM system_events").await, 0);

    let (code, ev) = post(
        &h,
        &json!({"type": "deploy.finished", "severity": "warn", "payload": {}}),
    )
    .await;
    assert_eq!(code, 201, "{ev}");
    assert_eq!(ev["producer"], crate::common::PRODUCER);
    let (code, ev) = post(
        &h,
        &json!({"type": "deploy.started", "producer": crate::common::PRODUCER, "payload": {}}),
    )
    .await;
    assert_eq!(code, 201, "naming oneself is fine: {ev}");
}

#[tokio::test]
async fn without_configured_producers_event_registration_is_off() {
    let h = Harness::start_with(1, |s| s.own.events.producers.clear()).await;
    let resp = h
        .http
        .post(h.url("/events"))
        .bearer_auth(crate::common::PRODUCER_TOKEN)
        .json(&json!({"type": "deploy.finished", "payload": {}}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 503);
    let (code, _) = h.get_json("/events").await;
    assert_eq!(code, 200, "reading stays open");
}

fn audit(verb: &str, actor: &str, on_behalf_of: Option<&str>, outcome: AuditOutcome) -> Event {
    Event::Audit(AuditRecord {
        verb: verb.into(),
        actor: actor.into(),
        on_behalf_of: on_behalf_of.map(str::to_string),
        channel: Channel::Slack,
        outcome,
        clause: Some("actions[0]".into()),
        target_type: "incident".into(),
        target_id: Some("7".into()),
        details: Some(json!({"note": "on it"})),
        at: Utc::now(),
    })
}

#[tokio::test]
async fn bus_events_are_stored_once_and_audits_are_searchable() {
    let h = Harness::start().await;
    let ack = Envelope::new(
        "orchestrator",
        audit(
            "incident.acknowledge",
            "chatops",
            Some("slack:U1"),
            AuditOutcome::Allowed,
        ),
    );
    let denied = Envelope::new(
        "orchestrator",
        audit("denied", "mcp-bot", None, AuditOutcome::Denied),
    );
    for env in [&ack, &ack, &denied] {
        h.tb.bus.publish(env).await.unwrap();
    }
    // A type this build does not know (a newer producer) is still logged.
    let newer = Envelope::with_kind("deploy.canary", "listener", json!({"app": "shop"}));
    h.tb.bus
        .publish_message(&bus::OutgoingMessage::to(
            "logs.events",
            "deploy.canary",
            &newer,
        ))
        .await
        .unwrap();
    testkit::wait_until("3 events stored", T, || async {
        h.count("SELECT count(*) FROM system_events").await == 3
    })
    .await;
    assert_eq!(h.count("SELECT count(*) FROM audit_log").await, 2);

    let (code, _) = h.get_json("/audit").await;
    assert_eq!(code, 401, "the audit trail needs the dashboard credentials");
    let (code, page) = body(h.authed("/audit?actor=slack:U1").send().await.unwrap()).await;
    assert_eq!(code, 200, "{page}");
    let items = page["items"].as_array().unwrap();
    assert_eq!(items.len(), 1, "found by the user it acted for");
    let a = &items[0];
    assert_eq!(a["verb"], "incident.acknowledge");
    assert_eq!(a["actor"], "chatops");
    assert_eq!(a["on_behalf_of"], "slack:U1");
    assert_eq!(a["channel"], "slack");
    assert_eq!(a["outcome"], "allowed");
    assert_eq!(a["clause"], "actions[0]");
    assert_eq!(a["target_type"], "incident");
    assert_eq!(a["target_id"], "7");
    assert_eq!(a["event_id"], ack.id.to_string());
    let (_, denied_page) = body(h.authed("/audit?outcome=denied").send().await.unwrap()).await;
    assert_eq!(denied_page["items"][0]["actor"], "mcp-bot");
    let (code, _) = body(h.authed("/audit?outcome=maybe").send().await.unwrap()).await;
    assert_eq!(code, 400);

    let (_, events) = h.get_json("/events?type=audit.*").await;
    assert_eq!(events["items"].as_array().unwrap().len(), 2);
    let (_, denied_ev) = h.get_json("/events?type=audit.denied").await;
    assert_eq!(denied_ev["items"][0]["severity"], "warn");

    // A known type with an invalid payload is dead-lettered, not stored.
    let mut dead =
        h.tb.tap(domain::names::exchange::DEAD_LETTERS, &["#"])
            .await;
    let broken = Envelope::with_kind("incident.detected", "tests", json!({"nope": true}));
    h.tb.bus
        .publish_message(&bus::OutgoingMessage::to(
            "logs.events",
            "incident.detected",
            &broken,
        ))
        .await
        .unwrap();
    let m = dead.next(T).await.expect("dead-lettered");
    assert!(m.headers[bus::header::DEATH_REASON].contains("incident.detected"));
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(h.count("SELECT count(*) FROM system_events").await, 3);

    let (_, metrics) = body(
        h.get("/metrics")
            .header("accept", "application/json")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(metrics["events_count"], 3);
    assert_eq!(metrics["audits_count"], 2);
}
