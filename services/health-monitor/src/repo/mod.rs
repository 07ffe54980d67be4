//! SQL of the health-monitor, one file per table group.

pub mod catalog;
pub mod checks;
pub mod console;
pub mod events;
pub mod lease;
