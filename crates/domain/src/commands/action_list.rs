//! `command.actions.list` and `GET /api/actions`: which actions exist, above all which wait
//! for an approval; and `command.auth.whoami`, the principal a console session stands for.

use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::incidents::words;
use super::{Action, InvalidField, check_page, check_text};
use crate::ActionStatus;

/// `command.actions.list` and the query string of `GET /api/actions`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ActionFilter {
    /// Comma-separated statuses (`pending_approval` is the approval queue); `active` means
    /// every status that has not ended (requested, pending_approval, approved, running).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(
        pattern = r"^(active|(requested|pending_approval|approved|running|completed|failed|rejected)(,(requested|pending_approval|approved|running|completed|failed|rejected))*)$"
    ))]
    pub status: Option<String>,
    /// The Jenkins job acted on (exact).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 512), regex(pattern = r"^[^\u0000]*$"))]
    pub job: Option<String>,
    /// Actions attached to this incident.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1))]
    pub incident: Option<i64>,
    /// The principal that requested them (exact, e.g. `slack:U123` or a token's name).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 200), regex(pattern = r"^[^\u0000]*$"))]
    pub requested_by: Option<String>,
    /// Requested at or after this time (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub since: Option<DateTime<Utc>>,
    /// 1..=200, default 50.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 200))]
    pub limit: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0))]
    pub offset: Option<i64>,
}

/// An [`ActionFilter`] checked and parsed: what the database is asked.
#[derive(Debug, Clone, PartialEq)]
pub struct ActionQuery {
    pub statuses: Option<Vec<ActionStatus>>,
    pub job: Option<String>,
    pub incident: Option<i64>,
    pub requested_by: Option<String>,
    pub since: Option<DateTime<Utc>>,
    pub limit: i64,
    pub offset: i64,
}

impl ActionFilter {
    /// Checks the limits and parses the status list.
    pub fn check(&self) -> Result<ActionQuery, InvalidField> {
        let (limit, offset) = check_page(self.limit, self.offset)?;
        if matches!(self.incident, Some(i) if i < 1) {
            return Err(InvalidField::new(
                "incident",
                "incident must be a positive id",
            ));
        }
        check_text("job", self.job.as_deref(), 512)?;
        check_text("requested_by", self.requested_by.as_deref(), 200)?;
        let statuses = match self.status.as_deref() {
            Some("active") => Some(vec![
                ActionStatus::Requested,
                ActionStatus::PendingApproval,
                ActionStatus::Approved,
                ActionStatus::Running,
            ]),
            Some(s) => Some(words::<ActionStatus>(s, "status")?),
            None => None,
        };
        Ok(ActionQuery {
            statuses,
            job: self.job.clone(),
            incident: self.incident,
            requested_by: self.requested_by.clone(),
            since: self.since,
            limit,
            offset,
        })
    }
}

/// One page of actions, the newest first, and how many match in all.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ActionPage {
    pub items: Vec<Action>,
    pub total: i64,
    pub limit: i64,
    pub offset: i64,
}

/// `command.auth.whoami`: the principal the request is judged as. A console sends it with
/// the SHA-256 of the token a person typed (`x-runbooks-token-sha256`) to log them in.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct WhoAmI {}

/// Who the server decided the sender is.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Principal {
    pub principal: String,
    /// The roles the policy gives it (`viewer`, `operator`, `approver`, `admin`).
    pub roles: Vec<String>,
    /// `api`, `slack`, `mcp`, `rule` or `system`.
    pub channel: String,
    /// The trusted service that relayed the request, if any.
    pub via: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn check(v: serde_json::Value) -> Result<ActionQuery, InvalidField> {
        serde_json::from_value::<ActionFilter>(v).unwrap().check()
    }

    #[test]
    fn filters_parse_and_limits_are_checked() {
        let q = check(json!({"status": "pending_approval,approved", "incident": 7})).unwrap();
        assert_eq!(
            q.statuses,
            Some(vec![ActionStatus::PendingApproval, ActionStatus::Approved])
        );
        assert_eq!((q.incident, q.limit, q.offset), (Some(7), 50, 0));
        assert_eq!(
            check(json!({"status": "active"}))
                .unwrap()
                .statuses
                .unwrap()
                .len(),
            4
        );
        assert_eq!(check(json!({"limit": 0})).unwrap_err().field, "limit");
        assert_eq!(check(json!({"limit": 201})).unwrap_err().field, "limit");
        assert_eq!(check(json!({"offset": -1})).unwrap_err().field, "offset");
        assert_eq!(
            check(json!({"status": "waiting"})).unwrap_err().field,
            "status"
        );
        assert_eq!(check(json!({"status": ","})).unwrap_err().field, "status");
        assert_eq!(check(json!({"incident": 0})).unwrap_err().field, "incident");
        assert_eq!(
            check(json!({"requested_by": "a\u{0}b"})).unwrap_err().field,
            "requested_by"
        );
        assert!(serde_json::from_value::<ActionFilter>(json!({"user": "x"})).is_err());
    }
}
