//! `make demo` / `make demo-check`: the whole of Runbooks natively on this machine, with the
//! testkit's fake Elasticsearch and Jenkins and chatops' console Slack, playing one story:
//! a Jenkins build fails, the incident is detected, the default runbook restarts the build,
//! the new build succeeds, the incident resolves with its MTTR, Slack shows each step.
//!
//! `demo` tells the story, then keeps everything (dashboard on :5050) until Ctrl-C.
//! `demo --check` plays the same story on free ports and exits 0 only when every step
//! happened, else 1 naming the first step missing.

use std::collections::BTreeMap;
use std::net::TcpListener;
use std::path::PathBuf;
use std::process::Stdio;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use bus::{Bus, BusSettings, ConsumerOptions, HandlerError, Message};
use clap::Parser;
use serde_json::{Value, json};
use testkit::elasticsearch::{FakeElasticsearch, FakeEsConfig};
use testkit::jenkins::{FakeJenkins, FakeJenkinsConfig};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::Command;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

mod procs;
mod story;
use procs::{Running, wait_ready};
use story::{Step, Story, slack_line};

const SERVICES: [&str; 5] = [
    "orchestrator",
    "runner",
    "listener",
    "chatops",
    "health-monitor",
];
const JOB: &str = "demo-app";
const FAILED_BUILD: i64 = 41;

#[derive(Parser)]
#[command(
    name = "demo",
    about = "Runbooks end to end, natively, with simulated Jenkins and Elasticsearch"
)]
struct Args {
    /// Play the story and exit: 0 when every step happened, 1 naming the missing one.
    #[arg(long)]
    check: bool,
    /// How long the story may take.
    #[arg(long, default_value_t = 60)]
    timeout_secs: u64,
    /// Where the service binaries are (default: next to this one).
    #[arg(long)]
    bin_dir: Option<PathBuf>,
    /// PostgreSQL server (the demo creates and drops its own database there).
    #[arg(
        long,
        env = "DEMO_DATABASE_URL",
        default_value = "postgres://postgres@127.0.0.1:5432"
    )]
    database: String,
    #[arg(
        long,
        env = "DEMO_RABBITMQ_URL",
        default_value = "amqp://guest:guest@127.0.0.1:5672/%2f"
    )]
    rabbitmq: String,
}

fn free_port() -> anyhow::Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

fn random_hex(n: usize) -> String {
    uuid::Uuid::new_v4().simple().to_string()[..n].to_string()
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let args = Args::parse();
    let bin_dir = match &args.bin_dir {
        Some(d) => d.clone(),
        None => std::env::current_exe()?
            .parent()
            .context("the demo binary has no directory")?
            .to_path_buf(),
    };
    for svc in SERVICES {
        if !bin_dir.join(svc).exists() {
            bail!(
                "{} not found: build the services first (`cargo build --bins`)",
                bin_dir.join(svc).display()
            );
        }
    }
    let run_id = random_hex(8);
    let namespace = format!("demo{run_id}");
    let db_name = format!("runbooks_demo_{run_id}");
    let log_dir = PathBuf::from(".runbooks/demo");
    std::fs::create_dir_all(&log_dir)?;

    // Simulated externals: Elasticsearch that refreshes fast, Jenkins whose builds succeed.
    let es = FakeElasticsearch::start(FakeEsConfig {
        refresh_interval: Some(Duration::from_millis(200)),
        point_in_time: true,
    })
    .await;
    let jenkins = FakeJenkins::start(FakeJenkinsConfig {
        queue_delay: Duration::from_millis(300),
        build_duration: Duration::from_millis(1500),
        ..FakeJenkinsConfig::default()
    })
    .await;
    jenkins.add_pipeline_job(JOB);
    for n in 38..FAILED_BUILD {
        jenkins.add_build(JOB, n, "SUCCESS", &[]);
    }
    jenkins.add_build(JOB, FAILED_BUILD, "FAILURE", &[]);
    // What the post-mortem quotes as the failing build's changes.
    jenkins.set_commits(
        JOB,
        FAILED_BUILD,
        vec![
            testkit::jenkins::FakeCommit::new(
                "4f1c2a9e8b7d6c5f4e3d2c1b0a9f8e7d6c5b4a39",
                "Dana Dev",
                "deploy.sh: reuse the connection pool across steps",
            )
            .paths(&["deploy.sh"]),
        ],
    );

    let ports: BTreeMap<&str, u16> = if args.check {
        SERVICES
            .iter()
            .map(|s| Ok((*s, free_port()?)))
            .collect::<anyhow::Result<_>>()?
    } else {
        BTreeMap::from([
            ("orchestrator", 3001),
            ("chatops", 3002),
            ("listener", 3003),
            ("runner", 3004),
            ("health-monitor", 5050),
        ])
    };
    let token = format!("demo-{}", random_hex(16));
    let dashboard_password = random_hex(12);
    let database_url = format!("{}/{db_name}", args.database.trim_end_matches('/'));

    let common: Vec<(&str, String)> = vec![
        ("DATABASE_URL", database_url.clone()),
        ("RABBITMQ_URL", args.rabbitmq.clone()),
        ("RUNBOOKS__BUS__NAMESPACE", namespace.clone()),
        ("RUNBOOKS__HEARTBEAT__INTERVAL_SECS", "1".into()),
        ("RUNBOOKS__TELEMETRY__LOG_FORMAT", "json".into()),
        ("RUST_LOG", "info".into()),
        ("RUNBOOKS__SHUTDOWN__GRACE_SECS", "5".into()),
        ("RUNBOOKS__OUTBOX__POLL_INTERVAL_MS", "200".into()),
        ("ELASTICSEARCH_URL", es.url()),
        ("RUNBOOKS__SOURCES__JENKINS__POLL_INTERVAL_MS", "250".into()),
        ("RUNBOOKS__SOURCES__JENKINS__LAG_MS", "300".into()),
        ("RUNBOOKS__SOURCES__API__POLL_INTERVAL_MS", "250".into()),
        ("RUNBOOKS__SOURCES__API__LAG_MS", "300".into()),
        ("JENKINS_URL", jenkins.url()),
        ("DRY_RUN", "false".into()),
        ("RUNBOOKS__GUARD__ALLOWED_JOBS", JOB.into()),
        ("RUNBOOKS__API__TOKENS", token.clone()),
        ("RUNBOOKS__NOTIFY__MIN_INTERVAL_MS", "200".into()),
        ("RUNBOOKS__DASHBOARD__USER", "demo".into()),
        ("RUNBOOKS__DASHBOARD__PASSWORD", dashboard_password.clone()),
        ("RUNBOOKS__HEALTH__DOWN_AFTER_SECS", "5".into()),
    ];
    let story_queue = format!("story.{}", random_hex(6));
    let cancel = CancellationToken::new();
    let bus_settings = BusSettings {
        url: args.rabbitmq.clone(),
        namespace: namespace.clone(),
        ..BusSettings::default()
    };
    let bus = Bus::connect(&bus_settings, "demo", &cancel)
        .await
        .context("RabbitMQ (start it: rabbitmq-server -detached)")?;
    bus.declare_topology().await?;
    bus.declare_queue(&story_queue, domain::names::exchange::EVENTS, &["#"])
        .await?;

    println!(
        "Runbooks demo: five services on PostgreSQL ({db_name}) and RabbitMQ (namespace {namespace}),"
    );
    println!(
        "a simulated Elasticsearch at {} and Jenkins at {}; Slack is the console.",
        es.url(),
        jenkins.url()
    );
    println!("Service logs: {}/<service>.log\n", log_dir.display());

    let (slack_tx, mut slack_rx) = mpsc::unbounded_channel::<String>();
    let mut running = Running {
        children: Vec::new(),
    };
    // The orchestrator first: it applies the migrations the others then find in place.
    for svc in SERVICES {
        let log = std::fs::File::create(log_dir.join(format!("{svc}.log")))?;
        let mut cmd = Command::new(bin_dir.join(svc));
        cmd.envs(common.iter().map(|(k, v)| (*k, v.as_str())))
            .env("RUNBOOKS__HTTP__PORT", ports[svc].to_string())
            .env("RUNBOOKS__HTTP__HOST", "127.0.0.1")
            .stdin(Stdio::null())
            .stderr(log.try_clone()?)
            .kill_on_drop(true);
        if svc == "orchestrator" {
            // Slack's post-mortem reply links the report here.
            cmd.env(
                "RUNBOOKS__POSTMORTEM__PUBLIC_URL",
                format!("http://localhost:{}", ports["orchestrator"]),
            );
        }
        if svc == "chatops" {
            cmd.stdout(Stdio::piped());
        } else {
            cmd.stdout(log);
        }
        let mut child = cmd.spawn().with_context(|| format!("starting {svc}"))?;
        if svc == "chatops" {
            let out = child.stdout.take().expect("piped stdout");
            let tx = slack_tx.clone();
            let mut log = std::fs::File::create(log_dir.join("chatops.log"))?;
            tokio::spawn(async move {
                let mut lines = BufReader::new(out).lines();
                while let Ok(Some(line)) = lines.next_line().await {
                    use std::io::Write;
                    let _ = writeln!(log, "{line}");
                    // JSON lines are the service's own logs; the rest is the console Slack.
                    if !line.starts_with('{') {
                        let _ = tx.send(line);
                    }
                }
            });
        }
        running.children.push((svc.to_string(), child));
        if svc == "orchestrator" {
            wait_ready(&mut running, svc, ports[svc]).await?;
        }
    }
    for svc in SERVICES {
        wait_ready(&mut running, svc, ports[svc]).await?;
    }
    println!("all five services are ready\n");

    let (ev_tx, mut ev_rx) = mpsc::unbounded_channel::<Message<Value>>();
    {
        let (bus, cancel) = (bus.clone(), cancel.clone());
        let opts = ConsumerOptions::new(&bus, &story_queue).max_attempts(1);
        tokio::spawn(async move {
            let _ = bus
                .consume(
                    opts,
                    move |m: Message<Value>| {
                        let tx = ev_tx.clone();
                        async move { tx.send(m).map_err(|_| HandlerError::retry("story closed")) }
                    },
                    cancel,
                )
                .await;
        });
    }

    let mut story = Story {
        seen: BTreeMap::new(),
        started: Instant::now(),
    };
    let admin = es.admin();
    let now = chrono::Utc::now();
    let lines = [
        ("info", "[Pipeline] Start of Pipeline"),
        ("info", "[Pipeline] sh: ./deploy.sh production"),
        (
            "error",
            "ERROR: deploy step failed: connection reset by peer",
        ),
        ("error", "Finished: FAILURE"),
    ];
    let docs: Vec<(String, Value)> = lines
        .iter()
        .enumerate()
        .map(|(i, (level, msg))| {
            let at = now + chrono::Duration::milliseconds(i as i64);
            (
                format!("{JOB}-{FAILED_BUILD}-{i}"),
                json!({"@timestamp": at.to_rfc3339(), "log": {"level": level}, "message": msg,
                       "jenkins": {"job": {"name": JOB}, "build": {"number": FAILED_BUILD}}}),
            )
        })
        .collect();
    admin.index_docs("logs-jenkins-demo", &docs, true).await;
    story.mark(
        Step::Failed,
        format!("{JOB} #{FAILED_BUILD}: \"Finished: FAILURE\""),
    );

    let deadline = tokio::time::Instant::now() + Duration::from_secs(args.timeout_secs);
    let mut new_build: Option<i64> = None;
    let mut poll = tokio::time::interval(Duration::from_millis(250));
    // Slack's post-mortem reply may print before the report has been read back.
    let mut slack_report_link = false;
    while story.missing().is_some() {
        if slack_report_link && story.seen.contains_key(&Step::Postmortem) {
            story.mark(
                Step::SlackPostmortem,
                "the report was posted in the thread, linked".into(),
            );
        }
        tokio::select! {
            _ = tokio::time::sleep_until(deadline) => break,
            _ = poll.tick() => {
                // Jenkins finishes the new build on its own time; once it has, its log says so,
                // as a real Jenkins' would (through Filebeat) into Elasticsearch.
                if let Some(n) = new_build
                    && let Some(b) = jenkins.build(JOB, n)
                    && let Some(result) = b.result
                {
                    new_build = None;
                    let doc = (
                        format!("{JOB}-{n}-end"),
                        json!({"@timestamp": chrono::Utc::now().to_rfc3339(), "log": {"level": "info"},
                               "message": format!("Finished: {result}"), "jenkins": {"job": {"name": JOB}, "build": {"number": n}}}),
                    );
                    admin.index_docs("logs-jenkins-demo", &[doc], true).await;
                    if result == "SUCCESS" {
                        story.mark(Step::Succeeded, format!("{JOB} #{n}: SUCCESS"));
                    } else {
                        println!("    {JOB} #{n} ended {result}");
                    }
                }
            }
            Some(line) = slack_rx.recv() => {
                slack_line(&line);
                let lower = line.to_lowercase();
                if lower.contains("build failed") && lower.contains(JOB) {
                    story.mark(Step::SlackDetected, "the incident message was posted".into());
                }
                if lower.contains("resolved") && story.seen.contains_key(&Step::Resolved) {
                    story.mark(Step::SlackResolved, "the message was updated with the resolution".into());
                }
                if lower.contains("|full report>") {
                    slack_report_link = true;
                }
            }
            Some(m) = ev_rx.recv() => {
                let p = &m.envelope.payload;
                if m.envelope.kind == "postmortem.generated" {
                    // The report quotes the failing build's commits, which the runner read
                    // from Jenkins for the orchestrator (command.jenkins.changes).
                    let url = format!(
                        "http://127.0.0.1:{}/api/incidents/{}/postmortem",
                        ports["orchestrator"], p["incident_id"]
                    );
                    let report: Value = match reqwest::Client::new().get(&url).bearer_auth(&token).send().await {
                        Ok(r) => r.json().await.unwrap_or_default(),
                        Err(_) => Value::Null,
                    };
                    story.on_postmortem(p, &report);
                } else if let Some(n) = story.on_event(&m.envelope.kind, p) {
                    new_build = Some(n);
                }
            }
        }
    }
    // Let the last console lines print.
    while let Ok(Some(line)) =
        tokio::time::timeout(Duration::from_millis(700), slack_rx.recv()).await
    {
        slack_line(&line);
    }

    let outcome = match story.missing() {
        None => {
            println!(
                "\nevery step happened in {:.1} s",
                story.started.elapsed().as_secs_f64()
            );
            Ok(())
        }
        Some(step) => {
            println!(
                "\nmissing step: {} (logs in {})",
                step.what(),
                log_dir.display()
            );
            Err(step)
        }
    };

    if !args.check && outcome.is_ok() {
        println!("\nRunbooks keeps running until Ctrl-C:");
        println!("  dashboard  http://localhost:5050/  (demo / {dashboard_password})");
        println!(
            "  REST API   curl -H 'Authorization: Bearer {token}' http://localhost:3001/api/incidents"
        );
        println!(
            "  Jenkins    {}   Elasticsearch {}",
            jenkins.url(),
            es.url()
        );
        let _ = tokio::signal::ctrl_c().await;
        println!("\nstopping");
    }
    running.stop().await;
    cancel.cancel();
    let _ = bus::topology::delete(&bus, &[story_queue]).await;
    bus.close().await;
    drop_database(&args.database, &db_name).await;
    match outcome {
        Ok(()) => Ok(()),
        Err(step) => {
            eprintln!("demo-check failed: {}", step.what());
            std::process::exit(1);
        }
    }
}

async fn drop_database(server: &str, name: &str) {
    let url = format!("{}/postgres", server.trim_end_matches('/'));
    if let Ok(pool) = sqlx::postgres::PgPoolOptions::new()
        .max_connections(1)
        .connect(&url)
        .await
    {
        let _ = sqlx::query(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"))
            .execute(&pool)
            .await;
    }
}
