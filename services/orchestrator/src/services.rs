//! The service layer, assembled once and handed to every door (REST, RPC on the bus, MCP
//! over HTTP and stdio) and to the background tasks. Each service owns what it needs and
//! keeps it private; what they share (the database pool, the authorizer, the metrics, the
//! rules and policy in use) is cloned into each. A new feature is a new service here, built
//! in [`Services::assemble`] and reached by the doors through this struct.

use std::sync::Arc;

use sqlx::PgPool;

use crate::actions::ActionService;
use crate::auth::tokens::TokenSet;
use crate::auth::{Policy, SharedPolicy};
use crate::authz::Authorizer;
use crate::base::Base;
use crate::incidents::IncidentService;
use crate::logs::LogService;
use crate::metrics::OrchestratorMetrics;
use crate::postmortem::PostmortemService;
use crate::reload::RulesService;
use crate::retention::RetentionService;
use crate::runbooks::RunbookService;
use crate::settings::OrchestratorSections;
use rules::{RuleSet, RulesError, SharedRules};

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error(transparent)]
    Runtime(#[from] runtime::RuntimeError),
    #[error("rules: {0}")]
    Rules(#[from] RulesError),
    #[error(transparent)]
    Policy(#[from] crate::auth::PolicyError),
    #[error(transparent)]
    Settings(#[from] runtime::SettingsError),
    #[error("runbooks: {0}")]
    Runbooks(#[from] runbooks::RunbooksError),
    #[error(transparent)]
    Oidc(#[from] crate::auth::oidc::OidcConfigError),
    #[error("runbook pager http client: {0}")]
    Pager(#[from] reqwest::Error),
}

/// What start-up reads from files, before anything connects: bad rules, a bad policy or
/// bad tokens stop the start.
pub struct Loaded {
    pub rules: SharedRules,
    pub policy: SharedPolicy,
    pub tokens: Arc<TokenSet>,
    pub runbooks: Arc<runbooks::RunbookSet>,
    /// Access tokens of an OAuth issuer (`[oidc]`), when one is configured.
    pub oidc: Option<Arc<crate::auth::oidc::Oidc>>,
}

impl Loaded {
    pub fn read(own: &OrchestratorSections) -> Result<Loaded, StartError> {
        let rules = RuleSet::load_or_builtin(own.rules.path.as_deref())?;
        tracing::info!(
            rules = rules.len(),
            enabled = rules.enabled_count(),
            "rules loaded"
        );
        let policy = Policy::load(own.policy.path.as_deref())?;
        let tokens = own.api.token_set()?;
        let runbooks = runbooks::RunbookSet::load_or_builtin(own.runbooks.path.as_deref())?;
        // A rule naming a runbook the file lacks would open incidents nobody remediates.
        for r in rules.rules() {
            if let Some(name) = r.runbook()
                && runbooks.get(name).is_none()
            {
                return Err(runbooks::RunbooksError::Invalid {
                    runbook: name.to_string(),
                    step: None,
                    message: format!(
                        "rule `{}` names it, but the runbooks file has no such runbook",
                        r.name()
                    ),
                }
                .into());
            }
        }
        tracing::info!(runbooks = runbooks.len(), "runbooks loaded");
        let oidc = crate::auth::oidc::Oidc::from_settings(&own.oidc)?.map(Arc::new);
        if let Some(o) = &oidc {
            tracing::info!(issuer = %o.issuer(), resource = %o.resource(), "oauth access tokens accepted");
        }
        Ok(Loaded {
            rules: SharedRules::new(rules),
            policy: SharedPolicy::new(policy, own.policy.path.clone()),
            tokens: Arc::new(tokens),
            runbooks: Arc::new(runbooks),
            oidc,
        })
    }
}

/// The process's connections and identity, which every service is built on.
pub struct Resources {
    pub pool: PgPool,
    pub bus: bus::Bus,
    pub metrics: OrchestratorMetrics,
    /// This process's instance id.
    pub instance: String,
}

#[derive(Clone)]
pub struct Services {
    pub incidents: IncidentService,
    pub actions: ActionService,
    pub postmortems: PostmortemService,
    pub logs: LogService,
    pub rules: RulesService,
    pub retention: RetentionService,
    pub runbooks: RunbookService,
    /// Role checks and refusals, for what a door decides itself (MCP's write tools).
    pub authz: Authorizer,
}

impl Services {
    pub fn assemble(own: &OrchestratorSections, loaded: &Loaded, r: Resources) -> Services {
        let base = Base::new(r.pool, r.metrics);
        let threshold = own.incidents.similarity_threshold;
        let (rules, policy) = (&loaded.rules, &loaded.policy);
        Services {
            incidents: IncidentService::new(base.clone(), threshold),
            actions: ActionService::new(base.clone(), policy.clone(), own.action_sweep.clone()),
            postmortems: PostmortemService::new(
                base.clone(),
                r.bus,
                &own.ollama,
                own.postmortem.clone(),
                threshold,
            ),
            logs: LogService::new(
                base.clone(),
                rules.clone(),
                policy.clone(),
                own.incidents.clone(),
            ),
            rules: RulesService::new(
                base.clone(),
                rules.clone(),
                policy.clone(),
                own.rules.clone(),
                r.instance,
            ),
            retention: RetentionService::new(base.pool.clone(), own.retention.clone()),
            runbooks: RunbookService::new(
                base.clone(),
                loaded.runbooks.clone(),
                policy.clone(),
                own.runbooks.clone(),
            ),
            authz: base.authz,
        }
    }
}
