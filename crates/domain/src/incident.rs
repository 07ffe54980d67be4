//! Incidents: what the rule engine opens, people acknowledge, and actions or people resolve.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::logs::Source;

macro_rules! string_enum {
    ($(#[$m:meta])* $name:ident { $($variant:ident => $s:literal),+ $(,)? }) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
        #[serde(rename_all = "snake_case")]
        pub enum $name { $($variant),+ }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),+];
            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $s),+ }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl FromStr for $name {
            type Err = String;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                match s {
                    $($s => Ok($name::$variant),)+
                    other => Err(format!(
                        concat!("unknown ", stringify!($name), " `{}` (expected one of: {})"),
                        other,
                        [$($s),+].join(", ")
                    )),
                }
            }
        }
    };
}
pub(crate) use string_enum;

string_enum!(
    /// How bad an incident is; ordered from the worst.
    Severity { Critical => "critical", High => "high", Medium => "medium", Low => "low" }
);

string_enum!(
    IncidentStatus { Open => "open", Acknowledged => "acknowledged", Resolved => "resolved" }
);

string_enum!(
    /// How an incident came to be resolved.
    ResolutionMethod {
        Manual => "manual",
        AutoRecovered => "auto_recovered",
        AutomatedAction => "automated_action",
    }
);

impl Severity {
    /// 0 for critical up to 3 for low, to sort the worst first.
    pub fn rank(self) -> u8 {
        match self {
            Severity::Critical => 0,
            Severity::High => 1,
            Severity::Medium => 2,
            Severity::Low => 3,
        }
    }
}

impl IncidentStatus {
    pub fn is_active(self) -> bool {
        self != IncidentStatus::Resolved
    }
}

/// What events say about an incident: enough for a notification without a lookup.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct IncidentSummary {
    pub id: i64,
    /// Rule name + group key: one open incident per fingerprint.
    pub fingerprint: String,
    pub rule: String,
    /// Every rule that matched this failure, the opening rule first (absent: only `rule`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub rules: Vec<String>,
    pub title: String,
    pub severity: Severity,
    pub status: IncidentStatus,
    pub source: Source,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub job_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub build_number: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub runbook_url: Option<String>,
    pub occurrences: i64,
    pub detected_at: DateTime<Utc>,
    pub last_seen_at: DateTime<Utc>,
}

/// Mean time to resolution of one incident, in seconds (never negative).
pub fn mttr_seconds(detected_at: DateTime<Utc>, resolved_at: DateTime<Utc>) -> f64 {
    ((resolved_at - detected_at).num_milliseconds().max(0)) as f64 / 1000.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_parse_and_print_the_same_words() {
        for s in IncidentStatus::ALL {
            assert_eq!(s.as_str().parse::<IncidentStatus>().unwrap(), *s);
            assert_eq!(serde_json::to_value(s).unwrap(), s.as_str());
        }
        let err = "closed".parse::<IncidentStatus>().unwrap_err();
        assert!(err.contains("open, acknowledged, resolved"), "{err}");
        assert_eq!(
            serde_json::to_value(ResolutionMethod::AutoRecovered).unwrap(),
            "auto_recovered"
        );
    }

    #[test]
    fn mttr_is_the_time_between_detection_and_resolution() {
        let d: DateTime<Utc> = "2026-11-01T10:00:00Z".parse().unwrap();
        let r: DateTime<Utc> = "2026-11-01T10:03:30Z".parse().unwrap();
        assert_eq!(mttr_seconds(d, r), 210.0);
        assert_eq!(mttr_seconds(r, d), 0.0);
    }

    #[test]
    fn severity_ranks_worst_first() {
        let mut all = Severity::ALL.to_vec();
        all.sort_by_key(|s| std::cmp::Reverse(s.rank()));
        assert_eq!(all.last(), Some(&Severity::Critical));
    }
}
