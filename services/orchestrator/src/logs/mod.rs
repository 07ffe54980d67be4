//! LogService: stores logs from the bus consumer and the direct HTTP ingest, detecting
//! incidents in the same transaction ([`ingest`], [`detect`]), and searches them.

mod detect;
mod ingest;
mod open;

use domain::commands::{LogFilter, LogPage};

pub use ingest::{Incoming, IngestReport};

use crate::auth::{Actor, Op, SharedPolicy};
use crate::base::Base;
use crate::error::ServiceError;
use crate::repo::logs;
use crate::settings::IncidentSettings;
use rules::SharedRules;

#[derive(Clone)]
pub struct LogService {
    base: Base,
    rules: SharedRules,
    policy: SharedPolicy,
    incidents: IncidentSettings,
}

impl LogService {
    pub fn new(
        base: Base,
        rules: SharedRules,
        policy: SharedPolicy,
        incidents: IncidentSettings,
    ) -> Self {
        LogService {
            base,
            rules,
            policy,
            incidents,
        }
    }

    pub async fn search(&self, actor: &Actor, f: &LogFilter) -> Result<LogPage, ServiceError> {
        self.base
            .authz
            .authorize(actor, Op::Read, "logs", None)
            .await?;
        Ok(logs::search(&self.base.pool, &f.check()?).await?)
    }

    /// Whether `actor` may send logs straight to the HTTP ingest (checked before the
    /// records are); a refusal is audited.
    pub async fn may_ingest(&self, actor: &Actor) -> Result<(), ServiceError> {
        self.base
            .authz
            .authorize(actor, Op::Ingest, "logs", None)
            .await?;
        Ok(())
    }
}
