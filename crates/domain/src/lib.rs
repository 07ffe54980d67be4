//! The language spoken on the bus: log records, incidents, actions, the event envelope and
//! every payload, plus the names of exchanges, queues and routing keys.
//!
//! Pure types and pure logic: nothing here performs I/O.

pub mod action;
pub mod commands;
pub mod envelope;
pub mod events;
pub mod health;
pub mod incident;
pub mod invalid;
pub mod jenkins;
pub mod job_name;
pub mod json;
pub mod lenient;
pub mod levels;
pub mod limits;
pub mod logs;
pub mod names;
pub mod postmortem;
pub mod runbooks;
pub mod schema;

pub use action::{ActionStatus, ActionType, Channel};
pub use envelope::{Decode, DecodeError, Envelope, Payload};
pub use events::Event;
pub use incident::{IncidentStatus, ResolutionMethod, Severity};
pub use logs::{ApiLog, JenkinsLog, Level, LogRecord, Source};
