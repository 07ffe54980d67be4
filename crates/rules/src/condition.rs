//! Compiled conditions: a tree evaluated on every log (`matches`, the hot path) and, for
//! `rules test` and explanations, the same tree telling why it did not match (`why_not`).

use globset::GlobMatcher;
use regex::Regex;

use domain::Level;

use super::view::LogView;

/// A condition with its place in the rules file (`when.any[1].message_contains`), kept for
/// explanations, and its position among its siblings (children are reordered by cost).
#[derive(Debug, Clone)]
pub(crate) struct Node {
    pub cond: Cond,
    pub path: String,
    pub pos: usize,
}

#[derive(Debug, Clone)]
pub(crate) enum Cond {
    Levels {
        mask: u8,
        names: String,
    },
    /// `needle` is already lowercased when `case_insensitive`.
    Contains {
        needle: String,
        shown: String,
        case_insensitive: bool,
    },
    Regex {
        re: Regex,
        case_insensitive: bool,
    },
    Status(StatusSet),
    LatencyOver(f64),
    Glob {
        field: GlobField,
        glob: String,
        matcher: GlobMatcher,
    },
    /// Uppercase method names, compared ignoring ASCII case.
    Method(Vec<String>),
    All(Vec<Node>),
    Any(Vec<Node>),
    Not(Box<Node>),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum GlobField {
    Job,
    Path,
    Service,
}

impl GlobField {
    fn name(self) -> &'static str {
        match self {
            GlobField::Job => "job_name",
            GlobField::Path => "path",
            GlobField::Service => "service",
        }
    }

    fn value<'a>(self, v: &LogView<'a>) -> Option<&'a str> {
        match self {
            GlobField::Job => v.job(),
            GlobField::Path => v.path(),
            GlobField::Service => v.service(),
        }
    }
}

pub(crate) fn level_bit(level: Level) -> u8 {
    1 << (level as u8)
}

/// HTTP statuses 100..=599 as a bitset: membership is one shift, whatever the ranges.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct StatusSet {
    bits: [u64; 8],
    /// The ranges as written, normalised (`500-599, 429`), for explanations.
    pub shown: String,
}

impl StatusSet {
    pub fn new(ranges: &[(u16, u16)], shown: String) -> Self {
        let mut bits = [0u64; 8];
        for &(lo, hi) in ranges {
            for s in lo..=hi {
                let i = usize::from(s - 100);
                bits[i / 64] |= 1 << (i % 64);
            }
        }
        StatusSet { bits, shown }
    }

    pub fn contains(&self, status: u16) -> bool {
        if !(100..=599).contains(&status) {
            return false;
        }
        let i = usize::from(status - 100);
        self.bits[i / 64] >> (i % 64) & 1 == 1
    }
}

fn ci_note(case_insensitive: bool) -> &'static str {
    if case_insensitive {
        " (case-insensitive)"
    } else {
        ""
    }
}

impl Node {
    /// Rough relative cost, so that `all`/`any` try cheap checks (level, status) before
    /// globs, substring searches and regexes.
    pub fn cost(&self) -> u32 {
        match &self.cond {
            Cond::Levels { .. } | Cond::Status(_) | Cond::LatencyOver(_) => 1,
            Cond::Method(_) => 2,
            Cond::Glob { .. } => 4,
            Cond::Contains { .. } => 8,
            Cond::Regex { .. } => 16,
            Cond::Not(n) => n.cost(),
            Cond::All(c) | Cond::Any(c) => c.iter().map(Node::cost).sum(),
        }
    }

    pub fn matches(&self, v: &LogView<'_>) -> bool {
        match &self.cond {
            Cond::Levels { mask, .. } => mask & level_bit(v.level()) != 0,
            Cond::Contains {
                needle,
                case_insensitive: false,
                ..
            } => v.message().contains(needle.as_str()),
            Cond::Contains { needle, .. } => v.message_lower().contains(needle.as_str()),
            Cond::Regex { re, .. } => re.is_match(v.message()),
            Cond::Status(set) => v.status().is_some_and(|s| set.contains(s)),
            Cond::LatencyOver(limit) => v.latency_ms().is_some_and(|ms| ms > *limit),
            Cond::Glob { field, matcher, .. } => {
                field.value(v).is_some_and(|s| matcher.is_match(s))
            }
            Cond::Method(methods) => v
                .method()
                .is_some_and(|m| methods.iter().any(|x| x.eq_ignore_ascii_case(m))),
            Cond::All(children) => children.iter().all(|c| c.matches(v)),
            Cond::Any(children) => children.iter().any(|c| c.matches(v)),
            Cond::Not(inner) => !inner.matches(v),
        }
    }

    /// `None` when the condition holds, else a readable reason naming the failing part.
    /// Must agree with [`Node::matches`]; a test checks that it does.
    pub fn why_not(&self, v: &LogView<'_>) -> Option<String> {
        if self.matches(v) {
            return None;
        }
        let path = &self.path;
        Some(match &self.cond {
            Cond::Levels { names, .. } => {
                format!("{path}: level is {}, rule wants {names}", v.level())
            }
            Cond::Contains {
                shown,
                case_insensitive,
                ..
            } => format!("{path} {shown:?} not found{}", ci_note(*case_insensitive)),
            Cond::Regex {
                re,
                case_insensitive,
            } => format!(
                "{path} {:?} does not match the message{}",
                re.as_str(),
                ci_note(*case_insensitive)
            ),
            Cond::Status(set) => match v.status() {
                Some(s) => format!("{path}: http_status {s} is not in {}", set.shown),
                None => format!("{path}: http_status is absent"),
            },
            Cond::LatencyOver(limit) => match v.latency_ms() {
                Some(ms) => format!("{path}: latency_ms {ms} is not over {limit}"),
                None => format!("{path}: latency_ms is absent"),
            },
            Cond::Glob { field, glob, .. } => match field.value(v) {
                Some(s) => format!("{path}: {} {s:?} does not match {glob:?}", field.name()),
                None => format!("{path}: {} is absent", field.name()),
            },
            Cond::Method(methods) => match v.method() {
                Some(m) => format!("{path}: http_method {m} is not {}", methods.join(" or ")),
                None => format!("{path}: http_method is absent"),
            },
            Cond::All(children) => children.iter().find_map(|c| c.why_not(v))?,
            Cond::Any(children) => {
                let mut failed: Vec<_> = children.iter().collect();
                failed.sort_by_key(|c| c.pos);
                let reasons: Vec<_> = failed.iter().filter_map(|c| c.why_not(v)).collect();
                format!("{path}: none matched ({})", reasons.join("; "))
            }
            Cond::Not(inner) => {
                format!("{} matched, rule wants it not to", inner.describe())
            }
        })
    }

    /// What the condition asks for, e.g. `when.not.message_contains "x"`.
    pub fn describe(&self) -> String {
        let path = &self.path;
        match &self.cond {
            Cond::Levels { names, .. } => format!("{path} [{names}]"),
            Cond::Contains { shown, .. } => format!("{path} {shown:?}"),
            Cond::Regex { re, .. } => format!("{path} {:?}", re.as_str()),
            Cond::Status(set) => format!("{path} {}", set.shown),
            Cond::LatencyOver(limit) => format!("{path} {limit}"),
            Cond::Glob { glob, .. } => format!("{path} {glob:?}"),
            Cond::Method(m) => format!("{path} {}", m.join(" or ")),
            Cond::All(_) | Cond::Any(_) | Cond::Not(_) => path.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_sets_hold_exactly_their_ranges() {
        let set = StatusSet::new(&[(429, 429), (500, 504)], "429, 500-504".into());
        for s in [429, 500, 502, 504] {
            assert!(set.contains(s), "{s}");
        }
        for s in [0, 99, 100, 428, 430, 499, 505, 599, 600, 611, 700] {
            assert!(!set.contains(s), "{s}");
        }
        let all = StatusSet::new(&[(100, 599)], String::new());
        assert!(all.contains(100) && all.contains(599) && !all.contains(600));
    }

    #[test]
    fn level_bits_are_distinct() {
        let mask = Level::ALL.iter().fold(0u8, |m, l| {
            assert_eq!(m & level_bit(*l), 0);
            m | level_bit(*l)
        });
        assert_eq!(mask.count_ones(), 5);
    }
}
