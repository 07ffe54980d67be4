//! Text for Slack: escaping untrusted text for mrkdwn, and Block Kit turned back into
//! readable lines (the console sink, logs, tests).

use serde_json::Value;

/// Escapes the three characters Slack's mrkdwn gives meaning to, so text from logs, users
/// or a model cannot forge links, mentions (`<!channel>`) or formatting of its own.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            c if c.is_control() && c != '\n' => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

/// Shortens `s` to at most `max` characters (Slack limits: 150 for headers, 3000 for a
/// section's text).
pub fn clip(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_string();
    }
    let mut out: String = s.chars().take(max.saturating_sub(1)).collect();
    out.push('…');
    out
}

/// A URL safe to put in `<url|label>`: http(s) only and nothing that closes the link.
pub fn safe_url(url: &str) -> Option<&str> {
    let ok = (url.starts_with("https://") || url.starts_with("http://"))
        && !url.contains(['<', '>', '|', ' ', '\n'])
        && url.len() <= 2000;
    ok.then_some(url)
}

/// Mentions a Slack principal (`slack:U123` → `<@U123>`), shows anything else as code.
pub fn who(principal: &str) -> String {
    match principal.strip_prefix("slack:") {
        Some(id) if is_slack_id(id) => format!("<@{id}>"),
        _ => format!("`{}`", escape(principal)),
    }
}

/// Slack user, channel and team ids: uppercase letters and digits.
pub fn is_slack_id(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 32
        && s.chars()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit())
}

/// Block Kit as plain lines: headers, section texts and fields, context, buttons.
pub fn blocks_to_lines(blocks: &Value) -> Vec<String> {
    let mut lines = Vec::new();
    let text_of = |v: &Value| v.get("text").and_then(Value::as_str).map(str::to_string);
    for b in blocks.as_array().into_iter().flatten() {
        match b.get("type").and_then(Value::as_str) {
            Some("header") => {
                if let Some(t) = b.get("text").and_then(text_of) {
                    lines.push(format!("== {t} =="));
                }
            }
            Some("section") => {
                if let Some(t) = b.get("text").and_then(text_of) {
                    lines.extend(t.lines().map(str::to_string));
                }
                for f in b
                    .get("fields")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                {
                    if let Some(t) = text_of(f) {
                        lines.push(format!("  {}", t.replace('\n', " ")));
                    }
                }
            }
            Some("context") => {
                let parts: Vec<String> = b
                    .get("elements")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                    .filter_map(text_of)
                    .collect();
                if !parts.is_empty() {
                    lines.push(format!("  ({})", parts.join(" · ")));
                }
            }
            Some("actions") => {
                let buttons: Vec<String> = b
                    .get("elements")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                    .filter_map(|e| e.get("text").and_then(text_of))
                    .map(|t| format!("[{t}]"))
                    .collect();
                if !buttons.is_empty() {
                    lines.push(format!("  {}", buttons.join(" ")));
                }
            }
            _ => {}
        }
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn untrusted_text_cannot_mention_or_link() {
        assert_eq!(
            escape("<!channel> & <http://x|y>"),
            "&lt;!channel&gt; &amp; &lt;http://x|y&gt;"
        );
        assert_eq!(who("slack:U123ABC"), "<@U123ABC>");
        assert_eq!(who("slack:<!here>"), "`slack:&lt;!here&gt;`");
        assert_eq!(who("rule:build-failed"), "`rule:build-failed`");
        assert_eq!(safe_url("https://wiki/x"), Some("https://wiki/x"));
        assert_eq!(safe_url("https://wiki/x|evil"), None);
        assert_eq!(safe_url("javascript:alert(1)"), None);
        assert_eq!(clip("abcdef", 4), "abc…");
    }

    #[test]
    fn blocks_read_as_lines() {
        let blocks = serde_json::json!([
            {"type": "header", "text": {"type": "plain_text", "text": "Build failed"}},
            {"type": "section", "text": {"type": "mrkdwn", "text": "line one\nline two"},
             "fields": [{"type": "mrkdwn", "text": "*Job*\ndeploy"}]},
            {"type": "context", "elements": [{"type": "mrkdwn", "text": "rule x"}]},
            {"type": "actions", "elements": [{"type": "button", "text": {"type": "plain_text", "text": "Approve"}}]}
        ]);
        assert_eq!(
            blocks_to_lines(&blocks),
            vec![
                "== Build failed ==",
                "line one",
                "line two",
                "  *Job* deploy",
                "  (rule x)",
                "  [Approve]"
            ]
        );
    }
}
