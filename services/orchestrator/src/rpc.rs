//! The same operations as the REST API, as request/reply on the `commands` exchange
//! (`command.incidents.*`, `command.actions.*`, `command.stats.get`, `command.logs.search`),
//! for chatops.

use bus::Message;
use domain::Channel;
use domain::commands::{CommandReply, ErrorCode, key};
use serde::Deserialize;
use serde::de::DeserializeOwned;

use crate::api::bodies::{
    ActionRequestBody, DenyBody, ResolveBody, ResolveByJobBody, StatsQuery, UserBody,
};
use crate::core::Core;
use crate::error::ServiceError;
use crate::repo::incidents::IncidentFilter;
use crate::repo::logs::LogFilter;

/// Requests without a channel come from chatops.
const DEFAULT_CHANNEL: Channel = Channel::Slack;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Id {
    id: i64,
}

#[derive(Deserialize)]
struct WithId<T> {
    id: i64,
    #[serde(flatten)]
    rest: T,
}

fn args<T: DeserializeOwned>(command: &str, v: serde_json::Value) -> Result<T, ServiceError> {
    serde_json::from_value(v)
        .map_err(|e| ServiceError::BadRequest(format!("invalid arguments for {command}: {e}")))
}

fn reply<T: serde::Serialize>(r: Result<T, ServiceError>) -> CommandReply {
    match r {
        Ok(v) => CommandReply::ok(serde_json::to_value(v).unwrap_or_default()),
        Err(e) => e.into_reply(),
    }
}

pub async fn handle(core: &Core, msg: Message<serde_json::Value>) -> CommandReply {
    let command = msg.routing_key.as_str();
    let payload = msg.envelope.payload;
    tracing::debug!(command, "command received");
    match command {
        key::INCIDENTS_LIST => reply(
            async {
                core.list_incidents(&args::<IncidentFilter>(command, payload)?)
                    .await
            }
            .await,
        ),
        key::INCIDENTS_GET => {
            reply(async { core.get_incident(args::<Id>(command, payload)?.id).await }.await)
        }
        key::INCIDENTS_ACK => reply(
            async {
                let a: WithId<UserBody> = args(command, payload)?;
                core.acknowledge_incident(a.id, &a.rest.actor(DEFAULT_CHANNEL)?)
                    .await
            }
            .await,
        ),
        key::INCIDENTS_RESOLVE => reply(
            async {
                // `{id, user}` resolves one incident, `{job_name, user}` every open one of a job.
                if payload.get("job_name").is_some() {
                    let b: ResolveByJobBody = args(command, payload)?;
                    let rows = core
                        .resolve_job_incidents(
                            &b.job_name,
                            &b.actor(DEFAULT_CHANNEL)?,
                            b.note.as_deref(),
                        )
                        .await?;
                    Ok(serde_json::json!({"resolved": rows}))
                } else {
                    let a: WithId<ResolveBody> = args(command, payload)?;
                    let row = core
                        .resolve_incident(
                            a.id,
                            &a.rest.actor(DEFAULT_CHANNEL)?,
                            a.rest.note.as_deref(),
                        )
                        .await?;
                    Ok(serde_json::to_value(row).unwrap_or_default())
                }
            }
            .await,
        ),
        key::ACTIONS_REQUEST => reply(
            async {
                let (req, actor) =
                    args::<ActionRequestBody>(command, payload)?.split(DEFAULT_CHANNEL)?;
                core.request_action(req, &actor).await
            }
            .await,
        ),
        key::ACTIONS_GET => {
            reply(async { core.get_action(args::<Id>(command, payload)?.id).await }.await)
        }
        key::ACTIONS_APPROVE => reply(
            async {
                let a: WithId<UserBody> = args(command, payload)?;
                core.approve_action(a.id, &a.rest.actor(DEFAULT_CHANNEL)?)
                    .await
            }
            .await,
        ),
        key::ACTIONS_DENY => reply(
            async {
                let a: WithId<DenyBody> = args(command, payload)?;
                let actor = a.rest.actor(DEFAULT_CHANNEL)?;
                core.deny_action(a.id, &actor, a.rest.reason).await
            }
            .await,
        ),
        key::STATS_GET => reply(
            async {
                core.stats(args::<StatsQuery>(command, payload)?.since)
                    .await
            }
            .await,
        ),
        key::LOGS_SEARCH => reply(
            async {
                crate::repo::logs::search(&core.pool, &args::<LogFilter>(command, payload)?).await
            }
            .await,
        ),
        other => CommandReply::err(ErrorCode::BadRequest, format!("unknown command `{other}`")),
    }
}
