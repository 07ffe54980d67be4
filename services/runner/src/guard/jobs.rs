//! Which jobs the runner may touch: allowed globs, then denied globs that win over them.

use globset::{Glob, GlobBuilder, GlobMatcher};

/// A compiled list of job globs, remembered with their source text for reasons.
#[derive(Debug, Clone)]
pub struct JobGlobs {
    globs: Vec<(String, GlobMatcher)>,
}

impl JobGlobs {
    /// `*` and `?` stay inside one folder level (`team/*` is not `team/sub/app`); `**`
    /// crosses levels. Denied patterns ignore case: a deny list must not be dodged by
    /// writing `PROD-db` where `prod-*` was meant.
    pub fn compile(patterns: &[String], case_insensitive: bool) -> Result<Self, String> {
        let mut globs = Vec::with_capacity(patterns.len());
        for p in patterns {
            let glob: Glob = GlobBuilder::new(p)
                .literal_separator(true)
                .case_insensitive(case_insensitive)
                .build()
                .map_err(|e| format!("invalid glob `{p}`: {}", e.kind()))?;
            globs.push((p.clone(), glob.compile_matcher()));
        }
        Ok(JobGlobs { globs })
    }

    /// The first pattern matching `job`.
    pub fn matching(&self, job: &str) -> Option<&str> {
        self.globs
            .iter()
            .find(|(_, m)| m.is_match(job))
            .map(|(p, _)| p.as_str())
    }

    pub fn is_empty(&self) -> bool {
        self.globs.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn globs(list: &[&str], ci: bool) -> JobGlobs {
        let list: Vec<String> = list.iter().map(|s| s.to_string()).collect();
        JobGlobs::compile(&list, ci).unwrap()
    }

    #[test]
    fn stars_stay_within_a_folder() {
        let g = globs(&["deploy-*", "team/*", "infra/**"], false);
        assert_eq!(g.matching("deploy-prod"), Some("deploy-*"));
        assert_eq!(g.matching("team/app"), Some("team/*"));
        assert_eq!(g.matching("team/sub/app"), None);
        assert_eq!(g.matching("infra/a/b"), Some("infra/**"));
        assert_eq!(g.matching("other"), None);
        assert_eq!(g.matching("Deploy-prod"), None, "allow is case sensitive");
    }

    #[test]
    fn deny_patterns_ignore_case_and_bad_ones_are_refused() {
        let g = globs(&["prod-*"], true);
        assert_eq!(g.matching("PROD-db"), Some("prod-*"));
        assert!(globs(&[], false).is_empty());
        let err = JobGlobs::compile(&["[".into()], false).unwrap_err();
        assert!(err.contains("invalid glob `[`"), "{err}");
    }
}
