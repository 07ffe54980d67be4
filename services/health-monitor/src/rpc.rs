//! `command.health.status` on `health-monitor.commands`: the catalog's summary for
//! `/devops status` and the MCP tool. Arguments: `{}` or `{"service": "<name>"}`.

use bus::Message;
use domain::commands::{CommandReply, ErrorCode, key};
use serde::Deserialize;

use crate::catalog::view;
use crate::core::Core;
use crate::error::MonitorError;
use crate::target::valid_service_name;

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct StatusArgs {
    service: Option<String>,
}

pub async fn handle(core: &Core, msg: Message<serde_json::Value>) -> CommandReply {
    let command = msg.routing_key.as_str();
    match command {
        key::HEALTH_STATUS => match status(core, msg.envelope.payload).await {
            Ok(v) => CommandReply::ok(v),
            Err(e) => e.into_reply(),
        },
        other => CommandReply::err(ErrorCode::BadRequest, format!("unknown command `{other}`")),
    }
}

async fn status(
    core: &Core,
    payload: serde_json::Value,
) -> Result<serde_json::Value, MonitorError> {
    let args: StatusArgs = if payload.is_null() {
        StatusArgs::default()
    } else {
        serde_json::from_value(payload).map_err(|e| {
            MonitorError::BadRequest(format!("invalid arguments for {}: {e}", key::HEALTH_STATUS))
        })?
    };
    if let Some(s) = &args.service
        && !valid_service_name(s)
    {
        return Err(MonitorError::BadRequest(
            "service: 1-64 letters, digits, `-`, `_` or `.`".into(),
        ));
    }
    let catalog = view::load(core, args.service.as_deref()).await?;
    if let Some(s) = &args.service
        && catalog.services.is_empty()
    {
        return Err(MonitorError::NotFound(format!(
            "no service named `{s}` has been seen"
        )));
    }
    Ok(serde_json::to_value(catalog.report()).unwrap_or_default())
}
