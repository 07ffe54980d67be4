//! What the notifier knows about an incident or an action, merged from its events in any
//! order: the merge only moves forward (status by rank, counts by maximum), so a redelivery
//! or a late event leaves the same view, and the same view renders the same message.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use domain::events::*;
use domain::incident::IncidentSummary;
use domain::postmortem::{IncidentMemory, Writer};
use domain::{ActionStatus, ActionType, IncidentStatus};
use serde::{Deserialize, Deserializer, Serialize};

fn incident_rank(s: IncidentStatus) -> u8 {
    match s {
        IncidentStatus::Open => 0,
        IncidentStatus::Acknowledged => 1,
        IncidentStatus::Resolved => 2,
    }
}

pub fn action_rank(s: ActionStatus) -> u8 {
    match s {
        ActionStatus::Requested => 0,
        ActionStatus::PendingApproval => 1,
        ActionStatus::Approved => 2,
        ActionStatus::Running => 3,
        ActionStatus::Completed | ActionStatus::Failed | ActionStatus::Rejected => 4,
    }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct IncidentView {
    pub id: i64,
    /// `None` until an event carrying the incident arrived (an action event may come first).
    #[serde(default)]
    pub summary: Option<IncidentSummary>,
    #[serde(default)]
    pub first_log: Option<String>,
    #[serde(default)]
    pub acknowledged_by: Option<String>,
    #[serde(default)]
    pub resolved_by: Option<String>,
    #[serde(default)]
    pub resolved_at: Option<DateTime<Utc>>,
    #[serde(default)]
    pub resolution: Option<String>,
    #[serde(default)]
    pub mttr_seconds: Option<f64>,
    #[serde(default)]
    pub actions: BTreeMap<i64, ActionView>,
    /// The latest post-mortem version announced.
    #[serde(default, deserialize_with = "postmortem_view")]
    pub postmortem: Option<PostmortemView>,
    /// What detection remembered of similar earlier incidents.
    #[serde(default)]
    pub memory: Option<IncidentMemory>,
}

/// The post-mortem line of the parent message.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PostmortemView {
    pub id: i64,
    pub version: i32,
    pub title: String,
    #[serde(default)]
    pub writer: Option<Writer>,
}

/// Reads the view stored before versions existed (`[id, title]`) as version 1, so messages
/// of incidents open during an upgrade keep their state.
fn postmortem_view<'de, D: Deserializer<'de>>(d: D) -> Result<Option<PostmortemView>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Stored {
        Now(PostmortemView),
        Before((i64, String)),
    }
    Ok(match Option::<Stored>::deserialize(d)? {
        None => None,
        Some(Stored::Now(p)) => Some(p),
        Some(Stored::Before((id, title))) => Some(PostmortemView {
            id,
            version: 1,
            title,
            writer: None,
        }),
    })
}

impl IncidentView {
    pub fn new(id: i64) -> Self {
        IncidentView {
            id,
            ..Self::default()
        }
    }

    pub fn status(&self) -> IncidentStatus {
        let from_summary = self.summary.as_ref().map(|s| s.status);
        let mut s = from_summary.unwrap_or(IncidentStatus::Open);
        if self.acknowledged_by.is_some() && incident_rank(s) < 1 {
            s = IncidentStatus::Acknowledged;
        }
        if self.resolved_by.is_some() {
            s = IncidentStatus::Resolved;
        }
        s
    }

    pub fn merge_summary(&mut self, s: &IncidentSummary) {
        match &mut self.summary {
            None => self.summary = Some(s.clone()),
            Some(cur) => {
                let status = if incident_rank(s.status) > incident_rank(cur.status) {
                    s.status
                } else {
                    cur.status
                };
                if (s.occurrences, s.last_seen_at) > (cur.occurrences, cur.last_seen_at) {
                    *cur = s.clone();
                }
                cur.status = status;
            }
        }
    }

    /// Applies an incident event; `false` for events about other things.
    pub fn apply(&mut self, event: &Event) {
        match event {
            Event::IncidentDetected(d) => {
                self.merge_summary(&d.incident);
                if self.first_log.is_none() {
                    self.first_log = Some(d.first_log.message().to_string());
                }
                // Only detection carries the memory; later events leave it as it is.
                if self.memory.is_none() {
                    self.memory.clone_from(&d.memory);
                }
            }
            Event::IncidentUpdated(u) => self.merge_summary(&u.incident),
            Event::IncidentAcknowledged(a) => {
                self.merge_summary(&a.incident);
                self.acknowledged_by
                    .get_or_insert_with(|| a.acknowledged_by.clone());
            }
            Event::IncidentResolved(r) => {
                self.merge_summary(&r.incident);
                self.resolved_by = Some(r.resolved_by.clone());
                self.resolved_at = Some(r.resolved_at);
                self.resolution = Some(r.resolution_method.to_string());
                self.mttr_seconds = Some(r.mttr_seconds);
            }
            Event::PostmortemGenerated(p) => {
                // The newest version wins, whatever order the events arrive in.
                let newer = self
                    .postmortem
                    .as_ref()
                    .is_none_or(|cur| (p.version, p.postmortem_id) > (cur.version, cur.id));
                if newer {
                    self.postmortem = Some(PostmortemView {
                        id: p.postmortem_id,
                        version: p.version,
                        title: p.title.clone(),
                        writer: Some(p.writer),
                    });
                }
            }
            _ => {}
        }
    }

    pub fn merge_action(&mut self, a: &ActionView) {
        let entry = self.actions.entry(a.id).or_insert_with(|| a.clone());
        entry.merge(a);
    }
}

/// One corrective action as the messages show it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ActionView {
    pub id: i64,
    pub action_type: ActionType,
    pub target_job: String,
    #[serde(default)]
    pub target_build: Option<i64>,
    #[serde(default)]
    pub incident_id: Option<i64>,
    pub status: ActionStatus,
    #[serde(default)]
    pub requested_by: Option<String>,
    #[serde(default)]
    pub requires_approval: bool,
    /// Distinct approvals the policy requires.
    #[serde(default)]
    pub approvals_required: u32,
    #[serde(default)]
    pub approved_by: Option<String>,
    #[serde(default)]
    pub rejected_by: Option<String>,
    /// Why it failed or was rejected, or the request's reason.
    #[serde(default)]
    pub detail: Option<String>,
    #[serde(default)]
    pub dry_run: Option<bool>,
    /// Build number or result Jenkins reported.
    #[serde(default)]
    pub outcome: Option<String>,
}

impl ActionView {
    /// The view one action event gives; `None` for other events.
    pub fn from_event(event: &Event) -> Option<ActionView> {
        let from_ref = |r: &ActionRef, status: ActionStatus| ActionView {
            id: r.action_id,
            action_type: r.action_type,
            target_job: r.target_job.clone(),
            target_build: r.target_build,
            incident_id: r.incident_id,
            status,
            requested_by: None,
            requires_approval: false,
            approvals_required: 0,
            approved_by: None,
            rejected_by: None,
            detail: None,
            dry_run: None,
            outcome: None,
        };
        Some(match event {
            Event::ActionRequested(r) => {
                let a = &r.action;
                ActionView {
                    id: a.id,
                    action_type: a.action_type,
                    target_job: a.target_job.clone(),
                    target_build: a.target_build,
                    incident_id: a.incident_id,
                    status: a.status,
                    requested_by: Some(a.requested_by.clone()),
                    requires_approval: a.requires_approval,
                    approvals_required: a.approvals_required,
                    approved_by: None,
                    rejected_by: None,
                    detail: a.reason.clone(),
                    dry_run: None,
                    outcome: None,
                }
            }
            Event::ActionApproved(a) => {
                let s = &a.action;
                ActionView {
                    id: s.id,
                    action_type: s.action_type,
                    target_job: s.target_job.clone(),
                    target_build: s.target_build,
                    incident_id: s.incident_id,
                    status: ActionStatus::Approved,
                    requested_by: Some(s.requested_by.clone()),
                    requires_approval: s.requires_approval,
                    approvals_required: s.approvals_required,
                    approved_by: Some(a.approved_by.clone()),
                    rejected_by: None,
                    detail: None,
                    dry_run: None,
                    outcome: None,
                }
            }
            Event::ActionStarted(s) => {
                let mut v = from_ref(&s.action, ActionStatus::Running);
                v.dry_run = Some(s.dry_run);
                v
            }
            Event::ActionCompleted(c) => {
                let mut v = from_ref(&c.action, ActionStatus::Completed);
                v.dry_run = Some(c.result.dry_run);
                v.outcome = match (&c.result.build_result, c.result.build_number) {
                    (Some(r), Some(n)) => Some(format!("build #{n} {r}")),
                    (Some(r), None) => Some(r.clone()),
                    (None, Some(n)) => Some(format!("build #{n} queued")),
                    (None, None) => None,
                };
                v
            }
            Event::ActionFailed(f) => {
                let mut v = from_ref(&f.action, ActionStatus::Failed);
                v.detail = Some(f.reason.clone());
                v
            }
            Event::ActionRejected(r) => {
                let mut v = from_ref(&r.action, ActionStatus::Rejected);
                v.detail = Some(r.reason.clone());
                v.rejected_by = Some(r.rejected_by.clone());
                v
            }
            _ => return None,
        })
    }

    /// Keeps the furthest status and every fact either side knows.
    pub fn merge(&mut self, o: &ActionView) {
        if action_rank(o.status) > action_rank(self.status) {
            self.status = o.status;
            if o.detail.is_some() {
                self.detail = o.detail.clone();
            }
        }
        self.target_build = self.target_build.or(o.target_build);
        self.incident_id = self.incident_id.or(o.incident_id);
        self.requires_approval |= o.requires_approval;
        self.approvals_required = self.approvals_required.max(o.approvals_required);
        fill(&mut self.requested_by, &o.requested_by);
        fill(&mut self.approved_by, &o.approved_by);
        fill(&mut self.rejected_by, &o.rejected_by);
        fill(&mut self.detail, &o.detail);
        fill(&mut self.outcome, &o.outcome);
        if self.dry_run.is_none() {
            self.dry_run = o.dry_run;
        }
    }
}

fn fill<T: Clone>(slot: &mut Option<T>, other: &Option<T>) {
    if slot.is_none() {
        slot.clone_from(other);
    }
}
