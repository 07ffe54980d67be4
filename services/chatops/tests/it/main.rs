//! chatops integration tests: real PostgreSQL and RabbitMQ, fake Slack and Ollama.

mod bot;
mod common;
mod lifecycle;
mod notifier;
mod socket_mode;
