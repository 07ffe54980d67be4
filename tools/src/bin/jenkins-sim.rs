//! A Jenkins simulator for demos: the testkit's fake Jenkins with seeded jobs.
//!
//! `jenkins-sim --port 8080 --jobs deploy-prod,api-gateway --csrf --fail-rate 0.1`

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use clap::Parser;
use testkit::jenkins::{FakeJenkins, FakeJenkinsConfig};
use tracing_subscriber::EnvFilter;

#[derive(Debug, Parser)]
#[command(name = "jenkins-sim", about = "Simulated Jenkins for Runbooks demos")]
struct Args {
    /// Address to listen on (0.0.0.0 to reach it from containers).
    #[arg(long, default_value = "127.0.0.1", env = "JENKINS_SIM_HOST")]
    host: IpAddr,
    #[arg(long, default_value_t = 8080, env = "JENKINS_SIM_PORT")]
    port: u16,
    /// Comma-separated jobs to create; `team/app` creates a job in a folder.
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "deploy-prod,api-gateway,team/payments"
    )]
    jobs: Vec<String>,
    /// Finished builds seeded per job.
    #[arg(long, default_value_t = 5)]
    builds: i64,
    /// Require a CSRF crumb on POST requests.
    #[arg(long)]
    csrf: bool,
    /// Require basic auth with this user (and --token).
    #[arg(long, env = "JENKINS_SIM_USERNAME")]
    username: Option<String>,
    /// API token expected with --username.
    #[arg(long, env = "JENKINS_SIM_TOKEN", hide_env_values = true)]
    token: Option<String>,
    /// URL announced in JSON and Location headers (e.g. `http://jenkins-sim:8080`
    /// inside docker compose); defaults to the listening address.
    #[arg(long, env = "JENKINS_SIM_PUBLIC_URL")]
    public_url: Option<String>,
    /// Fraction (0.0 to 1.0) of triggered builds that end with FAILURE.
    #[arg(long, default_value_t = 0.0, value_parser = parse_rate)]
    fail_rate: f64,
    /// Time a triggered build waits in the queue, in milliseconds.
    #[arg(long, default_value_t = 1_000)]
    queue_delay_ms: u64,
    /// Time a build runs, in milliseconds.
    #[arg(long, default_value_t = 5_000)]
    build_duration_ms: u64,
    /// Seed of the failure draw, for reproducible demos.
    #[arg(long, default_value_t = 42)]
    seed: u64,
}

fn parse_rate(s: &str) -> Result<f64, String> {
    let rate: f64 = s.parse().map_err(|e| format!("not a number: {e}"))?;
    if (0.0..=1.0).contains(&rate) {
        Ok(rate)
    } else {
        Err("must be between 0.0 and 1.0".into())
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")),
        )
        .init();
    let args = Args::parse();
    let config = FakeJenkinsConfig {
        csrf: args.csrf,
        username: args.username.clone(),
        token: args.token.clone(),
        queue_delay: Duration::from_millis(args.queue_delay_ms),
        build_duration: Duration::from_millis(args.build_duration_ms),
        fail_rate: args.fail_rate,
        seed: args.seed,
        public_url: args.public_url.clone(),
        ..FakeJenkinsConfig::default()
    };
    let addr = SocketAddr::new(args.host, args.port);
    let fake = FakeJenkins::start_on(addr, config)
        .await
        .map_err(|e| anyhow::anyhow!("cannot listen on {addr}: {e}"))?;
    for job in args.jobs.iter().map(|j| j.trim()).filter(|j| !j.is_empty()) {
        seed_job(&fake, job, args.builds);
    }
    println!("jenkins-sim listening on {}", fake.url());
    tracing::info!(
        url = %fake.url(),
        jobs = ?args.jobs,
        csrf = args.csrf,
        fail_rate = args.fail_rate,
        "jenkins simulator started"
    );
    tokio::signal::ctrl_c().await?;
    tracing::info!("jenkins simulator stopping");
    Ok(())
}

/// Builds 1..=n; the last one failed, so that a rollback has a target and a
/// restart has something to retry.
fn seed_job(fake: &FakeJenkins, job: &str, builds: i64) {
    fake.add_job(job);
    for number in 1..=builds {
        let result = if number == builds {
            "FAILURE"
        } else if number % 4 == 0 {
            "UNSTABLE"
        } else {
            "SUCCESS"
        };
        let version = format!("1.{number}.0");
        fake.add_build(
            job,
            number,
            result,
            &[("VERSION", version.as_str()), ("ENVIRONMENT", "production")],
        );
    }
}
