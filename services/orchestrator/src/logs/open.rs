//! One incident per failure. The detections of a flush are grouped by failure — the matches
//! of one Jenkins job and build; any other match stands alone — and each group either opens
//! one incident (the worst rule's title and action, every rule listed) or counts on the open
//! incident it belongs to: the one holding one of its fingerprints, or the job's incident of
//! the same build or seen within `incidents.correlation_window_secs`. A rule joining an
//! open incident raises its severity to the worst and is listed (`incident.updated`,
//! reason `correlated`); it requests no second action.

use std::collections::BTreeMap;

use chrono::Utc;
use domain::LogRecord;
use domain::commands::{ActionRequest, Incident};
use domain::events::{IncidentDetected, IncidentUpdated, UpdateReason};

use super::detect::{Detection, Pending};
use crate::actions::{self, IdempotencyKey};
use crate::auth::{Actor, Policy, decide};
use crate::error::ServiceError;
use crate::events::{audit_denied, message};
use crate::repo::correlation::{self, Failure, Join};
use crate::repo::incidents::{self, NewIncident};
use crate::repo::similar::{self, Subject};
use crate::settings::IncidentSettings;
use sqlx::PgConnection;

/// Detections of one failure: the worst rule first (then the earliest log).
pub(super) type Group<'p, 'a> = Vec<(&'p str, &'p Pending<'a>)>;

/// The failure a detection belongs to: a Jenkins job and build, or (anything else) its own
/// fingerprint.
fn failure_key<'p>(fp: &'p str, p: &'p Pending<'_>) -> (Option<&'p str>, Option<i64>, &'p str) {
    match p.first_log.record {
        LogRecord::Jenkins(l) if l.job_name.is_some() => {
            (l.job_name.as_deref(), l.build_number, "")
        }
        _ => (None, None, fp),
    }
}

/// The advisory-lock key of a job's failures, taken with the fingerprints' locks so that
/// two batches never open two incidents for one build.
pub(super) fn job_lock(record: &LogRecord) -> Option<String> {
    match record {
        LogRecord::Jenkins(l) => l.job_name.as_ref().map(|j| format!("job:{j}")),
        LogRecord::Api(_) => None,
    }
}

/// The opens of a flush grouped by failure, in a stable order.
pub(super) fn groups<'p, 'a>(opens: &'p BTreeMap<String, Pending<'a>>) -> Vec<Group<'p, 'a>> {
    let mut by_failure: BTreeMap<_, Group<'p, 'a>> = BTreeMap::new();
    for (fp, p) in opens {
        by_failure
            .entry(failure_key(fp, p))
            .or_default()
            .push((fp.as_str(), p));
    }
    let mut out: Vec<Group<'p, 'a>> = by_failure.into_values().collect();
    for g in &mut out {
        g.sort_by_key(|(_, p)| (p.first.severity.rank(), p.first_log.id));
    }
    out
}

pub(super) async fn open_or_count(
    tx: &mut PgConnection,
    group: &Group<'_, '_>,
    policy: &Policy,
    settings: &IncidentSettings,
    out: &mut Detection,
) -> Result<(), ServiceError> {
    let (_, primary) = group[0];
    let fingerprints: Vec<String> = group.iter().map(|(fp, _)| fp.to_string()).collect();
    let rules: Vec<String> = group.iter().map(|(_, p)| p.first.rule.clone()).collect();
    let occurrences: i64 = group.iter().map(|(_, p)| p.hit_times.len() as i64).sum();
    let last_seen = group
        .iter()
        .map(|(_, p)| p.last_seen)
        .max()
        .unwrap_or_default();
    let (job, build, _) = failure_key(group[0].0, primary);
    let window = chrono::Duration::seconds(settings.correlation_window_secs as i64);
    let failure = Failure {
        fingerprints: &fingerprints,
        job,
        build,
        since: last_seen - window,
    };
    if let Some(open) = correlation::find_open(tx, failure).await? {
        let known = |r: &String| open.rule == *r || open.rules.contains(r);
        let new_rules: Vec<String> = rules.iter().filter(|r| !known(r)).cloned().collect();
        let worst = if primary.first.severity.rank() < open.severity().rank() {
            primary.first.severity
        } else {
            open.severity()
        };
        let join = Join {
            id: open.id,
            occurrences,
            last_seen_at: last_seen,
            severity: worst,
            rules: &new_rules,
            fingerprints: &fingerprints,
        };
        if let Some(row) = correlation::join(tx, &join).await? {
            link(tx, &row, group, settings).await?;
            counted(tx, &row, group, &new_rules, occurrences, settings, out).await?;
            return Ok(());
        }
        // Resolved by a person since it was found: this failure opens a new incident.
    }
    let m = &primary.first;
    let (job_name, build_number, service, path) = fields(primary.first_log.record);
    let mut details = serde_json::json!({
        "first_log_source_id": primary.first_log.record.source_id(),
        "first_log_at": primary.first_log.record.timestamp(),
    });
    if let Some(d) = &m.description {
        details["description"] = d.clone().into();
    }
    let signature = signature_of(tx, primary.first_log.record).await?;
    let up = incidents::upsert(
        tx,
        &NewIncident {
            fingerprint: group[0].0.to_string(),
            rule: m.rule.clone(),
            title: m.title.clone(),
            severity: m.severity,
            source: m.source,
            group_key: m.group_key.clone(),
            job_name,
            build_number,
            service,
            path,
            runbook_url: m.runbook_url.clone(),
            details,
            first_log_id: primary.first_log.id,
            occurrences,
            last_seen_at: last_seen,
            signature: signature.clone(),
            rules: rules.clone(),
            fingerprints,
        },
    )
    .await?;
    let row = up.row;
    link(tx, &row, group, settings).await?;
    if !up.inserted {
        return counted(tx, &row, group, &[], occurrences, settings, out).await;
    }
    out.opened
        .push((m.rule.clone(), m.severity.as_str().to_string()));
    let (action_id, action_events) =
        automatic_action(tx, &row, primary, policy, settings, out).await?;
    // What earlier incidents like this one say: how often, and what fixed it last.
    let subject = Subject {
        id: row.id,
        fingerprint: row.fingerprint.clone(),
        title: row.title.clone(),
        signature,
    };
    let memory = similar::memory(tx, &subject, settings.similarity_threshold).await?;
    // The detection goes out before the action it triggered.
    out.events.push(message(IncidentDetected {
        incident: row.summary(),
        first_log: primary.first_log.record.clone(),
        action_id,
        memory,
    }));
    out.events.extend(action_events);
    Ok(())
}

/// The error text an incident is matched on: its first log's, unless that line only says a
/// build failed (`Finished: FAILURE`, …: every failure prints it, so every failure would
/// match every other); then the first line of the build that says why, else nothing (the
/// incident is then matched on its fingerprint alone).
async fn signature_of(tx: &mut PgConnection, first: &LogRecord) -> Result<String, sqlx::Error> {
    use ::postmortem::generic::is_generic;
    use ::postmortem::normalize::normalize;
    if !is_generic(first.message()) {
        return Ok(normalize(first.message()));
    }
    let LogRecord::Jenkins(j) = first else {
        return Ok(String::new());
    };
    let (Some(job), Some(build)) = (&j.job_name, j.build_number) else {
        return Ok(String::new());
    };
    let lines = similar::build_error_lines(tx, job, build).await?;
    Ok(lines
        .iter()
        .find(|l| !is_generic(l))
        .map(|l| normalize(l))
        .unwrap_or_default())
}

async fn link(
    tx: &mut PgConnection,
    row: &Incident,
    group: &Group<'_, '_>,
    settings: &IncidentSettings,
) -> Result<(), ServiceError> {
    let source = group[0].1.first.source;
    let ids: Vec<i64> = group
        .iter()
        .flat_map(|(_, p)| p.log_ids.iter().copied())
        .collect();
    incidents::link_logs(tx, row.id, source, &ids, settings.max_linked_logs).await?;
    Ok(())
}

/// Occurrences counted on an open incident: `incident.updated` at once when rules joined it,
/// else at most once per `incidents.update_interval_secs`.
async fn counted(
    tx: &mut PgConnection,
    row: &Incident,
    group: &Group<'_, '_>,
    new_rules: &[String],
    occurrences: i64,
    settings: &IncidentSettings,
    out: &mut Detection,
) -> Result<(), ServiceError> {
    out.updated += 1;
    if !new_rules.is_empty() {
        incidents::claim_update_notification(tx, row.id, 0).await?;
        let joined: Vec<String> = group
            .iter()
            .filter(|(_, p)| new_rules.contains(&p.first.rule))
            .map(|(_, p)| format!("{} ({}): {}", p.first.rule, p.first.severity, p.first.title))
            .collect();
        out.events.push(message(IncidentUpdated {
            incident: row.summary(),
            reason: UpdateReason::Correlated,
            action_id: None,
            detail: Some(format!(
                "the same failure also matched {}",
                joined.join("; ")
            )),
        }));
        return Ok(());
    }
    if incidents::claim_update_notification(tx, row.id, settings.update_interval_secs).await? {
        out.events.push(message(IncidentUpdated {
            incident: row.summary(),
            reason: UpdateReason::Occurrences,
            action_id: None,
            detail: Some(format!("{occurrences} new occurrence(s)")),
        }));
    }
    Ok(())
}

/// The opening rule's automatic action and runbook, through the policy; the action's id
/// and events (or the audited refusal).
async fn automatic_action(
    tx: &mut PgConnection,
    row: &Incident,
    p: &Pending<'_>,
    policy: &Policy,
    settings: &IncidentSettings,
    out: &mut Detection,
) -> Result<(Option<i64>, Vec<bus::OutgoingMessage>), ServiceError> {
    let m = &p.first;
    let mut action_id = None;
    let mut action_events = Vec::new();
    let action_cutoff =
        Utc::now() - chrono::Duration::seconds(settings.action_max_log_age_secs as i64);
    let fresh = p.first_log.record.timestamp() >= action_cutoff;
    if m.action.is_some() && !fresh {
        out.actions_skipped_old += 1;
        tracing::info!(
            incident_id = row.id,
            rule = %m.rule,
            log_at = %p.first_log.record.timestamp(),
            "no automatic action: the log is older than incidents.action_max_log_age_secs"
        );
    }
    if let Some(action) = &m.action
        && let Some(job) = &action.target_job
        && fresh
    {
        // Rules request like everyone else: through the policy, as `rule:<name>`.
        let actor = Actor::rule(&m.rule, policy);
        let req = ActionRequest {
            target_build: row.build_number,
            incident_id: Some(row.id),
            requires_approval: Some(action.requires_approval),
            reason: Some(format!("rule {} opened incident {}", m.rule, row.id)),
            ..ActionRequest::new(action.action_type, job.clone())
        };
        match decide::plan_request(policy, &actor, req.action_type, job, req.requires_approval) {
            Ok(planned) => {
                let key = IdempotencyKey(format!("incident:{}:{}", row.id, m.rule));
                let (created, events) =
                    actions::create(tx, &req, &actor, &planned, Some(&key)).await?;
                action_id = Some(created.row.id);
                out.actions += 1;
                action_events = events;
            }
            Err(denial) => {
                tracing::info!(
                    incident_id = row.id,
                    rule = %m.rule,
                    clause = %denial.clause,
                    "the policy refused the rule's automatic action"
                );
                out.actions_denied += 1;
                action_events.push(audit_denied(
                    &actor,
                    "action.request",
                    "job",
                    Some(job.clone()),
                    &denial,
                ));
            }
        }
    }
    if let Some(runbook) = &m.runbook
        && fresh
    {
        // The run's steps request their actions themselves, through the policy.
        let run = crate::runbooks::start_for_rule(tx, &m.rule, runbook, row.id).await?;
        tracing::info!(incident_id = row.id, rule = %m.rule, runbook = %runbook, run_id = run, "runbook started by rule");
    }
    Ok((action_id, action_events))
}

fn fields(r: &LogRecord) -> (Option<String>, Option<i64>, Option<String>, Option<String>) {
    match r {
        LogRecord::Jenkins(l) => (l.job_name.clone(), l.build_number, None, None),
        LogRecord::Api(l) => (None, None, l.service.clone(), l.path.clone()),
    }
}
