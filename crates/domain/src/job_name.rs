//! What a Jenkins job name may be, checked wherever one enters (REST, MCP, the bus) with the
//! rules the runner applies before it builds a URL: refusing up front what the runner can
//! never do, instead of accepting it and failing later.

/// Why `name` cannot name a Jenkins job; `None` when it can. `/` separates folders; a
/// segment is never empty, `.` or `..`; no control characters; at most 512 bytes; none of
/// the characters Jenkins refuses in a job name (`* ? [ ] \ < > | : ; % # ! @ $ ^ &`), so a
/// glob such as `*` never reaches the runner.
pub fn job_name_problem(name: &str) -> Option<String> {
    if name.is_empty() {
        return Some("job name is empty".into());
    }
    if name.len() > 512 {
        return Some(format!(
            "job name is {} bytes, at most 512 allowed",
            name.len()
        ));
    }
    if name.chars().any(char::is_control) {
        return Some("job name has a control character".into());
    }
    if let Some(c) = name.chars().find(|c| "*?[]\\<>|:;%#!@$^&".contains(*c)) {
        return Some(format!(
            "job name contains `{c}`, which Jenkins never allows"
        ));
    }
    for (position, segment) in name.split('/').enumerate() {
        if segment.is_empty() || segment == "." || segment == ".." {
            return Some(format!(
                "job name has an empty, `.` or `..` segment at position {position}"
            ));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::job_name_problem as p;

    #[test]
    fn globs_and_dot_segments_are_refused() {
        for bad in [
            "*", "..", "team/..", "a//b", "/x", "x/", "deploy-*", "a\nb", "",
        ] {
            assert!(p(bad).is_some(), "{bad:?}");
        }
        for ok in ["deploy-prod", "team/app", "...", "a.b", "My Job"] {
            assert_eq!(p(ok), None, "{ok:?}");
        }
    }
}
