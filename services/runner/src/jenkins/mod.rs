//! Jenkins client of the runner: restart, rollback and stop builds over the
//! Jenkins REST API, with validated job names, CSRF crumbs, safe retries and
//! typed errors; read the commits of a build.

mod changes;
mod client;
mod crumb;
mod error;
mod http;
mod job;
mod lookup;
mod model;
mod poll;
mod settings;

pub use changes::{CHANGES_TREE, MAX_COMMITS, MAX_MESSAGE_CHARS, MAX_PATHS};
pub use client::{JenkinsClient, Trigger};
pub use error::JenkinsError;
pub use http::LatencyObserver;
pub use job::{JobName, JobNameError, MAX_JOB_NAME_BYTES};
pub use lookup::Found;
pub use model::{BuildResult, JenkinsAction, JenkinsOutcome};
pub use settings::JenkinsSettings;
