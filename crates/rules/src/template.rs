//! `{field}` templates for incident titles and action targets. Parsed once when rules are
//! compiled, so rendering is a walk over literal and field segments.

use domain::Source;

use super::view::{Field, LogView};

/// Titles end up in the database, Slack and chat messages; `{message}` could be 64 KiB.
pub const MAX_RENDERED_CHARS: usize = 256;

#[derive(Debug, Clone, PartialEq, Eq)]
enum Segment {
    Literal(String),
    Field(Field),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Template {
    segments: Vec<Segment>,
}

impl Template {
    /// Parses `text`; `{{` and `}}` stand for literal braces. Placeholders must be known and
    /// exist on logs of `source`.
    pub fn parse(text: &str, source: Source) -> Result<Template, String> {
        let mut segments = Vec::new();
        let mut literal = String::new();
        let mut chars = text.char_indices().peekable();
        while let Some((i, c)) = chars.next() {
            match c {
                '{' if chars.peek().map(|p| p.1) == Some('{') => {
                    chars.next();
                    literal.push('{');
                }
                '}' if chars.peek().map(|p| p.1) == Some('}') => {
                    chars.next();
                    literal.push('}');
                }
                '{' => {
                    let rest = &text[i + 1..];
                    let Some(end) = rest.find('}') else {
                        return Err(format!("unclosed `{{` at character {}", i + 1));
                    };
                    let name = rest[..end].trim();
                    let field = Field::placeholder(name).ok_or_else(|| {
                        let known: Vec<_> =
                            Field::PLACEHOLDERS.iter().map(|f| f.as_str()).collect();
                        format!(
                            "unknown placeholder {{{name}}} (known: {})",
                            known.join(", ")
                        )
                    })?;
                    if let Some(only) = field.only_on()
                        && only != source
                    {
                        return Err(format!(
                            "placeholder {{{name}}} exists only on {only} logs, but the rule's source is {source}"
                        ));
                    }
                    if !literal.is_empty() {
                        segments.push(Segment::Literal(std::mem::take(&mut literal)));
                    }
                    segments.push(Segment::Field(field));
                    // Skip the placeholder's characters.
                    for (j, _) in chars.by_ref() {
                        if j == i + 1 + end {
                            break;
                        }
                    }
                }
                '}' => return Err(format!("unmatched `}}` at character {}", i + 1)),
                c => literal.push(c),
            }
        }
        if !literal.is_empty() {
            segments.push(Segment::Literal(literal));
        }
        Ok(Template { segments })
    }

    pub fn fields(&self) -> impl Iterator<Item = Field> + '_ {
        self.segments.iter().filter_map(|s| match s {
            Segment::Field(f) => Some(*f),
            Segment::Literal(_) => None,
        })
    }

    /// Renders with absent fields as empty strings, cut to [`MAX_RENDERED_CHARS`] characters.
    pub fn render(&self, view: &LogView<'_>, rule: &str) -> String {
        let mut out = String::new();
        for s in &self.segments {
            match s {
                Segment::Literal(l) => out.push_str(l),
                Segment::Field(f) => view.write_field(*f, rule, &mut out),
            }
        }
        truncate_chars(&mut out, MAX_RENDERED_CHARS);
        out
    }

    /// Like [`Template::render`], but `None` when a field it uses is absent from the log
    /// (an action must not target a half-rendered job name).
    pub fn render_complete(&self, view: &LogView<'_>, rule: &str) -> Option<String> {
        if self.fields().all(|f| view.has_field(f)) {
            let s = self.render(view, rule);
            (!s.is_empty()).then_some(s)
        } else {
            None
        }
    }
}

fn truncate_chars(s: &mut String, max: usize) {
    if let Some((cut, _)) = s.char_indices().nth(max) {
        // Keep room for the ellipsis so the result stays within `max` characters.
        let keep = s[..cut].char_indices().nth(max - 1).map_or(cut, |(i, _)| i);
        s.truncate(keep);
        s.push('…');
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use domain::{JenkinsLog, Level, LogRecord};

    fn log(job: Option<&str>) -> LogRecord {
        LogRecord::Jenkins(JenkinsLog {
            timestamp: "2026-11-01T10:00:00Z".parse().unwrap(),
            level: Level::Error,
            message: "BUILD FAILED".into(),
            job_name: job.map(Into::into),
            build_number: Some(42),
            details: None,
            source_id: None,
        })
    }

    #[test]
    fn renders_fields_and_escaped_braces() {
        let t = Template::parse(
            "{{x}} {rule}: {job_name} #{build_number} [{level}]",
            Source::Jenkins,
        )
        .unwrap();
        let l = log(Some("deploy"));
        assert_eq!(
            t.render(&LogView::new(&l), "r"),
            "{x} r: deploy #42 [error]"
        );
        let l = log(None);
        assert_eq!(t.render(&LogView::new(&l), "r"), "{x} r:  #42 [error]");
    }

    #[test]
    fn rejects_unknown_misplaced_and_unbalanced_placeholders() {
        let e = Template::parse("x {jobname}", Source::Jenkins).unwrap_err();
        assert!(e.contains("unknown placeholder {jobname}"), "{e}");
        let e = Template::parse("{path}", Source::Jenkins).unwrap_err();
        assert!(e.contains("only on api logs"), "{e}");
        assert!(Template::parse("{job_name", Source::Jenkins).is_err());
        assert!(Template::parse("a } b", Source::Jenkins).is_err());
    }

    #[test]
    fn complete_rendering_needs_every_field() {
        let t = Template::parse("{job_name}", Source::Jenkins).unwrap();
        let with = log(Some("deploy"));
        let without = log(None);
        assert_eq!(
            t.render_complete(&LogView::new(&with), "r").as_deref(),
            Some("deploy")
        );
        assert_eq!(t.render_complete(&LogView::new(&without), "r"), None);
    }

    #[test]
    fn long_renderings_are_cut() {
        let mut s = "é".repeat(300);
        truncate_chars(&mut s, 10);
        assert_eq!(s.chars().count(), 10);
        assert!(s.ends_with('…'));
        let mut short = "abc".to_string();
        truncate_chars(&mut short, 10);
        assert_eq!(short, "abc");
    }
}
