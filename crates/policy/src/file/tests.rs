use domain::{ActionType, Channel};

use super::*;

#[test]
fn the_shipped_policy_loads() {
    let p = Policy::builtin();
    assert!(!p.clauses.is_empty());
    let op = Roles::of([Role::Operator]);
    assert!(matches!(
        p.decide(&op, Channel::Api, ActionType::Restart, "deploy-prod", false),
        ActionDecision::Allow { .. }
    ));
    assert!(matches!(
        p.decide(
            &Roles::of([Role::Viewer]),
            Channel::Api,
            ActionType::Restart,
            "x",
            false
        ),
        ActionDecision::Deny { .. }
    ));
}

#[test]
fn bad_files_name_what_is_wrong() {
    let cases = [
        (
            "[[actions]]\nname = \"a\"\nactions = [\"reboot\"]\nroles = [\"operator\"]\n",
            "actions[0] (a): actions",
        ),
        (
            "[[actions]]\nname = \"a\"\nactions = [\"stop\"]\nroles = [\"boss\"]\n",
            "unknown role `boss`",
        ),
        (
            "[[actions]]\nname = \"a\"\nactions = [\"stop\"]\nroles = []\n",
            "roles is empty",
        ),
        (
            "[[actions]]\nname = \"a\"\nactions = [\"stop\"]\nroles = [\"admin\"]\napprovals = 9\n",
            "approvals 9",
        ),
        ("[roles]\n\"x\" = [\"root\"]\n", "roles.\"x\""),
        (
            "[[actions]]\nname = \"a\"\nactions = [\"stop\"]\nroles = [\"admin\"]\nchannels = [\"fax\"]\n",
            "channels",
        ),
        (
            "[[actions]]\nname = \"a\"\nactions = [\"stop\"]\nroles = [\"admin\"]\n[[actions]]\nname = \"a\"\nactions = [\"stop\"]\nroles = [\"admin\"]\n",
            "used twice",
        ),
        ("colour = 1\n", "unknown field"),
    ];
    for (text, want) in cases {
        let e = Policy::parse(text, "t.toml").unwrap_err().to_string();
        assert!(e.contains(want), "{want:?} not in {e:?}");
        assert!(e.starts_with("policy t.toml:"), "{e}");
    }
}

#[test]
fn roles_come_from_names_and_groups_by_pattern() {
    let p = Policy::parse(
        "[roles]\n\"slack:*\" = [\"viewer\"]\n\"slack:U1\" = [\"approver\"]\n\"slack-group:S9\" = [\"operator\"]\n",
        "t",
    )
    .unwrap();
    let r = p.roles_of("Slack:u1", &[]);
    assert!(r.has(Role::Approver) && !r.has(Role::Operator));
    let r = p.roles_of("slack:U2", &["slack-group:S9".into()]);
    assert!(r.has(Role::Operator) && !r.has(Role::Approver));
    assert!(p.roles_of("ana", &[]).is_empty());
}

#[test]
fn the_first_matching_clause_decides_and_a_caller_only_raises_approvals() {
    let p = Policy::parse(
        r#"
[[actions]]
name = "prod-stop"
actions = ["stop"]
jobs = ["*-prod"]
roles = ["admin"]
approvals = 2

[[actions]]
name = "stop"
actions = ["stop", "rollback"]
roles = ["operator"]
channels = ["api", "slack"]
approvals = 1

[[actions]]
name = "restart"
actions = ["restart"]
roles = ["operator"]
"#,
        "t",
    )
    .unwrap();
    let op = Roles::of([Role::Operator]);
    let d = p.decide(&op, Channel::Api, ActionType::Stop, "deploy-prod", false);
    assert!(
        matches!(&d, ActionDecision::Deny { clause: Some(c), .. } if c == "prod-stop"),
        "{d:?}"
    );
    assert_eq!(
        p.decide(
            &Roles::of([Role::Admin]),
            Channel::Api,
            ActionType::Stop,
            "deploy-prod",
            false
        ),
        ActionDecision::Allow {
            clause: "prod-stop".into(),
            approvals: 2
        }
    );
    assert_eq!(
        p.decide(&op, Channel::Slack, ActionType::Stop, "build", false),
        ActionDecision::Allow {
            clause: "stop".into(),
            approvals: 1
        }
    );
    assert!(matches!(
        p.decide(&op, Channel::Mcp, ActionType::Stop, "build", false),
        ActionDecision::Deny { clause: None, .. }
    ));
    assert_eq!(
        p.decide(&op, Channel::Mcp, ActionType::Restart, "build", true),
        ActionDecision::Allow {
            clause: "restart".into(),
            approvals: 1
        }
    );
    assert_eq!(
        p.decide(&op, Channel::Mcp, ActionType::Restart, "build", false),
        ActionDecision::Allow {
            clause: "restart".into(),
            approvals: 0
        }
    );
}
