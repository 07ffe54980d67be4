//! Tool failures as MCP tool errors (`isError: true` with a sentence the model can act on),
//! never protocol errors: a bad argument, an unknown id or a refusal is an answer.

use rmcp::handler::server::tool::IntoCallToolResult;
use rmcp::model::{CallToolResponse, CallToolResult, ContentBlock};

use crate::error::ServiceError;

/// A tool's failure, as the model reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ToolError(pub String);

impl ToolError {
    /// A bad argument, naming it.
    pub fn invalid(field: &str, message: impl std::fmt::Display) -> Self {
        ToolError(format!("invalid argument `{field}`: {message}"))
    }
}

impl std::fmt::Display for ToolError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl From<ServiceError> for ToolError {
    fn from(e: ServiceError) -> Self {
        ToolError(match e {
            ServiceError::Invalid { field, message } => {
                return ToolError::invalid(&field, message);
            }
            ServiceError::BadRequest(m) | ServiceError::Unprocessable(m) => {
                format!("invalid request: {m}")
            }
            ServiceError::NotFound(m) => format!("not found: {m}"),
            ServiceError::Conflict(m) => format!("conflict: {m}"),
            ServiceError::Forbidden(m) => format!("refused: {m}"),
            ServiceError::Denied(d) => {
                let mut m = format!("refused: {} (policy clause `{}`", d.message, d.clause);
                if let Some(role) = &d.missing_role {
                    m.push_str(&format!(", needs role {role}"));
                }
                m.push(')');
                m
            }
            ServiceError::Unavailable(_) | ServiceError::Transient(_) => {
                tracing::warn!(error = %e, "mcp tool failed");
                "temporarily unavailable (database or broker); retry later".into()
            }
            ServiceError::Internal(_) => {
                tracing::warn!(error = %e, "mcp tool failed");
                "internal error; the cause is in the orchestrator log".into()
            }
        })
    }
}

impl IntoCallToolResult for ToolError {
    fn into_call_tool_result(self) -> Result<CallToolResponse, rmcp::ErrorData> {
        Ok(CallToolResult::error(vec![ContentBlock::text(self.0)]).into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::Denial;

    #[test]
    fn service_errors_read_as_sentences_without_internals() {
        let t = |e| ToolError::from(e).0;
        assert_eq!(
            t(ServiceError::NotFound("incident 9 not found".into())),
            "not found: incident 9 not found"
        );
        assert_eq!(
            t(ServiceError::Invalid {
                field: "note".into(),
                message: "too long".into()
            }),
            "invalid argument `note`: too long"
        );
        let denied = t(ServiceError::Denied(Denial {
            message: "no policy clause allows stop".into(),
            missing_role: None,
            clause: "default-deny".into(),
        }));
        assert_eq!(
            denied,
            "refused: no policy clause allows stop (policy clause `default-deny`)"
        );
        let internal = t(ServiceError::Internal("relation incidents: secret".into()));
        assert!(!internal.contains("secret"), "{internal}");
    }
}
