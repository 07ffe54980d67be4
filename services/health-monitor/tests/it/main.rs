//! Integration tests, one binary, against the real PostgreSQL and RabbitMQ.

mod common;

mod auth_cors;
mod catalog;
mod dashboard;
mod events_api;
mod lifecycle;
mod metrics_api;
mod probes;
mod processes;
mod rpc;
mod uptime;
