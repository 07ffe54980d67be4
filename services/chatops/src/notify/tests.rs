//! The views merge events in any order to the same message.

use chrono::{DateTime, Utc};
use domain::events::*;
use domain::incident::IncidentSummary;
use domain::{
    ActionStatus, ActionType, Channel, IncidentStatus, JenkinsLog, Level, LogRecord,
    ResolutionMethod, Severity, Source,
};

use super::format;
use super::view::{ActionView, IncidentView};

fn at(s: &str) -> DateTime<Utc> {
    s.parse().unwrap()
}

fn summary(status: IncidentStatus, occurrences: i64, last: &str) -> IncidentSummary {
    IncidentSummary {
        id: 7,
        fingerprint: "fp".into(),
        rule: "build-failed".into(),
        rules: Vec::new(),
        title: "Build failed: deploy-prod #41".into(),
        severity: Severity::High,
        status,
        source: Source::Jenkins,
        job_name: Some("deploy-prod".into()),
        build_number: Some(41),
        service: None,
        path: None,
        runbook_url: None,
        occurrences,
        detected_at: at("2026-11-01T10:00:00Z"),
        last_seen_at: at(last),
    }
}

fn memory(fix: Option<&str>) -> domain::postmortem::IncidentMemory {
    domain::postmortem::IncidentMemory {
        seen_before: 3,
        last_incident_id: Some(2),
        last_fixed_by: fix.map(str::to_string),
        last_mttr_seconds: Some(210.0),
        last_resolved_at: Some(at("2026-10-30T09:00:00Z")),
        same_failure: None,
        best_similarity: None,
    }
}

fn postmortem(id: i64, version: i32, url: Option<&str>) -> PostmortemGenerated {
    PostmortemGenerated {
        postmortem_id: id,
        incident_id: 7,
        version,
        title: format!("Deploy outage (v{version})"),
        summary: Some("The heap was too small <!channel>.".into()),
        writer: domain::postmortem::Writer::Template,
        url: url.map(str::to_string),
        length: 4200,
        generated_at: at("2026-11-01T11:00:00Z"),
    }
}

fn events() -> Vec<Event> {
    let action = ActionRef {
        action_id: 3,
        action_type: ActionType::Restart,
        target_job: "deploy-prod".into(),
        target_build: Some(41),
        incident_id: Some(7),
    };
    vec![
        Event::IncidentDetected(IncidentDetected {
            incident: summary(IncidentStatus::Open, 1, "2026-11-01T10:00:00Z"),
            first_log: LogRecord::Jenkins(JenkinsLog {
                timestamp: at("2026-11-01T10:00:00Z"),
                level: Level::Error,
                message: "BUILD FAILED".into(),
                job_name: Some("deploy-prod".into()),
                build_number: Some(41),
                details: None,
                source_id: None,
            }),
            action_id: Some(3),
            memory: Some(memory(Some("restart"))),
        }),
        Event::IncidentUpdated(IncidentUpdated {
            incident: summary(IncidentStatus::Open, 4, "2026-11-01T10:02:00Z"),
            reason: UpdateReason::Occurrences,
            action_id: None,
            detail: None,
        }),
        Event::IncidentAcknowledged(IncidentAcknowledged {
            incident: summary(IncidentStatus::Acknowledged, 4, "2026-11-01T10:02:00Z"),
            acknowledged_by: "slack:U1".into(),
            acknowledged_at: at("2026-11-01T10:02:30Z"),
            channel: Channel::Slack,
        }),
        Event::ActionStarted(ActionStarted {
            action: action.clone(),
            runner: "runner-a".into(),
            started_at: at("2026-11-01T10:03:00Z"),
            lease_expires_at: at("2026-11-01T10:08:00Z"),
            dry_run: false,
        }),
        Event::ActionCompleted(ActionCompleted {
            action,
            result: domain::action::ActionResult {
                build_number: Some(42),
                build_result: Some("SUCCESS".into()),
                ..Default::default()
            },
            completed_at: at("2026-11-01T10:03:20Z"),
        }),
        Event::IncidentResolved(IncidentResolved {
            incident: summary(IncidentStatus::Resolved, 4, "2026-11-01T10:02:00Z"),
            resolved_by: "slack:U1".into(),
            resolved_at: at("2026-11-01T10:03:30Z"),
            resolution_method: ResolutionMethod::AutomatedAction,
            mttr_seconds: 210.0,
            action_id: Some(3),
        }),
    ]
}

fn render(order: &[usize]) -> crate::slack::Content {
    let all = events();
    let mut v = IncidentView::new(7);
    for &i in order {
        let e = &all[i];
        v.apply(e);
        if let Some(a) = ActionView::from_event(e) {
            v.merge_action(&a);
        }
        // A redelivery changes nothing.
        v.apply(e);
    }
    format::incident(&v)
}

fn permutations(n: usize) -> Vec<Vec<usize>> {
    if n == 0 {
        return vec![vec![]];
    }
    let mut out = Vec::new();
    for p in permutations(n - 1) {
        for i in 0..=p.len() {
            let mut q = p.clone();
            q.insert(i, n - 1);
            out.push(q);
        }
    }
    out
}

#[test]
fn every_order_of_the_events_renders_the_same_parent() {
    let want = render(&[0, 1, 2, 3, 4, 5]);
    let text = crate::slack::text::blocks_to_lines(&want.blocks).join("\n");
    assert!(
        text.contains("resolved") && text.contains("MTTR 3.5 min"),
        "{text}"
    );
    assert!(text.contains("completed: build #42 SUCCESS"), "{text}");
    assert!(text.contains("*Occurrences:* 4"), "{text}");
    assert!(!text.contains("[Acknowledge]"), "{text}");
    assert!(
        text.contains("🧠 Seen 3 times before; last fixed by restart in 3.5 min (incident #2)"),
        "the memory of detection survives every later event: {text}"
    );
    for order in permutations(6) {
        assert_eq!(render(&order), want, "order {order:?}");
    }
}

#[test]
fn memory_lines_say_how_it_was_fixed_when_known() {
    assert_eq!(
        format::memory(&memory(None)).unwrap(),
        "🧠 Seen 3 times before"
    );
    assert_eq!(
        format::memory(&memory(Some("auto_recovered"))).unwrap(),
        "🧠 Seen 3 times before; last recovered on its own in 3.5 min (incident #2)"
    );
    let mut once = memory(Some("manual"));
    once.seen_before = 1;
    once.last_mttr_seconds = Some(45.0);
    assert_eq!(
        format::memory(&once).unwrap(),
        "🧠 Seen once before; last fixed by hand in 45 s (incident #2)"
    );
    let mut odd = memory(Some("<!here>"));
    odd.last_incident_id = None;
    assert_eq!(
        format::memory(&odd).unwrap(),
        "🧠 Seen 3 times before; last fixed by &lt;!here&gt; in 3.5 min"
    );
    let mut never = memory(Some("restart"));
    never.seen_before = 0;
    assert_eq!(format::memory(&never), None);
}

#[test]
fn memory_lines_say_why_earlier_incidents_count() {
    let mut m = memory(None);
    m.same_failure = Some(3);
    assert_eq!(
        format::memory(&m).unwrap(),
        "🧠 Seen 3 times before (the same rule and job)"
    );
    m.same_failure = Some(1);
    m.best_similarity = Some(0.84);
    assert_eq!(
        format::memory(&m).unwrap(),
        "🧠 Seen 3 times before (1 by the same rule and job, 2 with a similar error, up to 84% alike)"
    );
    m.same_failure = Some(0);
    m.best_similarity = None;
    assert_eq!(
        format::memory(&m).unwrap(),
        "🧠 Seen 3 times before (3 with a similar error)"
    );
    // A count that cannot be right is not explained at all.
    m.same_failure = Some(9);
    assert_eq!(format::memory(&m).unwrap(), "🧠 Seen 3 times before");
}

#[test]
fn the_newest_post_mortem_stays_on_the_parent_whatever_the_order() {
    let v1 = Event::PostmortemGenerated(postmortem(11, 1, None));
    let v2 = Event::PostmortemGenerated(postmortem(12, 2, None));
    let mut a = IncidentView::new(7);
    a.apply(&events()[0]);
    let mut b = a.clone();
    a.apply(&v1);
    a.apply(&v2);
    b.apply(&v2);
    b.apply(&v1);
    assert_eq!(a, b);
    let text = crate::slack::text::blocks_to_lines(&format::incident(&a).blocks).join("\n");
    assert!(
        text.contains("*Post-mortem v2:* Deploy outage (v2) (`/devops postmortem 7`)"),
        "{text}"
    );
    // A view stored before versions existed still reads, as version 1.
    let mut stored = serde_json::to_value(IncidentView::new(7)).unwrap();
    stored["postmortem"] = serde_json::json!([11, "Deploy outage"]);
    let old: IncidentView = serde_json::from_value(stored).unwrap();
    let p = old.postmortem.unwrap();
    assert_eq!(
        (p.id, p.version, p.title.as_str()),
        (11, 1, "Deploy outage")
    );
}

#[test]
fn post_mortem_replies_link_the_report_only_when_the_url_is_safe() {
    let c = format::postmortem(&postmortem(
        12,
        2,
        Some("https://runbooks.example/api/incidents/7/postmortem"),
    ));
    assert!(
        c.text
            .starts_with("📝 Post-mortem v2 of incident #7: *Deploy outage (v2)*")
    );
    assert!(c.text.contains("_written from the template_"), "{}", c.text);
    assert!(
        c.text.contains("&lt;!channel&gt;"),
        "summary escaped: {}",
        c.text
    );
    assert!(
        c.text.ends_with(
            "<https://runbooks.example/api/incidents/7/postmortem|Full report> · `/devops postmortem 7`"
        ),
        "{}",
        c.text
    );
    let mut llm = postmortem(12, 2, Some("javascript:alert(1)"));
    llm.writer = domain::postmortem::Writer::Llm;
    let c = format::postmortem(&llm);
    assert!(c.text.contains("_written by the LLM_"), "{}", c.text);
    assert!(!c.text.contains("javascript"), "{}", c.text);
    assert!(c.text.ends_with("\n`/devops postmortem 7`"), "{}", c.text);
}

#[test]
fn action_views_keep_the_furthest_status() {
    let requested = ActionView {
        id: 1,
        action_type: ActionType::Rollback,
        target_job: "deploy-prod".into(),
        target_build: None,
        incident_id: None,
        status: ActionStatus::PendingApproval,
        requested_by: Some("slack:U1".into()),
        requires_approval: true,
        approvals_required: 2,
        approved_by: None,
        rejected_by: None,
        detail: Some("bad release".into()),
        dry_run: None,
        outcome: None,
    };
    let mut rejected = requested.clone();
    rejected.status = ActionStatus::Rejected;
    rejected.rejected_by = Some("slack:U2".into());
    rejected.detail = Some("not now".into());
    let mut a = requested.clone();
    a.merge(&rejected);
    let mut b = rejected.clone();
    b.merge(&requested);
    assert_eq!(a.status, ActionStatus::Rejected);
    assert_eq!(format::action_card(&a), format::action_card(&b));
    let card = format::action_card(&requested);
    assert!(card.blocks.to_string().contains("action_approve"));
    assert!(card.text.contains("pending_approval"));
    assert!(
        !format::action_card(&a)
            .blocks
            .to_string()
            .contains("action_approve")
    );
}

#[test]
fn slack_error_codes_are_classified_by_what_to_do_next() {
    use crate::slack::SlackError;
    assert!(matches!(
        SlackError::from_api_code("ratelimited"),
        SlackError::RateLimited(_)
    ));
    assert!(matches!(
        SlackError::from_api_code("internal_error"),
        SlackError::Unavailable(_)
    ));
    assert!(matches!(
        SlackError::from_api_code("not_in_channel"),
        SlackError::Blocked(_)
    ));
    assert!(matches!(
        SlackError::from_api_code("token_revoked"),
        SlackError::Blocked(_)
    ));
    assert!(matches!(
        SlackError::from_api_code("invalid_blocks"),
        SlackError::Rejected(_)
    ));
    assert!(matches!(
        SlackError::from_api_code("msg_too_long"),
        SlackError::Rejected(_)
    ));
}
