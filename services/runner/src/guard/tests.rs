//! The guard's decisions, without a database.

use chrono::TimeZone;
use serde_json::json;

use super::*;

fn guard(f: impl FnOnce(&mut GuardSettings)) -> ActionGuard {
    let mut s = GuardSettings {
        allowed_jobs: vec!["app".into(), "team/*".into(), "prod-*".into()],
        denied_jobs: vec!["prod-db".into()],
        max_concurrent: 2,
        cooldown_max_actions: 2,
        cooldown_window_mins: 10,
        ..GuardSettings::default()
    };
    f(&mut s);
    s.compile().unwrap()
}

/// Wednesday 2025-01-15 12:00 UTC.
fn noon() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2025, 1, 15, 12, 0, 0).unwrap()
}

fn restart(g: &ActionGuard, job: &str) -> Result<Plan, Rejection> {
    g.check_request(ActionType::Restart, job, Some(3), &json!({}), noon())
}

fn class(r: Result<Plan, Rejection>) -> RejectClass {
    r.expect_err("a rejection").class
}

#[test]
fn allowed_jobs_pass_and_return_the_plan() {
    let g = guard(|_| {});
    let plan = restart(&g, "team/api").unwrap();
    assert_eq!(plan.job().as_str(), "team/api");
    assert_eq!(plan.build(), Some(3));
    assert!(restart(&g, "app").is_ok());
    assert!(restart(&g, "prod-web").is_ok());
}

#[test]
fn jobs_outside_the_allow_list_are_rejected() {
    let g = guard(|_| {});
    let r = restart(&g, "other").unwrap_err();
    assert_eq!(r.class, RejectClass::NotAllowed);
    assert_eq!(
        r.reason,
        "job \"other\" is not allowed by guard.allowed_jobs"
    );
    assert_eq!(class(restart(&g, "team/sub/app")), RejectClass::NotAllowed);
}

#[test]
fn an_empty_allow_list_allows_nothing() {
    let g = guard(|s| s.allowed_jobs.clear());
    assert!(g.allows_nothing());
    let r = restart(&g, "app").unwrap_err();
    assert_eq!(r.class, RejectClass::NotAllowed);
    assert!(r.reason.contains("guard.allowed_jobs is empty"), "{r}");
}

#[test]
fn deny_wins_over_allow_and_ignores_case() {
    let g = guard(|_| {});
    let r = restart(&g, "prod-db").unwrap_err();
    assert_eq!(r.class, RejectClass::Denied);
    assert_eq!(
        r.reason,
        "job \"prod-db\" is denied by guard.denied_jobs pattern \"prod-db\""
    );
    let g = guard(|s| s.allowed_jobs = vec!["**".into()]);
    assert_eq!(class(restart(&g, "PROD-DB")), RejectClass::Denied);
}

#[test]
fn invalid_requests_are_rejected_before_the_lists() {
    let g = guard(|s| s.allowed_jobs = vec!["**".into()]);
    let r = g
        .check_request(ActionType::Restart, "app", None, &json!({}), noon())
        .unwrap_err();
    assert_eq!(r.class, RejectClass::InvalidRequest);
    assert_eq!(r.reason, "restart needs a build number");
    assert_eq!(class(restart(&g, "../etc")), RejectClass::InvalidRequest);
    assert_eq!(class(restart(&g, "a/../b")), RejectClass::InvalidRequest);
    // Spaces are valid names (encoded in URLs); characters Jenkins never allows in a job
    // name, globs included, are refused as REST and MCP refuse them.
    assert!(restart(&g, "my app=1").is_ok());
    assert_eq!(
        class(restart(&g, "my app?x=1")),
        RejectClass::InvalidRequest
    );
    assert_eq!(class(restart(&g, "deploy-*")), RejectClass::InvalidRequest);
}

#[test]
fn business_hours_apply_when_enabled() {
    let g = guard(|s| {
        s.business_hours.enabled = true;
        s.business_hours.timezone = "America/New_York".into();
    });
    // 12:00 UTC is 07:00 in New York: before 09:00.
    let r = restart(&g, "app").unwrap_err();
    assert_eq!(r.class, RejectClass::OutsideBusinessHours);
    assert_eq!(
        r.reason,
        "outside business hours (mon,tue,wed,thu,fri 09:00-18:00 America/New_York); it is Wed 07:00 America/New_York"
    );
    let g = guard(|s| {
        s.business_hours.enabled = true;
        s.business_hours.timezone = "Europe/Madrid".into();
    });
    assert!(restart(&g, "app").is_ok(), "13:00 in Madrid");
}

#[test]
fn the_cooldown_rejects_and_a_full_house_waits() {
    let g = guard(|_| {});
    let counts = |running, recent_on_job| Counts {
        running,
        recent_on_job,
    };
    assert_eq!(g.check_capacity("app", counts(0, 0)), Capacity::Free);
    assert_eq!(g.check_capacity("app", counts(1, 1)), Capacity::Free);
    assert_eq!(
        g.check_capacity("app", counts(2, 0)),
        Capacity::Full { running: 2 }
    );
    match g.check_capacity("app", counts(0, 2)) {
        Capacity::Rejected(r) => {
            assert_eq!(r.class, RejectClass::Cooldown);
            assert_eq!(
                r.reason,
                "cooldown: 2 actions on job \"app\" in the last 10 minutes (limit 2)"
            );
        }
        other => panic!("unexpected {other:?}"),
    }
    // The cooldown is decided first: waiting for a slot would not help.
    assert!(matches!(
        g.check_capacity("app", counts(5, 5)),
        Capacity::Rejected(_)
    ));
    let off = guard(|s| s.cooldown_window_mins = 0);
    assert_eq!(off.cooldown_window_mins(), 0);
    assert_eq!(off.check_capacity("app", counts(0, 99)), Capacity::Free);
}

#[test]
fn waiting_backs_off_up_to_the_poll_limit() {
    let g = guard(|s| s.wait_poll_ms = 300);
    let first = g.next_poll(None);
    assert_eq!(first, Duration::from_millis(50));
    let mut d = first;
    for _ in 0..10 {
        d = g.next_poll(Some(d));
    }
    assert_eq!(d, Duration::from_millis(300));
    let r = g.concurrency_timeout(2, Duration::from_secs(300));
    assert_eq!(r.class, RejectClass::ConcurrencyTimeout);
    assert_eq!(
        r.reason,
        "concurrency limit reached: 2 actions running (limit 2); no slot freed within 300 s"
    );
}
