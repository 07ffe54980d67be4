//! The jobs actions may target (`guard.allowed_jobs`, the runner's list), compiled once:
//! checked by the settings at start and by the bot before anything is sent.

use globset::{GlobBuilder, GlobMatcher};

/// The jobs actions may target (`guard.allowed_jobs`, the runner's list).
#[derive(Debug, Clone)]
pub struct JobAllowlist {
    globs: Vec<(String, GlobMatcher)>,
}

impl JobAllowlist {
    pub fn new(patterns: &[String]) -> Result<Self, String> {
        let mut globs = Vec::new();
        for p in patterns {
            let g = GlobBuilder::new(p)
                .literal_separator(true)
                .build()
                .map_err(|e| format!("invalid glob `{p}`: {}", e.kind()))?;
            globs.push((p.clone(), g.compile_matcher()));
        }
        Ok(JobAllowlist { globs })
    }

    pub fn check(&self, job: &str) -> Result<(), String> {
        if self.globs.iter().any(|(_, m)| m.is_match(job)) {
            return Ok(());
        }
        if self.globs.is_empty() {
            return Err(format!(
                "job `{job}` is not allowed: no job is (set guard.allowed_jobs)"
            ));
        }
        let list: Vec<&str> = self.globs.iter().map(|(p, _)| p.as_str()).collect();
        Err(format!(
            "job `{job}` is not in the allow-list ({})",
            list.join(", ")
        ))
    }
}
