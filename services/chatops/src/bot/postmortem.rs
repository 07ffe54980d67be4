//! `/devops postmortem <incident-id>`: the report the orchestrator answers, its Markdown
//! turned into Slack mrkdwn and shortened to one message. The report is untrusted text
//! (an LLM may have written it from log lines): everything is escaped, links in it are not
//! made clickable, only the report's own URL is.

use domain::commands::PostmortemView;

use crate::slack::Content;
use crate::slack::text::{clip, escape, safe_url};

/// Room for the report's body in one section (Slack's limit is 3000 characters).
const BODY_BUDGET: usize = 2400;

/// The reply of `command.postmortems.get` as a Slack message.
pub fn render(d: &PostmortemView) -> Content {
    let (incident, version) = (d.incident_id, d.version);
    let mut text = format!(
        "📝 *Post-mortem of incident #{incident} · v{version}: {}*",
        escape(&clip(&d.title, 200))
    );
    let writer = match d.writer.as_str() {
        "llm" => "written by the LLM".to_string(),
        _ => match d.writer_note.as_deref() {
            Some(note) if !note.trim().is_empty() => format!(
                "written from the template ({})",
                escape(&clip(note.trim(), 200))
            ),
            _ => "written from the template".to_string(),
        },
    };
    let when = d
        .generated_at
        .to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true);
    text.push_str(&format!("\n_{writer} · {}_", escape(&clip(&when, 40))));
    let markdown = d.markdown.as_str();
    let (body, shortened) = shorten(&to_mrkdwn(markdown), BODY_BUDGET);
    if !body.trim().is_empty() {
        text.push_str(&format!("\n\n{body}"));
    }
    match d.url.as_deref().and_then(safe_url) {
        Some(url) => text.push_str(&format!("\n\n<{url}|Full report>")),
        None if shortened => text.push_str(&format!(
            "\n\n_Shortened: the full report has {} characters (REST: `GET /api/incidents/{incident}/postmortem`)._",
            markdown.chars().count()
        )),
        None => {}
    }
    Content::text(text)
}

/// Markdown as Slack shows it: `## X` → `*X*`, `**b**` → `*b*`, bullets → `•`; code blocks
/// kept as they are; every line escaped.
pub fn to_mrkdwn(md: &str) -> String {
    let mut out = Vec::new();
    let mut in_code = false;
    for raw in md.lines() {
        let line = escape(raw.trim_end());
        if line.trim_start().starts_with("```") {
            in_code = !in_code;
            out.push("```".to_string());
            continue;
        }
        if in_code {
            // Slack ends a code block at the first ``` it sees, whatever follows.
            out.push(line.replace("```", "'''"));
            continue;
        }
        let trimmed = line.trim_start();
        let indent = line.len() - trimmed.len();
        if let Some(heading) = heading(trimmed) {
            out.push(format!("*{}*", heading.replace("**", "").replace('*', "")));
        } else if let Some(item) = trimmed
            .strip_prefix("- ")
            .or_else(|| trimmed.strip_prefix("* "))
            .or_else(|| trimmed.strip_prefix("+ "))
        {
            out.push(format!(
                "{}• {}",
                " ".repeat(indent),
                item.replace("**", "*")
            ));
        } else {
            out.push(line.replace("**", "*"));
        }
    }
    if in_code {
        out.push("```".to_string());
    }
    out.join("\n")
}

/// `# X` … `###### X` → `X`.
fn heading(line: &str) -> Option<&str> {
    let hashes = line.chars().take_while(|c| *c == '#').count();
    if !(1..=6).contains(&hashes) {
        return None;
    }
    let rest = line[hashes..].strip_prefix(' ')?;
    Some(rest.trim().trim_end_matches('#').trim_end())
}

/// At most `budget` characters, cut at a line end, a code block left open closed again;
/// `true` when something was left out.
pub fn shorten(text: &str, budget: usize) -> (String, bool) {
    if text.chars().count() <= budget {
        return (text.to_string(), false);
    }
    let mut out = String::new();
    let mut used = 0;
    let mut in_code = false;
    for line in text.lines() {
        let n = line.chars().count() + 1;
        if used + n > budget {
            if out.is_empty() {
                // One huge first line: cut inside it.
                out = clip(line, budget);
            }
            break;
        }
        if line == "```" {
            in_code = !in_code;
        }
        out.push_str(line);
        out.push('\n');
        used += n;
    }
    if in_code {
        out.push_str("```\n");
    }
    out.push('…');
    (out, true)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn view(v: serde_json::Value) -> PostmortemView {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn markdown_becomes_slack_mrkdwn() {
        let md = "# Deploy outage\n\n## Summary\nThe **heap** was too small.\n\n## Timeline\n- 10:00 detected\n  * 10:02 restarted\n```\nlog <!channel> ```\n```\n### Follow-ups ###\n+ raise Xmx";
        assert_eq!(
            to_mrkdwn(md),
            "*Deploy outage*\n\n*Summary*\nThe *heap* was too small.\n\n*Timeline*\n• 10:00 detected\n  • 10:02 restarted\n```\nlog &lt;!channel&gt; '''\n```\n*Follow-ups*\n• raise Xmx"
        );
        assert_eq!(to_mrkdwn("```\nunclosed"), "```\nunclosed\n```");
        assert_eq!(to_mrkdwn("#hashtag"), "#hashtag");
    }

    #[test]
    fn long_reports_are_cut_at_a_line_and_say_so() {
        let md: String = (0..400).map(|i| format!("- line {i}\n")).collect();
        let c = render(&view(
            json!({"id": 1, "incident_id": 7, "version": 2, "title": "Outage",
            "summary": "s", "writer": "template", "writer_note": "ollama unreachable",
            "markdown": md, "url": null, "generated_at": "2026-11-29T10:00:00Z"}),
        ));
        assert!(c.text.chars().count() < 3000, "{}", c.text.chars().count());
        assert!(c.text.starts_with("📝 *Post-mortem of incident #7 · v2: Outage*\n_written from the template (ollama unreachable) · 2026-11-29T10:00:00Z_"), "{}", c.text);
        assert!(c.text.contains("• line 0\n"), "{}", c.text);
        assert!(!c.text.contains("line 399"));
        assert!(
            c.text.contains("…\n\n_Shortened: the full report has"),
            "{}",
            c.text
        );
        assert!(
            c.text
                .ends_with("(REST: `GET /api/incidents/7/postmortem`)._")
        );

        let (cut, shortened) = shorten("```\na\nb\nc\n```", 8);
        assert!(shortened);
        assert_eq!(cut, "```\na\nb\n```\n…");
    }

    #[test]
    fn the_full_report_is_linked_when_its_url_is_safe() {
        let d = |url: &str| {
            view(
                json!({"id": 1, "incident_id": 7, "version": 1, "title": "Outage",
                   "summary": "s", "writer": "llm", "writer_note": null,
                   "markdown": "## Summary\nshort", "url": url,
                   "generated_at": "2026-11-29T10:00:00Z"}),
            )
        };
        let c = render(&d("https://runbooks.example/api/incidents/7/postmortem"));
        assert!(
            c.text
                .contains("_written by the LLM · 2026-11-29T10:00:00Z_"),
            "{}",
            c.text
        );
        assert!(c.text.ends_with("*Summary*\nshort\n\n<https://runbooks.example/api/incidents/7/postmortem|Full report>"), "{}", c.text);
        let c = render(&d("https://evil.example/x|<!channel>"));
        assert!(c.text.ends_with("*Summary*\nshort"), "{}", c.text);
    }
}
