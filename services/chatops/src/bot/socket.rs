//! Socket Mode (when `SLACK_APP_TOKEN` is set): Slack pushes the same events, commands and
//! interactions over a WebSocket; they go through the same handlers as the HTTP routes.

use std::sync::Arc;

use slack_morphism::prelude::*;
use tracing::{info, warn};

use super::{Bot, SlashCommand};

type Connector = SlackClientHyperHttpsConnector;

async fn bot_of(states: &SlackClientEventsUserState) -> Option<Arc<Bot>> {
    states.read().await.get_user_state::<Arc<Bot>>().cloned()
}

async fn on_command(
    ev: SlackCommandEvent,
    _client: Arc<SlackClient<Connector>>,
    states: SlackClientEventsUserState,
) -> UserCallbackResult<SlackCommandEventResponse> {
    let Some(bot) = bot_of(&states).await else {
        return Ok(SlackCommandEventResponse::new(SlackMessageContent::new()));
    };
    let cmd = SlashCommand {
        command: ev.command.to_string(),
        text: ev.text.clone().unwrap_or_default(),
        user_id: ev.user_id.to_string(),
        channel_id: ev.channel_id.to_string(),
        response_url: Some(ev.response_url.0.to_string()),
    };
    let answer = bot.slash(cmd).await;
    let body = super::http::immediate_body(&answer);
    let content: SlackMessageContent = serde_json::from_value(body.clone())
        .unwrap_or_else(|_| SlackMessageContent::new().with_text(answer.content.text.clone()));
    let mut response = SlackCommandEventResponse::new(content);
    if answer.in_channel {
        response = response.with_response_type(SlackMessageResponseType::InChannel);
    }
    Ok(response)
}

async fn on_interaction(
    ev: SlackInteractionEvent,
    _client: Arc<SlackClient<Connector>>,
    states: SlackClientEventsUserState,
) -> UserCallbackResult<()> {
    if let Some(bot) = bot_of(&states).await {
        match serde_json::to_value(&ev) {
            Ok(payload)
                if payload.get("type").and_then(|t| t.as_str()) == Some("block_actions") =>
            {
                tokio::spawn(async move { bot.interaction(&payload).await });
            }
            Ok(_) => {}
            Err(e) => warn!(error = %e, "socket mode interaction not understood"),
        }
    }
    Ok(())
}

async fn on_push(
    ev: SlackPushEventCallback,
    _client: Arc<SlackClient<Connector>>,
    states: SlackClientEventsUserState,
) -> UserCallbackResult<()> {
    if let Some(bot) = bot_of(&states).await {
        match serde_json::to_value(SlackPushEvent::EventCallback(ev)) {
            Ok(v) => {
                super::http::handle_event(&bot, &v).await;
            }
            Err(e) => warn!(error = %e, "socket mode event not understood"),
        }
    }
    Ok(())
}

fn on_error(
    err: Box<dyn std::error::Error + Send + Sync>,
    _client: Arc<SlackClient<Connector>>,
    _states: SlackClientEventsUserState,
) -> HttpStatusCode {
    // Answer OK: an error here is ours, and Slack redelivering it would not help.
    warn!(error = %err, "socket mode handler failed");
    HttpStatusCode::OK
}

/// Connects with the app token and serves until `cancel`.
pub async fn run(
    bot: Arc<Bot>,
    client: Arc<SlackClient<Connector>>,
    app_token: String,
    cancel: tokio_util::sync::CancellationToken,
) -> anyhow::Result<()> {
    let callbacks = SlackSocketModeListenerCallbacks::new()
        .with_command_events(on_command)
        .with_interaction_events(on_interaction)
        .with_push_events(on_push);
    let env = Arc::new(
        SlackClientEventsListenerEnvironment::new(client)
            .with_error_handler(on_error)
            .with_user_state(bot),
    );
    let listener =
        SlackClientSocketModeListener::new(&SlackClientSocketModeConfig::new(), env, callbacks);
    let token = SlackApiToken::new(SlackApiTokenValue::new(app_token));
    listener.listen_for(&token).await?;
    listener.start().await;
    info!("slack socket mode connected");
    cancel.cancelled().await;
    listener.shutdown().await;
    Ok(())
}
