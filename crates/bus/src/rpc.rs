//! Request/reply on the `commands` exchange through RabbitMQ's direct reply-to: no reply
//! queue to declare or clean up, a correlation id per request and a timeout on every call.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use domain::Envelope;
use domain::commands::{CommandReply, REPLY_KIND};
use domain::envelope::decode_envelope;
use domain::names::exchange;
use futures_util::StreamExt;
use lapin::BasicProperties;
use lapin::options::{BasicConsumeOptions, ConfirmSelectOptions};
use lapin::types::FieldTable;
use tokio::sync::oneshot;
use tokio_util::sync::CancellationToken;
use tracing::{debug, warn};

use crate::connection::{Bus, Pending, RpcClient};
use crate::consumer::{ConsumerOptions, HandlerError};
use crate::error::BusError;
use crate::message::{Message, OutgoingMessage};
use crate::publish::publish_on;
use crate::trace;

const REPLY_TO: &str = "amq.rabbitmq.reply-to";

impl RpcClient {
    async fn start(bus: &Bus) -> Result<RpcClient, BusError> {
        let channel = bus.channel().await?;
        channel
            .confirm_select(ConfirmSelectOptions::default())
            .await?;
        let mut replies = channel
            .basic_consume(
                REPLY_TO.into(),
                format!("rpc-client.{}", uuid::Uuid::new_v4().simple()).into(),
                BasicConsumeOptions {
                    no_ack: true,
                    ..Default::default()
                },
                FieldTable::default(),
            )
            .await?;
        let pending: Pending = Arc::default();
        let dispatch = pending.clone();
        let ch = channel.clone();
        tokio::spawn(async move {
            while let Some(item) = replies.next().await {
                match item {
                    Ok(d) => {
                        let Some(id) = d.properties.correlation_id().as_ref() else {
                            warn!("reply without correlation id dropped");
                            continue;
                        };
                        let waiter = dispatch.lock().expect("rpc map").remove(id.as_str());
                        match waiter {
                            Some(tx) => {
                                let _ = tx.send(d.data);
                            }
                            None => debug!(correlation_id = %id.as_str(), "late reply dropped"),
                        }
                    }
                    Err(e) => {
                        if ch.wait_for_recovery(e).await.is_err() {
                            break;
                        }
                    }
                }
            }
        });
        Ok(RpcClient { channel, pending })
    }
}

/// Options of one request: how long to wait, and the end user a trusted service acts for.
#[derive(Debug, Clone, Default)]
pub struct RequestOptions {
    pub timeout: Option<Duration>,
    /// Sent as the `x-runbooks-on-behalf-of` header (e.g. `slack:U123`).
    pub on_behalf_of: Option<String>,
    /// The end user's groups, sent as `x-runbooks-on-behalf-of-groups` (comma-separated).
    pub groups: Vec<String>,
    /// Sent as `x-runbooks-token-sha256`: the hex SHA-256 of the token of the person a
    /// console acts for (instead of `on_behalf_of`).
    pub token_sha256: Option<String>,
    /// The request's message id; a caller retrying the same request reuses it, so a
    /// server that keys on it (an action request) does the work once.
    pub id: Option<uuid::Uuid>,
}

impl RequestOptions {
    pub fn on_behalf_of(principal: impl Into<String>) -> Self {
        RequestOptions {
            on_behalf_of: Some(principal.into()),
            ..Self::default()
        }
    }

    /// For a person logged in with their API token: the server judges the token's principal.
    pub fn with_token_sha256(hex: impl Into<String>) -> Self {
        RequestOptions {
            token_sha256: Some(hex.into()),
            ..Self::default()
        }
    }

    pub fn timeout(mut self, t: Duration) -> Self {
        self.timeout = Some(t);
        self
    }

    pub fn id(mut self, id: uuid::Uuid) -> Self {
        self.id = Some(id);
        self
    }

    pub fn groups(mut self, groups: impl IntoIterator<Item = impl Into<String>>) -> Self {
        self.groups = groups.into_iter().map(Into::into).collect();
        self
    }
}

impl Bus {
    /// Sends `command` (a `command.<area>.<verb>` routing key) and waits for the reply.
    /// Every request carries the connection's RabbitMQ user as its AMQP `user_id`; the
    /// broker rejects a forged one, so the server knows which service asked.
    pub async fn request(
        &self,
        command: &str,
        payload: serde_json::Value,
    ) -> Result<CommandReply, BusError> {
        self.request_with(command, payload, RequestOptions::default())
            .await
    }

    pub async fn request_with_timeout(
        &self,
        command: &str,
        payload: serde_json::Value,
        timeout: Duration,
    ) -> Result<CommandReply, BusError> {
        self.request_with(command, payload, RequestOptions::default().timeout(timeout))
            .await
    }

    pub async fn request_with(
        &self,
        command: &str,
        payload: serde_json::Value,
        opts: RequestOptions,
    ) -> Result<CommandReply, BusError> {
        let timeout = opts
            .timeout
            .unwrap_or_else(|| self.settings().rpc_timeout());
        let client = self
            .inner
            .rpc
            .get_or_try_init(|| RpcClient::start(self))
            .await?;
        let mut env = Envelope::with_kind(command, self.producer(), payload);
        if let Some(id) = opts.id {
            env.id = id;
        }
        // The correlation id must be unique per call even when a request id is reused.
        let id = uuid::Uuid::now_v7().to_string();
        let mut msg = OutgoingMessage::to(exchange::COMMANDS, command, &env);
        msg.headers = trace::current_headers();
        if let Some(principal) = &opts.on_behalf_of {
            msg.headers
                .insert(crate::header::ON_BEHALF_OF.into(), principal.clone());
            if !opts.groups.is_empty() {
                msg.headers.insert(
                    crate::header::ON_BEHALF_OF_GROUPS.into(),
                    opts.groups.join(","),
                );
            }
        }
        if let Some(hash) = &opts.token_sha256 {
            msg.headers
                .insert(crate::header::TOKEN_SHA256.into(), hash.clone());
        }
        msg.correlation_id = Some(id.clone());
        msg.reply_to = Some(REPLY_TO.into());
        // A request nobody picked up in time is worthless: let the broker drop it.
        let props = msg
            .properties()
            .with_user_id(self.settings().user().into())
            .with_expiration(timeout.as_millis().to_string().into());

        let (tx, rx) = oneshot::channel();
        client
            .pending
            .lock()
            .expect("rpc map")
            .insert(id.clone(), tx);
        let forget = || client.pending.lock().expect("rpc map").remove(&id);
        let sent = publish_on(
            &client.channel,
            &self.names().exchange(exchange::COMMANDS),
            command,
            &msg.body,
            props,
            true,
            self.settings().confirm_timeout(),
        )
        .await;
        if let Err(e) = sent {
            forget();
            return Err(e);
        }
        let body = match tokio::time::timeout(timeout, rx).await {
            Ok(Ok(body)) => body,
            Ok(Err(_)) | Err(_) => {
                forget();
                return Err(BusError::RpcTimeout {
                    command: command.into(),
                    after: timeout,
                });
            }
        };
        decode_envelope::<CommandReply>(&body)
            .map(|e| e.payload)
            .map_err(|e| BusError::BadReply {
                command: command.into(),
                reason: e.to_string(),
            })
    }

    /// Serves requests from `opts.queue` until `cancel` fires: each one gets exactly the
    /// reply the handler returns. A malformed request is dead-lettered with its reason; a
    /// request whose caller has given up (its AMQP expiration passed) is dropped unanswered
    /// and counted (`bus_rpc_expired_total`), never dead-lettered.
    pub async fn serve<H, Fut>(
        &self,
        opts: ConsumerOptions,
        handler: H,
        cancel: CancellationToken,
    ) -> Result<(), BusError>
    where
        H: Fn(Message<serde_json::Value>) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = CommandReply> + Send,
    {
        let handler = Arc::new(handler);
        let bus = self.clone();
        let expired = self
            .inner
            .metrics
            .expired
            .with_label_values(&[opts.queue.as_str()]);
        self.consume(
            opts,
            move |msg: Message<serde_json::Value>| {
                let (bus, handler, expired) = (bus.clone(), handler.clone(), expired.clone());
                async move {
                    let Some(reply_to) = msg.reply_to.clone() else {
                        return Err(HandlerError::reject("request without reply_to"));
                    };
                    // Requests that waited past their caller's timeout (behind slow ones, or
                    // while this consumer was paused) are worthless: nobody reads the reply.
                    if let Some(deadline) = msg.expires_at()
                        && chrono::Utc::now() > deadline
                    {
                        expired.inc();
                        debug!(
                            command = %msg.routing_key,
                            message_id = %msg.envelope.id,
                            %deadline,
                            "request expired before it was served, dropped"
                        );
                        return Ok(());
                    }
                    let correlation = msg
                        .correlation_id
                        .clone()
                        .unwrap_or_else(|| msg.envelope.id.to_string());
                    let reply = handler(msg).await;
                    let env = Envelope::with_kind(REPLY_KIND, bus.producer(), reply)
                        .correlated(correlation.clone());
                    let props = BasicProperties::default()
                        .with_message_id(env.id.to_string().into())
                        .with_type(REPLY_KIND.into())
                        .with_content_type("application/json".into())
                        .with_correlation_id(correlation.into());
                    // The requester may be gone; a lost reply is its timeout, not our failure.
                    if let Err(e) = bus
                        .publish_raw("", &reply_to, &env.to_json(), props, false)
                        .await
                    {
                        warn!(error = %e, "reply could not be sent");
                    }
                    Ok(())
                }
            },
            cancel,
        )
        .await
    }
}
