//! Without a bot token, messages are printed as readable text on stdout (the demo uses it),
//! with made-up but well-formed timestamps so threads and updates still line up.

use std::io::Write;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use super::text::blocks_to_lines;
use super::{Content, Posted};

#[derive(Clone, Default)]
pub struct ConsoleSink {
    seq: Arc<AtomicU64>,
}

impl ConsoleSink {
    pub fn new() -> Self {
        Self::default()
    }

    fn next_ts(&self) -> String {
        let n = self.seq.fetch_add(1, Ordering::Relaxed) + 1;
        format!("{}.{:06}", chrono::Utc::now().timestamp(), n % 1_000_000)
    }

    fn print(&self, head: String, content: &Content) {
        let mut lines = blocks_to_lines(&content.blocks);
        if lines.is_empty() {
            lines = content.text.lines().map(str::to_string).collect();
        }
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "{head}");
        for l in lines {
            // Slack's escapes mean nothing on a terminal.
            let l = l
                .replace("&lt;", "<")
                .replace("&gt;", ">")
                .replace("&amp;", "&");
            let _ = writeln!(out, "    {l}");
        }
        let _ = out.flush();
    }

    pub fn post(&self, channel: &str, thread_ts: Option<&str>, content: &Content) -> Posted {
        let ts = self.next_ts();
        let head = match thread_ts {
            Some(t) => format!("[slack {channel} · thread {t}] message {ts}"),
            None => format!("[slack {channel}] message {ts}"),
        };
        self.print(head, content);
        Posted {
            ts,
            channel_id: channel.to_string(),
        }
    }

    pub fn update(&self, channel: &str, ts: &str, content: &Content) {
        self.print(format!("[slack {channel}] message {ts} updated"), content);
    }

    pub fn ephemeral(&self, channel: &str, user: &str, content: &Content) {
        self.print(format!("[slack {channel}] only for {user}"), content);
    }
}
