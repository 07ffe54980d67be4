//! JSON Schemas of every payload, generated from the types. The committed copies live in
//! `docs/schemas/` so that producers and consumers outside Runbooks can validate messages;
//! a test fails when they drift from the types.

use schemars::{JsonSchema, Schema, schema_for};

use crate::commands::CommandReply;
use crate::envelope::Envelope;
use crate::events::{self, kind};
use crate::health::{HEARTBEAT_KIND, Heartbeat};
use crate::logs::{ApiLog, JenkinsLog};

/// `(file stem, schema)` for every message type, plus the envelope; for each command
/// `<key>` (its request) and `<key>.reply` (the `data` of a successful reply).
pub fn all() -> Vec<(String, Schema)> {
    fn s<T: JsonSchema>(name: &str) -> (String, Schema) {
        (name.to_string(), schema_for!(T))
    }
    let mut out = vec![
        s::<Envelope<serde_json::Value>>("envelope"),
        s::<JenkinsLog>("log.jenkins"),
        s::<ApiLog>("log.api"),
        s::<events::IncidentDetected>(kind::INCIDENT_DETECTED),
        s::<events::IncidentUpdated>(kind::INCIDENT_UPDATED),
        s::<events::IncidentAcknowledged>(kind::INCIDENT_ACKNOWLEDGED),
        s::<events::IncidentResolved>(kind::INCIDENT_RESOLVED),
        s::<events::ActionRequested>(kind::ACTION_REQUESTED),
        s::<events::ActionApproved>(kind::ACTION_APPROVED),
        s::<events::ActionStarted>(kind::ACTION_STARTED),
        s::<events::ActionCompleted>(kind::ACTION_COMPLETED),
        s::<events::ActionFailed>(kind::ACTION_FAILED),
        s::<events::ActionRejected>(kind::ACTION_REJECTED),
        s::<events::ServiceHealthChanged>(kind::HEALTH_SERVICE_DOWN),
        s::<events::ServiceHealthChanged>(kind::HEALTH_SERVICE_UP),
        s::<events::PostmortemGenerated>(kind::POSTMORTEM_GENERATED),
        s::<events::AuditRecord>("audit"),
        s::<Heartbeat>(HEARTBEAT_KIND),
        s::<CommandReply>(crate::commands::REPLY_KIND),
    ];
    for (key, request, reply) in crate::commands::schemas() {
        out.push((key.to_string(), request));
        out.push((format!("{key}.reply"), reply));
    }
    out
}

/// The file contents for one schema: pretty JSON with a trailing newline. Maps are sorted
/// first (schemars then puts its keywords in its own order), so the files stay the same when
/// another crate in the build turns on serde_json's `preserve_order` (ollama-rs does,
/// through schemars), which would otherwise keep declaration order.
pub fn render(schema: &Schema) -> String {
    let mut schema = schema.clone();
    if let Some(m) = schema.as_object_mut() {
        m.sort_keys();
        m.values_mut().for_each(serde_json::Value::sort_all_objects);
    }
    let mut out = serde_json::to_string_pretty(&schema).expect("schemas serialise");
    out.push('\n');
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    fn dir() -> PathBuf {
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../docs/schemas")
    }

    /// Fails when `docs/schemas/` differs from the types. `UPDATE_SCHEMAS=1 cargo test -p
    /// domain schema` (or `make schemas`) rewrites the files.
    #[test]
    fn committed_schemas_match_the_types() {
        let update = std::env::var_os("UPDATE_SCHEMAS").is_some();
        let dir = dir();
        let mut expected_files = Vec::new();
        let mut drift = Vec::new();
        for (name, schema) in all() {
            let file = format!("{name}.schema.json");
            let path = dir.join(&file);
            let want = render(&schema);
            if update {
                std::fs::create_dir_all(&dir).unwrap();
                std::fs::write(&path, &want).unwrap();
            } else if std::fs::read_to_string(&path).ok().as_deref() != Some(want.as_str()) {
                drift.push(file.clone());
            }
            expected_files.push(file);
        }
        let stale: Vec<String> = std::fs::read_dir(&dir)
            .map(|rd| {
                rd.filter_map(|e| e.ok())
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .filter(|f| f.ends_with(".schema.json") && !expected_files.contains(f))
                    .collect()
            })
            .unwrap_or_default();
        assert!(
            drift.is_empty() && stale.is_empty(),
            "docs/schemas is out of date (changed: {drift:?}, stale: {stale:?}); \
             run `make schemas` and commit the result"
        );
    }

    #[test]
    fn every_event_type_has_a_schema() {
        let names: Vec<String> = all().into_iter().map(|(n, _)| n).collect();
        for k in [
            kind::INCIDENT_DETECTED,
            kind::ACTION_REJECTED,
            kind::POSTMORTEM_GENERATED,
        ] {
            assert!(names.iter().any(|n| n == k), "{k}");
        }
    }

    #[test]
    fn every_command_has_a_request_and_a_reply_schema() {
        use crate::commands::key::*;
        let names: Vec<String> = all().into_iter().map(|(n, _)| n).collect();
        for k in [
            INCIDENTS_LIST,
            INCIDENTS_GET,
            INCIDENTS_ACK,
            INCIDENTS_RESOLVE,
            ACTIONS_REQUEST,
            ACTIONS_GET,
            ACTIONS_APPROVE,
            ACTIONS_DENY,
            ACTIONS_LIST,
            AUTH_WHOAMI,
            STATS_GET,
            LOGS_SEARCH,
            HEALTH_STATUS,
            POSTMORTEMS_GET,
            POSTMORTEMS_GENERATE,
            JENKINS_CHANGES,
        ] {
            assert!(names.iter().any(|n| n == k), "{k}");
            assert!(names.contains(&format!("{k}.reply")), "{k}.reply");
        }
    }
}
