//! Lines every failed build prints whatever went wrong: Jenkins' and the build tools'
//! closing boilerplate. They say *that* a build failed, never *why*, so they are neither the
//! error a report quotes first nor the text incidents are matched on — every Jenkins failure
//! ends with `Finished: FAILURE`, and matching on it made all failures look alike.
//!
//! The shapes are matched on the normalised text ([`crate::normalize::normalize`]: lowercase,
//! numbers masked as `<n>`), so the table is written in that form. One table, tested below.

use crate::normalize::normalize;

/// How a boilerplate shape is recognised in a normalised line.
enum Shape {
    /// The whole line, after trimming punctuation around it.
    Is(&'static str),
    /// The line starts with it.
    Starts(&'static str),
}

use Shape::{Is, Starts};

/// The boilerplate shapes, with the tool that prints them.
const GENERIC: &[(Shape, &str)] = &[
    (Starts("finished: "), "jenkins: the build's result line"),
    (Is("build failed"), "generic result"),
    (Is("build failure"), "maven result banner"),
    (Starts("[error] build failure"), "maven result banner"),
    (Starts("[info] build failure"), "maven result banner"),
    (
        Starts("build step '"),
        "jenkins: a step marked the build failed",
    ),
    (
        Starts("error: script returned exit code"),
        "jenkins pipeline: sh step",
    ),
    (
        Starts("script returned exit code"),
        "jenkins pipeline: sh step",
    ),
    (
        Starts("error: process completed with exit code"),
        "ci runner exit status",
    ),
    (
        Starts("process completed with exit code"),
        "ci runner exit status",
    ),
    (Starts("[pipeline] "), "jenkins pipeline step markers"),
    (Starts("error: build step failed"), "jenkins: build step"),
    (
        Starts("failure: build failed with an exception"),
        "gradle result banner",
    ),
    (Is("build failed with an exception"), "gradle result banner"),
    (Starts("* try:"), "gradle hint"),
    (Starts("* get more help at"), "gradle hint"),
    (Starts("npm err! code elifecycle"), "npm exit status"),
    (Starts("npm err! errno"), "npm exit status"),
    (
        Starts("npm err! a complete log of this run"),
        "npm log pointer",
    ),
    (Starts("npm error code elifecycle"), "npm exit status"),
    (
        Starts("make: *** ["),
        "make: a target failed (the cause is above)",
    ),
    (
        Starts("[error] failed to execute goal"),
        "maven: a plugin failed (the cause is above)",
    ),
    (Starts("[error] -> [help <n>]"), "maven help pointer"),
    (
        Starts("[error] to see the full stack trace"),
        "maven help pointer",
    ),
    (Starts("[error] re-run maven"), "maven help pointer"),
    (
        Starts("[error] for more information about the errors"),
        "maven help pointer",
    ),
    (Is("[error]"), "maven blank error line"),
    (Starts("error: job failed"), "ci result"),
    (Starts("exit code <n>"), "exit status"),
    (Starts("exited with code <n>"), "exit status"),
];

/// Why `line` says nothing about the cause (the tool that prints it), or `None` when it may
/// be the decisive error.
pub fn generic_reason(line: &str) -> Option<&'static str> {
    let n = normalize(line);
    let t = n.trim_matches(|c: char| c.is_whitespace() || matches!(c, '.' | '!' | ':'));
    if t.is_empty() {
        return Some("empty line");
    }
    GENERIC
        .iter()
        .find(|(shape, _)| match shape {
            Is(s) => t == *s,
            Starts(s) => t.starts_with(s),
        })
        .map(|(_, why)| *why)
}

/// Whether `line` is boilerplate every failed build prints.
pub fn is_generic(line: &str) -> bool {
    generic_reason(line).is_some()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn build_tool_boilerplate_is_generic() {
        for line in [
            "Finished: FAILURE",
            "Finished: ABORTED",
            "BUILD FAILED",
            "[ERROR] BUILD FAILURE",
            "[INFO] BUILD FAILURE",
            "Build step 'Execute shell' marked build as failure",
            "ERROR: script returned exit code 1",
            "script returned exit code 137",
            "Error: Process completed with exit code 2.",
            "[Pipeline] End of Pipeline",
            "FAILURE: Build failed with an exception.",
            "npm ERR! code ELIFECYCLE",
            "npm ERR! errno 1",
            "make: *** [Makefile:12: test] Error 2",
            "[ERROR] Failed to execute goal org.apache.maven.plugins:maven-surefire-plugin:3.2.5:test",
            "[ERROR] -> [Help 1]",
            "   ",
        ] {
            assert!(is_generic(line), "{line:?} should be boilerplate");
        }
    }

    #[test]
    fn causes_are_not_generic() {
        for line in [
            "java.lang.OutOfMemoryError: Java heap space",
            "Exception in thread \"main\" java.lang.NullPointerException",
            "panic: runtime error: index out of range [3] with length 3",
            "Traceback (most recent call last):",
            "ModuleNotFoundError: No module named 'requests'",
            "[ERROR] COMPILATION ERROR : cannot find symbol",
            "error[E0425]: cannot find value `x` in this scope",
            "FATAL ERROR: Reached heap limit Allocation failed - JavaScript heap out of memory",
            "npm ERR! 404 Not Found - GET https://registry.npmjs.org/left-padd",
            "Test failed: case 12 timed out after 30s",
            "Killed (OOM killer)",
            "Connection refused: db.internal:5432",
            "Build failed: deploy-prod #42 could not reach the registry",
        ] {
            assert!(!is_generic(line), "{line:?} is a cause, not boilerplate");
        }
    }

    #[test]
    fn every_shape_names_its_tool() {
        assert!(GENERIC.iter().all(|(_, why)| !why.is_empty()));
        assert_eq!(
            generic_reason("Finished: FAILURE"),
            Some("jenkins: the build's result line")
        );
    }
}
