//! The Slack Web API through slack-morphism, built with an https-or-http connector (TLS with
//! the platform's roots and ring; plain HTTP only where `SLACK_API_URL` says so, e.g. a
//! proxy or a test double).

use std::sync::Arc;
use std::time::Duration;

use slack_morphism::errors::SlackClientError;
use slack_morphism::prelude::*;
use tracing::warn;

use super::{Content, Posted, SlackError};

type Client = SlackClient<SlackClientHyperHttpsConnector>;

#[derive(Clone)]
pub struct WebSlack {
    client: Arc<Client>,
    token: Option<SlackApiToken>,
    timeout: Duration,
}

impl WebSlack {
    /// `token` is `None` where only `response_url`s are used (console mode).
    pub fn new(api_url: &str, token: Option<&str>, timeout: Duration) -> std::io::Result<Self> {
        let https = hyper_rustls::HttpsConnectorBuilder::new()
            .with_native_roots()?
            .https_or_http()
            .enable_http1()
            .enable_http2()
            .build();
        // slack-morphism joins the method with a `/` of its own.
        let connector = SlackClientHyperConnector::from(https)
            .with_slack_api_url(api_url.trim_end_matches('/'));
        Ok(WebSlack {
            client: Arc::new(SlackClient::new(connector)),
            token: token.map(|t| SlackApiToken::new(SlackApiTokenValue::new(t.to_string()))),
            timeout,
        })
    }

    pub fn client(&self) -> Arc<Client> {
        self.client.clone()
    }

    async fn call<T, F>(&self, f: F) -> Result<T, SlackError>
    where
        F: AsyncFnOnce(
            SlackClientSession<'_, SlackClientHyperHttpsConnector>,
        ) -> Result<T, SlackClientError>,
    {
        let Some(token) = &self.token else {
            return Err(SlackError::Blocked("no bot token configured".into()));
        };
        let session = self.client.open_session(token);
        match tokio::time::timeout(self.timeout, f(session)).await {
            Ok(r) => r.map_err(classify),
            Err(_) => Err(SlackError::Unavailable(format!(
                "no answer within {:?}",
                self.timeout
            ))),
        }
    }

    pub async fn post(
        &self,
        channel: &str,
        thread_ts: Option<&str>,
        content: &Content,
    ) -> Result<Posted, SlackError> {
        let req = SlackApiChatPostMessageRequest::new(channel.into(), message_content(content))
            .opt_thread_ts(thread_ts.map(|t| SlackTs::new(t.into())))
            .with_unfurl_links(false);
        let res = self.call(async |s| s.chat_post_message(&req).await).await?;
        Ok(Posted {
            ts: res.ts.to_string(),
            channel_id: res.channel.to_string(),
        })
    }

    pub async fn update(
        &self,
        channel_id: &str,
        ts: &str,
        content: &Content,
    ) -> Result<(), SlackError> {
        let req = SlackApiChatUpdateRequest::new(
            channel_id.into(),
            message_content(content),
            SlackTs::new(ts.into()),
        );
        self.call(async |s| s.chat_update(&req).await).await?;
        Ok(())
    }

    pub async fn ephemeral(
        &self,
        channel: &str,
        user: &str,
        thread_ts: Option<&str>,
        content: &Content,
    ) -> Result<(), SlackError> {
        let req = SlackApiChatPostEphemeralRequest::new(
            channel.into(),
            user.into(),
            message_content(content),
        )
        .opt_thread_ts(thread_ts.map(|t| SlackTs::new(t.into())));
        self.call(async |s| s.chat_post_ephemeral(&req).await)
            .await?;
        Ok(())
    }

    /// `auth.test`: the token works and Slack answers.
    pub async fn auth_test(&self) -> Result<String, SlackError> {
        let res = self.call(async |s| s.auth_test().await).await?;
        Ok(res.user_id.to_string())
    }

    /// Members of every user group: user id → group ids.
    pub async fn usergroup_members(
        &self,
    ) -> Result<std::collections::HashMap<String, Vec<String>>, SlackError> {
        let req = SlackApiUserGroupsListRequest::new().with_include_users(true);
        let res = self.call(async |s| s.usergroups_list(&req).await).await?;
        let mut members: std::collections::HashMap<String, Vec<String>> = Default::default();
        for g in res.usergroups {
            for u in g.users.unwrap_or_default() {
                members
                    .entry(u.to_string())
                    .or_default()
                    .push(g.id.to_string());
            }
        }
        Ok(members)
    }

    /// Answers a slash command or an interaction through its `response_url` (no token).
    pub async fn respond(
        &self,
        response_url: &url::Url,
        content: &Content,
        replace_original: bool,
        in_channel: bool,
    ) -> Result<(), SlackError> {
        #[derive(serde::Serialize)]
        struct Body<'a> {
            text: &'a str,
            blocks: &'a serde_json::Value,
            response_type: &'static str,
            replace_original: bool,
        }
        let body = Body {
            text: &content.text,
            blocks: &content.blocks,
            response_type: if in_channel {
                "in_channel"
            } else {
                "ephemeral"
            },
            replace_original,
        };
        let ctx = SlackClientApiCallContext {
            rate_control_params: None,
            token: None,
            tracing_span: &tracing::Span::current(),
            is_sensitive_url: true,
        };
        let call = self
            .client
            .http_api
            .connector
            .http_post_uri::<_, serde_json::Value>(response_url.clone(), &body, ctx);
        match tokio::time::timeout(self.timeout, call).await {
            Ok(r) => r.map(|_| ()).map_err(classify),
            Err(_) => Err(SlackError::Unavailable(
                "response_url did not answer".into(),
            )),
        }
    }
}

fn message_content(content: &Content) -> SlackMessageContent {
    let blocks = match serde_json::from_value::<Vec<SlackBlock>>(content.blocks.clone()) {
        Ok(b) if !b.is_empty() => Some(b),
        Ok(_) => None,
        Err(e) => {
            warn!(error = %e, "blocks do not decode, sending the text alone");
            None
        }
    };
    SlackMessageContent::new()
        .with_text(content.text.clone())
        .opt_blocks(blocks)
}

fn classify(e: SlackClientError) -> SlackError {
    match e {
        SlackClientError::RateLimitError(r) => {
            SlackError::RateLimited(r.retry_after.unwrap_or(Duration::from_secs(1)))
        }
        SlackClientError::ApiError(a) => SlackError::from_api_code(&a.code),
        SlackClientError::HttpError(h) => match h.status_code.as_u16() {
            500..=599 | 408 => SlackError::Unavailable(format!("http {}", h.status_code)),
            401 | 403 | 404 => SlackError::Blocked(format!("http {}", h.status_code)),
            _ => SlackError::Rejected(format!("http {}", h.status_code)),
        },
        // Connection refused, reset, DNS, TLS: Slack (or the way to it) is down.
        other => SlackError::Unavailable(other.to_string()),
    }
}
