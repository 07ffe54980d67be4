//! The memory line of an incident message: how often it happened before, why those count,
//! and what fixed it last.

use domain::postmortem::IncidentMemory;

use super::format::duration;
use crate::slack::text::{clip, escape};

/// "🧠 Seen 3 times before; last fixed by restart in 3.5 min (incident #12)"; `None` when
/// nothing similar happened before.
pub fn memory(m: &IncidentMemory) -> Option<String> {
    if m.seen_before < 1 {
        return None;
    }
    let times = if m.seen_before == 1 {
        "once".to_string()
    } else {
        format!("{} times", m.seen_before)
    };
    let mut line = format!("🧠 Seen {times} before");
    // Why they count, when detection said: the same rule on the same job, or a similar
    // error text.
    if let Some(same) = m.same_failure.filter(|s| (0..=m.seen_before).contains(s)) {
        let mut why = Vec::new();
        if same > 0 {
            why.push(if same == m.seen_before {
                "the same rule and job".to_string()
            } else {
                format!("{same} by the same rule and job")
            });
        }
        let other = m.seen_before - same;
        if other > 0 {
            let pct = m
                .best_similarity
                .filter(|b| b.is_finite() && (0.0..=1.0).contains(b))
                .map(|b| format!(", up to {:.0}% alike", b * 100.0))
                .unwrap_or_default();
            why.push(format!("{other} with a similar error{pct}"));
        }
        line.push_str(&format!(" ({})", why.join(", ")));
    }
    if let Some(fix) = m.last_fixed_by.as_deref().filter(|f| !f.trim().is_empty()) {
        let how = match fix {
            "auto_recovered" => "last recovered on its own".to_string(),
            "manual" => "last fixed by hand".to_string(),
            other => format!(
                "last fixed by {}",
                escape(&clip(&other.replace('_', " "), 40))
            ),
        };
        line.push_str(&format!("; {how}"));
        if let Some(secs) = m.last_mttr_seconds.filter(|s| s.is_finite() && *s >= 0.0) {
            line.push_str(&format!(" in {}", duration(secs)));
        }
        if let Some(id) = m.last_incident_id {
            line.push_str(&format!(" (incident #{id})"));
        }
    }
    Some(line)
}
