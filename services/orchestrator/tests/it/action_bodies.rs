//! Property test of what the REST API adds to the policy: a request body's claims (who,
//! where, whether to ask approval) never change the actor nor lower the approvals. The
//! policy's own model-based tests are in `crates/policy/tests/props.rs`.

use domain::{ActionType, Channel};
use proptest::prelude::*;

use domain::commands::ActionRequest;
use orchestrator::auth::decide::plan_request;
use orchestrator::auth::{ActionDecision, Actor, Policy, Role, Roles};

const ACTIONS: [ActionType; 3] = [ActionType::Restart, ActionType::Rollback, ActionType::Stop];
const CHANNELS: [Channel; 5] = [
    Channel::Api,
    Channel::Slack,
    Channel::Mcp,
    Channel::Rule,
    Channel::System,
];
const JOBS: [&str; 8] = [
    "deploy-prod",
    "deploy-staging",
    "nightly",
    "team/app",
    "team/prod-api",
    "build",
    "x-staging",
    "Nightly",
];

fn subset<T: Clone + std::fmt::Debug + 'static>(
    all: &'static [T],
) -> impl Strategy<Value = Vec<T>> {
    proptest::sample::subsequence(all.to_vec(), 0..=all.len())
}

fn name() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("ana".to_string()),
        Just("Ana".to_string()),
        Just(" ana ".to_string()),
        Just("bob".to_string()),
        Just("slack:U1".to_string()),
        Just("SLACK:u1".to_string()),
        Just("rule:x".to_string()),
        "[a-z]{1,6}",
    ]
}

fn actor(name: String, roles: Vec<Role>, channel: Channel) -> Actor {
    Actor::new(name, channel, Roles::of(roles))
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, .. ProptestConfig::default() })]

    #[test]
    fn no_body_field_changes_the_actor_or_lowers_the_approvals(
        who in name(),
        roles in subset(&Role::ALL),
        channel in proptest::sample::select(CHANNELS.to_vec()),
        action in proptest::sample::select(ACTIONS.to_vec()),
        job in proptest::sample::select(JOBS.to_vec()),
        claimed in name(),
        claimed_channel in proptest::sample::select(CHANNELS.to_vec()),
        asked in proptest::option::of(any::<bool>()),
    ) {
        let policy = Policy::builtin();
        let a = actor(who.clone(), roles.clone(), channel);
        let body = serde_json::json!({
            "action_type": action, "target_job": job, "target_build": 3,
            "requested_by": claimed, "channel": claimed_channel, "requires_approval": asked,
        });
        // A body claiming who or where is refused whole: it cannot name the actor.
        prop_assert!(serde_json::from_value::<ActionRequest>(body).is_err());
        let req = serde_json::from_value::<ActionRequest>(serde_json::json!({
            "action_type": action, "target_job": job, "target_build": 3, "requires_approval": asked,
        })).unwrap();
        let baseline = policy.decide(&Roles::of(roles), channel, action, job, false);
        match (plan_request(&policy, &a, action, job, req.requires_approval), baseline) {
            (Ok(p), ActionDecision::Allow { approvals, .. }) => prop_assert!(p.approvals >= approvals),
            (Err(_), ActionDecision::Deny { .. }) => {}
            (got, want) => prop_assert!(false, "body changed the decision: {got:?} vs {want:?}"),
        }
    }
}
