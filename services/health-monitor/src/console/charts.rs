//! Server-side SVG charts drawn from the numbers the database gave: incidents per day by
//! severity (stacked bars) and actions by outcome (bars). Nothing but the numbers reaches
//! the markup (labels are fixed words or dates), and bars carry `data-*` so tests and people
//! can read the values back. Colours come from classes (the CSP forbids inline styles).

use std::collections::BTreeMap;
use std::fmt::Write;

use chrono::{Duration, NaiveDate};

const SEVERITIES: [&str; 4] = ["critical", "high", "medium", "low"];
const W: f64 = 560.0;
const H: f64 = 180.0;
const BASE: f64 = 150.0;

/// Incidents per day and severity over `days` days ending `today`.
pub fn incidents_per_day(rows: &[(NaiveDate, String, i64)], today: NaiveDate, days: i64) -> String {
    let mut by_day: BTreeMap<NaiveDate, BTreeMap<&str, i64>> = BTreeMap::new();
    for d in 0..days {
        by_day.insert(today - Duration::days(days - 1 - d), BTreeMap::new());
    }
    for (day, sev, n) in rows {
        if let Some(m) = by_day.get_mut(day) {
            let sev = SEVERITIES
                .iter()
                .find(|s| **s == sev)
                .copied()
                .unwrap_or("low");
            *m.entry(sev).or_insert(0) += n;
        }
    }
    let max = by_day
        .values()
        .map(|m| m.values().sum::<i64>())
        .max()
        .unwrap_or(0)
        .max(1);
    let slot = (W - 40.0) / days as f64;
    let bar = (slot * 0.7).max(2.0);
    let mut svg = open("incidents-per-day", "Incidents per day by severity");
    let _ = write!(svg, r#"<text x="4" y="14" class="axis">{max}</text>"#);
    for (i, (day, m)) in by_day.iter().enumerate() {
        let x = 30.0 + i as f64 * slot;
        let mut y = BASE;
        for sev in SEVERITIES.iter().rev() {
            let n = m.get(sev).copied().unwrap_or(0);
            if n == 0 {
                continue;
            }
            let h = (BASE - 20.0) * n as f64 / max as f64;
            y -= h;
            let _ = write!(
                svg,
                r#"<rect x="{x:.1}" y="{y:.1}" width="{bar:.1}" height="{h:.1}" class="bar sev-{sev}" data-day="{day}" data-severity="{sev}" data-count="{n}"><title>{day}: {n} {sev}</title></rect>"#
            );
        }
        if days <= 14 || i % 7 == 0 {
            let _ = write!(
                svg,
                r#"<text x="{x:.1}" y="{:.1}" class="axis">{}</text>"#,
                BASE + 14.0,
                day.format("%m-%d")
            );
        }
    }
    legend(&mut svg, &SEVERITIES.map(|s| (s, format!("sev-{s}"))));
    svg.push_str("</svg>");
    svg
}

/// Actions by how they ended.
pub fn actions_by_outcome(rows: &[(String, i64)]) -> String {
    let outcomes = ["completed", "failed", "rejected"];
    let count = |o: &str| {
        rows.iter()
            .filter(|(k, _)| k == o)
            .map(|(_, n)| *n)
            .sum::<i64>()
    };
    let max = outcomes.iter().map(|o| count(o)).max().unwrap_or(0).max(1);
    let mut svg = open("actions-by-outcome", "Actions by outcome");
    for (i, o) in outcomes.iter().enumerate() {
        let n = count(o);
        let y = 20.0 + i as f64 * 40.0;
        let w = (W - 160.0) * n as f64 / max as f64;
        let _ = write!(
            svg,
            r#"<text x="4" y="{:.1}" class="axis">{o}</text><rect x="90" y="{y:.1}" width="{w:.1}" height="24" class="bar outcome-{o}" data-outcome="{o}" data-count="{n}"><title>{n} {o}</title></rect><text x="{:.1}" y="{:.1}" class="axis">{n}</text>"#,
            y + 16.0,
            96.0 + w,
            y + 16.0
        );
    }
    svg.push_str("</svg>");
    svg
}

fn open(id: &str, title: &str) -> String {
    format!(
        r#"<svg id="{id}" class="chart" viewBox="0 0 {W} {H}" role="img" aria-label="{title}" xmlns="http://www.w3.org/2000/svg"><title>{title}</title>"#
    )
}

fn legend(svg: &mut String, items: &[(&str, String)]) {
    for (i, (label, class)) in items.iter().enumerate() {
        let x = 40.0 + i as f64 * 110.0;
        let _ = write!(
            svg,
            r#"<rect x="{x}" y="{:.1}" width="10" height="10" class="bar {class}"/><text x="{:.1}" y="{:.1}" class="axis">{label}</text>"#,
            H - 12.0,
            x + 14.0,
            H - 3.0
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bars_carry_the_counts_and_stack_by_severity() {
        let today = NaiveDate::from_ymd_opt(2026, 12, 7).unwrap();
        let rows = vec![
            (today, "critical".to_string(), 2),
            (today, "low".to_string(), 1),
            (today - Duration::days(1), "high".to_string(), 3),
            (today - Duration::days(30), "high".to_string(), 9),
        ];
        let svg = incidents_per_day(&rows, today, 14);
        assert!(svg.contains(r#"data-day="2026-12-07" data-severity="critical" data-count="2""#));
        assert!(svg.contains(r#"data-day="2026-12-06" data-severity="high" data-count="3""#));
        assert!(!svg.contains(r#"data-count="9""#), "outside the window");
        assert_eq!(
            svg.matches("<rect").count(),
            3 + 4,
            "three bars and the legend"
        );
        let svg = actions_by_outcome(&[("failed".into(), 4), ("completed".into(), 1)]);
        assert!(svg.contains(r#"data-outcome="failed" data-count="4""#));
        assert!(svg.contains(r#"data-outcome="rejected" data-count="0""#));
    }
}
