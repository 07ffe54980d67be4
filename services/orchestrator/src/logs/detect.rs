//! IncidentDetector glue: runs the rules over the logs a batch stored and turns the matches
//! into incident upserts, threshold counts, recoveries, automatic actions and events, all in
//! the batch's transaction.

use std::collections::{BTreeMap, HashSet};

use bus::OutgoingMessage;
use chrono::{DateTime, Utc};
use domain::commands::ActionRequest;
use domain::events::{IncidentDetected, IncidentUpdated, UpdateReason};
use domain::{LogRecord, ResolutionMethod};
use rules::{Effect, RuleMatch, RuleSet};
use sqlx::PgConnection;

use crate::actions::{self, IdempotencyKey};
use crate::auth::{Actor, Policy, decide};
use crate::error::ServiceError;
use crate::events::{audit_denied, incident_resolved, message};
use crate::repo::hits::{self, Hit};
use crate::repo::incidents::{self, NewIncident, Open, Resolution};
use crate::repo::similar::{self, Subject};
use crate::settings::IncidentSettings;

/// A log that was stored by this batch (redelivered duplicates never get here).
pub struct Stored<'a> {
    pub id: i64,
    pub record: &'a LogRecord,
}

#[derive(Debug, Default)]
pub struct Detection {
    pub events: Vec<OutgoingMessage>,
    /// `(rule, severity)` of every incident opened.
    pub opened: Vec<(String, String)>,
    pub updated: usize,
    pub resolved: Vec<f64>,
    pub actions: usize,
    /// Logs too old to open or resolve incidents, by source.
    pub too_old: Vec<domain::Source>,
    /// Incidents opened without their rule's automatic action because the log was old.
    pub actions_skipped_old: usize,
    /// Automatic actions the policy refused.
    pub actions_denied: usize,
}

struct Pending<'a> {
    first: RuleMatch,
    first_log: &'a Stored<'a>,
    log_ids: Vec<i64>,
    hit_times: Vec<DateTime<Utc>>,
    last_seen: DateTime<Utc>,
}

/// Matches gathered until a fingerprint is both opened and resolved in one batch; then the
/// phase is flushed so the database sees them in log order.
#[derive(Default)]
struct Phase<'a> {
    opens: BTreeMap<String, Pending<'a>>,
    resolves: Vec<(RuleMatch, &'a Stored<'a>)>,
    resolving: HashSet<String>,
}

pub async fn detect(
    tx: &mut PgConnection,
    rules: &RuleSet,
    policy: &Policy,
    logs: &[Stored<'_>],
    settings: &IncidentSettings,
) -> Result<Detection, ServiceError> {
    let mut out = Detection::default();
    let mut phase = Phase::default();
    let mut all: Vec<(&Stored<'_>, RuleMatch)> = Vec::new();
    let mut matches = Vec::new();
    let oldest = Utc::now() - chrono::Duration::seconds(settings.max_log_age_secs as i64);
    for log in logs {
        if log.record.timestamp() < oldest {
            out.too_old.push(log.record.source());
            continue;
        }
        rules.evaluate_into(log.record, &mut matches);
        all.extend(matches.drain(..).map(|m| (log, m)));
    }
    // Concurrent batches (two consumers per process, more with replicas) serialise per
    // fingerprint here, so a threshold counts every hit of its window whatever the
    // interleaving, and "already open?" is answered after the other batch committed.
    let opening: Vec<&str> = all
        .iter()
        .filter(|(_, m)| matches!(m.effect, Effect::Open))
        .map(|(_, m)| m.fingerprint.as_str())
        .collect();
    hits::lock_fingerprints(tx, &opening).await?;
    for (log, m) in all {
        match &m.effect {
            Effect::Open => {
                if phase.resolving.contains(&m.fingerprint) {
                    flush(tx, std::mem::take(&mut phase), policy, settings, &mut out).await?;
                }
                let ts = log.record.timestamp();
                let p = phase
                    .opens
                    .entry(m.fingerprint.clone())
                    .or_insert_with(|| Pending {
                        first: m.clone(),
                        first_log: log,
                        log_ids: Vec::new(),
                        hit_times: Vec::new(),
                        last_seen: ts,
                    });
                p.log_ids.push(log.id);
                p.hit_times.push(ts);
                p.last_seen = p.last_seen.max(ts);
            }
            Effect::Resolve { fingerprints, .. } => {
                if fingerprints.iter().any(|f| phase.opens.contains_key(f)) {
                    flush(tx, std::mem::take(&mut phase), policy, settings, &mut out).await?;
                }
                phase.resolving.extend(fingerprints.iter().cloned());
                phase.resolves.push((m, log));
            }
        }
    }
    flush(tx, phase, policy, settings, &mut out).await?;
    Ok(out)
}

async fn flush(
    tx: &mut PgConnection,
    mut phase: Phase<'_>,
    policy: &Policy,
    settings: &IncidentSettings,
    out: &mut Detection,
) -> Result<(), ServiceError> {
    apply_thresholds(tx, &mut phase.opens, settings).await?;
    // BTreeMap order: every transaction locks fingerprints in the same order (no deadlocks).
    for (fp, p) in &phase.opens {
        open_or_count(tx, fp, p, policy, settings, out).await?;
    }
    for (m, log) in &phase.resolves {
        let Effect::Resolve { fingerprints, .. } = &m.effect else {
            continue;
        };
        let note = format!("recovered: {}", truncate(log.record.message(), 200));
        let by = format!("rule:{}", m.rule);
        let resolution = Resolution {
            by: &by,
            method: ResolutionMethod::AutoRecovered,
            note: Some(&note),
        };
        let rows = incidents::resolve(tx, Open::Fingerprints(fingerprints), resolution).await?;
        for row in rows {
            out.resolved.push(row.mttr_seconds.unwrap_or_default());
            out.events.push(incident_resolved(&row, None));
        }
    }
    Ok(())
}

/// Records the hits of threshold rules and keeps only the fingerprints that already have an
/// open incident or whose window now holds enough hits.
async fn apply_thresholds(
    tx: &mut PgConnection,
    opens: &mut BTreeMap<String, Pending<'_>>,
    settings: &IncidentSettings,
) -> Result<(), ServiceError> {
    let with_threshold: Vec<String> = opens
        .iter()
        .filter(|(_, p)| p.first.threshold.is_some())
        .map(|(fp, _)| fp.clone())
        .collect();
    if with_threshold.is_empty() {
        return Ok(());
    }
    let hit_list: Vec<Hit<'_>> = with_threshold
        .iter()
        .flat_map(|fp| {
            let p = &opens[fp];
            p.hit_times.iter().map(|t| Hit {
                rule: &p.first.rule,
                group_key: &p.first.group_key,
                seen_at: *t,
            })
        })
        .collect();
    hits::insert(tx, &hit_list).await?;
    let already_open: HashSet<String> = incidents::open_fingerprints(tx, &with_threshold)
        .await?
        .into_iter()
        .collect();
    for fp in with_threshold {
        if already_open.contains(&fp) {
            continue;
        }
        let p = &opens[&fp];
        let t = p.first.threshold.expect("filtered on threshold");
        let n = hits::count(
            tx,
            &p.first.rule,
            &p.first.group_key,
            p.last_seen,
            t.window_secs,
            Utc::now() + chrono::Duration::seconds(settings.max_future_skew_secs as i64),
        )
        .await?;
        if n < i64::from(t.count) {
            opens.remove(&fp);
        } else if let Some(p) = opens.get_mut(&fp) {
            // The new incident counts every hit of the window, not only this batch's.
            let extra = (n as usize).saturating_sub(p.hit_times.len());
            p.hit_times.extend(std::iter::repeat_n(p.last_seen, extra));
        }
    }
    Ok(())
}

async fn open_or_count(
    tx: &mut PgConnection,
    fp: &str,
    p: &Pending<'_>,
    policy: &Policy,
    settings: &IncidentSettings,
    out: &mut Detection,
) -> Result<(), ServiceError> {
    let m = &p.first;
    let (job, build, service, path) = fields(p.first_log.record);
    let mut details = serde_json::json!({
        "first_log_source_id": p.first_log.record.source_id(),
        "first_log_at": p.first_log.record.timestamp(),
    });
    if let Some(d) = &m.description {
        details["description"] = d.clone().into();
    }
    let signature = ::postmortem::normalize::normalize(p.first_log.record.message());
    let up = incidents::upsert(
        tx,
        &NewIncident {
            fingerprint: fp.to_string(),
            rule: m.rule.clone(),
            title: m.title.clone(),
            severity: m.severity,
            source: m.source,
            group_key: m.group_key.clone(),
            job_name: job,
            build_number: build,
            service,
            path,
            runbook_url: m.runbook_url.clone(),
            details,
            first_log_id: p.first_log.id,
            occurrences: p.hit_times.len() as i64,
            last_seen_at: p.last_seen,
            signature: signature.clone(),
        },
    )
    .await?;
    let row = up.row;
    incidents::link_logs(tx, row.id, m.source, &p.log_ids, settings.max_linked_logs).await?;
    if up.inserted {
        out.opened
            .push((m.rule.clone(), m.severity.as_str().to_string()));
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
            match decide::plan_request(policy, &actor, req.action_type, job, req.requires_approval)
            {
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
            first_log: p.first_log.record.clone(),
            action_id,
            memory,
        }));
        out.events.extend(action_events);
    } else {
        out.updated += 1;
        if incidents::claim_update_notification(tx, row.id, settings.update_interval_secs).await? {
            out.events.push(message(IncidentUpdated {
                incident: row.summary(),
                reason: UpdateReason::Occurrences,
                action_id: None,
                detail: Some(format!("{} new occurrence(s)", p.hit_times.len())),
            }));
        }
    }
    Ok(())
}

fn fields(r: &LogRecord) -> (Option<String>, Option<i64>, Option<String>, Option<String>) {
    match r {
        LogRecord::Jenkins(l) => (l.job_name.clone(), l.build_number, None, None),
        LogRecord::Api(l) => (None, None, l.service.clone(), l.path.clone()),
    }
}

fn truncate(s: &str, max: usize) -> &str {
    let mut end = s.len().min(max);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}
