//! Compiles a rule's `when` table into a condition tree, checking every leaf against the
//! rule's source. Regexes and globs are compiled here, once.

use globset::GlobBuilder;
use regex::RegexBuilder;

use domain::{Level, Source};

use super::condition::{Cond, GlobField, Node, StatusSet, level_bit};
use super::model::RawCond;

/// Compiles `when`; errors start with the path of the offending key (`when.any[0].status`).
pub(crate) fn compile_when(raw: &RawCond, source: Source) -> Result<Node, String> {
    compile_table(raw, "when", 0, source)
}

fn compile_table(raw: &RawCond, path: &str, pos: usize, source: Source) -> Result<Node, String> {
    let at = |key: &str| format!("{path}.{key}");
    let mut leaves: Vec<Node> = Vec::new();
    let mut push = |cond: Cond, path: String| {
        let pos = leaves.len();
        leaves.push(Node { cond, path, pos });
    };

    if raw.case_insensitive.is_some()
        && raw.message_contains.is_none()
        && raw.message_regex.is_none()
    {
        return Err(format!(
            "{}: needs message_contains or message_regex in the same table",
            at("case_insensitive")
        ));
    }
    let ci = raw.case_insensitive.unwrap_or(false);

    if let Some(v) = &raw.levels {
        push(
            levels(v).map_err(|e| format!("{}: {e}", at("levels")))?,
            at("levels"),
        );
    }
    if let Some(v) = &raw.status {
        only_on(Source::Api, source, &at("status"))?;
        push(
            status(v).map_err(|e| format!("{}: {e}", at("status")))?,
            at("status"),
        );
    }
    if let Some(ms) = raw.latency_ms_over {
        only_on(Source::Api, source, &at("latency_ms_over"))?;
        if !ms.is_finite() || ms < 0.0 {
            return Err(format!(
                "{}: {ms} is not a non-negative number",
                at("latency_ms_over")
            ));
        }
        push(Cond::LatencyOver(ms), at("latency_ms_over"));
    }
    if let Some(v) = &raw.method {
        only_on(Source::Api, source, &at("method"))?;
        push(
            method(v).map_err(|e| format!("{}: {e}", at("method")))?,
            at("method"),
        );
    }
    for (key, field, glob, wants) in [
        ("job", GlobField::Job, &raw.job, Source::Jenkins),
        ("path", GlobField::Path, &raw.path, Source::Api),
        ("service", GlobField::Service, &raw.service, Source::Api),
    ] {
        if let Some(g) = glob {
            only_on(wants, source, &at(key))?;
            push(
                glob_cond(field, g).map_err(|e| format!("{}: {e}", at(key)))?,
                at(key),
            );
        }
    }
    if let Some(text) = &raw.message_contains {
        if text.is_empty() {
            return Err(format!(
                "{}: empty text would match every message",
                at("message_contains")
            ));
        }
        let needle = if ci {
            text.to_lowercase()
        } else {
            text.clone()
        };
        push(
            Cond::Contains {
                needle,
                shown: text.clone(),
                case_insensitive: ci,
            },
            at("message_contains"),
        );
    }
    if let Some(pattern) = &raw.message_regex {
        let re = RegexBuilder::new(pattern)
            .case_insensitive(ci)
            .build()
            .map_err(|e| format!("{}: invalid regex: {e}", at("message_regex")))?;
        push(
            Cond::Regex {
                re,
                case_insensitive: ci,
            },
            at("message_regex"),
        );
    }
    for (key, list, any) in [("all", &raw.all, false), ("any", &raw.any, true)] {
        let Some(list) = list else { continue };
        if list.is_empty() {
            return Err(format!(
                "{}: empty list (it would {} match)",
                at(key),
                if any { "never" } else { "always" }
            ));
        }
        let mut children = list
            .iter()
            .enumerate()
            .map(|(i, c)| compile_table(c, &format!("{}[{i}]", at(key)), i, source))
            .collect::<Result<Vec<_>, _>>()?;
        children.sort_by_key(Node::cost);
        push(
            if any {
                Cond::Any(children)
            } else {
                Cond::All(children)
            },
            at(key),
        );
    }
    if let Some(inner) = &raw.not {
        let inner = compile_table(inner, &at("not"), 0, source)?;
        push(Cond::Not(Box::new(inner)), at("not"));
    }

    match leaves.len() {
        0 => Err(format!("{path}: no condition")),
        1 => {
            let mut only = leaves.pop().expect("one leaf");
            only.pos = pos;
            Ok(only)
        }
        _ => {
            leaves.sort_by_key(Node::cost);
            Ok(Node {
                cond: Cond::All(leaves),
                path: path.to_string(),
                pos,
            })
        }
    }
}

fn only_on(wants: Source, source: Source, path: &str) -> Result<(), String> {
    if wants == source {
        Ok(())
    } else {
        Err(format!(
            "{path} applies to {wants} logs only, but the rule's source is {source}"
        ))
    }
}

/// A string or a list of strings.
fn strings(v: &toml::Value, what: &str) -> Result<Vec<String>, String> {
    let items = match v {
        toml::Value::String(s) => vec![s.clone()],
        toml::Value::Array(items) => items
            .iter()
            .map(|i| match i {
                toml::Value::String(s) => Ok(s.clone()),
                other => Err(format!(
                    "expected {what} as strings, found {}",
                    other.type_str()
                )),
            })
            .collect::<Result<_, _>>()?,
        other => {
            return Err(format!(
                "expected {what} (a string or a list), found {}",
                other.type_str()
            ));
        }
    };
    if items.is_empty() {
        return Err("empty list".into());
    }
    Ok(items)
}

fn levels(v: &toml::Value) -> Result<Cond, String> {
    let mut mask = 0u8;
    for name in strings(v, "level names")? {
        let level: Level = name.parse()?;
        mask |= level_bit(level);
    }
    let names: Vec<_> = Level::ALL
        .iter()
        .filter(|l| mask & level_bit(**l) != 0)
        .map(|l| l.as_str())
        .collect();
    Ok(Cond::Levels {
        mask,
        names: names.join(", "),
    })
}

fn method(v: &toml::Value) -> Result<Cond, String> {
    let mut methods = Vec::new();
    for m in strings(v, "HTTP methods")? {
        let m = m.trim().to_ascii_uppercase();
        if m.is_empty() || !m.bytes().all(|b| b.is_ascii_alphabetic()) {
            return Err(format!("`{m}` is not an HTTP method"));
        }
        if !methods.contains(&m) {
            methods.push(m);
        }
    }
    Ok(Cond::Method(methods))
}

fn glob_cond(field: GlobField, glob: &str) -> Result<Cond, String> {
    if glob.is_empty() {
        return Err("empty glob".into());
    }
    // `*` stops at `/` so that `team/*` means the jobs of one folder and `/api/*` one path
    // segment; `**` crosses separators.
    let matcher = GlobBuilder::new(glob)
        .literal_separator(true)
        .build()
        .map_err(|e| format!("invalid glob: {e}"))?
        .compile_matcher();
    Ok(Cond::Glob {
        field,
        glob: glob.to_string(),
        matcher,
    })
}

fn status(v: &toml::Value) -> Result<Cond, String> {
    let items: Vec<&toml::Value> = match v {
        toml::Value::Array(items) if items.is_empty() => return Err("empty list".into()),
        toml::Value::Array(items) => items.iter().collect(),
        one => vec![one],
    };
    let mut ranges = Vec::with_capacity(items.len());
    for item in items {
        ranges.push(match item {
            toml::Value::Integer(i) => {
                let s = u16::try_from(*i)
                    .ok()
                    .filter(|s| (100..=599).contains(s))
                    .ok_or_else(|| format!("status {i} is outside 100..=599"))?;
                (s, s)
            }
            toml::Value::String(s) => status_range(s)?,
            other => {
                return Err(format!(
                    "expected a status, a range like \"500-599\" or a class like \"5xx\", found {}",
                    other.type_str()
                ));
            }
        });
    }
    let shown: Vec<_> = ranges
        .iter()
        .map(|&(lo, hi)| {
            if lo == hi {
                lo.to_string()
            } else {
                format!("{lo}-{hi}")
            }
        })
        .collect();
    Ok(Cond::Status(StatusSet::new(&ranges, shown.join(", "))))
}

fn status_range(text: &str) -> Result<(u16, u16), String> {
    let t = text.trim();
    let code = |s: &str| -> Result<u16, String> {
        let n: u32 = s.trim().parse().map_err(|_| {
            format!("`{text}` is not a status, a range like \"500-599\" or a class like \"5xx\"")
        })?;
        u16::try_from(n)
            .ok()
            .filter(|n| (100..=599).contains(n))
            .ok_or_else(|| format!("status {n} in `{text}` is outside 100..=599"))
    };
    if let Some(class) = t.strip_suffix("xx").or_else(|| t.strip_suffix("XX")) {
        let lo = code(&format!("{class}00"))?;
        return Ok((lo, lo + 99));
    }
    if let Some((lo, hi)) = t.split_once('-') {
        let (lo, hi) = (code(lo)?, code(hi)?);
        if lo > hi {
            return Err(format!("status range `{text}` is reversed"));
        }
        return Ok((lo, hi));
    }
    let s = code(t)?;
    Ok((s, s))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cond(text: &str) -> RawCond {
        toml::from_str(text).unwrap()
    }

    #[test]
    fn status_ranges_parse_and_are_checked() {
        assert_eq!(status_range("500-599"), Ok((500, 599)));
        assert_eq!(status_range(" 5xx "), Ok((500, 599)));
        assert_eq!(status_range("429"), Ok((429, 429)));
        assert!(status_range("599-500").unwrap_err().contains("reversed"));
        assert!(
            status_range("600")
                .unwrap_err()
                .contains("outside 100..=599")
        );
        assert!(status_range("0-99").unwrap_err().contains("outside"));
        assert!(status_range("6xx").unwrap_err().contains("outside"));
        assert!(status_range("abc").unwrap_err().contains("not a status"));
    }

    #[test]
    fn several_keys_in_one_table_become_all_cheapest_first() {
        let raw = cond("message_regex = 'x+'\nlevels = ['error']\n");
        let node = compile_when(&raw, Source::Jenkins).unwrap();
        let Cond::All(children) = &node.cond else {
            panic!("{node:?}")
        };
        assert_eq!(children[0].path, "when.levels");
        assert_eq!(children[1].path, "when.message_regex");
    }

    #[test]
    fn a_single_key_table_is_the_leaf_itself_with_its_path() {
        let raw = cond("any = [{ message_contains = 'a' }, { message_contains = 'b' }]");
        let node = compile_when(&raw, Source::Jenkins).unwrap();
        let Cond::Any(children) = &node.cond else {
            panic!("{node:?}")
        };
        assert_eq!(node.path, "when.any");
        assert_eq!(children[1].path, "when.any[1].message_contains");
        assert_eq!(children[1].pos, 1);
    }

    #[test]
    fn leaves_are_checked_against_the_source() {
        let e = compile_when(&cond("status = 500"), Source::Jenkins).unwrap_err();
        assert_eq!(
            e,
            "when.status applies to api logs only, but the rule's source is jenkins"
        );
        let e = compile_when(&cond("not = { job = 'x' }"), Source::Api).unwrap_err();
        assert!(
            e.starts_with("when.not.job applies to jenkins logs only"),
            "{e}"
        );
    }

    #[test]
    fn malformed_leaves_are_rejected() {
        for (text, want) in [
            ("", "when: no condition"),
            ("not = {}", "when.not: no condition"),
            ("all = []", "when.all: empty list"),
            (
                "case_insensitive = true\nlevels = ['error']",
                "when.case_insensitive",
            ),
            ("message_contains = ''", "empty text"),
            ("levels = []", "when.levels: empty list"),
            ("levels = 3", "when.levels: expected level names"),
            ("method = 'GE T'", "not an HTTP method"),
            ("latency_ms_over = -1.0", "not a non-negative number"),
            ("path = 'a[b'", "when.path: invalid glob"),
            ("status = true", "when.status: expected a status"),
        ] {
            let e = compile_when(&cond(text), Source::Api).unwrap_err();
            assert!(e.contains(want), "{text}: {e}");
        }
    }
}
