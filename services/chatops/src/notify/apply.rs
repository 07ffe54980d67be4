//! One event, applied to the desired state of the messages in one transaction.

use std::time::Duration;

use domain::events::Event;
use sqlx::PgConnection;
use uuid::Uuid;

use super::format;
use super::repo::{self, MessageRow, NewMessage};
use super::view::{ActionView, IncidentView};
use crate::settings::NotifySettings;
use crate::slack::Content;

/// How long a placeholder (an incident only known from an action event) waits for the
/// incident's own event before it is posted with what is known.
const PLACEHOLDER_WAIT: Duration = Duration::from_secs(120);

/// An incident's message after an event was applied to it.
struct Placed {
    key: String,
    channel: String,
    thread_root: String,
}

pub async fn apply(
    tx: &mut PgConnection,
    cfg: &NotifySettings,
    event_id: Uuid,
    event: &Event,
) -> Result<(), sqlx::Error> {
    let reply_key = format!("event:{event_id}");
    match event {
        Event::IncidentDetected(d) => {
            incident(tx, cfg, d.incident.id, |v| v.apply(event)).await?;
        }
        Event::IncidentUpdated(u) => {
            incident(tx, cfg, u.incident.id, |v| v.apply(event)).await?;
        }
        Event::IncidentAcknowledged(a) => {
            let p = incident(tx, cfg, a.incident.id, |v| v.apply(event)).await?;
            reply(
                tx,
                &reply_key,
                &p,
                &format::acknowledged(&a.acknowledged_by),
            )
            .await?;
        }
        Event::IncidentResolved(r) => {
            let p = incident(tx, cfg, r.incident.id, |v| v.apply(event)).await?;
            let c = format::resolved(&r.resolved_by, r.resolution_method.as_str(), r.mttr_seconds);
            reply(tx, &reply_key, &p, &c).await?;
        }
        Event::PostmortemGenerated(pm) => {
            let p = incident(tx, cfg, pm.incident_id, |v| v.apply(event)).await?;
            reply(tx, &reply_key, &p, &format::postmortem(pm)).await?;
        }
        Event::ActionRequested(_)
        | Event::ActionApproved(_)
        | Event::ActionStarted(_)
        | Event::ActionCompleted(_)
        | Event::ActionFailed(_)
        | Event::ActionRejected(_) => {
            let Some(view) = ActionView::from_event(event) else {
                return Ok(());
            };
            let card = action(tx, cfg, &view).await?;
            if let Some(c) = format::action_reply(&view) {
                reply(tx, &reply_key, &card, &c).await?;
            }
        }
        Event::ServiceDown(h) | Event::ServiceUp(h) => {
            let up = matches!(event, Event::ServiceUp(_));
            repo::insert(
                tx,
                NewMessage {
                    key: &reply_key,
                    kind: "post",
                    channel: cfg.health_channel(),
                    thread_key: None,
                    after_key: None,
                    state: None,
                    content: &format::service_health(h, up),
                    wait: None,
                },
            )
            .await?;
        }
        Event::Audit(_) => {}
    }
    Ok(())
}

/// Creates or updates the incident's message with `change` applied to its view.
async fn incident(
    tx: &mut PgConnection,
    cfg: &NotifySettings,
    id: i64,
    change: impl FnOnce(&mut IncidentView),
) -> Result<Placed, sqlx::Error> {
    let key = format!("incident:{id}");
    let row = match repo::lock(tx, &key).await? {
        Some(row) => row,
        None => {
            let view = IncidentView::new(id);
            repo::insert(
                tx,
                NewMessage {
                    key: &key,
                    kind: "incident",
                    channel: &cfg.default_channel,
                    thread_key: None,
                    after_key: None,
                    state: Some(serde_json::to_value(&view).unwrap_or_default()),
                    content: &format::incident(&view),
                    // Ready as soon as the incident's own facts arrive (maybe in this
                    // very event); until then a placeholder.
                    wait: Some(PLACEHOLDER_WAIT),
                },
            )
            .await?;
            repo::lock(tx, &key)
                .await?
                .expect("the row inserted (or found) just now")
        }
    };
    let mut view: IncidentView = row
        .state
        .clone()
        .and_then(|s| serde_json::from_value(s).ok())
        .unwrap_or_else(|| IncidentView::new(id));
    let knew = view.summary.is_some();
    change(&mut view);
    let content = format::incident(&view);
    repo::save(
        tx,
        &row,
        Some(serde_json::to_value(&view).unwrap_or_default()),
        &content,
    )
    .await?;
    let mut placed = Placed {
        key: key.clone(),
        channel: row.channel.clone(),
        thread_root: row.thread_root(),
    };
    if let (false, Some(s), None) = (knew, &view.summary, &row.ts) {
        // The facts arrived: the message goes to its severity's channel, alone or grouped.
        let channel = cfg.channel_for(s.severity).to_string();
        repo::make_ready(tx, &key, &channel).await?;
        placed.channel = channel.clone();
        if let Some(burst) = place_in_burst(tx, cfg, &key, &channel).await? {
            placed.thread_root = burst;
        }
    }
    Ok(placed)
}

/// Groups the incident under the channel's burst summary when incidents pile up, so a
/// storm posts one message (and a thread) instead of flooding the channel.
async fn place_in_burst(
    tx: &mut PgConnection,
    cfg: &NotifySettings,
    key: &str,
    channel: &str,
) -> Result<Option<String>, sqlx::Error> {
    repo::lock_channel(tx, channel).await?;
    let window = Duration::from_secs(cfg.burst_window_secs);
    let (burst, joining) = match repo::open_burst(tx, channel, window).await? {
        Some(b) => (b, vec![key.to_string()]),
        None => {
            let recent = repo::recent_standalone(tx, channel, window).await?;
            if (recent.len() as u32) < cfg.burst_threshold {
                return Ok(None);
            }
            let burst = repo::next_burst_key(tx).await?;
            repo::insert(
                tx,
                NewMessage {
                    key: &burst,
                    kind: "burst",
                    channel,
                    thread_key: None,
                    after_key: None,
                    state: None,
                    content: &Content::text("🚨 incidents"),
                    wait: None,
                },
            )
            .await?;
            // Those already posted keep their message; the rest go into the thread.
            let unposted = recent
                .into_iter()
                .filter(|(_, posted)| !posted)
                .map(|(k, _)| k)
                .collect();
            (burst, unposted)
        }
    };
    for k in &joining {
        repo::join_burst(tx, &burst, k).await?;
    }
    let members: Vec<IncidentView> = repo::burst_members(tx, &burst)
        .await?
        .into_iter()
        .filter_map(|s| serde_json::from_value(s).ok())
        .collect();
    let row = repo::lock(tx, &burst).await?.expect("burst row exists");
    repo::save(tx, &row, None, &format::burst(&members)).await?;
    Ok(Some(burst))
}

/// Creates or updates an action's card: in its incident's thread, or on its own.
async fn action(
    tx: &mut PgConnection,
    cfg: &NotifySettings,
    view: &ActionView,
) -> Result<Placed, sqlx::Error> {
    let key = format!("action:{}", view.id);
    let (channel, thread_key, after_key) = match view.incident_id {
        Some(id) => {
            let p = incident(tx, cfg, id, |v| v.merge_action(view)).await?;
            (p.channel, Some(p.thread_root), Some(p.key))
        }
        None => (cfg.default_channel.clone(), None, None),
    };
    let row: MessageRow = match repo::lock(tx, &key).await? {
        Some(r) => r,
        None => {
            repo::insert(
                tx,
                NewMessage {
                    key: &key,
                    kind: "action",
                    channel: &channel,
                    thread_key: thread_key.as_deref(),
                    after_key: after_key.as_deref(),
                    state: None,
                    content: &Content::text(""),
                    wait: None,
                },
            )
            .await?;
            repo::lock(tx, &key)
                .await?
                .expect("the row inserted just now")
        }
    };
    let mut merged: ActionView = row
        .state
        .clone()
        .and_then(|s| serde_json::from_value(s).ok())
        .unwrap_or_else(|| view.clone());
    merged.merge(view);
    repo::save(
        tx,
        &row,
        Some(serde_json::to_value(&merged).unwrap_or_default()),
        &format::action_card(&merged),
    )
    .await?;
    Ok(Placed {
        thread_root: row.thread_root(),
        channel: row.channel,
        key,
    })
}

/// A one-off reply in the thread of `to` (keyed by the event, so a redelivery adds nothing).
async fn reply(
    tx: &mut PgConnection,
    key: &str,
    to: &Placed,
    content: &Content,
) -> Result<(), sqlx::Error> {
    repo::insert(
        tx,
        NewMessage {
            key,
            kind: "reply",
            channel: &to.channel,
            thread_key: Some(&to.thread_root),
            after_key: Some(&to.key),
            state: None,
            content,
            wait: None,
        },
    )
    .await?;
    Ok(())
}
