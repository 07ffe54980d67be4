//! Tool arguments: what each tool accepts, with the descriptions clients show the model.
//! Unknown fields are refused (a misspelt filter must not silently widen a search); ids are
//! accepted as numbers or digit strings, as models write both. Where a tool takes a
//! `domain::commands` request as it is, it uses that type; the others are thin wrappers
//! with the names and leniency a model needs, turned into those requests.

use chrono::{DateTime, Duration, Utc};
use domain::ActionType;
use domain::commands::ActionRequest;
use rmcp::handler::server::common::FromContextPart;
use rmcp::handler::server::tool::ToolCallContext;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer};

use super::error::ToolError;

/// Tool arguments, as rmcp's `Parameters` but with errors that name the argument
/// (`invalid argument `job`: invalid type: integer `5`, expected a string`). Named
/// `Parameters` because the `#[tool]` macro takes a tool's input schema from the argument
/// of that name.
pub struct Parameters<T>(pub T);

impl<T: schemars::JsonSchema> schemars::JsonSchema for Parameters<T> {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        T::schema_name()
    }

    fn json_schema(generator: &mut schemars::SchemaGenerator) -> schemars::Schema {
        T::json_schema(generator)
    }
}

/// rmcp turns extraction errors starting with this into tool errors (`isError`).
pub const ARGUMENTS_ERROR: &str = "failed to deserialize parameters:";

impl<S, T: DeserializeOwned> FromContextPart<ToolCallContext<'_, S>> for Parameters<T> {
    fn from_context_part(ctx: &mut ToolCallContext<'_, S>) -> Result<Self, rmcp::ErrorData> {
        let args = serde_json::Value::Object(ctx.arguments.take().unwrap_or_default());
        serde_path_to_error::deserialize(args)
            .map(Parameters)
            .map_err(|e| {
                let path = e.path().to_string();
                let what = if path == "." {
                    format!("invalid arguments: {}", e.inner())
                } else {
                    ToolError::invalid(&path, e.inner()).0
                };
                rmcp::ErrorData::invalid_params(format!("{ARGUMENTS_ERROR} {what}"), None)
            })
    }
}

/// An integer written as a number (`42`, `42.0`) or a string of digits (`"42"`, `"#42"`):
/// models write ids both ways.
#[derive(Deserialize)]
#[serde(untagged)]
enum Int {
    Whole(i64),
    Float(f64),
    Text(String),
}

impl Int {
    fn positive<E: serde::de::Error>(self) -> Result<i64, E> {
        let v = match self {
            Int::Whole(i) => Some(i),
            Int::Float(f) if f.fract() == 0.0 && f.abs() < 9.0e15 => Some(f as i64),
            Int::Float(_) => None,
            Int::Text(s) => s.trim().trim_start_matches('#').parse().ok(),
        };
        match v {
            Some(i) if i > 0 => Ok(i),
            _ => Err(E::custom(
                "expected a positive integer (a number or a string of digits)",
            )),
        }
    }
}

fn id<'de, D: Deserializer<'de>>(d: D) -> Result<i64, D::Error> {
    Int::deserialize(d)?.positive()
}

fn opt_id<'de, D: Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
    Option::<Int>::deserialize(d)?
        .map(Int::positive)
        .transpose()
}

#[derive(Debug, Default, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ActiveIncidentsArgs {
    /// Only these severities, comma separated: `critical`, `high`, `medium`, `low`.
    #[schemars(regex(pattern = r"^(critical|high|medium|low)(,(critical|high|medium|low))*$"))]
    pub severity: Option<String>,
    /// Only incidents of this Jenkins job (its full name; folders as `team/app`).
    #[schemars(length(min = 1, max = 512))]
    pub job: Option<String>,
    /// At most this many incidents, newest first (1 to 100; default 20).
    #[serde(default, deserialize_with = "opt_id")]
    #[schemars(range(min = 1, max = 100))]
    pub limit: Option<i64>,
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct IncidentArgs {
    /// The incident's id (as listed by `get_active_incidents`).
    #[serde(deserialize_with = "id")]
    #[schemars(range(min = 1))]
    pub incident_id: i64,
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ResolveArgs {
    /// The incident's id.
    #[serde(deserialize_with = "id")]
    #[schemars(range(min = 1))]
    pub incident_id: i64,
    /// Why or how it was resolved (at most 2000 characters).
    #[schemars(length(max = 2000))]
    pub note: Option<String>,
}

/// The arguments of a `request_jenkins_*` tool: the job, what the tool adds, the incident
/// and the reason; each becomes an [`ActionRequest`].
macro_rules! jenkins_action_args {
    ($(#[$m:meta])* $name:ident { $($(#[$fm:meta])* $field:ident: $ty:ty,)* }) => {
        $(#[$m])*
        #[derive(Debug, Deserialize, schemars::JsonSchema)]
        #[serde(deny_unknown_fields)]
        pub struct $name {
            /// The Jenkins job (its full name; folders as `team/app`).
            #[schemars(length(min = 1, max = 512))]
            pub job: String,
            $($(#[$fm])* pub $field: $ty,)*
            /// The incident this action answers, if any.
            #[serde(default, deserialize_with = "opt_id")]
            #[schemars(range(min = 1))]
            pub incident_id: Option<i64>,
            /// Why (shown to approvers and kept in the audit; at most 2000 characters).
            #[schemars(length(max = 2000))]
            pub reason: Option<String>,
        }
    };
}

jenkins_action_args!(RestartArgs {
    /// The build to restart.
    #[serde(deserialize_with = "id")]
    #[schemars(range(min = 1))]
    build: i64,
    /// Ask for a human approval even when the policy needs none (it can never remove one).
    requires_approval: Option<bool>,
});

jenkins_action_args!(RollbackArgs {
    /// The failing build; without `to_build`, the rollback goes to the last successful
    /// build before it.
    #[serde(default, deserialize_with = "opt_id")]
    #[schemars(range(min = 1))]
    build: Option<i64>,
    /// The build to roll back to, when known.
    #[serde(default, deserialize_with = "opt_id")]
    #[schemars(range(min = 1))]
    to_build: Option<i64>,
    /// Ask for a human approval even when the policy needs none (it can never remove one).
    requires_approval: Option<bool>,
});

jenkins_action_args!(StopArgs {
    /// The running build to stop.
    #[serde(deserialize_with = "id")]
    #[schemars(range(min = 1))]
    build: i64,
});

impl From<RestartArgs> for ActionRequest {
    fn from(a: RestartArgs) -> Self {
        ActionRequest {
            target_build: Some(a.build),
            incident_id: a.incident_id,
            requires_approval: a.requires_approval,
            reason: a.reason,
            ..ActionRequest::new(ActionType::Restart, a.job)
        }
    }
}

impl From<RollbackArgs> for ActionRequest {
    fn from(a: RollbackArgs) -> Self {
        ActionRequest {
            target_build: a.build,
            incident_id: a.incident_id,
            requires_approval: a.requires_approval,
            reason: a.reason,
            params: a.to_build.map(|b| serde_json::json!({"target_build": b})),
            ..ActionRequest::new(ActionType::Rollback, a.job)
        }
    }
}

impl From<StopArgs> for ActionRequest {
    fn from(a: StopArgs) -> Self {
        ActionRequest {
            target_build: Some(a.build),
            incident_id: a.incident_id,
            reason: a.reason,
            ..ActionRequest::new(ActionType::Stop, a.job)
        }
    }
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct StartRunbookArgs {
    /// The incident's id (as listed by `get_active_incidents`).
    #[serde(deserialize_with = "id")]
    #[schemars(range(min = 1))]
    pub incident_id: i64,
    /// The runbook's name in the runbooks file, e.g. `jenkins-build-failure`.
    #[schemars(length(min = 1, max = 64))]
    pub runbook: String,
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RunbookRunArgs {
    /// Run id.
    #[serde(deserialize_with = "id")]
    #[schemars(range(min = 1))]
    pub run_id: i64,
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ActionArgs {
    /// The action's id (returned by the `request_jenkins_*` tools).
    #[serde(deserialize_with = "id")]
    #[schemars(range(min = 1))]
    pub action_id: i64,
}

#[derive(Debug, Default, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SearchLogsArgs {
    /// Only logs of this Jenkins job (its full name).
    #[schemars(length(min = 1, max = 512))]
    pub job: Option<String>,
    /// Only these levels, comma separated, e.g. `error,fatal`.
    #[schemars(length(min = 1, max = 200))]
    pub level: Option<String>,
    /// Text the message contains (case-insensitive; at most 1000 characters).
    #[schemars(length(min = 1, max = 1000))]
    pub text: Option<String>,
    /// Only logs since then: an RFC 3339 time (`2026-11-29T10:00:00Z`) or a duration back
    /// from now (`30m`, `6h`, `2d`; at most 365 days).
    #[schemars(length(min = 2, max = 64))]
    pub since: Option<String>,
    /// At most this many logs, newest first (1 to 100; default 20).
    #[serde(default, deserialize_with = "opt_id")]
    #[schemars(range(min = 1, max = 100))]
    pub limit: Option<i64>,
}

#[derive(Debug, Default, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct StatsArgs {
    /// Only incidents detected since then: an RFC 3339 time or a duration back from now
    /// (`24h`, `7d`). Default: all time.
    #[schemars(length(min = 2, max = 64))]
    pub since: Option<String>,
}

/// `get_service_health` takes the request of `command.health.status` as it is.
pub use domain::health::HealthStatusRequest as HealthArgs;

#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RelatedArgs {
    /// The incident whose relatives are wanted.
    #[serde(deserialize_with = "id")]
    #[schemars(range(min = 1))]
    pub incident_id: i64,
    /// At most this many (1 to 20; default 5).
    #[serde(default, deserialize_with = "opt_id")]
    #[schemars(range(min = 1, max = 20))]
    pub limit: Option<i64>,
}

/// A limit within `1..=max`, `default` when absent.
pub fn limit(value: Option<i64>, default: i64, max: i64) -> Result<i64, ToolError> {
    match value {
        None => Ok(default),
        Some(n) if (1..=max).contains(&n) => Ok(n),
        Some(n) => Err(ToolError::invalid(
            "limit",
            format!("{n} is outside 1..={max}"),
        )),
    }
}

/// `since` as an RFC 3339 time or a duration back from `now` (`90s`, `30m`, `6h`, `2d`).
pub fn since(
    field: &str,
    value: Option<&str>,
    now: DateTime<Utc>,
) -> Result<Option<DateTime<Utc>>, ToolError> {
    let Some(v) = value.map(str::trim) else {
        return Ok(None);
    };
    if let Ok(t) = DateTime::parse_from_rfc3339(v) {
        return Ok(Some(t.with_timezone(&Utc)));
    }
    let bad = || {
        ToolError::invalid(
            field,
            format!(
                "`{}` is neither an RFC 3339 time nor a duration like 30m, 6h or 2d",
                v.chars().take(64).collect::<String>()
            ),
        )
    };
    let split = v
        .len()
        .checked_sub(1)
        .filter(|i| v.is_char_boundary(*i))
        .ok_or_else(bad)?;
    let (n, unit) = v.split_at(split);
    let n: i64 = n.parse().map_err(|_| bad())?;
    let secs = match unit {
        "s" => n,
        "m" => n.saturating_mul(60),
        "h" => n.saturating_mul(3600),
        "d" => n.saturating_mul(86_400),
        _ => return Err(bad()),
    };
    if !(1..=365 * 86_400).contains(&secs) {
        return Err(ToolError::invalid(
            field,
            "a duration must be between 1s and 365d",
        ));
    }
    Ok(Some(now - Duration::seconds(secs)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_numbers_or_digit_strings() {
        for ok in [
            serde_json::json!({"incident_id": 42}),
            serde_json::json!({"incident_id": 42.0}),
            serde_json::json!({"incident_id": "42"}),
            serde_json::json!({"incident_id": "#42"}),
        ] {
            let a: IncidentArgs = serde_json::from_value(ok.clone()).unwrap();
            assert_eq!(a.incident_id, 42, "{ok}");
        }
        for bad in [
            serde_json::json!({"incident_id": 0}),
            serde_json::json!({"incident_id": -1}),
            serde_json::json!({"incident_id": 4.5}),
            serde_json::json!({"incident_id": "four"}),
            serde_json::json!({}),
            serde_json::json!({"incident_id": 1, "extra": true}),
        ] {
            assert!(
                serde_json::from_value::<IncidentArgs>(bad.clone()).is_err(),
                "{bad}"
            );
        }
        let r: RollbackArgs =
            serde_json::from_value(serde_json::json!({"job": "app", "to_build": "7"})).unwrap();
        assert_eq!((r.build, r.to_build), (None, Some(7)));
    }

    #[test]
    fn since_takes_times_and_durations() {
        let now: DateTime<Utc> = "2026-11-29T12:00:00Z".parse().unwrap();
        let s = |v: &str| since("since", Some(v), now);
        assert_eq!(s("30m").unwrap(), Some(now - Duration::minutes(30)));
        assert_eq!(s("2d").unwrap(), Some(now - Duration::days(2)));
        assert_eq!(
            s("2026-11-29T10:00:00+01:00").unwrap(),
            Some("2026-11-29T09:00:00Z".parse().unwrap())
        );
        for bad in ["soon", "5w", "0h", "400d", "m", "-3h", "é"] {
            let e = s(bad).unwrap_err();
            assert!(e.0.starts_with("invalid argument `since`"), "{bad}: {e}");
        }
        assert_eq!(since("since", None, now).unwrap(), None);
    }

    #[test]
    fn limits_are_bounded() {
        assert_eq!(limit(None, 20, 100).unwrap(), 20);
        assert_eq!(limit(Some(100), 20, 100).unwrap(), 100);
        assert!(limit(Some(101), 20, 100).is_err());
    }
}
