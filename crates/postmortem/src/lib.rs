//! The post-mortem writer: takes the [`Facts`] of an incident and writes its report.
//!
//! Invariant — pure: no I/O (no database, network or file), no clock. The orchestrator
//! gathers the facts (database, runner) and sends the LLM request; this crate builds that
//! request's text, reads the answer and renders the Markdown, so the same facts always give
//! the same report.
//!
//! - [`facts`]: what a report is written from, stored with it as JSON.
//! - [`summarize`] / [`commits_in_logs`]: log lines reduced to a [`LogSummary`] and the
//!   commits they carry; [`normalize::normalize`] gives an error line its shape.
//! - [`generic`]: the build-tool boilerplate (`Finished: FAILURE`, …) that says a build
//!   failed but never why: neither quoted as the cause nor matched on.
//! - [`llm`]: the system message, the prompt (facts as data between nonce markers) and
//!   [`llm::parse`] of the answer into a [`Narrative`].
//! - [`Report::template`] / [`Report::narrated`]: the report by the template, or with the
//!   sections the model wrote; [`report`] has the sections both share.
//!
//! The writers are described in `docs/POSTMORTEMS.md`.

mod error;
pub mod facts;
pub mod generic;
pub mod llm;
mod logs;
pub mod normalize;
pub mod report;

pub use error::PostmortemError;
pub use facts::{
    Action, CommitSource, Commits, ErrorLine, Facts, Incident, LogLine, LogSummary,
    SimilarIncident, TimelineEntry,
};
pub use logs::{commits_in_logs, summarize};
pub use report::{FACTUAL, Narrative, Report, SECTIONS, SUMMARY_CHARS};
