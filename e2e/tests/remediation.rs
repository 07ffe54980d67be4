//! The seed's remediation flow across real services: a failing build's log reaches the
//! orchestrator over the bus, a rule opens an incident and requests a restart, the runner
//! restarts the build on (fake) Jenkins, and its result resolves the incident with an MTTR.

use std::collections::HashMap;
use std::time::Duration;

use domain::{Envelope, JenkinsLog, Level, LogRecord};
use runtime::ServiceSettings;
use testkit::jenkins::{FakeJenkins, FakeJenkinsConfig};
use testkit::{TestBus, TestDb, wait_until};
use tokio_util::sync::CancellationToken;

const T: Duration = Duration::from_secs(30);

#[tokio::test]
async fn a_failed_build_is_restarted_and_its_incident_resolved() {
    testkit::init_tracing();
    let (db, tb) = (TestDb::new().await, TestBus::new().await);
    let jenkins = FakeJenkins::start(FakeJenkinsConfig {
        queue_delay: Duration::from_millis(50),
        build_duration: Duration::from_millis(100),
        ..FakeJenkinsConfig::default()
    })
    .await;
    jenkins.add_build("deploy-app", 41, "FAILURE", &[("ENV", "prod")]);

    let env: HashMap<String, String> = [
        ("DATABASE_URL", db.url().to_string()),
        ("RABBITMQ_URL", tb.settings.url.clone()),
        ("JENKINS_URL", jenkins.url()),
        ("RUNBOOKS__BUS__NAMESPACE", tb.namespace.clone()),
        ("RUNBOOKS__HTTP__HOST", "127.0.0.1".into()),
        ("RUNBOOKS__HTTP__PORT", "0".into()),
        ("RUNBOOKS__OUTBOX__POLL_INTERVAL_MS", "100".into()),
        ("RUNBOOKS__GUARD__ALLOWED_JOBS", "deploy-*".into()),
        ("RUNBOOKS__JENKINS__WAIT_FOR_RESULT", "true".into()),
        ("RUNBOOKS__JENKINS__POLL_INTERVAL_MS", "20".into()),
        ("RUNBOOKS__API__TOKENS", "t".into()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    let cancel = CancellationToken::new();

    let (common, own) =
        runtime::load_with_env(orchestrator::settings::DEFAULTS, None, Some(env.clone())).unwrap();
    let orch = orchestrator::Application::build(orchestrator::Settings { common, own })
        .await
        .unwrap();
    tokio::spawn(orch.run_until_stopped(cancel.clone()));
    let run = runner::Application::build(runner::Settings::load_with_env(None, Some(env)).unwrap())
        .await
        .unwrap();
    tokio::spawn(run.run_until_stopped(cancel.clone()));

    let mut events = tb
        .tap(domain::names::exchange::EVENTS, &["incident.*", "action.*"])
        .await;
    let log = LogRecord::Jenkins(JenkinsLog {
        timestamp: chrono::Utc::now(),
        level: Level::Error,
        message: "BUILD FAILED: tests did not compile".into(),
        job_name: Some("deploy-app".into()),
        build_number: Some(41),
        details: None,
        source_id: Some("es-doc-1".into()),
    });
    let env = Envelope::new("listener", log);
    let mut msg = bus::OutgoingMessage::from_envelope(&env);
    msg.headers = bus::trace::current_headers();
    let published_traceparent = msg.headers[bus::header::TRACEPARENT].clone();
    tb.bus.publish_message(&msg).await.unwrap();

    let detected = events.expect("incident.detected", T).await;
    let incident_id = detected.envelope.payload["incident"]["id"]
        .as_i64()
        .unwrap();
    events.expect("action.requested", T).await;
    events.expect("action.started", T).await;
    let completed = events.expect("action.completed", T).await;
    assert_eq!(
        completed.envelope.payload["result"]["build_result"],
        "SUCCESS"
    );
    let resolved = events.expect("incident.resolved", T).await;
    assert_eq!(resolved.envelope.payload["incident"]["id"], incident_id);
    assert_eq!(
        resolved.envelope.payload["resolution_method"],
        "automated_action"
    );
    assert!(resolved.envelope.payload["mttr_seconds"].as_f64().unwrap() > 0.0);

    // Jenkins saw exactly one rebuild, with the original parameters.
    let triggers = jenkins.triggers();
    assert_eq!(triggers.len(), 1, "{triggers:?}");
    assert!(
        triggers[0]
            .form
            .contains(&("ENV".to_string(), "prod".to_string())),
        "{triggers:?}"
    );
    // One trace: the log's trace id is carried through the orchestrator, the runner and back.
    let trace = |m: &bus::Message<serde_json::Value>| {
        m.traceparent()
            .and_then(bus::trace::trace_id_of)
            .map(str::to_string)
    };
    let log_trace = bus::trace::trace_id_of(&published_traceparent).map(str::to_string);
    assert!(log_trace.is_some());
    for m in [&detected, &completed, &resolved] {
        assert_eq!(trace(m), log_trace, "{} left the trace", m.envelope.kind);
    }
    wait_until("the incident row is resolved", T, || async {
        sqlx::query_scalar::<_, String>("SELECT status FROM incidents WHERE id = $1")
            .bind(incident_id)
            .fetch_one(db.pool())
            .await
            .is_ok_and(|s| s == "resolved")
    })
    .await;
    cancel.cancel();
}
