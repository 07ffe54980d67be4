//! In-memory Jenkins: jobs, builds, the queue, faults and the call record.

use std::collections::{BTreeMap, VecDeque};
use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio::time::Instant;

use super::config::FakeJenkinsConfig;

/// Which Jenkins endpoint a call addressed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Endpoint {
    Root,
    CrumbIssuer,
    QueueItem,
    Queue,
    JobApi,
    JobPage,
    Build,
    BuildWithParameters,
    BuildApi,
    BuildPage,
    Stop,
    Unknown,
}

/// One HTTP request the fake received.
#[derive(Debug, Clone)]
pub struct RecordedCall {
    pub method: String,
    /// The path as sent, still percent-encoded.
    pub path: String,
    /// The job addressed, decoded the way Jenkins decodes it (`team/my app`).
    pub job: Option<String>,
    /// The build number in the path, if any.
    pub build: Option<i64>,
    pub endpoint: Endpoint,
    pub query: Vec<(String, String)>,
    pub form: Vec<(String, String)>,
    /// Value of the `Jenkins-Crumb` header.
    pub crumb: Option<String>,
    pub auth_present: bool,
    /// Status answered; `None` while in flight or when the client gave up.
    pub status: Option<u16>,
    /// For a trigger: the queue item it created.
    pub queue_id: Option<i64>,
    /// For a trigger: the build its queue item started, once it has.
    pub started_build: Option<i64>,
    pub at: Instant,
    pub at_utc: DateTime<Utc>,
}

impl RecordedCall {
    pub fn is_trigger(&self) -> bool {
        self.method == "POST"
            && matches!(
                self.endpoint,
                Endpoint::Build | Endpoint::BuildWithParameters
            )
    }

    pub fn has_crumb(&self) -> bool {
        self.crumb.is_some()
    }

    pub fn form_value(&self, name: &str) -> Option<&str> {
        self.form
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// What kind of job a fake job is: it decides the classes in the JSON and how a build's
/// commits are shown (`changeSets` for Pipeline, `changeSet` for freestyle), as in Jenkins.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum JobKind {
    #[default]
    Freestyle,
    Pipeline,
}

/// One git commit of a build's change log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FakeCommit {
    /// The SHA (`commitId`).
    pub id: String,
    pub author: Option<String>,
    pub email: Option<String>,
    /// The whole message (`comment`); its first line is `msg`.
    pub message: String,
    /// Epoch milliseconds.
    pub timestamp_ms: i64,
    pub paths: Vec<String>,
}

impl FakeCommit {
    pub fn new(id: &str, author: &str, message: &str) -> Self {
        FakeCommit {
            id: id.to_owned(),
            author: Some(author.to_owned()),
            email: None,
            message: message.to_owned(),
            timestamp_ms: Utc::now().timestamp_millis(),
            paths: Vec::new(),
        }
    }

    pub fn paths(mut self, paths: &[&str]) -> Self {
        self.paths = paths.iter().map(|p| (*p).to_owned()).collect();
        self
    }

    pub fn at(mut self, timestamp_ms: i64) -> Self {
        self.timestamp_ms = timestamp_ms;
        self
    }

    pub fn email(mut self, email: &str) -> Self {
        self.email = Some(email.to_owned());
        self
    }
}

/// A build as the fake holds it.
#[derive(Debug, Clone, PartialEq)]
pub struct FakeBuild {
    pub number: i64,
    /// `None` while building.
    pub result: Option<String>,
    pub building: bool,
    pub params: Vec<(String, String)>,
    pub queue_id: Option<i64>,
    pub started_at: Option<Instant>,
    pub finished_at: Option<Instant>,
    pub timestamp_ms: i64,
    /// The change log: the commits this build picked up.
    pub commits: Vec<FakeCommit>,
}

#[derive(Debug, Default)]
pub(crate) struct Job {
    pub kind: JobKind,
    pub builds: BTreeMap<i64, FakeBuild>,
    pub next_build_number: i64,
}

#[derive(Debug)]
pub(crate) struct QueueItem {
    pub job: String,
    pub params: Vec<(String, String)>,
    pub since_ms: i64,
    pub cancel: bool,
    pub cancelled: bool,
    pub build: Option<i64>,
    pub call_index: Option<usize>,
}

#[derive(Debug)]
pub(crate) struct FailRule {
    pub method: Option<String>,
    pub path_prefix: String,
    pub remaining: usize,
    pub status: u16,
}

#[derive(Debug)]
pub(crate) struct State {
    pub jobs: BTreeMap<String, Job>,
    pub queue: BTreeMap<i64, QueueItem>,
    pub next_queue_id: i64,
    pub calls: Vec<RecordedCall>,
    pub csrf: bool,
    pub crumb: String,
    crumb_generation: u64,
    pub fail_rules: Vec<FailRule>,
    pub delays: Vec<(Option<String>, Duration)>,
    pub down: bool,
    pub cancel_next: usize,
    pub next_results: VecDeque<String>,
    pub running: usize,
    pub max_running: usize,
    rng: u64,
}

impl State {
    pub fn new(config: &FakeJenkinsConfig) -> Self {
        let mut state = Self {
            jobs: BTreeMap::new(),
            queue: BTreeMap::new(),
            next_queue_id: 1,
            calls: Vec::new(),
            csrf: config.csrf,
            crumb: String::new(),
            crumb_generation: 0,
            fail_rules: Vec::new(),
            delays: Vec::new(),
            down: false,
            cancel_next: 0,
            next_results: VecDeque::new(),
            running: 0,
            max_running: 0,
            rng: config.seed | 1,
        };
        state.rotate_crumb();
        state
    }

    pub fn rotate_crumb(&mut self) -> String {
        self.crumb_generation += 1;
        self.crumb = format!("crumb-{:016x}", self.next_random() ^ self.crumb_generation);
        self.crumb.clone()
    }

    /// xorshift64: enough randomness for crumbs and failure rates, reproducible by seed.
    pub fn next_random(&mut self) -> u64 {
        let mut x = self.rng;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.rng = x;
        x
    }

    pub fn is_folder(&self, name: &str) -> bool {
        let prefix = format!("{name}/");
        !self.jobs.contains_key(name) && self.jobs.keys().any(|k| k.starts_with(&prefix))
    }

    pub fn add_job(&mut self, name: &str) {
        self.jobs.entry(name.to_owned()).or_insert_with(|| Job {
            kind: JobKind::Freestyle,
            builds: BTreeMap::new(),
            next_build_number: 1,
        });
    }

    /// Replaces the commits of a build; false when the build does not exist.
    pub fn set_commits(&mut self, job: &str, number: i64, commits: Vec<FakeCommit>) -> bool {
        match self
            .jobs
            .get_mut(job)
            .and_then(|j| j.builds.get_mut(&number))
        {
            Some(build) => {
                build.commits = commits;
                true
            }
            None => false,
        }
    }

    pub fn add_build(
        &mut self,
        job: &str,
        number: i64,
        result: Option<&str>,
        params: Vec<(String, String)>,
    ) {
        self.add_job(job);
        let building = result.is_none();
        let now = Instant::now();
        let entry = self.jobs.get_mut(job).expect("job just added");
        entry.next_build_number = entry.next_build_number.max(number + 1);
        // Replacing a build (to finish it, say) keeps the commits it was given.
        let commits = entry
            .builds
            .get(&number)
            .map(|b| b.commits.clone())
            .unwrap_or_default();
        let previous = entry.builds.insert(
            number,
            FakeBuild {
                number,
                result: result.map(str::to_owned),
                building,
                params,
                queue_id: None,
                started_at: Some(now),
                finished_at: (!building).then_some(now),
                timestamp_ms: Utc::now().timestamp_millis(),
                commits,
            },
        );
        let was_building = previous.is_some_and(|b| b.building);
        match (was_building, building) {
            (false, true) => self.build_started(),
            (true, false) => self.running -= 1,
            _ => {}
        }
    }

    fn build_started(&mut self) {
        self.running += 1;
        self.max_running = self.max_running.max(self.running);
    }

    /// A queue item whose delay passed: start its build, unless it is to be cancelled.
    pub fn start_queued(&mut self, queue_id: i64) -> Option<(String, i64)> {
        let item = self.queue.get_mut(&queue_id)?;
        if item.cancel {
            item.cancelled = true;
            return None;
        }
        let job_name = item.job.clone();
        let params = item.params.clone();
        let call_index = item.call_index;
        let job = self.jobs.get_mut(&job_name)?;
        let number = job.next_build_number;
        job.next_build_number += 1;
        job.builds.insert(
            number,
            FakeBuild {
                number,
                result: None,
                building: true,
                params,
                queue_id: Some(queue_id),
                started_at: Some(Instant::now()),
                finished_at: None,
                timestamp_ms: Utc::now().timestamp_millis(),
                // A rebuild checks out what is there now: nothing new since the last build.
                commits: Vec::new(),
            },
        );
        if let Some(item) = self.queue.get_mut(&queue_id) {
            item.build = Some(number);
        }
        if let Some(call) = call_index.and_then(|i| self.calls.get_mut(i)) {
            call.started_build = Some(number);
        }
        self.build_started();
        Some((job_name, number))
    }

    /// Ends a running build with its result; a build stopped meanwhile stays ABORTED.
    pub fn finish_build(&mut self, job: &str, number: i64, config: &FakeJenkinsConfig) {
        let building = self
            .jobs
            .get(job)
            .and_then(|j| j.builds.get(&number))
            .is_some_and(|b| b.building);
        if !building {
            return;
        }
        let result = self.next_result(config);
        if let Some(build) = self
            .jobs
            .get_mut(job)
            .and_then(|j| j.builds.get_mut(&number))
        {
            build.building = false;
            build.result = Some(result);
            build.finished_at = Some(Instant::now());
            self.running -= 1;
        }
    }

    /// The result the next finishing build gets.
    fn next_result(&mut self, config: &FakeJenkinsConfig) -> String {
        if let Some(result) = self.next_results.pop_front() {
            return result;
        }
        if config.fail_rate > 0.0 {
            let draw = (self.next_random() >> 11) as f64 / (1u64 << 53) as f64;
            if draw < config.fail_rate {
                return "FAILURE".to_owned();
            }
        }
        config.default_result.clone()
    }

    /// Marks a build ABORTED if it is running. Returns false for an unknown build.
    pub fn stop_build(&mut self, job: &str, number: i64) -> bool {
        let Some(build) = self
            .jobs
            .get_mut(job)
            .and_then(|j| j.builds.get_mut(&number))
        else {
            return false;
        };
        if build.building {
            build.building = false;
            build.result = Some("ABORTED".to_owned());
            build.finished_at = Some(Instant::now());
            self.running -= 1;
        }
        true
    }

    /// The status an injected failure rule assigns to this request, if any.
    pub fn take_failure(&mut self, method: &str, path: &str) -> Option<u16> {
        let rule = self.fail_rules.iter_mut().find(|r| {
            r.remaining > 0
                && r.method
                    .as_deref()
                    .is_none_or(|m| m.eq_ignore_ascii_case(method))
                && path.starts_with(&r.path_prefix)
        })?;
        rule.remaining -= 1;
        let status = rule.status;
        self.fail_rules.retain(|r| r.remaining > 0);
        Some(status)
    }

    pub fn delay_for(&self, path: &str) -> Duration {
        self.delays
            .iter()
            .filter(|(prefix, _)| prefix.as_deref().is_none_or(|p| path.starts_with(p)))
            .map(|(_, d)| *d)
            .max()
            .unwrap_or_default()
    }
}
