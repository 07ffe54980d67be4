//! Writes realistic Jenkins and API log documents into Elasticsearch, for demos
//! (`docker compose --profile demo up`).
//!
//! The documents use the ECS field names the listener reads by default: `@timestamp`,
//! `log.level`, `message`; Jenkins `jenkins.job.name`, `jenkins.build.number`; API
//! `http.request.method`, `http.response.status_code`, `url.path`, `event.duration`
//! (nanoseconds) and `service.name`. They go to the data streams `logs-jenkins-<ns>` and
//! `logs-api-<ns>` (bulk `create`, as data streams require), which the listener's default
//! patterns `logs-jenkins*` and `logs-api*` match.
//!
//! The story repeats: builds run and succeed; every `--fail-every-secs` one job's build fails
//! ("Finished: FAILURE", the default rules restart it) and its next build succeeds (which
//! resolves the incident); every `--burst-every-secs` one endpoint answers a burst of 503s
//! (more than the default threshold of 5 in a minute).
//!
//! With `--jenkins-url` every build it logs is first triggered on that Jenkins (jenkins-sim in
//! docker compose) and logged under the number Jenkins gave it, so that the runner's actions on
//! those builds find them; without it, build numbers count up from `--first-build`.
//!
//! `log-generator --url http://elasticsearch:9200 --username runbooks-ingest --password ...`

use std::time::Duration;

use anyhow::Context;
use chrono::{DateTime, SecondsFormat, Utc};
use clap::Parser;
use serde_json::{Value, json};

#[derive(Debug, Parser)]
#[command(
    name = "log-generator",
    about = "Writes demo Jenkins and API logs into Elasticsearch"
)]
struct Args {
    /// Elasticsearch base URL.
    #[arg(
        long,
        env = "ELASTICSEARCH_URL",
        default_value = "http://127.0.0.1:9200"
    )]
    url: String,
    /// Basic-auth user (a user allowed to create documents in logs-jenkins-* and logs-api-*).
    #[arg(long, env = "ELASTICSEARCH_USERNAME")]
    username: Option<String>,
    #[arg(long, env = "ELASTICSEARCH_PASSWORD", hide_env_values = true)]
    password: Option<String>,
    /// Data stream namespace: documents go to logs-jenkins-<ns> and logs-api-<ns>.
    #[arg(long, default_value = "demo")]
    namespace: String,
    /// Comma-separated Jenkins jobs whose builds are logged.
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "deploy-prod,api-gateway,build-app"
    )]
    jobs: Vec<String>,
    /// Jenkins (e.g. jenkins-sim) on which each logged build is triggered first; its build
    /// numbers are the ones logged. Without it the numbers are invented.
    #[arg(long, env = "LOG_GENERATOR_JENKINS_URL")]
    jenkins_url: Option<String>,
    /// File touched after every bulk request Elasticsearch accepted: a container healthcheck
    /// can tell from its age that documents are flowing.
    #[arg(long, env = "LOG_GENERATOR_HEARTBEAT_FILE")]
    heartbeat_file: Option<std::path::PathBuf>,
    /// First build number per job when there is no --jenkins-url.
    #[arg(long, default_value_t = 6)]
    first_build: i64,
    /// Ordinary API requests logged per second.
    #[arg(long, default_value_t = 5)]
    api_per_sec: u32,
    /// Seconds between two failed builds (0: never).
    #[arg(long, default_value_t = 120)]
    fail_every_secs: u64,
    /// Seconds between two 5xx bursts (0: never).
    #[arg(long, default_value_t = 180)]
    burst_every_secs: u64,
    /// Stop after this many seconds of simulated time (0: run until stopped).
    #[arg(long, default_value_t = 0)]
    duration_secs: u64,
    #[arg(long, default_value_t = 42)]
    seed: u64,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .init();
    let _ = rustls::crypto::ring::default_provider().install_default();
    let args = Args::parse();
    anyhow::ensure!(!args.jobs.is_empty(), "--jobs: name at least one job");
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()?;
    let bulk_url = format!("{}/_bulk", args.url.trim_end_matches('/'));
    let mut generator = Generator::new(&args);
    let jenkins = args
        .jenkins_url
        .as_deref()
        .map(|url| Jenkins::new(client.clone(), url));
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    let mut elapsed = 0u64;
    let mut written = 0usize;
    tracing::info!(url = %args.url, namespace = %args.namespace, "log generator started");
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = tokio::signal::ctrl_c() => break,
        }
        let mut docs = generator.tick(Utc::now());
        for (job, fail) in generator.take_wanted() {
            let name = &args.jobs[job];
            let number = match &jenkins {
                None => generator.invented_number(job),
                Some(j) => match j.trigger(name).await {
                    Ok(n) => n,
                    // Not logged at all: a build Jenkins does not know would make the runner's
                    // actions on it fail.
                    Err(e) => {
                        tracing::warn!(job = %name, error = %e, "cannot trigger the build on jenkins; not logging it");
                        continue;
                    }
                },
            };
            docs.extend(generator.begin(job, fail, number, Utc::now()));
        }
        let body = bulk_body(&docs);
        match send(&client, &bulk_url, &args, body).await {
            Ok(n) => {
                written += n;
                if let Some(path) = &args.heartbeat_file
                    && let Err(e) = std::fs::write(path, elapsed.to_string())
                {
                    tracing::warn!(error = %e, path = %path.display(), "cannot write the heartbeat file");
                }
            }
            // Elasticsearch starting or restarting: this second's documents are dropped, as a
            // log shipper without a buffer would; the next tick tries again.
            Err(e) => tracing::warn!(error = %e, "bulk request failed"),
        }
        elapsed += 1;
        if elapsed.is_multiple_of(60) {
            tracing::info!(written, "documents written so far");
        }
        if args.duration_secs > 0 && elapsed >= args.duration_secs {
            break;
        }
    }
    tracing::info!(written, "log generator stopped");
    Ok(())
}

async fn send(
    client: &reqwest::Client,
    url: &str,
    args: &Args,
    body: String,
) -> anyhow::Result<usize> {
    let mut req = client
        .post(url)
        .header("content-type", "application/x-ndjson")
        .body(body);
    if let Some(user) = &args.username {
        req = req.basic_auth(user, args.password.as_deref());
    }
    let resp = req.send().await.context("elasticsearch unreachable")?;
    let status = resp.status();
    let reply: Value = resp.json().await.context("bulk reply is not JSON")?;
    anyhow::ensure!(
        status.is_success(),
        "elasticsearch answered {status}: {}",
        reply["error"]["reason"]
            .as_str()
            .unwrap_or("no reason given")
    );
    let items = reply["items"].as_array().map(Vec::as_slice).unwrap_or(&[]);
    let failed: Vec<&Value> = items
        .iter()
        .filter(|i| i["create"]["error"].is_object())
        .collect();
    if let Some(first) = failed.first() {
        tracing::warn!(
            failed = failed.len(),
            reason = first["create"]["error"]["reason"].as_str().unwrap_or(""),
            "some documents were refused"
        );
    }
    Ok(items.len() - failed.len())
}

fn bulk_body(docs: &[(String, Value)]) -> String {
    let mut out = String::new();
    for (index, doc) in docs {
        out.push_str(&json!({"create": {"_index": index}}).to_string());
        out.push('\n');
        out.push_str(&doc.to_string());
        out.push('\n');
    }
    out
}

/// A build in progress: the console lines still to be logged, one per tick.
struct Build {
    job: String,
    number: i64,
    lines: Vec<(&'static str, String)>,
}

/// The simulation; pure, so that tests can run hours of it in milliseconds.
struct Generator {
    jenkins_index: String,
    api_index: String,
    jobs: Vec<String>,
    next_build: Vec<i64>,
    running: Vec<Build>,
    /// Builds the simulation wants started (job index, fails), numbered by the caller.
    wanted: Vec<(usize, bool)>,
    api_per_sec: u32,
    fail_every: u64,
    burst_every: u64,
    seconds: u64,
    failures: usize,
    rng: u64,
}

const ENDPOINTS: &[(&str, &str, &str)] = &[
    ("orders-api", "GET", "/api/orders"),
    ("orders-api", "POST", "/api/orders"),
    ("payments-api", "POST", "/api/payments"),
    ("catalog-api", "GET", "/api/products"),
    ("auth-api", "POST", "/api/login"),
];

impl Generator {
    fn new(args: &Args) -> Self {
        Generator {
            jenkins_index: format!("logs-jenkins-{}", args.namespace),
            api_index: format!("logs-api-{}", args.namespace),
            jobs: args.jobs.clone(),
            next_build: vec![args.first_build; args.jobs.len()],
            running: Vec::new(),
            wanted: Vec::new(),
            api_per_sec: args.api_per_sec,
            fail_every: args.fail_every_secs,
            burst_every: args.burst_every_secs,
            seconds: 0,
            failures: 0,
            rng: args.seed.max(1),
        }
    }

    /// xorshift64: reproducible demos without another dependency.
    fn next(&mut self) -> u64 {
        self.rng ^= self.rng << 13;
        self.rng ^= self.rng >> 7;
        self.rng ^= self.rng << 17;
        self.rng
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }

    /// The documents of one simulated second.
    fn tick(&mut self, now: DateTime<Utc>) -> Vec<(String, Value)> {
        self.seconds += 1;
        let mut docs = Vec::new();
        let failing = self.fail_every > 0 && self.seconds.is_multiple_of(self.fail_every);
        if failing {
            let job = self.failures % self.jobs.len();
            self.failures += 1;
            self.start_build(job, true);
        } else if self.seconds.is_multiple_of(15) {
            let job = self.below(self.jobs.len() as u64) as usize;
            if !self.busy(job) {
                self.start_build(job, false);
            }
        }
        // A failed job's next build starts soon after, as a retry would, and succeeds.
        if self.fail_every > 0 && self.seconds % self.fail_every == self.fail_every.min(45) / 3 {
            let job = (self.failures + self.jobs.len() - 1) % self.jobs.len();
            if self.failures > 0 && !self.busy(job) {
                self.start_build(job, false);
            }
        }
        for build in &mut self.running {
            if !build.lines.is_empty() {
                let (level, message) = build.lines.remove(0);
                docs.push((
                    self.jenkins_index.clone(),
                    jenkins_doc(now, level, &message, &build.job, build.number),
                ));
            }
        }
        self.running.retain(|b| !b.lines.is_empty());

        let bursting = self.burst_every > 0 && self.seconds.is_multiple_of(self.burst_every);
        for _ in 0..self.api_per_sec {
            let (service, method, path) = ENDPOINTS[self.below(ENDPOINTS.len() as u64) as usize];
            let roll = self.below(100);
            let status = match roll {
                0..=2 => 404,
                3 => 401,
                4 if method == "POST" => 201,
                _ => 200,
            };
            let latency = 15 + self.below(250);
            docs.push((
                self.api_index.clone(),
                api_doc(now, service, method, path, status, latency),
            ));
        }
        if bursting {
            let (service, method, path) =
                ENDPOINTS[(self.seconds / self.burst_every.max(1)) as usize % ENDPOINTS.len()];
            for _ in 0..7 {
                let latency = 1_000 + self.below(4_000);
                docs.push((
                    self.api_index.clone(),
                    api_doc(now, service, method, path, 503, latency),
                ));
            }
        }
        docs
    }

    fn busy(&self, job: usize) -> bool {
        self.running.iter().any(|b| b.job == self.jobs[job])
            || self.wanted.iter().any(|(j, _)| *j == job)
    }

    fn start_build(&mut self, job: usize, fail: bool) {
        self.wanted.push((job, fail));
    }

    /// The builds the last ticks asked for; each is started with [`Generator::begin`] once it
    /// has a number (from Jenkins, or [`Generator::invented_number`]).
    fn take_wanted(&mut self) -> Vec<(usize, bool)> {
        std::mem::take(&mut self.wanted)
    }

    fn invented_number(&mut self, job: usize) -> i64 {
        let number = self.next_build[job];
        self.next_build[job] += 1;
        number
    }

    /// Starts build `number` of job `job`: its first console line now, the others one per tick.
    fn begin(
        &mut self,
        job: usize,
        fail: bool,
        number: i64,
        now: DateTime<Utc>,
    ) -> Vec<(String, Value)> {
        let name = self.jobs[job].clone();
        let mut lines = vec![
            ("INFO", "Started by timer".to_string()),
            (
                "INFO",
                format!("Running on jenkins-agent-{}", 1 + self.below(3)),
            ),
            ("INFO", "[Pipeline] stage (Build)".to_string()),
            ("INFO", "[Pipeline] stage (Test)".to_string()),
        ];
        if fail {
            lines.push((
                "WARNING",
                "Tests run: 214, Failures: 0, Errors: 0, Skipped: 3".into(),
            ));
            lines.push((
                "ERROR",
                "ERROR: script returned exit code 1 (deploy step)".into(),
            ));
            lines.push(("ERROR", "Finished: FAILURE".into()));
        } else {
            lines.push((
                "INFO",
                "Tests run: 214, Failures: 0, Errors: 0, Skipped: 3".into(),
            ));
            lines.push(("INFO", "[Pipeline] stage (Deploy)".to_string()));
            lines.push(("INFO", "Finished: SUCCESS".into()));
        }
        let (level, first) = lines.remove(0);
        let doc = (
            self.jenkins_index.clone(),
            jenkins_doc(now, level, &first, &name, number),
        );
        self.running.push(Build {
            job: name,
            number,
            lines,
        });
        vec![doc]
    }
}

/// The Jenkins whose builds are logged: `POST /job/<job>/build`, then the queue item until
/// it names the build's number.
struct Jenkins {
    client: reqwest::Client,
    url: String,
}

impl Jenkins {
    fn new(client: reqwest::Client, url: &str) -> Self {
        Jenkins {
            client,
            url: url.trim_end_matches('/').to_owned(),
        }
    }

    async fn trigger(&self, job: &str) -> anyhow::Result<i64> {
        let path: String = job
            .split('/')
            .map(|part| format!("/job/{}", encode_segment(part)))
            .collect();
        let resp = self
            .client
            .post(format!("{}{path}/build", self.url))
            .send()
            .await
            .context("jenkins unreachable")?;
        anyhow::ensure!(
            resp.status().is_success(),
            "jenkins answered {} to the build request",
            resp.status()
        );
        let location = resp
            .headers()
            .get(reqwest::header::LOCATION)
            .and_then(|v| v.to_str().ok())
            .context("jenkins gave no queue item (Location)")?;
        let item = queue_item_id(location)
            .with_context(|| format!("not a queue item location: {location}"))?;
        let item_url = format!("{}/queue/item/{item}/api/json", self.url);
        for _ in 0..60 {
            let reply: Value = self
                .client
                .get(&item_url)
                .send()
                .await
                .context("jenkins unreachable")?
                .error_for_status()?
                .json()
                .await
                .context("queue item is not JSON")?;
            if reply["cancelled"] == true {
                anyhow::bail!("jenkins cancelled the queued build");
            }
            if let Some(number) = reply["executable"]["number"].as_i64() {
                return Ok(number);
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
        anyhow::bail!("the build stayed in the jenkins queue for 30 s")
    }
}

/// `.../queue/item/42/` → 42. Only the id is taken from Jenkins' answer: the item is read back
/// from `--jenkins-url`, whatever host the Location names.
fn queue_item_id(location: &str) -> Option<u64> {
    let rest = location.split("/queue/item/").nth(1)?;
    rest.trim_end_matches('/').parse().ok()
}

/// A job name as one URL path segment.
fn encode_segment(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn timestamp(now: DateTime<Utc>) -> String {
    now.to_rfc3339_opts(SecondsFormat::Millis, true)
}

fn jenkins_doc(now: DateTime<Utc>, level: &str, message: &str, job: &str, build: i64) -> Value {
    json!({
        "@timestamp": timestamp(now),
        "log": {"level": level},
        "message": message,
        "jenkins": {"job": {"name": job}, "build": {"number": build}},
        "service": {"name": "jenkins"},
        "event": {"dataset": "jenkins.console"},
    })
}

fn api_doc(
    now: DateTime<Utc>,
    service: &str,
    method: &str,
    path: &str,
    status: u16,
    latency_ms: u64,
) -> Value {
    let level = match status {
        500.. => "error",
        400.. => "warn",
        _ => "info",
    };
    json!({
        "@timestamp": timestamp(now),
        "log": {"level": level},
        "message": format!("{method} {path} {status} {latency_ms}ms"),
        "http": {"request": {"method": method}, "response": {"status_code": status}},
        "url": {"path": path},
        // ECS: event.duration is in nanoseconds.
        "event": {"duration": latency_ms * 1_000_000, "dataset": "api.access"},
        "service": {"name": service},
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(extra: &[&str]) -> Args {
        let mut argv = vec!["log-generator"];
        argv.extend_from_slice(extra);
        Args::parse_from(argv)
    }

    fn run(g: &mut Generator, secs: u64) -> Vec<(String, Value)> {
        let t0 = Utc::now();
        let mut docs = Vec::new();
        for s in 0..secs {
            let now = t0 + chrono::Duration::seconds(s as i64);
            docs.extend(g.tick(now));
            for (job, fail) in g.take_wanted() {
                let number = g.invented_number(job);
                docs.extend(g.begin(job, fail, number, now));
            }
        }
        docs
    }

    #[tokio::test]
    async fn with_jenkins_the_logged_builds_are_the_ones_jenkins_ran() {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let fake = testkit::jenkins::FakeJenkins::start_on(
            std::net::SocketAddr::from(([127, 0, 0, 1], 0)),
            testkit::jenkins::FakeJenkinsConfig {
                queue_delay: Duration::from_millis(50),
                build_duration: Duration::from_millis(50),
                ..Default::default()
            },
        )
        .await
        .unwrap();
        fake.add_job("api-gateway");
        for n in 1..=5 {
            fake.add_build("api-gateway", n, "SUCCESS", &[]);
        }
        let jenkins = Jenkins::new(reqwest::Client::new(), &format!("{}/", fake.url()));
        assert_eq!(jenkins.trigger("api-gateway").await.unwrap(), 6);
        assert_eq!(jenkins.trigger("api-gateway").await.unwrap(), 7);
        let err = jenkins.trigger("no-such-job").await.unwrap_err();
        assert!(err.to_string().contains("404"), "{err}");
    }

    #[test]
    fn queue_item_ids_come_from_the_location_path() {
        assert_eq!(
            queue_item_id("http://jenkins-sim:8080/queue/item/12/"),
            Some(12)
        );
        assert_eq!(queue_item_id("/queue/item/3"), Some(3));
        assert_eq!(queue_item_id("http://x/job/a/"), None);
        assert_eq!(encode_segment("my app"), "my%20app");
    }

    #[test]
    fn documents_carry_the_fields_the_listener_reads() {
        let mut g = Generator::new(&args(&[]));
        let docs = run(&mut g, 300);
        assert!(docs.iter().any(|(i, _)| i == "logs-jenkins-demo"));
        assert!(docs.iter().any(|(i, _)| i == "logs-api-demo"));
        for (index, doc) in &docs {
            assert!(doc["@timestamp"].is_string(), "{doc}");
            assert!(doc["log"]["level"].is_string(), "{doc}");
            assert!(doc["message"].is_string(), "{doc}");
            if index.starts_with("logs-jenkins") {
                assert!(doc["jenkins"]["job"]["name"].is_string(), "{doc}");
                assert!(doc["jenkins"]["build"]["number"].is_i64(), "{doc}");
            } else {
                assert!(doc["http"]["request"]["method"].is_string(), "{doc}");
                assert!(doc["http"]["response"]["status_code"].is_u64(), "{doc}");
                assert!(doc["url"]["path"].is_string(), "{doc}");
                assert!(doc["service"]["name"].is_string(), "{doc}");
                let ns = doc["event"]["duration"].as_u64().unwrap();
                assert!(ns >= 1_000_000, "duration in nanoseconds: {doc}");
            }
        }
    }

    #[test]
    fn a_failed_build_is_followed_by_a_successful_one_of_the_same_job() {
        let mut g = Generator::new(&args(&["--fail-every-secs", "60"]));
        let docs = run(&mut g, 120);
        let jenkins: Vec<&Value> = docs
            .iter()
            .filter(|(i, _)| i.starts_with("logs-jenkins"))
            .map(|(_, d)| d)
            .collect();
        let failure = jenkins
            .iter()
            .position(|d| d["message"] == "Finished: FAILURE")
            .expect("a failed build within 60 s");
        let job = &jenkins[failure]["jenkins"]["job"]["name"];
        let build = jenkins[failure]["jenkins"]["build"]["number"]
            .as_i64()
            .unwrap();
        assert_eq!(jenkins[failure]["log"]["level"], "ERROR");
        assert!(build >= 6, "build numbers start at --first-build");
        let recovery = jenkins[failure..]
            .iter()
            .find(|d| d["message"] == "Finished: SUCCESS" && &d["jenkins"]["job"]["name"] == job)
            .expect("the same job succeeds afterwards");
        assert!(recovery["jenkins"]["build"]["number"].as_i64().unwrap() > build);
    }

    #[test]
    fn a_burst_exceeds_the_default_5xx_threshold_on_one_endpoint() {
        let mut g = Generator::new(&args(&["--burst-every-secs", "30"]));
        let docs = run(&mut g, 30);
        let errors: Vec<&Value> = docs
            .iter()
            .map(|(_, d)| d)
            .filter(|d| d["http"]["response"]["status_code"] == 503)
            .collect();
        assert!(errors.len() >= 6, "{} 5xx", errors.len());
        let path = &errors[0]["url"]["path"];
        assert!(errors.iter().all(|d| &d["url"]["path"] == path));
        assert!(errors.iter().all(|d| d["log"]["level"] == "error"));
    }

    #[test]
    fn the_same_seed_tells_the_same_story() {
        let strip = |docs: Vec<(String, Value)>| -> Vec<String> {
            docs.into_iter()
                .map(|(i, mut d)| {
                    d["@timestamp"] = Value::Null;
                    format!("{i} {d}")
                })
                .collect()
        };
        let a = strip(run(&mut Generator::new(&args(&[])), 200));
        let b = strip(run(&mut Generator::new(&args(&[])), 200));
        assert_eq!(a, b);
    }

    #[test]
    fn bulk_bodies_are_create_actions_for_data_streams() {
        let body = bulk_body(&[("logs-api-demo".into(), json!({"message": "x"}))]);
        let lines: Vec<Value> = body
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(lines[0], json!({"create": {"_index": "logs-api-demo"}}));
        assert_eq!(lines[1]["message"], "x");
        assert!(body.ends_with('\n'), "bulk bodies end with a newline");
    }
}
