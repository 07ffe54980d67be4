//! The faults, in an order and with gaps drawn from the seed, one after another while the load
//! flows. Infrastructure outages are watched through every replica's `/ready`.

use std::collections::BTreeSet;
use std::time::Duration;

use rand::Rng;
use rand::seq::SliceRandom;
use sqlx::{Connection, PgConnection};
use testkit::jenkins::FakeJenkins;
use testkit::slack::{Failure, FakeSlack};

use crate::fleet::{Fleet, REPLICAS};
use crate::infra::{OwnPostgres, OwnRabbit};

/// Longer than the runner's lease (`RUNBOOKS__RUNNER__LEASE_SECS` in main.rs): claims expire
/// while nobody can reach the database.
pub const PG_OUTAGE: Duration = Duration::from_secs(10);
pub const BROKER_OUTAGE: Duration = Duration::from_secs(8);

#[derive(Debug, Clone, Copy)]
pub enum Fault {
    Kill(&'static str),
    /// Every runner SIGKILLed while a restart's trigger POST is in flight (Jenkins made slow).
    KillRunnersDuringTrigger,
    CloseConnections,
    BrokerStop,
    TerminateBackends,
    PgStop,
    JenkinsSlowThen503,
    Slack429Then500,
}

pub struct Env<'a> {
    pub fleet: &'a mut Fleet,
    pub pg: &'a OwnPostgres,
    pub rabbit: &'a OwnRabbit,
    pub jenkins: &'a FakeJenkins,
    pub slack: &'a FakeSlack,
}

/// What the outages showed.
#[derive(Default, Debug)]
pub struct Observed {
    /// `(outage, replica)` pairs where `/ready` answered other than 200 during the outage.
    pub not_ready: BTreeSet<(&'static str, String)>,
    /// Replicas running during each outage (they should all have said so).
    pub running: BTreeSet<(&'static str, String)>,
    pub trigger_kill_hit: bool,
}

/// Every fault kind at least once, backends terminated twice, in the seed's order.
pub fn schedule(rng: &mut impl Rng) -> Vec<(Duration, Fault)> {
    let mut faults: Vec<Fault> = REPLICAS.iter().map(|(k, _)| Fault::Kill(k)).collect();
    faults.extend([
        Fault::KillRunnersDuringTrigger,
        Fault::CloseConnections,
        Fault::BrokerStop,
        Fault::TerminateBackends,
        Fault::TerminateBackends,
        Fault::PgStop,
        Fault::JenkinsSlowThen503,
        Fault::Slack429Then500,
    ]);
    faults.shuffle(rng);
    faults
        .into_iter()
        .map(|f| (Duration::from_millis(rng.random_range(500..3000)), f))
        .collect()
}

/// `rabbitmqctl` and `pg_ctlcluster` take a second or two; the runtime keeps serving the
/// fakes meanwhile.
fn blocking<T>(f: impl FnOnce() -> T) -> T {
    tokio::task::block_in_place(f)
}

impl Env<'_> {
    pub async fn inject(&mut self, fault: Fault, rng: &mut impl Rng, seen: &mut Observed) {
        println!("faults: {fault:?}");
        match fault {
            Fault::Kill(kind) => {
                let of = self.fleet.of(kind);
                let i = of[rng.random_range(0..of.len())];
                let down = Duration::from_millis(rng.random_range(200..2000));
                self.fleet.kill_and_restart(i, down).await;
            }
            Fault::KillRunnersDuringTrigger => self.kill_runners_during_trigger(seen).await,
            Fault::CloseConnections => blocking(|| self.rabbit.close_all_connections()),
            Fault::BrokerStop => {
                blocking(|| self.rabbit.stop_app());
                self.watch_ready("broker", BROKER_OUTAGE, seen).await;
                blocking(|| self.rabbit.start_app());
                self.fleet.wait_all_ready(Duration::from_secs(60)).await;
            }
            Fault::TerminateBackends => {
                let url = format!("{}/postgres", self.pg.server_url());
                let mut c = PgConnection::connect(&url).await.expect("admin connection");
                let n: i64 = sqlx::query_scalar(
                    "SELECT count(*) FROM (SELECT pg_terminate_backend(pid) FROM pg_stat_activity
                     WHERE pid <> pg_backend_pid() AND backend_type = 'client backend') t",
                )
                .fetch_one(&mut c)
                .await
                .expect("pg_terminate_backend");
                println!("faults: terminated {n} backends");
            }
            Fault::PgStop => {
                blocking(|| self.pg.stop());
                self.watch_ready("postgres", PG_OUTAGE, seen).await;
                blocking(|| self.pg.start_again());
                self.fleet.wait_all_ready(Duration::from_secs(60)).await;
            }
            Fault::JenkinsSlowThen503 => {
                self.jenkins.set_delay(None, Duration::from_millis(1500));
                tokio::time::sleep(Duration::from_secs(4)).await;
                self.jenkins.clear_delays();
                self.jenkins.set_down(true);
                tokio::time::sleep(Duration::from_secs(4)).await;
                self.jenkins.set_down(false);
            }
            Fault::Slack429Then500 => {
                for method in ["chat.postMessage", "chat.update"] {
                    let f = Failure::RateLimited {
                        retry_after_secs: 2,
                    };
                    self.slack.fail_next(method, 3, f);
                }
                tokio::time::sleep(Duration::from_secs(3)).await;
                self.slack.down(500);
                tokio::time::sleep(Duration::from_secs(4)).await;
                self.slack.up();
            }
        }
    }

    /// Polls every running replica's `/ready` for `outage`.
    async fn watch_ready(&self, what: &'static str, outage: Duration, seen: &mut Observed) {
        let end = tokio::time::Instant::now() + outage;
        for r in &self.fleet.replicas {
            if r.port().is_some() {
                seen.running.insert((what, r.name()));
            }
        }
        while tokio::time::Instant::now() < end {
            for i in 0..self.fleet.replicas.len() {
                if self.fleet.ready(i).await == Some(false) {
                    seen.not_ready.insert((what, self.fleet.replicas[i].name()));
                }
            }
            tokio::time::sleep(Duration::from_millis(300)).await;
        }
    }

    /// Jenkins answers the restart jobs slowly; as soon as a trigger POST arrives (the fake
    /// records it before answering), every runner is killed, so the one sending it dies
    /// mid-call. The replacement must settle it from what Jenkins shows, never send it again.
    async fn kill_runners_during_trigger(&mut self, seen: &mut Observed) {
        let before = self.jenkins.triggers().len();
        self.jenkins
            .set_delay(Some("/job/deploy-f-"), Duration::from_secs(2));
        let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
        let mut hit = false;
        while tokio::time::Instant::now() < deadline {
            if self.jenkins.triggers().len() > before {
                hit = true;
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        if !hit {
            println!("faults: no trigger in flight within 20 s; runners killed anyway");
        }
        seen.trigger_kill_hit |= hit;
        let runners = self.fleet.of("runner");
        for i in &runners {
            self.fleet.kill(*i).await;
        }
        self.jenkins.clear_delays();
        tokio::time::sleep(Duration::from_millis(500)).await;
        for i in &runners {
            self.fleet.restart(*i).await;
        }
    }
}
