//! The LLM writer's client (Ollama, through ollama-rs). The prompt and the reading of the
//! answer are the `postmortem` crate's (`postmortem::llm`): facts as data between markers,
//! no tools, an answer missing a narrative section refused.

use std::time::Duration;

use ::postmortem::llm::{SYSTEM, parse, prompt};
use ::postmortem::{Facts, Narrative, PostmortemError};
use ollama_rs::Ollama;
use ollama_rs::generation::chat::ChatMessage;
use ollama_rs::generation::chat::request::ChatMessageRequest;

use crate::settings::OllamaSettings;

#[derive(Debug, thiserror::Error)]
pub enum LlmError {
    #[error("ollama unreachable: {0}")]
    Unreachable(String),
    #[error("ollama did not answer within {0} s")]
    Timeout(u64),
    /// The answer lacked a narrative section.
    #[error(transparent)]
    Answer(#[from] PostmortemError),
}

#[derive(Clone)]
pub struct Llm {
    ollama: Ollama,
    pub model: String,
    timeout: Duration,
}

impl Llm {
    /// `None` when disabled or not configured.
    pub fn new(s: &OllamaSettings) -> Option<Llm> {
        if !s.enabled || s.url.trim().is_empty() {
            return None;
        }
        // Validated at start (settings), so a parse failure here cannot happen.
        let url = url::Url::parse(s.url.trim()).ok()?;
        Some(Llm {
            ollama: Ollama::from_url(url),
            model: s.model.clone(),
            timeout: Duration::from_secs(s.timeout_secs),
        })
    }

    /// `/api/tags` answers: readiness shows Ollama as degraded otherwise.
    pub async fn check(&self) -> Result<(), String> {
        match tokio::time::timeout(Duration::from_secs(5), self.ollama.list_local_models()).await {
            Ok(Ok(_)) => Ok(()),
            Ok(Err(e)) => Err(error_text(&e)),
            Err(_) => Err("no answer within 5 s".into()),
        }
    }

    /// Asks the model for the narrative sections.
    pub async fn write(&self, facts: &Facts) -> Result<Narrative, LlmError> {
        let nonce = uuid::Uuid::new_v4().simple().to_string();
        let req = ChatMessageRequest::new(
            self.model.clone(),
            vec![
                ChatMessage::system(SYSTEM.into()),
                ChatMessage::user(prompt(facts, &nonce)),
            ],
        );
        let res =
            match tokio::time::timeout(self.timeout, self.ollama.send_chat_messages(req)).await {
                Ok(Ok(r)) => r,
                Ok(Err(e)) => return Err(LlmError::Unreachable(error_text(&e))),
                Err(_) => return Err(LlmError::Timeout(self.timeout.as_secs())),
            };
        Ok(parse(&res.message.content)?)
    }
}

fn error_text(e: &ollama_rs::error::OllamaError) -> String {
    telemetry::error_chain(e).chars().take(300).collect()
}
