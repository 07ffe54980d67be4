use std::time::Duration;

/// What went wrong talking to the broker.
#[derive(Debug, thiserror::Error)]
pub enum BusError {
    #[error("cannot connect to the broker at {url} after {waited:?}: {reason}")]
    Connect {
        url: String,
        waited: Duration,
        reason: String,
    },
    #[error("broker error: {0}")]
    Amqp(#[from] lapin::Error),
    #[error("the broker refused (nacked) a message to `{exchange}` with key `{routing_key}`")]
    Nacked {
        exchange: String,
        routing_key: String,
    },
    #[error("no confirm from the broker within {0:?}")]
    ConfirmTimeout(Duration),
    #[error("no queue is bound for `{routing_key}` on `{exchange}`")]
    Unroutable {
        exchange: String,
        routing_key: String,
    },
    #[error("no reply to `{command}` within {after:?}")]
    RpcTimeout { command: String, after: Duration },
    #[error("invalid reply to `{command}`: {reason}")]
    BadReply { command: String, reason: String },
    #[error("the bus is shutting down")]
    Closed,
    #[error("cannot register the bus metrics: {0}")]
    Metrics(String),
}
