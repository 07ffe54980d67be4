//! The same operations as the REST API, as request/reply on the `commands` exchange
//! (`command.incidents.*`, `command.actions.*`, `command.stats.get`, `command.logs.search`,
//! `command.postmortems.*`),
//! for chatops and other trusted services.
//!
//! Identity: the sender is the AMQP `user_id`, which RabbitMQ checks against the
//! connection's user, and it must be a trusted user (`commands.trusted_users`). A trusted
//! service may act for an end user named in `x-runbooks-on-behalf-of` (`slack:U123`); the
//! policy then judges that user, and the audit records both. Fields of the payload never
//! name the actor.

use bus::Message;
use domain::Channel;
use domain::commands::{CommandReply, ErrorCode, key};
use serde::Deserialize;
use serde::de::DeserializeOwned;

use crate::actions::IdempotencyKey;
use crate::api::bodies::{ActionRequestBody, DenyBody, ResolveBody, ResolveByJobBody, StatsQuery};
use crate::auth::decide::Denial;
use crate::auth::{Actor, Roles};
use crate::core::Core;
use crate::error::ServiceError;
use crate::repo::incidents::IncidentFilter;
use crate::repo::logs::LogFilter;

#[derive(Deserialize)]
struct Id {
    id: i64,
    // Accepted and ignored (older chatops sent who acted): the actor comes from identity.
    #[serde(default, rename = "user")]
    _user: Option<serde_json::Value>,
    #[serde(default, rename = "channel")]
    _channel: Option<serde_json::Value>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PostmortemArgs {
    incident_id: i64,
    #[serde(default)]
    version: Option<i32>,
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

/// `kind:id` with a short lowercase kind (`slack:U123`, `slack-group:S0OPS`).
fn valid_principal(p: &str) -> bool {
    let Some((kind, id)) = p.split_once(':') else {
        return false;
    };
    !kind.is_empty()
        && kind.len() <= 32
        && kind
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && !id.is_empty()
        && id.len() <= 128
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | '@'))
}

/// Who sent a command, decided from what the broker vouches for.
pub async fn identify(
    core: &Core,
    msg: &Message<serde_json::Value>,
) -> Result<Actor, ServiceError> {
    let policy = core.policy.current();
    let unknown = Actor::new("amqp:unknown", Channel::System, Roles::none());
    let Some(user) = msg.properties.user_id.clone() else {
        let d = Denial {
            message: "commands must carry the AMQP user_id property (the sender's RabbitMQ user)"
                .into(),
            missing_role: None,
            clause: "bus:trusted-users".into(),
        };
        return Err(core
            .refuse(&unknown, &msg.routing_key, "command", None, d)
            .await);
    };
    let trusted = &core.settings.commands.trusted_users;
    let is_trusted = if trusted.is_empty() {
        user == core.bus_user
    } else {
        trusted.contains(&user)
    };
    let service = format!("amqp:{user}");
    if !is_trusted {
        let d = Denial {
            message: format!(
                "RabbitMQ user `{user}` is not trusted to send commands (commands.trusted_users)"
            ),
            missing_role: None,
            clause: "bus:trusted-users".into(),
        };
        let who = Actor::new(service, Channel::System, Roles::none());
        return Err(core
            .refuse(&who, &msg.routing_key, "command", None, d)
            .await);
    }
    let Some(end_user) = msg.headers.get(bus::header::ON_BEHALF_OF) else {
        let roles = policy.roles_of(&service, &[]);
        return Ok(Actor::new(service, Channel::System, roles));
    };
    let prefixes = core.settings.commands.delegate_prefixes();
    let groups: Vec<String> = msg
        .headers
        .get(bus::header::ON_BEHALF_OF_GROUPS)
        .map(|g| {
            g.split(',')
                .map(|s| s.trim().to_string())
                .filter(|s| !s.is_empty())
                .collect()
        })
        .unwrap_or_default();
    let allowed = valid_principal(end_user)
        && prefixes.iter().any(|p| end_user.starts_with(p.as_str()))
        && groups.len() <= 50
        && groups.iter().all(|g| valid_principal(g));
    if !allowed {
        let d = Denial {
            message: format!(
                "`{}` cannot be acted for: on-behalf-of principals look like `slack:U123` and start with one of {}",
                end_user.chars().take(140).collect::<String>(),
                prefixes.join(", ")
            ),
            missing_role: None,
            clause: "bus:delegation".into(),
        };
        let who = Actor::new(service, Channel::System, Roles::none());
        return Err(core
            .refuse(&who, &msg.routing_key, "command", None, d)
            .await);
    }
    let channel = if end_user.starts_with("slack:") {
        Channel::Slack
    } else {
        Channel::System
    };
    Ok(Actor {
        name: end_user.clone(),
        via: Some(service),
        channel,
        roles: policy.roles_of(end_user, &groups),
        groups,
    })
}

pub async fn handle(core: &Core, msg: Message<serde_json::Value>) -> CommandReply {
    let command = msg.routing_key.clone();
    let command = command.as_str();
    tracing::debug!(command, "command received");
    let actor = match identify(core, &msg).await {
        Ok(a) => a,
        Err(e) => return e.into_reply(),
    };
    let message_id = msg.envelope.id;
    let payload = msg.envelope.payload;
    let actor = &actor;
    match command {
        key::INCIDENTS_LIST => reply(
            async {
                core.list_incidents(actor, &args::<IncidentFilter>(command, payload)?)
                    .await
            }
            .await,
        ),
        key::INCIDENTS_GET => reply(
            async {
                core.get_incident(actor, args::<Id>(command, payload)?.id)
                    .await
            }
            .await,
        ),
        key::INCIDENTS_ACK => reply(
            async {
                core.acknowledge_incident(args::<Id>(command, payload)?.id, actor)
                    .await
            }
            .await,
        ),
        key::INCIDENTS_RESOLVE => reply(
            async {
                // `{id, note?}` resolves one incident, `{job_name, note?}` every open one of a job.
                if payload.get("job_name").is_some() {
                    let b: ResolveByJobBody = args(command, payload)?;
                    let rows = core
                        .resolve_job_incidents(&b.job_name, actor, b.note.as_deref())
                        .await?;
                    Ok(serde_json::json!({"resolved": rows}))
                } else {
                    let a: WithId<ResolveBody> = args(command, payload)?;
                    let row = core
                        .resolve_incident(a.id, actor, a.rest.note.as_deref())
                        .await?;
                    Ok(serde_json::to_value(row).unwrap_or_default())
                }
            }
            .await,
        ),
        key::ACTIONS_REQUEST => reply(
            async {
                let req = args::<ActionRequestBody>(command, payload)?.into_request();
                // The message id is the idempotency key: a redelivered request creates nothing.
                let key = IdempotencyKey::from_message(message_id);
                core.request_action(req, actor, Some(key))
                    .await
                    .map(|r| r.row)
            }
            .await,
        ),
        key::ACTIONS_GET => reply(
            async {
                core.get_action(actor, args::<Id>(command, payload)?.id)
                    .await
            }
            .await,
        ),
        key::ACTIONS_APPROVE => reply(
            async {
                core.approve_action(args::<Id>(command, payload)?.id, actor)
                    .await
            }
            .await,
        ),
        key::ACTIONS_DENY => reply(
            async {
                let a: WithId<DenyBody> = args(command, payload)?;
                core.deny_action(a.id, actor, a.rest.reason).await
            }
            .await,
        ),
        key::STATS_GET => reply(
            async {
                core.stats(actor, args::<StatsQuery>(command, payload)?.since)
                    .await
            }
            .await,
        ),
        key::LOGS_SEARCH => reply(
            async {
                core.search_logs(actor, &args::<LogFilter>(command, payload)?)
                    .await
            }
            .await,
        ),
        key::POSTMORTEMS_GET => reply(
            async {
                let a: PostmortemArgs = args(command, payload)?;
                let row = core.postmortem(actor, a.incident_id, a.version).await?;
                Ok(crate::postmortem::view(core, &row))
            }
            .await,
        ),
        key::POSTMORTEMS_GENERATE => reply(
            async {
                let a: PostmortemArgs = args(command, payload)?;
                let row = core.regenerate_postmortem(actor, a.incident_id).await?;
                Ok(crate::postmortem::view(core, &row))
            }
            .await,
        ),
        other => CommandReply::err(ErrorCode::BadRequest, format!("unknown command `{other}`")),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn delegated_principals_are_narrow() {
        for ok in ["slack:U123ABC", "slack-group:S0OPS", "slack:u.1_2-3@x"] {
            assert!(super::valid_principal(ok), "{ok}");
        }
        for bad in [
            "slack",
            "slack:",
            ":U1",
            "Slack:U1",
            "slack:U 1",
            "slack:U1\n",
            "rule x:y",
        ] {
            assert!(!super::valid_principal(bad), "{bad}");
        }
    }
}
