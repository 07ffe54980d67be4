//! Model-based property tests of the policy: a naive reference evaluator beside the real
//! one, over random policies, principals, roles, channels, actions and jobs; and the
//! properties the model rests on — no role, no permission; a clause that refuses is never
//! overridden by a later one; approvals are never lowered; approvers are distinct people.

use domain::{ActionType, Channel};
use policy::decide::{authorize, may_approve, plan_request};
use policy::{ActionDecision, Actor, Op, Policy, Role, Roles, normalise};
use proptest::prelude::*;

const ACTIONS: [ActionType; 3] = [ActionType::Restart, ActionType::Rollback, ActionType::Stop];
const CHANNELS: [Channel; 5] = [
    Channel::Api,
    Channel::Slack,
    Channel::Mcp,
    Channel::Rule,
    Channel::System,
];
const OPS: [Op; 9] = [
    Op::Read,
    Op::Acknowledge,
    Op::Resolve,
    Op::Approve,
    Op::Deny,
    Op::ReloadRules,
    Op::Ingest,
    Op::WritePostmortem,
    Op::StartRunbook,
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

fn parse(clauses: &[ModelClause]) -> Policy {
    Policy::parse(&to_toml(clauses), "prop").unwrap()
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

fn channel() -> impl Strategy<Value = Channel> {
    proptest::sample::select(CHANNELS.to_vec())
}

fn action() -> impl Strategy<Value = ActionType> {
    proptest::sample::select(ACTIONS.to_vec())
}

fn job() -> impl Strategy<Value = &'static str> {
    proptest::sample::select(JOBS.to_vec())
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
        channel in channel(),
        action in action(),
        job in job(),
        asked in any::<bool>(),
    ) {
        let policy = parse(&clauses);
        let expected = model_decide(&clauses, &roles, channel, action, job, asked);
        let got = match policy.decide(&Roles::of(roles.clone()), channel, action, job, asked) {
            ActionDecision::Allow { approvals, .. } => Some(approvals),
            ActionDecision::Deny { .. } => None,
        };
        prop_assert_eq!(got, expected);
    }

    #[test]
    fn no_role_no_permission(
        clauses in proptest::collection::vec(clause(), 0..6),
        who in name(),
        channel in channel(),
        action in action(),
        job in job(),
        asked in proptest::option::of(any::<bool>()),
        requester in name(),
    ) {
        let policy = parse(&clauses);
        let nobody = actor(who, Vec::new(), channel);
        let decision = policy.decide(&Roles::none(), channel, action, job, asked.unwrap_or(false));
        prop_assert!(matches!(decision, ActionDecision::Deny { .. }), "{decision:?}");
        prop_assert!(plan_request(&policy, &nobody, action, job, asked).is_err());
        for op in OPS {
            let denial = authorize(&nobody, op).unwrap_err();
            prop_assert_eq!(denial.missing_role, Some(op.role().to_string()));
        }
        prop_assert!(may_approve(&nobody, &requester, &[]).is_err());
    }

    #[test]
    fn a_clause_that_covers_a_request_decides_it_whatever_follows(
        first in proptest::collection::vec(clause(), 0..4),
        then in proptest::collection::vec(clause(), 1..4),
        roles in subset(&Role::ALL),
        channel in channel(),
        action in action(),
        job in job(),
        asked in any::<bool>(),
    ) {
        let before = parse(&first).decide(&Roles::of(roles.clone()), channel, action, job, asked);
        let all: Vec<ModelClause> = first.iter().chain(&then).cloned().collect();
        let after = parse(&all).decide(&Roles::of(roles), channel, action, job, asked);
        match &before {
            // Default deny: a later clause may cover the request.
            ActionDecision::Deny { clause: None, .. } => {}
            // A refusal by a clause is never turned into a grant, nor an allowance changed.
            covered => prop_assert_eq!(covered, &after),
        }
    }

    #[test]
    fn approvals_are_never_lowered(
        clauses in proptest::collection::vec(clause(), 1..6),
        roles in subset(&Role::ALL),
        channel in channel(),
        action in action(),
        job in job(),
        asked in proptest::option::of(any::<bool>()),
    ) {
        let policy = parse(&clauses);
        let a = actor("ana".into(), roles.clone(), channel);
        let clause_says = policy.decide(&Roles::of(roles), channel, action, job, false);
        match (plan_request(&policy, &a, action, job, asked), clause_says) {
            (Ok(p), ActionDecision::Allow { clause, approvals }) => {
                prop_assert_eq!(p.clause, clause);
                prop_assert!(p.approvals >= approvals);
                if asked == Some(true) {
                    prop_assert!(p.approvals >= 1);
                }
                prop_assert!(p.approvals <= policy::MAX_APPROVALS);
            }
            (Err(_), ActionDecision::Deny { .. }) => {}
            (got, want) => prop_assert!(false, "asking changed the decision: {got:?} vs {want:?}"),
        }
    }

    #[test]
    fn only_a_distinct_approver_other_than_the_requester_approves(
        me in name(),
        requester in name(),
        approvers in proptest::collection::vec(name(), 0..3),
        roles in subset(&Role::ALL),
        channel in channel(),
    ) {
        let a = actor(me.clone(), roles.clone(), channel);
        let expected = model_has(&roles, Role::Approver)
            && normalise(&me) != normalise(&requester)
            && approvers.iter().all(|x| normalise(x) != normalise(&me));
        prop_assert_eq!(may_approve(&a, &requester, &approvers).is_ok(), expected);
    }
}

#[test]
fn the_reference_glob_agrees_with_examples() {
    assert!(glob_match("*prod*", "team/deploy-prod"));
    assert!(glob_match("team/*", "team/a/b"));
    assert!(!glob_match("nightly", "Nightly"));
    assert!(glob_match("*", ""));
}
