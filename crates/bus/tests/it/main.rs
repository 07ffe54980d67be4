//! Integration tests, one binary (linking one test binary per file costs minutes).

mod common;

mod consume;
mod pause_shutdown;
mod publish;
mod recovery_rpc;
mod rpc_expiry;
