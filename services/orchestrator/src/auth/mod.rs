//! Identity and policy in the orchestrator. The model — roles, actors, the policy file, the
//! checks built on it and bearer tokens — is the pure `policy` crate; its types are
//! re-exported here, so the rest of the orchestrator names them `crate::auth::X`. Who acts is
//! decided by the server for every door (REST and `/mcp` by token in `api::auth`, RPC by
//! the RabbitMQ user in `rpc`), never by a request body.
//!
//! - [`cli`]: `orchestrator policy check|explain` and `orchestrator token new`.
//! - [`oidc`]: access tokens of an OAuth issuer (JWTs) as a second kind of bearer token.

pub mod cli;
pub mod oidc;

pub use policy::{
    ActionDecision, Actor, DEFAULT_POLICY, Denial, Op, Planned, Policy, PolicyError, Role, Roles,
    SharedPolicy, decide, normalise, tokens,
};
