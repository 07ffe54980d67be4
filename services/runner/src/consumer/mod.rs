//! The consumer of `action_requests`: takes `action.requested` and `action.approved` off it
//! and hands the action id to the executor. The event only says which row to look at; the row
//! decides what happens.

use bus::{Bus, ConsumerOptions, HandlerError, Message};
use domain::Event;
use domain::names::queue::ACTION_REQUESTS;
use tracing::debug;

use crate::executor::ActionExecutor;
use crate::settings::RunnerSettings;

/// How `action_requests` is consumed: `runner.concurrency` at once.
pub fn options(bus: &Bus, settings: &RunnerSettings) -> ConsumerOptions {
    ConsumerOptions::new(bus, ACTION_REQUESTS)
        .concurrency(settings.concurrency)
        .prefetch(settings.prefetch())
}

/// One delivery. An unavailable database pauses the consumer, other database trouble is
/// retried; requests that can never work (another event type, an action that does not
/// exist) are dead-lettered.
pub async fn handle(executor: &ActionExecutor, msg: Message<Event>) -> Result<(), HandlerError> {
    let id = match msg.payload() {
        Event::ActionRequested(r) => r.action.id,
        Event::ActionApproved(a) => a.action.id,
        other => {
            return Err(HandlerError::reject(format!(
                "unexpected `{}` event on {ACTION_REQUESTS}",
                other.kind()
            )));
        }
    };
    let correlation = msg.envelope.correlation_id.as_deref();
    // An error means nothing was claimed: the request may safely be tried again.
    let handled = executor.handle(id, correlation).await?;
    debug!(action_id = id, ?handled, "request handled");
    Ok(())
}
