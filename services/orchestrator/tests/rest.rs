//! Every REST route, its error paths, and the OpenAPI document.

mod common;

use common::*;
use domain::Level;
use serde_json::{Value, json};

async fn body(resp: reqwest::Response) -> (u16, Value) {
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap_or(Value::Null))
}

async fn open_incident(o: &Orch, job: &str) -> i64 {
    o.publish(jenkins(Level::Error, "BUILD FAILED", job, 3))
        .await;
    let sql = format!("SELECT count(*) FROM incidents WHERE job_name = '{job}'");
    o.wait_count(&sql, 1).await;
    sqlx::query_scalar("SELECT id FROM incidents WHERE job_name = $1")
        .bind(job)
        .fetch_one(o.pool())
        .await
        .unwrap()
}

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

    let (s, page) = body(
        o.get("/api/incidents?status=open&severity=high,critical&limit=10")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(s, 200, "{page}");
    assert_eq!(page["total"], 1);
    assert_eq!(page["items"][0]["id"], id);
    let (s, page) = body(
        o.get("/api/incidents?status=resolved")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!((s, page["total"].as_i64()), (200, Some(0)));
    let (s, b) = body(o.get("/api/incidents?status=closed").send().await.unwrap()).await;
    assert_eq!(s, 400, "{b}");
    assert!(b["message"].as_str().unwrap().contains("status"));
    assert_eq!(
        body(o.get("/api/incidents?limit=0").send().await.unwrap())
            .await
            .0,
        400
    );
    assert_eq!(
        body(o.get("/api/incidents?bogus=1").send().await.unwrap())
            .await
            .0,
        400
    );
    assert_eq!(
        body(
            o.get("/api/incidents?since=yesterday")
                .send()
                .await
                .unwrap()
        )
        .await
        .0,
        400
    );

    let (s, d) = body(o.get(&format!("/api/incidents/{id}")).send().await.unwrap()).await;
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
    assert_eq!(
        body(o.get("/api/incidents/999999").send().await.unwrap())
            .await
            .0,
        404
    );
    let (s, b) = body(o.get("/api/incidents/abc").send().await.unwrap()).await;
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
    assert_eq!(
        body(o.post(&ack).json(&json!({"user": 5})).send().await.unwrap())
            .await
            .0,
        422
    );
    assert_eq!(
        body(o.post(&ack).json(&json!({})).send().await.unwrap())
            .await
            .0,
        422
    );
    assert_eq!(
        body(
            o.post(&ack)
                .json(&json!({"user": "  "}))
                .send()
                .await
                .unwrap()
        )
        .await
        .0,
        422
    );
    assert_eq!(
        body(o.post(&ack).body("user=ana").send().await.unwrap())
            .await
            .0,
        415
    );
    let huge = "x".repeat(300 * 1024);
    assert_eq!(
        body(
            o.post(&ack)
                .json(&json!({"user": huge}))
                .send()
                .await
                .unwrap()
        )
        .await
        .0,
        413
    );
    let (s, row) = body(
        o.post(&ack)
            .json(&json!({"user": "ana"}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(
        (s, row["status"].as_str(), row["acknowledged_by"].as_str()),
        (200, Some("acknowledged"), Some("ana"))
    );
    let (s, b) = body(
        o.post(&ack)
            .json(&json!({"user": "ana"}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!((s, b["error"].as_str()), (409, Some("conflict")));
    assert_eq!(
        body(
            o.post("/api/incidents/424242/acknowledge")
                .json(&json!({"user": "ana"}))
                .send()
                .await
                .unwrap()
        )
        .await
        .0,
        404
    );

    // Resolve, then again.
    let resolve = format!("/api/incidents/{id}/resolve");
    let (s, row) = body(
        o.post(&resolve)
            .json(&json!({"user": "ana", "note": "fixed the config"}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(s, 200, "{row}");
    assert_eq!(row["resolution_method"], "manual");
    assert!(row["mttr_seconds"].as_f64().unwrap() >= 0.0);
    assert_eq!(
        body(
            o.post(&resolve)
                .json(&json!({"user": "ana"}))
                .send()
                .await
                .unwrap()
        )
        .await
        .0,
        409
    );

    // Resolve by job.
    let other = open_incident(&o, "api-gateway").await;
    let (s, b) = body(
        o.post("/api/incidents/resolve-by-job")
            .json(&json!({"job_name": "api-gateway", "user": "bob"}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(s, 200);
    assert_eq!(b["resolved"][0]["id"], other);
    assert_eq!(
        body(
            o.post("/api/incidents/resolve-by-job")
                .json(&json!({"job_name": "", "user": "bob"}))
                .send()
                .await
                .unwrap()
        )
        .await
        .0,
        422
    );

    // Unknown route and wrong method: JSON 404 / 405.
    let (s, b) = body(o.get("/api/nothing").send().await.unwrap()).await;
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

#[tokio::test]
async fn actions_metrics_logs_and_rules_routes() {
    let o = Orch::start().await;
    let id = open_incident(&o, "deploy-prod").await;

    let (s, a) = body(
        o.post("/api/actions")
            .json(
                &json!({"action_type": "restart", "target_job": "deploy-prod",
        "target_build": 3, "incident_id": id, "requested_by": "ana"}),
            )
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(s, 201, "{a}");
    assert_eq!(
        a["status"], "requested",
        "restarts need no approval by default"
    );
    let aid = a["id"].as_i64().unwrap();
    let (s, got) = body(o.get(&format!("/api/actions/{aid}")).send().await.unwrap()).await;
    assert_eq!((s, got["id"].as_i64()), (200, Some(aid)));
    assert_eq!(
        body(o.get("/api/actions/77777").send().await.unwrap())
            .await
            .0,
        404
    );
    assert_eq!(
        body(o.get("/api/actions/x").send().await.unwrap()).await.0,
        400
    );
    // Bad requests: unknown type, unknown incident, missing build, unknown field.
    assert_eq!(
        body(
            o.post("/api/actions")
                .json(&json!({"action_type": "reboot", "target_job": "j", "requested_by": "a"}))
                .send()
                .await
                .unwrap()
        )
        .await
        .0,
        422
    );
    assert_eq!(body(o.post("/api/actions").json(&json!({"action_type": "restart", "target_job": "j", "target_build": 1, "incident_id": 999, "requested_by": "a"})).send().await.unwrap()).await.0, 404);
    assert_eq!(
        body(
            o.post("/api/actions")
                .json(&json!({"action_type": "restart", "target_job": "j", "requested_by": "a"}))
                .send()
                .await
                .unwrap()
        )
        .await
        .0,
        422
    );
    assert_eq!(body(o.post("/api/actions").json(&json!({"action_type": "restart", "target_job": "j", "target_build": 1, "requested_by": "a", "sudo": true})).send().await.unwrap()).await.0, 422);

    // Deny: only before it started; approve: only while pending.
    assert_eq!(
        body(
            o.post(&format!("/api/actions/{aid}/approve"))
                .json(&json!({"user": "bob"}))
                .send()
                .await
                .unwrap()
        )
        .await
        .0,
        409
    );
    let (s, d) = body(
        o.post(&format!("/api/actions/{aid}/deny"))
            .json(&json!({"user": "bob", "reason": "not now"}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(
        (s, d["status"].as_str(), d["reason"].as_str()),
        (200, Some("rejected"), Some("not now"))
    );
    assert_eq!(
        body(
            o.post(&format!("/api/actions/{aid}/deny"))
                .json(&json!({"user": "bob"}))
                .send()
                .await
                .unwrap()
        )
        .await
        .0,
        409
    );
    assert_eq!(
        body(
            o.post("/api/actions/5555/deny")
                .json(&json!({"user": "bob"}))
                .send()
                .await
                .unwrap()
        )
        .await
        .0,
        404
    );

    let (s, m) = body(o.get("/api/metrics/summary").send().await.unwrap()).await;
    assert_eq!(s, 200);
    assert_eq!(m["total"], 1);
    assert_eq!(m["by_severity"]["high"], 1);
    assert_eq!(m["by_status"]["open"], 1);
    assert_eq!(
        body(
            o.get("/api/metrics/summary?since=2026-01-01T00:00:00Z")
                .send()
                .await
                .unwrap()
        )
        .await
        .0,
        200
    );

    let (s, logs) = body(
        o.get("/api/logs?source=jenkins&level=error&q=build%20failed")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(s, 200, "{logs}");
    assert_eq!(logs.as_array().unwrap().len(), 1);
    assert_eq!(
        body(o.get("/api/logs?source=syslog").send().await.unwrap())
            .await
            .0,
        400
    );

    let (s, r) = body(o.post("/api/rules/reload").send().await.unwrap()).await;
    assert_eq!(s, 200);
    assert!(r["rules"].as_u64().unwrap() >= 9);
}

#[tokio::test]
async fn direct_ingest_accepts_one_record_or_an_array() {
    let o = Orch::start().await;
    let one = json!({"timestamp": "2026-11-22T10:00:00Z", "level": "error", "message": "BUILD FAILED",
                     "job_name": "deploy-prod", "build_number": 8, "source_id": "doc-1"});
    let (s, r) = body(o.post("/mcp/logs/jenkins").json(&one).send().await.unwrap()).await;
    assert_eq!(s, 200, "{r}");
    assert_eq!(
        (r["stored"].as_u64(), r["incidents_opened"].as_u64()),
        (Some(1), Some(1))
    );
    let (s, r) = body(o.post("/mcp/logs/jenkins").json(&one).send().await.unwrap()).await;
    assert_eq!(
        (s, r["stored"].as_u64(), r["duplicates"].as_u64()),
        (200, Some(0), Some(1))
    );
    let many = json!([
        {"timestamp": "2026-11-22T10:00:00Z", "level": "warn", "http_status": 429, "path": "/a", "service": "s", "source_id": "a1"},
        {"timestamp": "2026-11-22T10:00:01Z", "level": "info", "http_status": 200, "path": "/a", "service": "s", "source_id": "a2"}
    ]);
    let (s, r) = body(o.post("/mcp/logs/api").json(&many).send().await.unwrap()).await;
    assert_eq!((s, r["stored"].as_u64()), (200, Some(2)));
    // One bad record in an array: 422 naming it, nothing stored.
    let bad = json!([{"timestamp": "2026-11-22T10:00:00Z", "level": "info", "http_status": 200, "source_id": "b1"},
                     {"timestamp": "2026-11-22T10:00:00Z", "level": "info", "http_status": 999, "source_id": "b2"}]);
    let (s, b) = body(o.post("/mcp/logs/api").json(&bad).send().await.unwrap()).await;
    assert_eq!(s, 422);
    assert!(b["message"].as_str().unwrap().contains("record 1"), "{b}");
    assert_eq!(o.count("SELECT count(*) FROM logs_api").await, 2);
    assert_eq!(
        body(
            o.post("/mcp/logs/api")
                .json(&json!({"level": "loud"}))
                .send()
                .await
                .unwrap()
        )
        .await
        .0,
        422
    );
    assert_eq!(
        body(
            o.http
                .post(format!("{}/mcp/logs/api", o.base))
                .json(&many)
                .send()
                .await
                .unwrap()
        )
        .await
        .0,
        401
    );
}

#[tokio::test]
async fn the_openapi_document_lists_every_route() {
    let o = Orch::start().await;
    let doc: Value = o
        .http
        .get(format!("{}/api/openapi.json", o.base))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(doc["openapi"], "3.1.0");
    let paths = doc["paths"].as_object().unwrap();
    let table = orchestrator::api::routes::table();
    let mut documented = 0;
    for (path, ops) in paths {
        for method in ops.as_object().unwrap().keys() {
            documented += 1;
            // Each documented operation is served: an empty request never gets 404 or 405.
            let url = format!("{}{}", o.base, path.replace("{id}", "1"));
            let m = reqwest::Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
            let (status, b) = body(
                o.http
                    .request(m, &url)
                    .bearer_auth(TOKEN)
                    .send()
                    .await
                    .unwrap(),
            )
            .await;
            // A 404 about the resource (incident 1 not found) is fine; one about the route is not.
            assert!(
                status != 405 && b["message"] != "no such route",
                "{method} {path} answered {status} {b}"
            );
            let op = &ops[method];
            assert!(
                op["responses"]
                    .as_object()
                    .unwrap()
                    .keys()
                    .any(|c| c.starts_with('2')),
                "{method} {path}"
            );
        }
    }
    assert_eq!(
        documented,
        table.len(),
        "every route of the table is documented"
    );
    for r in &table {
        assert!(
            paths[r.path][r.method.as_str().to_lowercase()].is_object(),
            "{} {}",
            r.method,
            r.path
        );
    }
    // Body schemas resolve to components.
    let ack = &paths["/api/incidents/{id}/acknowledge"]["post"]["requestBody"]["content"]["application/json"]
        ["schema"];
    let name = ack["$ref"].as_str().unwrap().rsplit('/').next().unwrap();
    assert!(
        doc["components"]["schemas"][name]["properties"]["user"].is_object(),
        "{ack}"
    );
    let list = &paths["/api/incidents"]["get"]["parameters"];
    assert!(
        list.as_array()
            .unwrap()
            .iter()
            .any(|p| p["name"] == "status" && p["in"] == "query")
    );
}
