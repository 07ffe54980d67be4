//! The level of a console line that carries none of its own (Jenkins build logs): the shapes
//! of error and warning lines common tools print, in one table. The first matching row wins,
//! so the more specific shapes come first.

use crate::logs::Level;

/// How a row matches a line (trimmed at the start).
#[derive(Debug, Clone, Copy)]
pub enum Shape {
    /// The line starts with it, case-sensitive.
    Prefix(&'static str),
    /// The line contains it, case-sensitive.
    Contains(&'static str),
}

impl Shape {
    fn matches(self, line: &str) -> bool {
        match self {
            Shape::Prefix(p) => line.starts_with(p),
            Shape::Contains(c) => line.contains(c),
        }
    }
}

/// `(shape, level, what prints it)`.
pub const LINE_LEVELS: &[(Shape, Level, &str)] = &[
    // Fatal: the process or VM died.
    (
        Shape::Prefix("FATAL"),
        Level::Fatal,
        "FATAL: prefix (Jenkins, many tools)",
    ),
    (Shape::Prefix("[FATAL]"), Level::Fatal, "[FATAL] prefix"),
    (
        Shape::Prefix("fatal error:"),
        Level::Fatal,
        "Go runtime fatal error",
    ),
    (Shape::Prefix("panic: "), Level::Fatal, "Go panic"),
    (
        Shape::Contains("java.lang.OutOfMemoryError"),
        Level::Fatal,
        "JVM out of memory",
    ),
    (
        Shape::Contains("java.lang.StackOverflowError"),
        Level::Fatal,
        "JVM stack overflow",
    ),
    (
        Shape::Contains("' panicked at "),
        Level::Fatal,
        "Rust panic",
    ),
    (
        Shape::Contains("FATAL ERROR:"),
        Level::Fatal,
        "Node.js fatal error (heap)",
    ),
    (
        Shape::Prefix("Killed"),
        Level::Fatal,
        "process killed (OOM killer)",
    ),
    // Errors.
    (Shape::Prefix("[ERROR]"), Level::Error, "Maven"),
    (
        Shape::Prefix("ERROR"),
        Level::Error,
        "ERROR / ERROR: prefix",
    ),
    (
        Shape::Prefix("error:"),
        Level::Error,
        "compilers, git, cargo",
    ),
    (Shape::Prefix("error["), Level::Error, "rustc error[E…]"),
    (Shape::Prefix("npm ERR!"), Level::Error, "npm"),
    (Shape::Prefix("npm error"), Level::Error, "npm ≥ 10"),
    (
        Shape::Prefix("FAILURE: Build failed"),
        Level::Error,
        "Gradle",
    ),
    (Shape::Prefix("BUILD FAILED"), Level::Error, "Gradle, Ant"),
    (
        Shape::Prefix("BUILD FAILURE"),
        Level::Error,
        "Maven summary",
    ),
    (
        Shape::Prefix("Traceback (most recent call last)"),
        Level::Error,
        "Python",
    ),
    (
        Shape::Prefix("Exception in thread "),
        Level::Error,
        "JVM uncaught exception",
    ),
    (
        Shape::Prefix("Caused by: "),
        Level::Error,
        "JVM exception cause",
    ),
    (Shape::Prefix("goroutine "), Level::Error, "Go panic trace"),
    (Shape::Prefix("FAIL"), Level::Error, "go test, jest"),
    // Warnings.
    (Shape::Prefix("[WARNING]"), Level::Warn, "Maven"),
    (Shape::Prefix("[WARN]"), Level::Warn, "[WARN] prefix"),
    (
        Shape::Prefix("WARNING"),
        Level::Warn,
        "WARNING / WARNING: prefix",
    ),
    (
        Shape::Prefix("warning:"),
        Level::Warn,
        "compilers, git, cargo",
    ),
    (Shape::Prefix("npm WARN"), Level::Warn, "npm"),
    (Shape::Prefix("npm warn"), Level::Warn, "npm ≥ 10"),
];

/// Python's last traceback line: `ValueError: …`, `mod.SomeError: …`, `…Exception: …`.
fn python_exception(line: &str) -> bool {
    let Some((name, _)) = line.split_once(": ") else {
        return false;
    };
    let last = name.rsplit('.').next().unwrap_or(name);
    !name.contains(' ')
        && (last.ends_with("Error") || last.ends_with("Exception"))
        && last.starts_with(|c: char| c.is_ascii_uppercase())
}

/// The level a console line shows, or `None` when it shows none (then: info).
pub fn line_level(line: &str) -> Option<Level> {
    let l = line.trim_start();
    if let Some((_, level, _)) = LINE_LEVELS.iter().find(|(shape, _, _)| shape.matches(l)) {
        return Some(*level);
    }
    // `java.io.IOException: …`, `ValueError: …`: an exception class named first.
    python_exception(l).then_some(Level::Error)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn common_shapes_get_their_level() {
        let cases: &[(&str, Option<Level>)] = &[
            (
                "java.lang.OutOfMemoryError: Java heap space",
                Some(Level::Fatal),
            ),
            (
                "Exception in thread \"main\" java.lang.OutOfMemoryError: Java heap space",
                Some(Level::Fatal),
            ),
            (
                "Exception in thread \"main\" java.lang.IllegalStateException: x",
                Some(Level::Error),
            ),
            (
                "Caused by: java.net.ConnectException: Connection refused",
                Some(Level::Error),
            ),
            ("java.io.IOException: disk full", Some(Level::Error)),
            ("Traceback (most recent call last):", Some(Level::Error)),
            ("ValueError: invalid literal for int()", Some(Level::Error)),
            (
                "requests.exceptions.ConnectionError: boom",
                Some(Level::Error),
            ),
            (
                "panic: runtime error: invalid memory address",
                Some(Level::Fatal),
            ),
            (
                "fatal error: all goroutines are asleep - deadlock!",
                Some(Level::Fatal),
            ),
            ("goroutine 1 [running]:", Some(Level::Error)),
            (
                "thread 'main' panicked at src/main.rs:2:5:",
                Some(Level::Fatal),
            ),
            ("FATAL: command execution failed", Some(Level::Fatal)),
            ("ERROR: script returned exit code 1", Some(Level::Error)),
            ("[ERROR] Failed to execute goal", Some(Level::Error)),
            ("[ERROR] BUILD FAILURE", Some(Level::Error)),
            ("BUILD FAILURE", Some(Level::Error)),
            ("npm ERR! code ELIFECYCLE", Some(Level::Error)),
            ("npm error code 1", Some(Level::Error)),
            (
                "FAILURE: Build failed with an exception.",
                Some(Level::Error),
            ),
            ("BUILD FAILED in 12s", Some(Level::Error)),
            ("error: could not compile `app`", Some(Level::Error)),
            ("error[E0308]: mismatched types", Some(Level::Error)),
            (
                "FATAL ERROR: Reached heap limit Allocation failed",
                Some(Level::Fatal),
            ),
            ("  [WARNING] deprecated", Some(Level::Warn)),
            ("npm WARN deprecated x@1", Some(Level::Warn)),
            ("warning: unused variable", Some(Level::Warn)),
            ("[INFO] BUILD SUCCESS", None),
            ("Finished: SUCCESS", None),
            ("Compiling app v0.1.0", None),
            ("Note: this is fine", None),
            ("errors were handled: none", None),
        ];
        for (line, want) in cases {
            assert_eq!(line_level(line), *want, "{line}");
        }
    }
}
