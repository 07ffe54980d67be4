//! The console's calls to the orchestrator: the typed `domain::commands` over the bus, each
//! carrying the SHA-256 of the logged-in person's token, so the orchestrator judges that
//! person with the one policy (a requester cannot approve their own action, a viewer
//! cannot acknowledge) and audits them by name, relayed via this service.

use std::time::Duration;

use bus::{Bus, RequestOptions};
use domain::commands::{Command, CommandError, ErrorCode};

/// Why a call gave nothing.
#[derive(Debug, Clone)]
pub enum CallError {
    /// The orchestrator answered with a refusal or an error; its message is for people.
    Refused(CommandError),
    /// Nobody answered in time, or the answer was not understood.
    Unavailable(String),
}

impl CallError {
    /// What the page says.
    pub fn text(&self) -> String {
        match self {
            CallError::Refused(e) => e.message.clone(),
            CallError::Unavailable(why) => why.clone(),
        }
    }

    /// The orchestrator no longer accepts the session's token.
    pub fn token_rejected(&self) -> bool {
        matches!(self, CallError::Refused(e)
            if e.code == ErrorCode::Forbidden
                && e.details.as_ref().and_then(|d| d.get("clause")).and_then(|c| c.as_str())
                    == Some("bus:token"))
    }
}

/// Sends `req` as the person whose token hashes to `token_sha256`.
pub async fn call<C: Command>(
    bus: &Bus,
    token_sha256: &str,
    req: &C,
    timeout: Duration,
) -> Result<C::Reply, CallError> {
    let payload = serde_json::to_value(req)
        .map_err(|e| CallError::Unavailable(format!("the request could not be written: {e}")))?;
    let opts = RequestOptions::with_token_sha256(token_sha256).timeout(timeout);
    let reply = bus.request_with(C::KEY, payload, opts).await.map_err(|e| {
        tracing::warn!(command = C::KEY, error = %e, "console call failed");
        CallError::Unavailable("the orchestrator did not answer; try again".into())
    })?;
    let data = reply.into_result().map_err(CallError::Refused)?;
    serde_json::from_value(data).map_err(|e| {
        tracing::warn!(command = C::KEY, error = %e, "unexpected console reply");
        CallError::Unavailable("the orchestrator's answer was not understood".into())
    })
}
