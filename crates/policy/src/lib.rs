//! The access model every door of the orchestrator shares: roles, the policy file that
//! decides action requests, the checks built on it (operations by role, approvals by
//! identity) and the bearer tokens of the REST API and `/mcp`.
//!
//! Invariant — pure: no I/O, no database, no network, no clock. The exceptions are at the
//! edge and named: [`Policy::load`] and [`SharedPolicy::reload`] read the policy file their
//! caller names, and [`tokens::new_token`] draws a new token's secret from the system's
//! random source. Every other function is a computation on its arguments, so that the
//! decision the REST API, the RPC, MCP and the rules get is the same and can be tested by
//! properties.
//!
//! - [`Policy::parse`] / [`Policy::load`] validate a policy file ([`PolicyError`] names
//!   the key or clause); [`Policy::decide`] answers one action request;
//!   [`Policy::roles_of`] maps principals and groups to [`Roles`].
//! - [`decide`]: [`authorize`](decide::authorize) an [`Op`] by role,
//!   [`plan_request`](decide::plan_request) an action by the policy,
//!   [`may_approve`](decide::may_approve) by identity; refusals are [`Denial`]s.
//! - [`tokens`]: token entries configured by their SHA-256, matched in constant time.
//! - [`SharedPolicy`] holds the policy in use and swaps it on reload.
//!
//! The model is described in `docs/SECURITY.md`.

mod actor;
pub mod decide;
mod error;
mod file;
mod shared;
pub mod tokens;

pub use actor::{Actor, Role, Roles, normalise};
pub use decide::{Denial, Op, Planned};
pub use error::PolicyError;
pub use file::{ActionDecision, Clause, DEFAULT_POLICY, MAX_APPROVALS, Policy};
pub use shared::SharedPolicy;
