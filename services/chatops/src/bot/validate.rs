//! Arguments from people and from the model pass the same checks before anything is sent:
//! ids are positive integers, jobs are plain Jenkins job paths inside the allow-list, notes
//! are short printable text.

pub use crate::allowlist::JobAllowlist;

/// A Jenkins job path: letters, digits, `-_.` and `/` between folders; nothing that could
/// climb out of a URL path or smuggle a query.
pub fn job(s: &str) -> Result<String, String> {
    let s = s.trim();
    let ok = !s.is_empty()
        && s.len() <= 200
        && s.chars().next().is_some_and(|c| c.is_ascii_alphanumeric())
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./".contains(c))
        && !s
            .split('/')
            .any(|part| part.is_empty() || part == "." || part == "..");
    if ok {
        Ok(s.to_string())
    } else {
        Err(format!(
            "`{}` is not a job name (letters, digits, `-_.`, folders separated by `/`)",
            crate::slack::text::escape(&crate::slack::text::clip(s, 60))
        ))
    }
}

/// A positive id or build number; `#123` is accepted.
pub fn number(what: &str, s: &str) -> Result<i64, String> {
    let t = s.trim().trim_start_matches('#');
    match t.parse::<i64>() {
        Ok(n) if n > 0 => Ok(n),
        _ => Err(format!(
            "{what} must be a positive number, not `{}`",
            crate::slack::text::escape(&crate::slack::text::clip(s, 30))
        )),
    }
}

/// Free text (a note, a reason): printable, at most 500 characters.
pub fn note(s: &str) -> Result<Option<String>, String> {
    let t = s.trim();
    if t.is_empty() {
        return Ok(None);
    }
    if t.chars().count() > 500 {
        return Err("the note is longer than 500 characters".into());
    }
    Ok(Some(
        t.chars()
            .map(|c| if c.is_control() { ' ' } else { c })
            .collect(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jobs_ids_and_the_allowlist() {
        assert_eq!(job("deploy-prod").unwrap(), "deploy-prod");
        assert_eq!(job("team/app.v2").unwrap(), "team/app.v2");
        for bad in ["", "../x", "a/../b", "a b", "a?x=1", "/abs", "a//b", "-x"] {
            assert!(job(bad).is_err(), "{bad}");
        }
        assert_eq!(number("build", "#123").unwrap(), 123);
        assert!(number("build", "0").is_err());
        assert!(number("build", "12a").is_err());
        let list = JobAllowlist::new(&["deploy-*".into(), "team/*".into()]).unwrap();
        assert!(list.check("deploy-prod").is_ok());
        assert!(list.check("team/sub/app").is_err());
        let err = list.check("prod-db").unwrap_err();
        assert!(err.contains("deploy-*"), "{err}");
        assert!(JobAllowlist::new(&[]).unwrap().check("x").is_err());
        assert_eq!(note("  ").unwrap(), None);
        assert!(note(&"x".repeat(501)).is_err());
    }
}
