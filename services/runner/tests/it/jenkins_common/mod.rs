//! What the Jenkins client tests share: fast settings, a fake Jenkins, and call traces.

#![allow(dead_code)]

use std::time::Duration;

use runner::jenkins::{JenkinsClient, JenkinsSettings, JobName};
use testkit::jenkins::{FakeJenkins, FakeJenkinsConfig, RecordedCall};

pub const TOKEN: &str = "tok-7f3a-SECRET-9b2c";

pub fn fast_settings(url: &str) -> JenkinsSettings {
    let mut s = JenkinsSettings::new(url);
    s.request_timeout_ms = 2_000;
    s.poll_interval_ms = 5;
    s.queue_timeout_secs = 5;
    s.wait_timeout_secs = 5;
    s
}

pub fn client(fake: &FakeJenkins) -> JenkinsClient {
    JenkinsClient::new(fast_settings(&fake.url())).expect("client")
}

pub async fn fake(csrf: bool) -> FakeJenkins {
    FakeJenkins::start(FakeJenkinsConfig {
        csrf,
        queue_delay: Duration::from_millis(15),
        build_duration: Duration::from_millis(30),
        ..FakeJenkinsConfig::default()
    })
    .await
}

pub fn job(name: &str) -> JobName {
    JobName::parse(name).expect("valid job name")
}

pub fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
    list.iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

/// `METHOD path` of every call, with consecutive repeats (queue polls) collapsed.
pub fn trace(calls: &[RecordedCall]) -> Vec<String> {
    let mut out: Vec<String> = calls
        .iter()
        .map(|c| format!("{} {}", c.method, c.path))
        .collect();
    out.dedup();
    out
}
