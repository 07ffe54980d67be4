//! Exchange, queue and routing-key names, in one place. The bus applies an optional namespace
//! prefix (`t42.logs`) to exchange and queue names; routing keys never carry it.

/// Exchange names (all topic exchanges, durable).
pub mod exchange {
    pub const LOGS: &str = "logs";
    pub const EVENTS: &str = "logs.events";
    pub const HEALTH: &str = "health";
    pub const COMMANDS: &str = "commands";
    pub const DEAD_LETTERS: &str = "dead-letters";

    pub const ALL: [&str; 5] = [LOGS, EVENTS, HEALTH, COMMANDS, DEAD_LETTERS];
}

/// Durable queue names.
pub mod queue {
    pub const ORCHESTRATOR_LOGS: &str = "orchestrator.logs";
    pub const ORCHESTRATOR_ACTION_RESULTS: &str = "orchestrator.action-results";
    pub const ORCHESTRATOR_COMMANDS: &str = "orchestrator.commands";
    pub const ACTION_REQUESTS: &str = "action_requests";
    pub const INCIDENT_NOTIFICATIONS: &str = "incident_notifications";
    pub const HEALTH_MONITOR_EVENTS: &str = "health-monitor.events";
    pub const HEALTH_MONITOR_HEARTBEATS: &str = "health-monitor.heartbeats";
    pub const HEALTH_MONITOR_COMMANDS: &str = "health-monitor.commands";
    pub const RUNNER_COMMANDS: &str = "runner.commands";
    pub const ORCHESTRATOR_POSTMORTEMS: &str = "orchestrator.postmortems";

    /// Suffix of the dead-letter queue that belongs to every durable queue.
    pub const DLQ_SUFFIX: &str = ".dlq";
}

/// A durable queue and the bindings that feed it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QueueSpec {
    pub name: &'static str,
    /// `(exchange, binding key)` pairs.
    pub bindings: &'static [(&'static str, &'static str)],
}

use exchange::{COMMANDS, EVENTS, HEALTH, LOGS};

/// The whole queue topology from the design: every queue, what it is bound to.
pub const QUEUES: &[QueueSpec] = &[
    QueueSpec {
        name: queue::ORCHESTRATOR_LOGS,
        bindings: &[(LOGS, "logs.#")],
    },
    QueueSpec {
        name: queue::ORCHESTRATOR_ACTION_RESULTS,
        bindings: &[
            (EVENTS, "action.started"),
            (EVENTS, "action.completed"),
            (EVENTS, "action.failed"),
            (EVENTS, "action.rejected"),
        ],
    },
    QueueSpec {
        name: queue::ORCHESTRATOR_COMMANDS,
        bindings: &[
            (COMMANDS, "command.incidents.#"),
            (COMMANDS, "command.actions.#"),
            (COMMANDS, "command.stats.#"),
            (COMMANDS, "command.logs.#"),
            (COMMANDS, "command.postmortems.#"),
            (COMMANDS, "command.auth.#"),
        ],
    },
    QueueSpec {
        name: queue::ACTION_REQUESTS,
        bindings: &[(EVENTS, "action.requested"), (EVENTS, "action.approved")],
    },
    QueueSpec {
        name: queue::INCIDENT_NOTIFICATIONS,
        bindings: &[
            (EVENTS, "incident.*"),
            (EVENTS, "action.*"),
            (EVENTS, "health.service.*"),
            (EVENTS, "postmortem.*"),
        ],
    },
    QueueSpec {
        name: queue::HEALTH_MONITOR_EVENTS,
        bindings: &[(EVENTS, "#")],
    },
    QueueSpec {
        name: queue::HEALTH_MONITOR_HEARTBEATS,
        bindings: &[(HEALTH, "health.heartbeat.#")],
    },
    QueueSpec {
        name: queue::HEALTH_MONITOR_COMMANDS,
        bindings: &[(COMMANDS, "command.health.#")],
    },
    QueueSpec {
        name: queue::RUNNER_COMMANDS,
        bindings: &[(COMMANDS, "command.jenkins.#")],
    },
    QueueSpec {
        name: queue::ORCHESTRATOR_POSTMORTEMS,
        bindings: &[(EVENTS, "incident.resolved")],
    },
];

/// Looks up a queue of the design by name.
pub fn queue_spec(name: &str) -> Option<&'static QueueSpec> {
    QUEUES.iter().find(|q| q.name == name)
}

/// The five services, as they name themselves in heartbeats and `producer` fields.
pub mod service {
    pub const LISTENER: &str = "listener";
    pub const ORCHESTRATOR: &str = "orchestrator";
    pub const RUNNER: &str = "runner";
    pub const CHATOPS: &str = "chatops";
    pub const HEALTH_MONITOR: &str = "health-monitor";

    pub const ALL: [&str; 5] = [LISTENER, ORCHESTRATOR, RUNNER, CHATOPS, HEALTH_MONITOR];
}

/// Routing key of a heartbeat: `health.heartbeat.<service>`.
pub fn heartbeat_key(service: &str) -> String {
    format!("health.heartbeat.{service}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_binding_targets_a_known_exchange() {
        for q in QUEUES {
            assert!(!q.bindings.is_empty(), "{} has no binding", q.name);
            for (ex, _) in q.bindings {
                assert!(
                    exchange::ALL.contains(ex),
                    "{} bound to unknown {ex}",
                    q.name
                );
            }
        }
    }

    #[test]
    fn queue_names_are_unique() {
        let mut names: Vec<_> = QUEUES.iter().map(|q| q.name).collect();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), QUEUES.len());
        assert_eq!(
            queue_spec("action_requests").unwrap().bindings.len(),
            2,
            "runner gets requested and approved"
        );
    }
}
