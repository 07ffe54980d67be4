//! What every feature service is built on: the database pool, the metrics and the one
//! [`Authorizer`]. Each service keeps its own copy next to what only it needs.

use sqlx::PgPool;

use crate::authz::Authorizer;
use crate::metrics::OrchestratorMetrics;

#[derive(Clone)]
pub struct Base {
    pub pool: PgPool,
    pub metrics: OrchestratorMetrics,
    pub authz: Authorizer,
}

impl Base {
    pub fn new(pool: PgPool, metrics: OrchestratorMetrics) -> Self {
        Base {
            authz: Authorizer::new(pool.clone(), metrics.clone()),
            pool,
            metrics,
        }
    }
}
