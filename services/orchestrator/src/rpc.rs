//! The same operations as the REST API, as request/reply on the `commands` exchange
//! (`command.incidents.*`, `command.actions.*`, `command.stats.get`, `command.logs.search`,
//! `command.postmortems.*`),
//! for chatops and other trusted services.
//!
//! Identity: the sender is the AMQP `user_id`, which RabbitMQ checks against the
//! connection's user, and it must be a trusted user (`commands.trusted_users`). A trusted
//! service may act for an end user named in `x-runbooks-on-behalf-of` (`slack:U123`); the
//! policy then judges that user, and the audit records both. Payloads are the
//! `domain::commands` request types: no field names the actor, and unknown fields are
//! refused.

use std::sync::Arc;

use bus::Message;
use domain::Channel;
use domain::commands::{
    AcknowledgeIncident, ActionFilter, ActionRequest, ApproveAction, Command, CommandReply,
    DenyAction, ErrorCode, GeneratePostmortem, GetAction, GetIncident, GetPostmortem,
    IncidentFilter, LogFilter, Principal, ResolveIncidents, Resolved, ResolvedList, StatsQuery,
    WhoAmI,
};

use crate::actions::IdempotencyKey;
use crate::auth::decide::Denial;
use crate::auth::tokens::TokenSet;
use crate::auth::{Actor, Roles, SharedPolicy};
use crate::error::ServiceError;
use crate::services::Services;
use crate::settings::CommandSettings;

/// The `orchestrator.commands` door: who may send commands, and the services they reach.
#[derive(Clone)]
pub struct Commands {
    services: Services,
    policy: SharedPolicy,
    settings: CommandSettings,
    /// The orchestrator's own RabbitMQ user: trusted when no list is set.
    bus_user: String,
    /// The API tokens: a trusted console relays the SHA-256 of a person's token.
    tokens: Arc<TokenSet>,
}

/// The request of command `C`; unknown fields are refused.
fn args<C: Command>(v: serde_json::Value) -> Result<C, ServiceError> {
    serde_json::from_value(v)
        .map_err(|e| ServiceError::BadRequest(format!("invalid arguments for {}: {e}", C::KEY)))
}

fn reply<T: serde::Serialize>(r: Result<T, ServiceError>) -> CommandReply {
    match r {
        Ok(v) => CommandReply::ok_with(&v),
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

impl Commands {
    pub fn new(
        services: Services,
        policy: SharedPolicy,
        settings: CommandSettings,
        bus_user: String,
        tokens: Arc<TokenSet>,
    ) -> Self {
        Commands {
            services,
            policy,
            settings,
            bus_user,
            tokens,
        }
    }

    /// Who sent a command, decided from what the broker vouches for.
    pub async fn identify(&self, msg: &Message<serde_json::Value>) -> Result<Actor, ServiceError> {
        let refuse = |who: Actor, d: Denial| async move {
            self.services
                .authz
                .refuse(&who, &msg.routing_key, "command", None, d)
                .await
        };
        let policy = self.policy.current();
        let unknown = Actor::new("amqp:unknown", Channel::System, Roles::none());
        let Some(user) = msg.properties.user_id.clone() else {
            let d = Denial {
                message:
                    "commands must carry the AMQP user_id property (the sender's RabbitMQ user)"
                        .into(),
                missing_role: None,
                clause: "bus:trusted-users".into(),
            };
            return Err(refuse(unknown, d).await);
        };
        let trusted = &self.settings.trusted_users;
        let is_trusted = if trusted.is_empty() {
            user == self.bus_user
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
            return Err(refuse(who, d).await);
        }
        if let Some(hash) = msg.headers.get(bus::header::TOKEN_SHA256) {
            // A console relays the token a person logged in with: the request is theirs,
            // judged exactly as REST would judge that token.
            let entry = (!msg.headers.contains_key(bus::header::ON_BEHALF_OF))
                .then(|| hex::decode(hash.trim()).ok())
                .flatten()
                .and_then(|b| <[u8; 32]>::try_from(b).ok())
                .and_then(|h| self.tokens.find_sha256(&h));
            let Some(entry) = entry else {
                let d = Denial {
                    message:
                        "the relayed API token is not valid (or came with x-runbooks-on-behalf-of)"
                            .into(),
                    missing_role: None,
                    clause: "bus:token".into(),
                };
                let who = Actor::new(service, Channel::System, Roles::none());
                return Err(refuse(who, d).await);
            };
            let mut roles = entry.roles.clone();
            roles.extend(&policy.roles_of(&entry.name, &[]));
            return Ok(Actor {
                name: entry.name.clone(),
                via: Some(service),
                channel: Channel::Api,
                roles,
                groups: Vec::new(),
            });
        }
        let Some(end_user) = msg.headers.get(bus::header::ON_BEHALF_OF) else {
            let roles = policy.roles_of(&service, &[]);
            return Ok(Actor::new(service, Channel::System, roles));
        };
        let prefixes = self.settings.delegate_prefixes();
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
            return Err(refuse(who, d).await);
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

    /// Answers one command as the sender it identifies.
    pub async fn handle(&self, msg: Message<serde_json::Value>) -> CommandReply {
        let command = msg.routing_key.clone();
        let command = command.as_str();
        tracing::debug!(command, "command received");
        let actor = match self.identify(&msg).await {
            Ok(a) => a,
            Err(e) => return e.into_reply(),
        };
        let message_id = msg.envelope.id;
        let payload = msg.envelope.payload;
        let (s, actor) = (&self.services, &actor);
        match command {
            IncidentFilter::KEY => reply(
                async {
                    s.incidents
                        .list(actor, &args::<IncidentFilter>(payload)?)
                        .await
                }
                .await,
            ),
            GetIncident::KEY => reply(
                async {
                    s.incidents
                        .get(actor, args::<GetIncident>(payload)?.id)
                        .await
                }
                .await,
            ),
            AcknowledgeIncident::KEY => reply(
                async {
                    let a: AcknowledgeIncident = args(payload)?;
                    s.incidents.acknowledge(actor, a.id).await
                }
                .await,
            ),
            ResolveIncidents::KEY => reply(
                async {
                    Ok(match args::<ResolveIncidents>(payload)? {
                        ResolveIncidents::Job(b) => Resolved::Job(ResolvedList {
                            resolved: s.incidents.resolve_job(actor, &b).await?,
                        }),
                        ResolveIncidents::One(r) => {
                            Resolved::One(Box::new(s.incidents.resolve(actor, &r).await?))
                        }
                    })
                }
                .await,
            ),
            ActionRequest::KEY => reply(
                async {
                    let req: ActionRequest = args(payload)?;
                    // The message id is the idempotency key: a redelivered request creates nothing.
                    let key = IdempotencyKey::from_message(message_id);
                    s.actions
                        .request(actor, &req, Some(key))
                        .await
                        .map(|r| r.row)
                }
                .await,
            ),
            ActionFilter::KEY => {
                reply(async { s.actions.list(actor, &args::<ActionFilter>(payload)?).await }.await)
            }
            WhoAmI::KEY => reply(
                async {
                    let WhoAmI {} = args::<WhoAmI>(payload)?;
                    Ok(Principal {
                        principal: actor.name.clone(),
                        roles: actor.roles.iter().map(|r| r.as_str().to_string()).collect(),
                        channel: actor.channel.as_str().to_string(),
                        via: actor.via.clone(),
                    })
                }
                .await,
            ),
            GetAction::KEY => {
                reply(async { s.actions.get(actor, args::<GetAction>(payload)?.id).await }.await)
            }
            ApproveAction::KEY => reply(
                async {
                    s.actions
                        .approve(actor, args::<ApproveAction>(payload)?.id)
                        .await
                }
                .await,
            ),
            DenyAction::KEY => {
                reply(async { s.actions.deny(actor, &args::<DenyAction>(payload)?).await }.await)
            }
            StatsQuery::KEY => reply(
                async {
                    s.incidents
                        .stats(actor, args::<StatsQuery>(payload)?.since)
                        .await
                }
                .await,
            ),
            LogFilter::KEY => {
                reply(async { s.logs.search(actor, &args::<LogFilter>(payload)?).await }.await)
            }
            GetPostmortem::KEY => reply(
                async {
                    let a: GetPostmortem = args(payload)?;
                    let row = s.postmortems.get(actor, a.incident_id, a.version).await?;
                    Ok(s.postmortems.view(&row))
                }
                .await,
            ),
            GeneratePostmortem::KEY => reply(
                async {
                    let a: GeneratePostmortem = args(payload)?;
                    let row = s.postmortems.regenerate(actor, a.incident_id).await?;
                    Ok(s.postmortems.view(&row))
                }
                .await,
            ),
            other => CommandReply::err(ErrorCode::BadRequest, format!("unknown command `{other}`")),
        }
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
