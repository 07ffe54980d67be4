//! PostgreSQL for Runbooks: the pool (creating the database when missing), the embedded
//! migrations, the transactional outbox with its relay, and the inbox for idempotent
//! consumers. sqlx errors are classified here, once.

mod error;
pub mod inbox;
mod migrate;
pub mod outbox;
mod pool;
mod settings;

pub use error::{DbErrorKind, StoreError, classify, classify_code};
pub use migrate::{MIGRATOR, migrate};
pub use outbox::{OutboxRelay, OutboxSettings};
pub use pool::connect;
pub use settings::DatabaseSettings;
pub use sqlx::{PgPool, Postgres, Transaction};
