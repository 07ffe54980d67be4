//! Slack Bot (`@devops-bot`, `/devops`, buttons): the same handlers behind the HTTP routes
//! (signed requests) and Socket Mode.

pub mod exec;
pub mod grammar;
mod http;
pub mod llm;
pub mod postmortem;
pub mod socket;
pub mod validate;
pub mod verify;

use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;
use sqlx::PgPool;
use tokio::sync::Notify;
use tracing::{info, warn};

use self::exec::{Caller, Executor};
use self::grammar::Command;
use self::llm::{Llm, LlmError};
use self::validate::JobAllowlist;
use crate::notify::{NotifyMetrics, repo};
use crate::slack::text::{escape, is_slack_id};
use crate::slack::{Content, WebSlack};

pub use http::routes;

pub struct Bot {
    pub pool: PgPool,
    pub exec: Executor,
    pub llm: Option<Llm>,
    pub allow: JobAllowlist,
    /// For `response_url`s (needs no token).
    pub web: WebSlack,
    pub verifier: Option<verify::Verifier>,
    pub response_prefixes: Vec<String>,
    pub inline_reply: Duration,
    pub wake: Arc<Notify>,
    pub metrics: NotifyMetrics,
}

/// A slash command as Slack sends it.
#[derive(Debug, Clone, serde::Deserialize)]
pub struct SlashCommand {
    #[serde(default)]
    pub command: String,
    #[serde(default)]
    pub text: String,
    pub user_id: String,
    pub channel_id: String,
    #[serde(default)]
    pub response_url: Option<String>,
}

/// What to answer a slash command with, right away.
#[derive(Debug, Clone)]
pub struct Immediate {
    pub content: Content,
    pub in_channel: bool,
}

impl Bot {
    fn check_response_url(&self, url: &str) -> Option<url::Url> {
        let ok = self
            .response_prefixes
            .iter()
            .any(|p| url.starts_with(p.as_str()));
        if !ok {
            warn!("response_url outside slack.response_url_prefixes ignored");
            return None;
        }
        url::Url::parse(url).ok()
    }

    async fn respond(&self, response_url: Option<&str>, content: &Content, in_channel: bool) {
        let Some(url) = response_url.and_then(|u| self.check_response_url(u)) else {
            return;
        };
        if let Err(e) = self.web.respond(&url, content, false, in_channel).await {
            warn!(error = %e, "response_url answer not delivered");
        }
    }

    /// `/devops …`: answered inline when quick, else acknowledged now and answered through
    /// `response_url` when done (Slack waits 3 s at most).
    pub async fn slash(self: &Arc<Self>, cmd: SlashCommand) -> Immediate {
        if !is_slack_id(&cmd.user_id) {
            return Immediate {
                content: Content::text("❓ This request has no valid Slack user."),
                in_channel: false,
            };
        }
        let parsed = grammar::parse(&cmd.text).and_then(|c| c.check(&self.allow).map(|_| c));
        let command = match parsed {
            Ok(c) => c,
            Err(e) => {
                self.metrics
                    .commands
                    .with_label_values(&["slash", "invalid", "refused"])
                    .inc();
                return Immediate {
                    content: Content::text(format!("❓ {e}\n\n{}", grammar::USAGE)),
                    in_channel: false,
                };
            }
        };
        info!(user = %cmd.user_id, channel = %cmd.channel_id, command = command.name(), "slash command");
        let caller = Caller {
            user: cmd.user_id.clone(),
            channel: cmd.channel_id.clone(),
            source: "slash",
        };
        let in_channel = command.changes_something();
        let bot = self.clone();
        let (tx, rx) = tokio::sync::oneshot::channel();
        let work_cmd = command.clone();
        let response_url = cmd.response_url.clone();
        tokio::spawn(async move {
            let content = bot.exec.run(&work_cmd, &caller).await;
            bot.metrics
                .commands
                .with_label_values(&["slash", work_cmd.name(), "done"])
                .inc();
            if let Err(content) = tx.send(content) {
                // Too late for the inline answer: through response_url.
                bot.respond(response_url.as_deref(), &content, in_channel)
                    .await;
            }
        });
        match tokio::time::timeout(self.inline_reply, rx).await {
            Ok(Ok(content)) => Immediate {
                content,
                in_channel,
            },
            _ => Immediate {
                content: Content::text(format!("⏳ Working on it: {}…", command.describe())),
                in_channel: false,
            },
        }
    }

    /// `@devops-bot <text>`: the grammar if it fits, else the model's tool call; says what
    /// it understood, then does it, in the mention's thread.
    pub async fn mention(self: &Arc<Self>, user: &str, channel: &str, ts: &str, text: &str) {
        if !is_slack_id(user) || !is_slack_id(channel) {
            return;
        }
        let text = strip_mentions(text);
        let reply = |n: u32, content: Content| {
            let bot = self.clone();
            let key = format!("reply:{channel}:{ts}:{n}");
            let prev = (n > 0).then(|| format!("reply:{channel}:{ts}:{}", n - 1));
            let channel = channel.to_string();
            let ts = ts.to_string();
            async move {
                let anchor = repo::anchor(&bot.pool, &channel, &ts).await?;
                repo::queue_reply(
                    &bot.pool,
                    &key,
                    &channel,
                    &anchor,
                    prev.as_deref(),
                    &content,
                )
                .await?;
                bot.wake.notify_waiters();
                Ok::<(), sqlx::Error>(())
            }
        };
        let (command, how) = match grammar::parse(&text) {
            Ok(c) => (Ok(c), "grammar"),
            Err(grammar_error) => match &self.llm {
                Some(llm) => (llm.interpret(&text).await, "llm"),
                None => {
                    tracing::debug!(error = %grammar_error, "not grammar, and ollama.enabled is false");
                    (Err(LlmError::Off), "grammar")
                }
            },
        };
        let outcome = match command {
            Ok(cmd) => match cmd.check(&self.allow) {
                Ok(()) => {
                    let caller = Caller {
                        user: user.to_string(),
                        channel: channel.to_string(),
                        source: "mention",
                    };
                    let said = reply(
                        0,
                        Content::text(format!("🤖 Understood: {}.", cmd.describe())),
                    )
                    .await;
                    let result = self.exec.run(&cmd, &caller).await;
                    self.metrics
                        .commands
                        .with_label_values(&["mention", cmd.name(), how])
                        .inc();
                    match said {
                        Ok(()) => reply(1, result).await,
                        Err(e) => Err(e),
                    }
                }
                Err(why) => {
                    self.metrics
                        .commands
                        .with_label_values(&["mention", cmd.name(), "refused"])
                        .inc();
                    reply(
                        0,
                        Content::text(format!(
                            "⛔ I understood: {}, but {why}. Nothing was done.",
                            cmd.describe()
                        )),
                    )
                    .await
                }
            },
            Err(e) => {
                self.metrics
                    .commands
                    .with_label_values(&["mention", "unknown", "fallback"])
                    .inc();
                if let LlmError::Unreachable(detail) = &e {
                    // Slack users see "unreachable"; where and why is for the operator's log.
                    warn!(detail = %detail, "the language model is unreachable");
                }
                let hint = match &e {
                    LlmError::UnknownTool(_)
                    | LlmError::BadArguments { .. }
                    | LlmError::TooMany(_) => {
                        format!("⛔ {}. Nothing was done.", escape(&e.to_string()))
                    }
                    _ => format!(
                        "🤔 I could not understand that: {}.\nThe grammar works without the model, e.g. `@devops-bot restart deploy-prod 123` or `@devops-bot incidents critical`.\n{}",
                        escape(&e.to_string()),
                        grammar::USAGE
                    ),
                };
                reply(0, Content::text(hint)).await
            }
        };
        if let Err(e) = outcome {
            warn!(error = %e, "mention reply not queued");
        }
    }

    /// A button click (`block_actions`), on behalf of the user who clicked; the answer goes
    /// to that user through `response_url`, the message itself is updated by the notifier.
    pub async fn interaction(self: &Arc<Self>, payload: &Value) {
        let user = payload
            .pointer("/user/id")
            .and_then(Value::as_str)
            .unwrap_or("");
        let channel = payload
            .pointer("/channel/id")
            .and_then(Value::as_str)
            .unwrap_or("");
        let response_url = payload.get("response_url").and_then(Value::as_str);
        if !is_slack_id(user) {
            return;
        }
        let Some(action) = payload
            .get("actions")
            .and_then(Value::as_array)
            .and_then(|a| a.first())
        else {
            return;
        };
        let action_id = action
            .get("action_id")
            .and_then(Value::as_str)
            .unwrap_or("");
        let value = action.get("value").and_then(Value::as_str).unwrap_or("");
        let caller = Caller {
            user: user.to_string(),
            channel: channel.to_string(),
            source: "button",
        };
        let content = match self.button_command(action_id, value, &caller).await {
            Ok(cmd) => {
                self.metrics
                    .commands
                    .with_label_values(&["button", cmd.name(), "done"])
                    .inc();
                self.exec.run(&cmd, &caller).await
            }
            Err(why) => Content::text(format!("❓ {why}")),
        };
        self.respond(response_url, &content, false).await;
    }

    async fn button_command(
        &self,
        action_id: &str,
        value: &str,
        caller: &Caller,
    ) -> Result<Command, String> {
        let id = validate::number("the id", value)?;
        let cmd = match action_id {
            "action_approve" => Command::Approve { action: id },
            "action_deny" => Command::Deny {
                action: id,
                reason: None,
            },
            "incident_ack" => Command::Ack { id },
            "incident_restart" | "incident_rollback" => {
                // The incident's job and build, as the orchestrator knows them.
                let inc = self
                    .exec
                    .ask(&domain::commands::GetIncident { id }, caller)
                    .await
                    .map_err(|e| match e {
                        exec::Failure::Refused(e) => e.message,
                        other => format!("could not look incident #{id} up: {other}"),
                    })?
                    .incident;
                let job = inc
                    .job_name
                    .as_deref()
                    .ok_or_else(|| format!("incident #{id} has no Jenkins job"))?;
                let job = validate::job(job)?;
                let build = inc.build_number;
                if action_id == "incident_restart" {
                    Command::Restart {
                        job,
                        build: build
                            .ok_or_else(|| format!("incident #{id} has no build number"))?,
                    }
                } else {
                    Command::Rollback { job, build: None }
                }
            }
            other => return Err(format!("unknown button `{}`", escape(other))),
        };
        cmd.check(&self.allow)?;
        Ok(cmd)
    }
}

/// Removes `<@U…>` mentions (the bot's own, mostly) from a message.
pub fn strip_mentions(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find("<@") {
        out.push_str(&rest[..start]);
        match rest[start..].find('>') {
            Some(end) => rest = &rest[start + end + 1..],
            None => {
                rest = "";
            }
        }
    }
    out.push_str(rest);
    out.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    #[test]
    fn mentions_are_stripped() {
        assert_eq!(
            super::strip_mentions("<@U0BOT> reinicia  el build 123"),
            "reinicia el build 123"
        );
        assert_eq!(super::strip_mentions("status <@U1>"), "status");
    }
}
