//! Heuristics: the class of failure an error line's words suggest, and how an incident
//! ended in words.

/// A class of failure recognised by words of the normalised line.
pub(crate) fn classify(pattern: &str) -> Option<&'static str> {
    const CLASSES: &[(&[&str], &str)] = &[
        (
            &["no space left", "disk full", "quota exceeded"],
            "the disk filled up",
        ),
        (
            &[
                "out of memory",
                "outofmemory",
                "heap space",
                "oomkilled",
                "cannot allocate",
            ],
            "memory ran out",
        ),
        (
            &["timed out", "timeout", "deadline exceeded"],
            "a step or a dependency exceeded its time limit",
        ),
        (
            &[
                "connection refused",
                "econnrefused",
                "unreachable",
                "could not resolve",
                "connection reset",
            ],
            "a dependency was unreachable",
        ),
        (
            &[
                "permission denied",
                "unauthorized",
                "forbidden",
                "authentication failed",
                "401",
                "403",
            ],
            "credentials or permissions were wrong",
        ),
        (
            &[
                "compilation",
                "compile",
                "syntax error",
                "cannot find symbol",
                "undefined reference",
            ],
            "the code did not compile",
        ),
        (
            &["test failed", "tests failed", "assertion", "expected"],
            "tests failed",
        ),
        (
            &[
                "5xx",
                "internal server error",
                "bad gateway",
                "service unavailable",
            ],
            "the service returned server errors",
        ),
    ];
    CLASSES
        .iter()
        .find(|(words, _)| words.iter().any(|w| pattern.contains(w)))
        .map(|(_, c)| *c)
}

/// How an incident ended, from an action type or a resolution method.
pub fn fix_phrase(fixed_by: &str) -> String {
    match fixed_by {
        "manual" => "resolved by hand".into(),
        "auto_recovered" => "recovered by itself".into(),
        "automated_action" => "fixed by an action".into(),
        action => format!("fixed by a {}", action.replace('_', " ")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failure_classes_are_recognised() {
        assert_eq!(
            classify("error: no space left on device"),
            Some("the disk filled up")
        );
        assert_eq!(
            classify("test failed: case <n> timed out after <n>s"),
            Some("a step or a dependency exceeded its time limit")
        );
        assert_eq!(classify("something odd"), None);
    }
}
