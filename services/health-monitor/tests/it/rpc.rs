//! `command.health.status` for `/devops status` and the MCP tool.

use domain::commands::{ErrorCode, key};
use domain::health::{HealthStatusReport, ServiceHealthStatus, ServiceKind};
use serde_json::json;

use crate::common::{FakeService, Harness};

#[tokio::test]
async fn status_command_answers_with_the_catalog() {
    let h = Harness::start().await;
    let jenkins = telemetry::external_check("jenkins", || async { Err("refused".into()) });
    let _svc = FakeService::start_with(&h.tb, "orchestrator", vec![jenkins]);
    h.wait_status("orchestrator", "degraded").await;

    let reply =
        h.tb.bus
            .request(key::HEALTH_STATUS, json!({}))
            .await
            .unwrap();
    let data = reply.into_result().unwrap();
    // The wire names chatops and the MCP server render.
    for k in [
        "healthy_services",
        "total_services",
        "checked_at",
        "services",
    ] {
        assert!(data.get(k).is_some(), "{k} missing in {data}");
    }
    let report: HealthStatusReport = serde_json::from_value(data).unwrap();
    let o = report
        .services
        .iter()
        .find(|s| s.service == "orchestrator")
        .unwrap();
    assert_eq!(o.kind, ServiceKind::Runbooks);
    assert_eq!(o.status, ServiceHealthStatus::Degraded);
    assert_eq!((o.instances, o.instances_up), (1, 1));
    assert_eq!(o.degraded, ["jenkins"]);
    assert!(o.last_seen_at.is_some());
    assert_eq!(report.healthy_services, report.total_services);

    let one =
        h.tb.bus
            .request(key::HEALTH_STATUS, json!({"service": "orchestrator"}))
            .await
            .unwrap()
            .into_result()
            .unwrap();
    assert_eq!(one["services"].as_array().unwrap().len(), 1);
    let err =
        h.tb.bus
            .request(key::HEALTH_STATUS, json!({"service": "nobody"}))
            .await
            .unwrap()
            .into_result()
            .unwrap_err();
    assert_eq!(err.code, ErrorCode::NotFound);
    let err =
        h.tb.bus
            .request(key::HEALTH_STATUS, json!({"verbose": true}))
            .await
            .unwrap()
            .into_result()
            .unwrap_err();
    assert_eq!(err.code, ErrorCode::BadRequest);
    assert!(err.message.contains("verbose"), "{}", err.message);
}
