//! What the pipeline benchmark leaves behind: an RSS sampler, the results table and an SVG
//! chart of latency percentiles against rate, written to `target/bench/` (or `BENCH_OUT`).

use std::fmt::Write as _;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Resident set size of this process in KiB, from `/proc/self/status` (0 when unknown).
pub fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse().ok())
        })
        .unwrap_or(0)
}

/// Samples RSS every 100 ms; `peak()` is the largest seen since the last `reset()`.
#[derive(Clone, Default)]
pub struct RssSampler {
    peak: Arc<AtomicU64>,
}

impl RssSampler {
    pub fn start() -> Self {
        let s = RssSampler::default();
        let peak = s.peak.clone();
        tokio::spawn(async move {
            loop {
                peak.fetch_max(rss_kib(), Ordering::Relaxed);
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        });
        s
    }
    pub fn reset(&self) {
        self.peak.store(rss_kib(), Ordering::Relaxed);
    }
    pub fn peak_mib(&self) -> f64 {
        self.peak.load(Ordering::Relaxed) as f64 / 1024.0
    }
}

/// One paced latency run: offered rate and publish → `incident.detected` percentiles (ms).
pub struct LatencyPoint {
    pub rate: usize,
    pub achieved: f64,
    pub samples: u64,
    pub expected: usize,
    pub p50: f64,
    pub p99: f64,
    pub p999: f64,
}

/// A chart line: its name, colour and the percentile it plots.
type Series = (&'static str, &'static str, fn(&LatencyPoint) -> f64);

pub fn out_dir() -> PathBuf {
    let dir = std::env::var_os("BENCH_OUT")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target/bench"));
    std::fs::create_dir_all(&dir).expect("bench output dir");
    dir
}

/// Latency percentiles against rate: a log-scale x axis (logs/s), a linear y axis (ms), one
/// polyline per percentile and the 50 ms target as a dashed line.
pub fn chart_svg(points: &[LatencyPoint], title: &str) -> String {
    let (w, h, l, r, t, b) = (640.0, 400.0, 60.0, 130.0, 40.0, 50.0);
    let ymax = points
        .iter()
        .map(|p| p.p999)
        .fold(60.0_f64, f64::max)
        .ceil();
    let (xmin, xmax) = (50.0_f64.log10(), 10_000.0_f64.log10());
    let x = |rate: f64| l + (rate.log10() - xmin) / (xmax - xmin) * (w - l - r);
    let y = |ms: f64| t + (1.0 - ms / ymax) * (h - t - b);
    let mut s = String::new();
    let _ = write!(
        s,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" font-family="sans-serif" font-size="12">
<rect width="100%" height="100%" fill="white"/>
<text x="{}" y="22" text-anchor="middle" font-size="14">{title}</text>
<line x1="{l}" y1="{}" x2="{}" y2="{}" stroke="black"/>
<line x1="{l}" y1="{t}" x2="{l}" y2="{}" stroke="black"/>
"#,
        w / 2.0,
        h - b,
        w - r,
        h - b,
        h - b
    );
    for rate in [100.0, 1_000.0, 5_000.0] {
        let _ = writeln!(
            s,
            r#"<text x="{:.1}" y="{}" text-anchor="middle">{rate}</text>"#,
            x(rate),
            h - b + 16.0
        );
    }
    let _ = writeln!(
        s,
        r#"<text x="{}" y="{}" text-anchor="middle">offered logs/s (log scale)</text>"#,
        (l + w - r) / 2.0,
        h - 12.0
    );
    for i in 0..=5 {
        let ms = ymax * i as f64 / 5.0;
        let _ = writeln!(
            s,
            r##"<text x="{}" y="{:.1}" text-anchor="end">{ms:.0}</text><line x1="{l}" y1="{:.1}" x2="{}" y2="{:.1}" stroke="#eee"/>"##,
            l - 6.0,
            y(ms) + 4.0,
            y(ms),
            w - r,
            y(ms)
        );
    }
    let _ = writeln!(
        s,
        r#"<text x="16" y="{}" transform="rotate(-90 16 {})" text-anchor="middle">publish → incident.detected, ms</text>"#,
        (t + h - b) / 2.0,
        (t + h - b) / 2.0
    );
    let _ = writeln!(
        s,
        r##"<line x1="{l}" y1="{:.1}" x2="{}" y2="{:.1}" stroke="#c00" stroke-dasharray="4 4"/><text x="{}" y="{:.1}" fill="#c00">p99 target 50 ms</text>"##,
        y(50.0),
        w - r,
        y(50.0),
        w - r + 6.0,
        y(50.0) + 4.0
    );
    let series: [Series; 3] = [
        ("p50", "#1f77b4", |p| p.p50),
        ("p99", "#ff7f0e", |p| p.p99),
        ("p999", "#2ca02c", |p| p.p999),
    ];
    for (k, (name, colour, get)) in series.iter().enumerate() {
        let pts: Vec<String> = points
            .iter()
            .map(|p| format!("{:.1},{:.1}", x(p.rate as f64), y(get(p))))
            .collect();
        let _ = writeln!(
            s,
            r#"<polyline points="{}" fill="none" stroke="{colour}" stroke-width="2"/>"#,
            pts.join(" ")
        );
        for p in points {
            let _ = writeln!(
                s,
                r#"<circle cx="{:.1}" cy="{:.1}" r="3" fill="{colour}"/>"#,
                x(p.rate as f64),
                y(get(p))
            );
        }
        let ly = t + 20.0 + 18.0 * k as f64;
        let _ = writeln!(
            s,
            r#"<line x1="{}" y1="{ly}" x2="{}" y2="{ly}" stroke="{colour}" stroke-width="2"/><text x="{}" y="{}">{name}</text>"#,
            w - r + 6.0,
            w - r + 26.0,
            w - r + 30.0,
            ly + 4.0
        );
    }
    s.push_str("</svg>\n");
    s
}
