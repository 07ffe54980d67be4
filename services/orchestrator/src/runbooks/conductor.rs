//! The conductor: picks due runs (`next_wake_at <= now()`, `FOR UPDATE SKIP LOCKED`) and
//! makes one step transition per transaction — begin a step, finish it, or end the run —
//! with the transition's events in the same transaction (outbox). Two replicas never hold
//! the same run; a crash mid-transition rolls the whole transition back; a restart finds
//! every timer in `next_wake_at` and `deadline_at`.

use std::str::FromStr;
use std::time::Duration;

use bus::OutgoingMessage;
use domain::Channel;
use runbooks::{End, MAX_TRANSITIONS, Next, Runbook};
use sqlx::PgConnection;
use sqlx::postgres::PgListener;
use tokio_util::sync::CancellationToken;

use super::check::{self, Checked};
use super::steps::{self, Begun};
use super::{RunbookService, escalate};
use crate::auth::{Actor, Policy, Role, Roles};
use crate::error::ServiceError;
use crate::events::audit_with;
use crate::repo::runbooks::{self as repo, RunRow};
use crate::settings::SERVICE;

/// The channel `LISTEN`ed on: a new run wakes the conductor before its next poll.
const CHANNEL: &str = "runbook_runs";

impl RunbookService {
    /// The conductor loop, until `stop`.
    pub async fn run_conductor(self, stop: CancellationToken) {
        let poll = Duration::from_millis(self.settings.poll_ms.max(10));
        let mut listener = match PgListener::connect_with(&self.base.pool).await {
            Ok(mut l) => match l.listen(CHANNEL).await {
                Ok(()) => Some(l),
                Err(e) => {
                    tracing::warn!(error = %e, "runbook conductor: no LISTEN, polling only");
                    None
                }
            },
            Err(e) => {
                tracing::warn!(error = %e, "runbook conductor: no LISTEN, polling only");
                None
            }
        };
        loop {
            if let Err(e) = self.tick().await {
                tracing::warn!(error = %e, "runbook conductor pass failed; retrying");
            }
            let notified = async {
                match listener.as_mut() {
                    Some(l) => {
                        if l.recv().await.is_err() {
                            tokio::time::sleep(poll).await;
                        }
                    }
                    None => std::future::pending::<()>().await,
                }
            };
            tokio::select! {
                _ = stop.cancelled() => break,
                _ = tokio::time::sleep(poll) => {}
                _ = notified => {}
            }
        }
    }

    /// One pass: transitions of due runs, each in its own transaction, until none is due
    /// (or the batch is done). The number of transitions made.
    pub async fn tick(&self) -> Result<usize, ServiceError> {
        let mut done = 0;
        while done < self.settings.batch {
            let mut tx = self.base.pool.begin().await?;
            let Some(run) = repo::claim_due(&mut tx).await? else {
                break;
            };
            let events = self.advance(&mut tx, &run).await?;
            store::outbox::enqueue_messages(&mut tx, SERVICE, &events).await?;
            tx.commit().await?;
            done += 1;
        }
        Ok(done)
    }

    /// One transition of `run`, whose row this transaction holds.
    async fn advance(
        &self,
        tx: &mut PgConnection,
        run: &RunRow,
    ) -> Result<Vec<OutgoingMessage>, ServiceError> {
        let mut ctx = run.context.clone();
        let rb = match &run.definition {
            Some(d) => Runbook::from_definition(d),
            None => match self.set.get(&run.runbook) {
                Some(rb) => {
                    repo::bind_definition(tx, run.id, rb.version as i32, &rb.to_definition())
                        .await?;
                    Ok(rb.clone())
                }
                None => Err(runbooks::RunbooksError::Unknown(run.runbook.clone())),
            },
        };
        let rb = match rb {
            Ok(rb) => rb,
            Err(e) => {
                let why = format!("cannot run: {e}");
                return self.end(tx, run, &mut ctx, End::Unverified, &why).await;
            }
        };
        let actor = actor_of(run, &self.policy.current());
        let seq = run.current_seq.unwrap_or(0);
        let at = run.current_step.unwrap_or(0) as usize;
        let current = if seq == 0 {
            None
        } else {
            repo::step(tx, run.id, seq).await?
        };
        let poll = self.settings.poll_ms as f64 / 1000.0;
        match current {
            // Nothing begun yet: the first step.
            None => self.begin(tx, run, &rb, &actor, &mut ctx, 0, 1).await,
            Some(step) if step.status == "running" => {
                let def = &rb.steps[at];
                match check::check(tx, run, &actor, def, &step, &mut ctx).await? {
                    Checked::Waiting { wake_in_secs } => {
                        repo::snooze(tx, run.id, wake_in_secs.min(poll).max(0.0)).await?;
                        Ok(Vec::new())
                    }
                    Checked::Done {
                        outcome,
                        details,
                        events,
                    } => {
                        repo::finish_step(tx, step.id, outcome.as_str(), &details).await?;
                        let t = run.transitions + 1;
                        repo::update_run(tx, run.id, at as i32, seq, 0.0, &ctx, t).await?;
                        tracing::info!(run_id = run.id, step = %def.name, outcome = outcome.as_str(), "runbook step finished");
                        Ok(events)
                    }
                }
            }
            Some(step) => {
                let outcome = match step.status.as_str() {
                    "succeeded" => runbooks::Outcome::Succeeded,
                    "timed_out" => runbooks::Outcome::TimedOut,
                    _ => runbooks::Outcome::Failed,
                };
                if run.transitions as u32 >= MAX_TRANSITIONS {
                    let why = format!("stopped after {MAX_TRANSITIONS} step transitions");
                    return self.end(tx, run, &mut ctx, End::Unverified, &why).await;
                }
                match rb.next(at, outcome) {
                    Next::Step(i) => self.begin(tx, run, &rb, &actor, &mut ctx, i, seq + 1).await,
                    Next::End(e) => {
                        let why = format!("after step `{}` {}", step.step, outcome.as_str());
                        self.end(tx, run, &mut ctx, e, &why).await
                    }
                }
            }
        }
    }

    #[allow(clippy::too_many_arguments)]
    async fn begin(
        &self,
        tx: &mut PgConnection,
        run: &RunRow,
        rb: &Runbook,
        actor: &Actor,
        ctx: &mut serde_json::Value,
        index: usize,
        seq: i32,
    ) -> Result<Vec<OutgoingMessage>, ServiceError> {
        let def = &rb.steps[index];
        let policy = self.policy.current();
        let Begun {
            events,
            wake_in_secs,
        } = steps::begin(
            tx,
            &self.base,
            &self.settings.escalation,
            &policy,
            run,
            actor,
            def,
            seq,
            ctx,
        )
        .await?;
        let t = run.transitions + 1;
        repo::update_run(tx, run.id, index as i32, seq, wake_in_secs, ctx, t).await?;
        tracing::info!(run_id = run.id, step = %def.name, seq, kind = def.kind.as_str(), "runbook step begun");
        Ok(events)
    }

    /// Ends the run. Anything but a verified resolution leaves the incident open and
    /// escalates (`audit.runbook.escalated`), unless an escalate step already did.
    async fn end(
        &self,
        tx: &mut PgConnection,
        run: &RunRow,
        ctx: &mut serde_json::Value,
        end: End,
        why: &str,
    ) -> Result<Vec<OutgoingMessage>, ServiceError> {
        let status = if end == End::Resolved {
            "resolved"
        } else {
            "escalated"
        };
        let mut events = Vec::new();
        if end == End::Unverified {
            let actor = actor_of(run, &self.policy.current());
            let text =
                format!("the run ended without verified recovery ({why}); the incident stays open");
            events.push(escalation(&actor, run, None, &text));
            // Automation gave up: people are paged (the outcome is on the run's pages).
            let (targets, _) =
                escalate::queue(tx, &self.settings.escalation, run, None, &text).await?;
            ctx["paging"] = serde_json::json!(targets);
        }
        ctx["ended"] = why.into();
        repo::finish_run(tx, run.id, status, end.as_str(), ctx).await?;
        tracing::info!(run_id = run.id, runbook = %run.runbook, outcome = end.as_str(), why, "runbook run ended");
        Ok(events)
    }
}

/// `audit.runbook.escalated`: people are needed on the run's incident.
pub(super) fn escalation(
    actor: &Actor,
    run: &RunRow,
    step: Option<&str>,
    message: &str,
) -> OutgoingMessage {
    audit_with(
        actor,
        "runbook.escalated",
        "incident",
        Some(run.incident_id.to_string()),
        Some(serde_json::json!({
            "run_id": run.id,
            "runbook": run.runbook,
            "step": step,
            "message": message,
            // One page per run, however often the event is delivered.
            "dedup_key": super::escalate::dedup_key(run.id),
        })),
        None,
    )
}

/// Who a run acts as: `runbook:<name>` on behalf of the rule or person who started it,
/// with that principal's roles (the policy's mapping, plus the roles a person had when they
/// started it).
fn actor_of(run: &RunRow, policy: &Policy) -> Actor {
    let channel = run.context["channel"]
        .as_str()
        .and_then(|c| Channel::from_str(c).ok())
        .unwrap_or(Channel::Rule);
    let mut roles = policy.roles_of(&run.started_by, &[]);
    if let Some(list) = run.context["roles"].as_array() {
        let extra = list
            .iter()
            .filter_map(|r| r.as_str().and_then(|s| Role::from_str(s).ok()));
        roles.extend(&Roles::of(extra));
    }
    Actor {
        name: run.started_by.clone(),
        via: Some(run.principal.clone()),
        channel,
        roles,
        groups: Vec::new(),
    }
}
