//! IncidentDetector glue: runs the rules over the logs a batch stored and turns the matches
//! into incident upserts, threshold counts, recoveries, automatic actions and events, all in
//! the batch's transaction.

use std::collections::{BTreeMap, HashSet};

use bus::OutgoingMessage;
use chrono::{DateTime, Utc};
use domain::{LogRecord, ResolutionMethod};
use rules::{Effect, RuleMatch, RuleSet};
use sqlx::PgConnection;

use super::open;
use crate::auth::Policy;
use crate::error::ServiceError;
use crate::events::incident_resolved;
use crate::repo::hits::{self, Hit};
use crate::repo::incidents::{self, Open, Resolution};
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

/// The matches of one fingerprint in a flush.
pub(super) struct Pending<'a> {
    pub(super) first: RuleMatch,
    pub(super) first_log: &'a Stored<'a>,
    pub(super) log_ids: Vec<i64>,
    pub(super) hit_times: Vec<DateTime<Utc>>,
    pub(super) last_seen: DateTime<Utc>,
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
    // The job's lock too: two batches never open two incidents for one failed build.
    let jobs: Vec<String> = all
        .iter()
        .filter(|(_, m)| matches!(m.effect, Effect::Open))
        .filter_map(|(log, _)| open::job_lock(log.record))
        .collect();
    let opening: Vec<&str> = all
        .iter()
        .filter(|(_, m)| matches!(m.effect, Effect::Open))
        .map(|(_, m)| m.fingerprint.as_str())
        .chain(jobs.iter().map(String::as_str))
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
    // The detection locks were all taken before, in one global order (no deadlocks).
    for group in open::groups(&phase.opens) {
        open::open_or_count(tx, &group, policy, settings, out).await?;
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

fn truncate(s: &str, max: usize) -> &str {
    let mut end = s.len().min(max);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}
