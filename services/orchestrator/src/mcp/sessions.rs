//! rmcp's session store on PostgreSQL: a session started on one replica continues on any
//! other (the store holds the client's `initialize`, which the other replica replays), so
//! `/mcp` needs no sticky sessions. Sessions unused for a week are forgotten.

use rmcp::transport::streamable_http_server::session::store::{
    SessionState, SessionStore, SessionStoreError,
};
use sqlx::PgPool;

use crate::repo::mcp_sessions as repo;

/// Days a session may stay unused before it is forgotten.
const KEEP_DAYS: u32 = 7;

pub struct PgSessionStore {
    pool: PgPool,
}

impl PgSessionStore {
    pub fn new(pool: PgPool) -> Self {
        PgSessionStore { pool }
    }
}

#[async_trait::async_trait]
impl SessionStore for PgSessionStore {
    async fn load(&self, session_id: &str) -> Result<Option<SessionState>, SessionStoreError> {
        let Some(state) = repo::load(&self.pool, session_id).await? else {
            return Ok(None);
        };
        // A row this binary cannot read (another version's shape) is an unknown session:
        // the client initializes again.
        match serde_json::from_value(state) {
            Ok(s) => Ok(Some(s)),
            Err(e) => {
                tracing::warn!(error = %e, "unreadable mcp session state, ignored");
                Ok(None)
            }
        }
    }

    async fn store(&self, session_id: &str, state: &SessionState) -> Result<(), SessionStoreError> {
        repo::store(&self.pool, session_id, &serde_json::to_value(state)?).await?;
        // New sessions are rare next to calls: a good moment to forget old ones.
        if let Err(e) = repo::prune(&self.pool, KEEP_DAYS).await {
            tracing::warn!(error = %e, "old mcp sessions not pruned");
        }
        Ok(())
    }

    async fn delete(&self, session_id: &str) -> Result<(), SessionStoreError> {
        repo::delete(&self.pool, session_id).await?;
        Ok(())
    }
}
