//! The plain types the runner's parts share: what an action is to do ([`Plan`]) and what
//! the database says about capacity ([`Counts`]). Low in the module order, so that the
//! executor, the guard and the repository can all name them without importing each other.

mod plan;

pub use plan::Plan;

/// What the database says, read under the claim lock.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Counts {
    /// Actions `running` on any replica.
    pub running: i64,
    /// Actions on this job started within the cooldown window.
    pub recent_on_job: i64,
}
