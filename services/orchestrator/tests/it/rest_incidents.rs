//! The incident REST routes and their errors: auth, listing, details, acknowledge,
//! resolve, resolve-by-job, unknown routes and methods.

use crate::common::*;
use crate::rest_common::*;
use serde_json::json;

#[tokio::test]
async fn incidents_routes_and_their_errors() {
    let o = Orch::start().await;
    let id = open_incident(&o, "deploy-prod").await;

    // 401 without or with a wrong token, JSON body either way.
    let (s, b) = body(
        o.http
            .get(format!("{}/api/incidents", o.base))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!((s, b["error"].as_str()), (401, Some("unauthorized")));
    let (s, _) = body(
        o.http
            .get(format!("{}/api/incidents", o.base))
            .bearer_auth("nope")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(s, 401);
    // Health and metrics stay open.
    assert_eq!(
        o.http
            .get(format!("{}/health", o.base))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    assert_eq!(
        o.http
            .get(format!("{}/metrics", o.base))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );

    let (s, page) = get_json(
        &o,
        "/api/incidents?status=open&severity=high,critical&limit=10",
    )
    .await;
    assert_eq!(s, 200, "{page}");
    assert_eq!(page["total"], 1);
    assert_eq!(page["items"][0]["id"], id);
    let (s, page) = get_json(&o, "/api/incidents?status=resolved").await;
    assert_eq!((s, page["total"].as_i64()), (200, Some(0)));
    let (s, b) = get_json(&o, "/api/incidents?status=closed").await;
    assert_eq!(s, 400, "{b}");
    assert!(b["message"].as_str().unwrap().contains("status"));
    assert_eq!(get_json(&o, "/api/incidents?limit=0").await.0, 400);
    assert_eq!(get_json(&o, "/api/incidents?bogus=1").await.0, 400);
    assert_eq!(get_json(&o, "/api/incidents?since=yesterday").await.0, 400);

    let (s, d) = get_json(&o, &format!("/api/incidents/{id}")).await;
    assert_eq!(s, 200);
    assert_eq!(
        d["incident"]["title"]
            .as_str()
            .map(|t| t.contains("deploy-prod")),
        Some(true)
    );
    assert_eq!(d["logs"].as_array().unwrap().len(), 1);
    assert_eq!(
        d["actions"].as_array().unwrap().len(),
        1,
        "the rule's automatic restart"
    );
    assert_eq!(d["timeline"][0]["event"], "detected");
    assert_eq!(get_json(&o, "/api/incidents/999999").await.0, 404);
    let (s, b) = get_json(&o, "/api/incidents/abc").await;
    assert_eq!((s, b["error"].as_str()), (400, Some("bad_request")));

    // Acknowledge: bad bodies, then twice.
    let ack = format!("/api/incidents/{id}/acknowledge");
    let (s, b) = body(
        o.post(&ack)
            .header("content-type", "application/json")
            .body("{not json")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!((s, b["error"].as_str()), (400, Some("bad_request")));
    assert_eq!(post_json(&o, &ack, &json!({"user": 5})).await.0, 422);
    assert_eq!(post_json(&o, &ack, &json!({"sudo": true})).await.0, 422);
    assert_eq!(
        body(o.post(&ack).body("user=ana").send().await.unwrap())
            .await
            .0,
        415
    );
    let huge = "x".repeat(300 * 1024);
    assert_eq!(post_json(&o, &ack, &json!({"user": huge})).await.0, 413);
    // A viewer may look, not act.
    let (s, b) = body(
        o.as_("vera", reqwest::Method::POST, &ack)
            .json(&json!({}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(
        (s, b["missing_role"].as_str()),
        (403, Some("operator")),
        "{b}"
    );
    assert_eq!(
        body(
            o.as_(
                "vera",
                reqwest::Method::GET,
                &format!("/api/incidents/{id}")
            )
            .send()
            .await
            .unwrap()
        )
        .await
        .0,
        200
    );
    // The body names nobody: one that tries is refused, and the token's principal
    // acknowledges.
    let (s, b) = body(
        o.as_("otto", reqwest::Method::POST, &ack)
            .json(&json!({"user": "ana"}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(s, 422, "{b}");
    let (_, i) = get_json(&o, &format!("/api/incidents/{id}")).await;
    assert_eq!(i["incident"]["status"], "open");
    let (s, row) = body(
        o.as_("otto", reqwest::Method::POST, &ack)
            .json(&json!({}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(
        (s, row["status"].as_str(), row["acknowledged_by"].as_str()),
        (200, Some("acknowledged"), Some("otto"))
    );
    let (s, b) = post_json(&o, &ack, &json!({})).await;
    assert_eq!((s, b["error"].as_str()), (409, Some("conflict")));
    assert_eq!(
        post_json(&o, "/api/incidents/424242/acknowledge", &json!({}))
            .await
            .0,
        404
    );

    // Resolve, then again.
    let resolve = format!("/api/incidents/{id}/resolve");
    let (s, row) = post_json(&o, &resolve, &json!({"note": "fixed the config"})).await;
    assert_eq!(s, 200, "{row}");
    assert_eq!(row["resolution_method"], "manual");
    assert!(row["mttr_seconds"].as_f64().unwrap() >= 0.0);
    assert_eq!(post_json(&o, &resolve, &json!({})).await.0, 409);

    // Resolve by job.
    let other = open_incident(&o, "api-gateway").await;
    let (s, b) = post_json(
        &o,
        "/api/incidents/resolve-by-job",
        &json!({"job_name": "api-gateway"}),
    )
    .await;
    assert_eq!(s, 200);
    assert_eq!(b["resolved"][0]["id"], other);
    let (s, b) = post_json(
        &o,
        "/api/incidents/resolve-by-job",
        &json!({"job_name": ""}),
    )
    .await;
    assert_eq!((s, b["field"].as_str()), (400, Some("job_name")), "{b}");
    // A NUL in a note is refused with its field, not passed to the database.
    let third = open_incident(&o, "nul-note").await;
    let (s, b) = post_json(
        &o,
        &format!("/api/incidents/{third}/resolve"),
        &json!({"note": "a\u{0}b"}),
    )
    .await;
    assert_eq!((s, b["field"].as_str()), (400, Some("note")), "{b}");

    // Unknown route and wrong method: JSON 404 / 405.
    let (s, b) = get_json(&o, "/api/nothing").await;
    assert_eq!((s, b["error"].as_str()), (404, Some("not_found")));
    assert_eq!(
        body(
            o.http
                .delete(format!("{}/api/incidents", o.base))
                .bearer_auth(TOKEN)
                .send()
                .await
                .unwrap()
        )
        .await
        .0,
        405
    );
}
