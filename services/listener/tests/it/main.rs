//! Integration tests, one binary (linking one test binary per file costs minutes).

mod common;

mod lifecycle;
mod limits;
mod outage;
mod restart;
mod tailing;
mod webhooks;
