use domain::names::queue::DLQ_SUFFIX;

/// Applies the namespace prefix to exchange and queue names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Names {
    prefix: String,
}

impl Names {
    pub fn new(namespace: &str) -> Self {
        let prefix = if namespace.is_empty() {
            String::new()
        } else {
            format!("{namespace}.")
        };
        Names { prefix }
    }

    pub fn exchange(&self, logical: &str) -> String {
        format!("{}{logical}", self.prefix)
    }

    pub fn queue(&self, logical: &str) -> String {
        format!("{}{logical}", self.prefix)
    }

    pub fn dlq(&self, logical: &str) -> String {
        format!("{}{logical}{DLQ_SUFFIX}", self.prefix)
    }

    pub fn dead_letters(&self) -> String {
        self.exchange(domain::names::exchange::DEAD_LETTERS)
    }
}

/// Whether `logical` holds RPC requests (a queue bound to the `commands` exchange; ad hoc
/// queues are recognised by their `.commands` suffix). Requests carry an AMQP expiration;
/// the ones that expire unanswered must vanish, not pile up in a dead-letter queue.
pub fn is_request_queue(logical: &str) -> bool {
    match domain::names::queue_spec(logical) {
        Some(spec) => spec
            .bindings
            .iter()
            .any(|(ex, _)| *ex == domain::names::exchange::COMMANDS),
        None => logical.ends_with(".commands"),
    }
}

/// The routing key our dead letters of `logical` travel with on the `dead-letters`
/// exchange: the queue's name, or for request queues `<queue>.rejected`. The broker
/// dead-letters what expires under the queue's name, which reaches no queue for request
/// queues, so an expired request is dropped while a rejected one is kept.
pub fn dead_letter_key(names: &Names, logical: &str) -> String {
    if is_request_queue(logical) {
        format!("{}{REJECTED_SUFFIX}", names.queue(logical))
    } else {
        names.queue(logical)
    }
}

/// Suffix of the dead-letter routing key of request queues.
pub const REJECTED_SUFFIX: &str = ".rejected";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_queues_dead_letter_under_their_own_key() {
        let n = Names::new("t1");
        assert!(is_request_queue("orchestrator.commands"));
        assert!(is_request_queue("health-monitor.commands"));
        assert!(is_request_queue("tools.commands"), "ad hoc, by suffix");
        assert!(!is_request_queue("orchestrator.logs"));
        assert!(!is_request_queue("action_requests"));
        assert_eq!(
            dead_letter_key(&n, "orchestrator.commands"),
            "t1.orchestrator.commands.rejected"
        );
        assert_eq!(dead_letter_key(&n, "action_requests"), "t1.action_requests");
    }

    #[test]
    fn namespace_prefixes_names_only_when_set() {
        let n = Names::new("t42");
        assert_eq!(n.exchange("logs"), "t42.logs");
        assert_eq!(n.dlq("action_requests"), "t42.action_requests.dlq");
        assert_eq!(
            Names::new("").queue("orchestrator.logs"),
            "orchestrator.logs"
        );
    }
}
