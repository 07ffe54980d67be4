//! Finding out from Jenkins whether a trigger whose answer was never recorded (its runner
//! was lost during the POST) was accepted: a queued item or a build of the triggered job,
//! numbered from the `nextBuildNumber` read before the POST, with the parameters sent.
//! Read-only: nothing here triggers anything.

use serde::Deserialize;
use serde_json::Value;

use super::client::{JenkinsClient, Trigger};
use super::error::JenkinsError;
use super::job::JobName;
use super::model::{BuildJson, BuildResult, JenkinsOutcome};

/// How many builds since the marker are read one by one, at most: more than that means the
/// job is too busy to tell which one is ours.
const MAX_CANDIDATES: i64 = 20;

/// What Jenkins shows of a trigger sent by a lost runner.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Found {
    /// Still waiting in the queue, as item `queue_id`.
    Queued(i64),
    /// Build `number` (from queue item `queue_id`, when Jenkins says) is the trigger's.
    Build { number: i64, queue_id: Option<i64> },
    /// No queued item and no build since the marker carries the trigger's parameters:
    /// Jenkins did not accept it.
    Nothing,
    /// More than one item or build could be the trigger's (or the marker is missing):
    /// which one, if any, is unknown. The numbers are the candidates.
    Ambiguous(Vec<i64>),
}

/// `GET /queue/api/json`.
#[derive(Debug, Deserialize)]
struct QueueJson {
    #[serde(default)]
    items: Vec<QueuedJson>,
}

#[derive(Debug, Deserialize)]
struct QueuedJson {
    id: i64,
    #[serde(default)]
    task: Option<TaskJson>,
    #[serde(default)]
    actions: Vec<Value>,
}

#[derive(Debug, Deserialize)]
struct TaskJson {
    #[serde(default)]
    url: Option<String>,
}

/// `GET /job/J/api/json?tree=nextBuildNumber,builds[number]`.
#[derive(Debug, Deserialize)]
struct JobNumbersJson {
    #[serde(default, rename = "nextBuildNumber")]
    next_build_number: Option<i64>,
    #[serde(default)]
    builds: Vec<NumberJson>,
}

#[derive(Debug, Deserialize)]
struct NumberJson {
    number: i64,
}

/// The build's `queueId`, read next to its parameters.
#[derive(Debug, Deserialize)]
struct BuildQueueJson {
    #[serde(default, rename = "queueId")]
    queue_id: Option<i64>,
}

/// Whether every parameter sent is in `have` with the same value (Jenkins adds the job's
/// defaults for the parameters not sent).
fn carries(have: &[(String, String)], sent: &[(String, String)]) -> bool {
    sent.iter().all(|s| have.contains(s))
}

impl JenkinsClient {
    /// `nextBuildNumber` of `job`: the number its next build will get.
    pub async fn next_build_number(&self, job: &JobName) -> Result<Option<i64>, JenkinsError> {
        let path = format!("{}/api/json", job.url_path());
        let info: JobNumbersJson = self
            .http()
            .get_json("get_job", &path, &[("tree", "nextBuildNumber")], || {
                format!("job '{job}'")
            })
            .await?;
        Ok(info.next_build_number.filter(|n| *n > 0))
    }

    /// Looks for what a trigger of `job` with `params`, sent when the job's next build
    /// number was `next_build`, became in Jenkins.
    pub async fn find_trigger(
        &self,
        job: &JobName,
        next_build: Option<i64>,
        params: &[(String, String)],
    ) -> Result<Found, JenkinsError> {
        let queue: QueueJson = self
            .http()
            .get_json(
                "queue",
                "/queue/api/json",
                &[(
                    "tree",
                    "items[id,task[url],actions[parameters[name,value]]]",
                )],
                || "the queue".into(),
            )
            .await?;
        let job_url = format!("{}/", job.url_path());
        let queued: Vec<i64> = queue
            .items
            .iter()
            .filter(|i| {
                i.task
                    .as_ref()
                    .and_then(|t| t.url.as_deref())
                    .is_some_and(|u| {
                        u.trim_end_matches('/')
                            .ends_with(job_url.trim_end_matches('/'))
                    })
            })
            .filter(|i| {
                let b = BuildJson {
                    result: None,
                    building: false,
                    actions: i.actions.clone(),
                };
                carries(&b.parameters(), params)
            })
            .map(|i| i.id)
            .collect();
        let Some(next_build) = next_build else {
            // Without the marker, builds cannot be told apart from earlier ones.
            return Ok(match queued.as_slice() {
                [id] => Found::Queued(*id),
                _ => Found::Ambiguous(queued),
            });
        };
        let path = format!("{}/api/json", job.url_path());
        let info: JobNumbersJson = self
            .http()
            .get_json("get_job", &path, &[("tree", "builds[number]")], || {
                format!("job '{job}'")
            })
            .await?;
        let mut since: Vec<i64> = info
            .builds
            .iter()
            .map(|b| b.number)
            .filter(|n| *n >= next_build)
            .collect();
        since.sort_unstable();
        if since.len() as i64 > MAX_CANDIDATES {
            return Ok(Found::Ambiguous(since));
        }
        let mut builds = Vec::new();
        for n in since {
            let build = self.get_build(job, n).await?;
            if carries(&build.parameters(), params) {
                builds.push(n);
            }
        }
        Ok(match (queued.as_slice(), builds.as_slice()) {
            ([], []) => Found::Nothing,
            ([id], []) => Found::Queued(*id),
            ([], [n]) => {
                let path = format!("{}/{n}/api/json", job.url_path());
                let q: BuildQueueJson = self
                    .http()
                    .get_json("get_build", &path, &[("tree", "queueId")], || {
                        format!("build #{n} of job '{job}'")
                    })
                    .await?;
                Found::Build {
                    number: *n,
                    queue_id: q.queue_id.filter(|q| *q > 0),
                }
            }
            _ => Found::Ambiguous(builds),
        })
    }

    /// Whether build `number` of `job` is building, and its result.
    pub async fn build_state(
        &self,
        job: &JobName,
        number: i64,
    ) -> Result<(bool, Option<BuildResult>), JenkinsError> {
        let b = self.get_build(job, number).await?;
        Ok((b.building, b.result.as_deref().map(BuildResult::parse)))
    }

    /// The outcome of a trigger found as build `number`, waited for when configured.
    pub async fn follow_build(
        &self,
        trigger: &Trigger,
        number: i64,
        queue_id: Option<i64>,
    ) -> JenkinsOutcome {
        let outcome = JenkinsOutcome {
            action: trigger.action,
            job: trigger.job.to_string(),
            triggered_job: trigger.triggered.to_string(),
            queue_id,
            build_number: number,
            build_url: Some(format!(
                "{}{}/{number}/",
                self.http().base(),
                trigger.triggered.url_path()
            )),
            parameters: trigger.parameters.clone(),
            rollback_target: trigger.rollback_target,
            result: None,
            wait_error: None,
            duration: Default::default(),
        };
        self.wait_if_configured(outcome).await
    }
}

#[cfg(test)]
mod tests {
    use super::carries;

    fn p(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn a_build_carries_what_was_sent_plus_defaults() {
        let sent = p(&[("TARGET_BUILD", "4")]);
        assert!(carries(
            &p(&[("TARGET_BUILD", "4"), ("ENV", "prod")]),
            &sent
        ));
        assert!(!carries(&p(&[("TARGET_BUILD", "3")]), &sent));
        assert!(carries(&p(&[("X", "1")]), &[]));
    }
}
