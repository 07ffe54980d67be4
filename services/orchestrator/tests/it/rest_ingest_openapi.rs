//! Direct log ingest over REST, and the OpenAPI document.

use crate::common::*;
use crate::rest_common::*;
use serde_json::{Value, json};

#[tokio::test]
async fn direct_ingest_accepts_one_record_or_an_array() {
    let o = Orch::start().await;
    let now = chrono::Utc::now().to_rfc3339();
    let one = json!({"timestamp": now, "level": "error", "message": "BUILD FAILED",
                     "job_name": "deploy-prod", "build_number": 8, "source_id": "doc-1"});
    let (s, r) = post_json(&o, "/mcp/logs/jenkins", &one).await;
    assert_eq!(s, 200, "{r}");
    assert_eq!(
        (r["stored"].as_u64(), r["incidents_opened"].as_u64()),
        (Some(1), Some(1))
    );
    let (s, r) = post_json(&o, "/mcp/logs/jenkins", &one).await;
    assert_eq!(
        (s, r["stored"].as_u64(), r["duplicates"].as_u64()),
        (200, Some(0), Some(1))
    );
    let many = json!([
        {"timestamp": now, "level": "warn", "http_status": 429, "path": "/a", "service": "s", "source_id": "a1"},
        {"timestamp": now, "level": "info", "http_status": 200, "path": "/a", "service": "s", "source_id": "a2"}
    ]);
    let (s, r) = post_json(&o, "/mcp/logs/api", &many).await;
    assert_eq!((s, r["stored"].as_u64()), (200, Some(2)));
    // One bad record in an array: 400 naming it and its field, nothing stored.
    let bad = json!([{"timestamp": now, "level": "info", "http_status": 200, "source_id": "b1"},
                     {"timestamp": now, "level": "info", "http_status": 999, "source_id": "b2"}]);
    let (s, b) = post_json(&o, "/mcp/logs/api", &bad).await;
    assert_eq!(s, 400);
    assert!(b["message"].as_str().unwrap().contains("record 1"), "{b}");
    assert_eq!(
        (b["field"].as_str(), b["record"].as_u64()),
        (Some("http_status"), Some(1))
    );
    assert_eq!(o.count("SELECT count(*) FROM logs_api").await, 2);
    // Blank and oversized ids are refused with the field named, not deduplicated or a 500.
    for id in [json!(""), json!("   "), json!("x".repeat(3000))] {
        let rec = json!({"timestamp": now, "level": "error",
                         "message": "x", "source_id": id});
        let (s, b) = post_json(&o, "/mcp/logs/jenkins", &rec).await;
        assert_eq!(s, 400, "{b}");
        assert_eq!(b["field"], "source_id", "{b}");
        assert_eq!(b["error"], "bad_request");
    }
    assert_eq!(o.count("SELECT count(*) FROM logs_jenkins").await, 1);
    assert_eq!(
        post_json(&o, "/mcp/logs/api", &json!({"level": "loud"}))
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
    // `{}`: nothing else is accepted (no body names who acts).
    assert_eq!(
        doc["components"]["schemas"][name]["additionalProperties"], false,
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

#[tokio::test]
async fn the_openapi_document_states_the_constraints_the_handlers_enforce() {
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
    let params = doc["paths"]["/api/incidents"]["get"]["parameters"]
        .as_array()
        .unwrap();
    let limit = params.iter().find(|p| p["name"] == "limit").unwrap();
    assert_eq!(
        (
            limit["schema"]["minimum"].as_i64(),
            limit["schema"]["maximum"].as_i64()
        ),
        (Some(1), Some(200))
    );
    assert!(
        params.iter().find(|p| p["name"] == "status").unwrap()["schema"]["pattern"].is_string()
    );
    let schemas = &doc["components"]["schemas"];
    let action = &schemas["ActionRequest"];
    assert_eq!(
        action["then"]["required"],
        json!(["target_build"]),
        "{action}"
    );
    assert_eq!(action["properties"]["target_job"]["maxLength"], 512);
    assert_eq!(
        schemas["JenkinsLog"]["properties"]["source_id"]["maxLength"],
        256
    );
    let post = &doc["paths"]["/api/actions"]["post"];
    assert!(post["responses"]["403"].is_object(), "403 documented");
    // The action list documents its filters and the same page limits as incidents'.
    let list = doc["paths"]["/api/actions"]["get"]["parameters"]
        .as_array()
        .unwrap();
    let names: Vec<&str> = list.iter().filter_map(|p| p["name"].as_str()).collect();
    for name in [
        "status",
        "job",
        "incident",
        "requested_by",
        "since",
        "limit",
        "offset",
    ] {
        assert!(names.contains(&name), "{name} in {names:?}");
    }
    let limit = list.iter().find(|p| p["name"] == "limit").unwrap();
    assert_eq!(limit["schema"]["maximum"], 200);
    let status = list.iter().find(|p| p["name"] == "status").unwrap();
    assert!(
        status["schema"]["pattern"]
            .as_str()
            .unwrap()
            .contains("pending_approval")
    );
    assert_eq!(
        doc["components"]["securitySchemes"]["bearer"]["scheme"],
        "bearer"
    );

    // What the document allows is accepted; what it forbids is refused.
    let now = chrono::Utc::now().to_rfc3339();
    let whole_float =
        json!({"timestamp": now, "level": "info", "message": "x", "build_number": 12.0});
    assert_eq!(
        post_json(&o, "/mcp/logs/jenkins", &whole_float).await.0,
        200
    );
    let (s, b) = get_json(&o, "/api/incidents?status=").await;
    assert_eq!((s, b["field"].as_str()), (400, Some("status")));
    assert_eq!(get_json(&o, "/api/incidents?limit=0").await.0, 400);
    let (s, b) = post_json(&o, "/api/actions/1/deny", &json!([null, null])).await;
    assert_eq!(s, 422, "an array is not an object: {b}");
}
