//! `GET /api/actions` and `command.actions.list`: the approval queue and its filters; and a
//! console relaying a person's token over the bus (`x-runbooks-token-sha256`).

use crate::common::*;
use crate::rest_common::*;
use domain::commands::{ErrorCode, key};
use reqwest::Method;
use serde_json::{Value, json};

async fn request(o: &Orch, who: &str, body: Value) -> i64 {
    let (s, a) = send(o, who, Method::POST, "/api/actions", Some(body)).await;
    assert_eq!(s, 201, "{a}");
    a["id"].as_i64().unwrap()
}

fn ids(page: &Value) -> Vec<i64> {
    page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["id"].as_i64().unwrap())
        .collect()
}

#[tokio::test]
async fn actions_are_listed_with_filters_and_pages() {
    let o = Orch::start().await;
    let incident = open_incident(&o, "deploy-app").await;
    // A rule may have acted on the incident already: those actions stay in every answer.
    let (_, before) = get_json(&o, "/api/actions").await;
    let auto = ids(&before);
    let with_auto =
        |mine: &[i64]| -> Vec<i64> { mine.iter().copied().chain(auto.iter().copied()).collect() };
    // A restart needs no approval; a stop waits for two approvers.
    let restart = request(
        &o,
        "otto",
        json!({"action_type": "restart", "target_job": "deploy-app", "target_build": 3,
               "incident_id": incident}),
    )
    .await;
    let stop = request(
        &o,
        "otto",
        json!({"action_type": "stop", "target_job": "nightly", "target_build": 9}),
    )
    .await;
    let other = request(
        &o,
        "olga",
        json!({"action_type": "stop", "target_job": "nightly", "target_build": 10}),
    )
    .await;

    let (s, all) = get_json(&o, "/api/actions").await;
    assert_eq!(s, 200, "{all}");
    let n = 3 + auto.len() as i64;
    assert_eq!(
        (all["total"].as_i64(), all["limit"].as_i64()),
        (Some(n), Some(50))
    );
    assert_eq!(
        ids(&all),
        with_auto(&[other, stop, restart]),
        "newest first"
    );

    let (_, queue) = get_json(&o, "/api/actions?status=pending_approval").await;
    assert_eq!(ids(&queue), [other, stop], "{queue}");
    assert_eq!(queue["items"][0]["approvals_required"], 2);
    let (_, q) = get_json(&o, "/api/actions?status=pending_approval&requested_by=otto").await;
    assert_eq!(ids(&q), [stop]);
    let (_, q) = get_json(&o, "/api/actions?job=deploy-app&requested_by=otto").await;
    assert_eq!(ids(&q), [restart]);
    let (_, q) = get_json(&o, "/api/actions?job=nightly").await;
    assert_eq!(ids(&q), [other, stop]);
    let (_, q) = get_json(
        &o,
        &format!("/api/actions?incident={incident}&requested_by=otto"),
    )
    .await;
    assert_eq!(ids(&q), [restart]);
    let (_, q) = get_json(&o, "/api/actions?incident=999999").await;
    assert_eq!(q["total"], 0);
    let (_, q) = get_json(&o, "/api/actions?status=completed,failed&requested_by=otto").await;
    assert_eq!(q["total"], 0);
    let (_, q) = get_json(&o, "/api/actions?since=2999-01-01T00:00:00Z").await;
    assert_eq!(q["total"], 0);
    let (_, q) = get_json(
        &o,
        "/api/actions?since=2000-01-01T00:00:00Z&requested_by=otto",
    )
    .await;
    assert_eq!(q["total"], 2);
    let (_, p) = get_json(&o, "/api/actions?limit=1&offset=1").await;
    assert_eq!((ids(&p), p["total"].as_i64()), (vec![stop], Some(n)));

    // Bad filters are refused naming the field, the same way as incidents'.
    for (query, field) in [
        ("limit=0", "limit"),
        ("limit=201", "limit"),
        ("offset=-1", "offset"),
        ("status=waiting", "status"),
        ("incident=0", "incident"),
    ] {
        let (s, b) = get_json(&o, &format!("/api/actions?{query}")).await;
        assert_eq!((s, b["field"].as_str()), (400, Some(field)), "{query}: {b}");
    }
    for bad in ["user=bob", "incident=x", "since=yesterday"] {
        assert_eq!(
            get_json(&o, &format!("/api/actions?{bad}")).await.0,
            400,
            "{bad}"
        );
    }
    // A viewer may read the queue; a principal without roles may not.
    assert_eq!(
        send(&o, "vera", Method::GET, "/api/actions", None).await.0,
        200
    );
    assert_eq!(
        send(&o, "nobody", Method::GET, "/api/actions", None)
            .await
            .0,
        403
    );
    let anonymous = reqwest::get(format!("{}/api/actions", o.base))
        .await
        .unwrap();
    assert_eq!(anonymous.status(), 401);

    // The same over the bus.
    let page =
        o.tb.bus
            .request(key::ACTIONS_LIST, json!({"status": "pending_approval"}))
            .await
            .unwrap()
            .into_result()
            .unwrap();
    assert_eq!(ids(&page), [other, stop]);
}

fn sha_hex(token: &str) -> String {
    hex::encode(orchestrator::auth::tokens::sha256(token))
}

#[tokio::test]
async fn a_relayed_token_is_judged_as_its_own_principal() {
    let o = Orch::start().await;
    let mut events = o.events().await;
    let bus = &o.tb.bus;
    let as_ = |who: &str| bus::RequestOptions::with_token_sha256(sha_hex(&token_of(who)));
    let me = bus
        .request_with(key::AUTH_WHOAMI, json!({}), as_("olga"))
        .await
        .unwrap()
        .into_result()
        .unwrap();
    assert_eq!(me["principal"], "olga");
    assert_eq!(me["roles"], json!(["operator", "approver"]));
    assert_eq!(me["channel"], "api");
    assert!(me["via"].as_str().unwrap().starts_with("amqp:"), "{me}");

    // A wrong token is refused and audited; so is a token with an on-behalf-of header.
    let bad = bus
        .request_with(
            key::AUTH_WHOAMI,
            json!({}),
            bus::RequestOptions::with_token_sha256(sha_hex("guess")),
        )
        .await
        .unwrap()
        .into_result()
        .unwrap_err();
    assert_eq!(bad.code, ErrorCode::Forbidden, "{bad:?}");
    let mut both = as_("olga");
    both.on_behalf_of = Some("slack:U_OPS".into());
    let e = bus
        .request_with(key::AUTH_WHOAMI, json!({}), both)
        .await
        .unwrap()
        .into_result()
        .unwrap_err();
    assert_eq!(e.code, ErrorCode::Forbidden);
    let audit = events.expect("audit.denied", T).await;
    assert_eq!(audit.envelope.payload["clause"], "bus:token");

    // Requested as olga through the relay; olga cannot approve it, anna can.
    let a = bus
        .request_with(
            key::ACTIONS_REQUEST,
            json!({"action_type": "stop", "target_job": "nightly", "target_build": 4}),
            as_("olga"),
        )
        .await
        .unwrap()
        .into_result()
        .unwrap();
    assert_eq!(
        (a["requested_by"].as_str(), a["status"].as_str()),
        (Some("olga"), Some("pending_approval"))
    );
    let id = a["id"].as_i64().unwrap();
    let own = bus
        .request_with(key::ACTIONS_APPROVE, json!({"id": id}), as_("olga"))
        .await
        .unwrap()
        .into_result()
        .unwrap_err();
    assert_eq!(own.code, ErrorCode::Forbidden, "{own:?}");
    let viewer = bus
        .request_with(key::ACTIONS_APPROVE, json!({"id": id}), as_("vera"))
        .await
        .unwrap()
        .into_result()
        .unwrap_err();
    assert_eq!(viewer.code, ErrorCode::Forbidden);
    bus.request_with(key::ACTIONS_APPROVE, json!({"id": id}), as_("anna"))
        .await
        .unwrap()
        .into_result()
        .unwrap();
    let approvers: Vec<String> =
        sqlx::query_scalar("SELECT approver FROM action_approvals WHERE action_id = $1")
            .bind(id)
            .fetch_all(o.pool())
            .await
            .unwrap();
    assert_eq!(approvers, ["anna"]);
}
