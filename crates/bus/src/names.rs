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

#[cfg(test)]
mod tests {
    use super::*;

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
