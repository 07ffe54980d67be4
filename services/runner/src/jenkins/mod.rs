//! JenkinsClient: see helper work.
