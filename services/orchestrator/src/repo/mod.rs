//! SQL of the orchestrator's tables. Nothing outside this folder writes SQL. Repositories
//! answer domain types (or their own small row types) and storage errors (`sqlx::Error`);
//! what a request may ask is checked before it gets here.

pub mod actions;
pub mod correlation;
pub mod hits;
pub mod incidents;
pub mod logs;
pub mod mcp_sessions;
pub mod pages;
pub mod postmortems;
pub mod run_approvals;
pub mod runbooks;
pub mod similar;

use sqlx::Row;
use sqlx::postgres::PgRow;

/// One column of a row, by name.
fn col<'r, T>(r: &'r PgRow, name: &str) -> Result<T, sqlx::Error>
where
    T: sqlx::Decode<'r, sqlx::Postgres> + sqlx::Type<sqlx::Postgres>,
{
    r.try_get(name)
}
