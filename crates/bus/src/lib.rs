//! RabbitMQ for Runbooks, and the only crate that talks to lapin.
//!
//! - [`Bus::connect`] connects with backoff and lapin's auto-recovery;
//! - [`topology`] declares (and, for tests, deletes) every exchange and queue of the design,
//!   under an optional namespace prefix, each queue with its `<queue>.dlq`;
//! - [`Bus::publish`] sends persistent messages with W3C trace context and awaits confirms;
//! - [`consumer`] runs handlers with manual acks, retries with jittered exponential backoff,
//!   dead-lettering, and pauses while the infrastructure a handler needs is unavailable, one
//!   message at a time or in batches;
//! - [`rpc`] is request/reply on the `commands` exchange through direct reply-to.

mod backoff;
mod connection;
pub mod consumer;
mod error;
mod message;
mod metrics;
mod names;
mod publish;
pub mod rpc;
mod settings;
pub mod topology;
pub mod trace;

pub use backoff::Backoff;
pub use connection::Bus;
pub use consumer::{Batch, BatchHandler, BatchOutcome, ConsumerOptions, Handler, HandlerError};
pub use error::BusError;
pub use message::{Message, OutgoingMessage, Properties, RawMessage, headers as header};
pub use names::Names;
pub use rpc::RequestOptions;
pub use settings::BusSettings;
