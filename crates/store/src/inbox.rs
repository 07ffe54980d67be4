//! The inbox: remembers which messages a consumer has already applied, so a redelivery
//! changes nothing. Call it inside the transaction that applies the message.

use std::collections::HashSet;

use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

use crate::error::StoreError;

/// `true` the first time `consumer` sees `message_id`; `false` afterwards. The record
/// commits or rolls back with the caller's transaction.
pub async fn first_time(
    tx: &mut PgConnection,
    consumer: &str,
    message_id: Uuid,
) -> Result<bool, StoreError> {
    let inserted = sqlx::query(
        "INSERT INTO inbox_messages (consumer, message_id) VALUES ($1, $2) ON CONFLICT DO NOTHING",
    )
    .bind(consumer)
    .bind(message_id)
    .execute(tx)
    .await?
    .rows_affected();
    Ok(inserted == 1)
}

/// The ids of `message_ids` that `consumer` had not seen yet (now recorded), for batches.
pub async fn first_time_many(
    tx: &mut PgConnection,
    consumer: &str,
    message_ids: &[Uuid],
) -> Result<HashSet<Uuid>, StoreError> {
    let fresh: Vec<Uuid> = sqlx::query_scalar(
        "INSERT INTO inbox_messages (consumer, message_id)
         SELECT $1, id FROM UNNEST($2::uuid[]) AS t(id)
         ON CONFLICT DO NOTHING
         RETURNING message_id",
    )
    .bind(consumer)
    .bind(message_ids)
    .fetch_all(tx)
    .await?;
    Ok(fresh.into_iter().collect())
}

/// Forgets entries older than `hours`.
pub async fn cleanup(pool: &PgPool, hours: u64) -> Result<u64, StoreError> {
    Ok(
        sqlx::query(
            "DELETE FROM inbox_messages WHERE received_at < now() - $1 * interval '1 hour'",
        )
        .bind(hours as i64)
        .execute(pool)
        .await?
        .rows_affected(),
    )
}
