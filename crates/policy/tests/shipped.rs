//! The shipped policy: production jobs never change without a person on an automatic path.

use domain::{ActionType, Channel};
use policy::decide::plan_request;
use policy::{Actor, Policy, Role, Roles};

#[test]
fn production_jobs_need_an_approval_on_every_automatic_path() {
    let policy = Policy::builtin();
    let everyone = Roles::of(Role::ALL);
    for channel in [Channel::Rule, Channel::System, Channel::Mcp] {
        for job in ["deploy-prod", "team/prod-api", "shop-production"] {
            for action in [ActionType::Restart, ActionType::Rollback, ActionType::Stop] {
                let actor = Actor::new("auto", channel, everyone.clone());
                // Refused is fine too: what is allowed needs at least one approval.
                if let Ok(planned) = plan_request(&policy, &actor, action, job, Some(false)) {
                    assert!(
                        planned.approvals >= 1,
                        "{action} of {job} over {channel:?} allowed without approval ({})",
                        planned.clause
                    );
                }
            }
        }
    }
    // A rule may still restart a non-production build on its own.
    let rule = Actor::rule("jenkins_build_failure", &policy);
    let planned =
        plan_request(&policy, &rule, ActionType::Restart, "deploy-staging", None).unwrap();
    assert_eq!(planned.approvals, 0);
}
