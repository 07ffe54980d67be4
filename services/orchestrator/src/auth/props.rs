//! Model-based property tests of the policy: a naive reference evaluator beside the real
//! one, over random policies, principals, roles, channels, actions, jobs and bodies.

use domain::{ActionType, Channel};
use proptest::prelude::*;

use super::decide::{may_approve, plan_request};
use super::policy::{ActionDecision, Policy};
use super::{Actor, Role, Roles, normalise};
use domain::commands::ActionRequest;

const ACTIONS: [ActionType; 3] = [ActionType::Restart, ActionType::Rollback, ActionType::Stop];
const CHANNELS: [Channel; 5] = [
    Channel::Api,
    Channel::Slack,
    Channel::Mcp,
    Channel::Rule,
    Channel::System,
];
const JOB_PATTERNS: [&str; 6] = ["*", "*prod*", "deploy-*", "team/*", "nightly", "*-staging"];
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

#[derive(Debug, Clone)]
struct ModelClause {
    actions: Vec<ActionType>,
    jobs: Vec<&'static str>,
    roles: Vec<Role>,
    channels: Option<Vec<Channel>>,
    approvals: u32,
}

/// `*` matches any run of characters (including `/`); everything else is literal.
fn glob_match(p: &str, s: &str) -> bool {
    match p.split_once('*') {
        None => p == s,
        Some((head, tail)) => {
            s.starts_with(head)
                && (head.len()..=s.len())
                    .any(|i| s.is_char_boundary(i) && glob_match(tail, &s[i..]))
        }
    }
}

fn model_has(roles: &[Role], want: Role) -> bool {
    roles.contains(&want)
        || roles.contains(&Role::Admin)
        || (want == Role::Viewer && !roles.is_empty())
}

/// The policy's table, read the simplest way.
fn model_decide(
    clauses: &[ModelClause],
    roles: &[Role],
    channel: Channel,
    action: ActionType,
    job: &str,
    asked: bool,
) -> Option<u32> {
    let c = clauses.iter().find(|c| {
        c.actions.contains(&action)
            && c.jobs.iter().any(|p| glob_match(p, job))
            && c.channels.as_ref().is_none_or(|ch| ch.contains(&channel))
    })?;
    if !c.roles.iter().any(|r| model_has(roles, *r)) {
        return None;
    }
    Some(if asked {
        c.approvals.max(1)
    } else {
        c.approvals
    })
}

fn to_toml(clauses: &[ModelClause]) -> String {
    let mut t = String::new();
    for (i, c) in clauses.iter().enumerate() {
        let q = |v: Vec<String>| {
            v.iter()
                .map(|s| format!("\"{s}\""))
                .collect::<Vec<_>>()
                .join(", ")
        };
        t.push_str(&format!(
            "[[actions]]\nname = \"c{i}\"\nactions = [{}]\njobs = [{}]\nroles = [{}]\napprovals = {}\n",
            q(c.actions.iter().map(|a| a.to_string()).collect()),
            q(c.jobs.iter().map(|j| j.to_string()).collect()),
            q(c.roles.iter().map(|r| r.to_string()).collect()),
            c.approvals
        ));
        if let Some(ch) = &c.channels {
            t.push_str(&format!(
                "channels = [{}]\n",
                q(ch.iter().map(|c| c.to_string()).collect())
            ));
        }
    }
    t
}

fn subset<T: Clone + std::fmt::Debug + 'static>(
    all: &'static [T],
) -> impl Strategy<Value = Vec<T>> {
    proptest::sample::subsequence(all.to_vec(), 0..=all.len())
}

fn nonempty<T: Clone + std::fmt::Debug + 'static>(
    all: &'static [T],
) -> impl Strategy<Value = Vec<T>> {
    proptest::sample::subsequence(all.to_vec(), 1..=all.len())
}

fn clause() -> impl Strategy<Value = ModelClause> {
    (
        nonempty(&ACTIONS),
        nonempty(&JOB_PATTERNS),
        nonempty(&Role::ALL),
        proptest::option::of(subset(&CHANNELS)),
        0u32..=3,
    )
        .prop_map(|(actions, jobs, roles, channels, approvals)| ModelClause {
            actions,
            jobs,
            roles,
            channels,
            approvals,
        })
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
    fn the_decision_always_equals_the_policys_table(
        clauses in proptest::collection::vec(clause(), 0..6),
        roles in subset(&Role::ALL),
        channel in proptest::sample::select(CHANNELS.to_vec()),
        action in proptest::sample::select(ACTIONS.to_vec()),
        job in proptest::sample::select(JOBS.to_vec()),
        asked in any::<bool>(),
    ) {
        let policy = Policy::parse(&to_toml(&clauses), "prop").unwrap();
        let expected = model_decide(&clauses, &roles, channel, action, job, asked);
        let got = match policy.decide(&Roles::of(roles.clone()), channel, action, job, asked) {
            ActionDecision::Allow { approvals, .. } => Some(approvals),
            ActionDecision::Deny { .. } => None,
        };
        prop_assert_eq!(got, expected);
    }

    #[test]
    fn only_a_distinct_approver_other_than_the_requester_approves(
        me in name(),
        requester in name(),
        approvers in proptest::collection::vec(name(), 0..3),
        roles in subset(&Role::ALL),
        channel in proptest::sample::select(CHANNELS.to_vec()),
    ) {
        let a = actor(me.clone(), roles.clone(), channel);
        if may_approve(&a, &requester, &approvers).is_ok() {
            prop_assert!(model_has(&roles, Role::Approver), "approved without the approver role");
            prop_assert_ne!(normalise(&me), normalise(&requester), "the requester approved");
            prop_assert!(approvers.iter().all(|x| normalise(x) != normalise(&me)), "approved twice");
        }
    }

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

#[test]
fn the_reference_glob_agrees_with_examples() {
    assert!(glob_match("*prod*", "team/deploy-prod"));
    assert!(glob_match("team/*", "team/a/b"));
    assert!(!glob_match("nightly", "Nightly"));
    assert!(glob_match("*", ""));
}
