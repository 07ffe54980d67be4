//! Integration tests, one binary (linking one test binary per file costs minutes).

mod database;
mod outbox;
