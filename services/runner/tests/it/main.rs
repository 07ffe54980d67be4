//! Integration tests, one binary (linking one test binary per file costs minutes).

mod common;
mod jenkins_common;

mod actions;
mod changes;
mod drain;
mod guard;
mod infra;
mod jenkins_actions;
mod jenkins_builds;
mod jenkins_csrf_auth;
mod jenkins_failures;
mod lifecycle;
mod lost_trigger;
mod replicas;
