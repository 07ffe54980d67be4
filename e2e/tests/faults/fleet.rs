//! The production binaries, several replicas of each, as separate processes: started, killed
//! with SIGKILL and started again the way a supervisor (Docker's restart policy, the kubelet)
//! would, and asked for `/ready`.

use std::path::PathBuf;
use std::time::Duration;

use testkit::process::ServiceProcess;

/// Kinds and replicas. The orchestrator comes first: it applies the migrations.
pub const REPLICAS: [(&str, usize); 5] = [
    ("orchestrator", 2),
    ("runner", 2),
    ("chatops", 2),
    ("health-monitor", 1),
    ("listener", 1),
];

pub struct Replica {
    pub kind: &'static str,
    pub index: usize,
    proc: Option<ServiceProcess>,
    pub kills: usize,
}

impl Replica {
    pub fn name(&self) -> String {
        format!("{}-{}", self.kind, self.index)
    }

    pub fn port(&self) -> Option<u16> {
        self.proc.as_ref().map(|p| p.port)
    }
}

pub struct Fleet {
    bin_dir: PathBuf,
    env: Vec<(String, String)>,
    pub replicas: Vec<Replica>,
    http: reqwest::Client,
}

/// Where cargo put the service binaries: next to this test's `deps/` directory.
fn bin_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("test binary path");
    let dir = exe
        .parent()
        .and_then(|d| d.parent())
        .expect("target/<profile>")
        .to_path_buf();
    for (kind, _) in REPLICAS {
        assert!(
            dir.join(kind).exists(),
            "{} not found: build the services first (`cargo build --bins`; `make faults` does)",
            dir.join(kind).display()
        );
    }
    dir
}

impl Fleet {
    pub async fn start(env: Vec<(String, String)>) -> Fleet {
        let mut fleet = Fleet {
            bin_dir: bin_dir(),
            env,
            replicas: Vec::new(),
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(2))
                .build()
                .unwrap(),
        };
        for (kind, n) in REPLICAS {
            for index in 0..n {
                let mut r = Replica {
                    kind,
                    index,
                    proc: None,
                    kills: 0,
                };
                r.proc = Some(fleet.spawn(kind).await);
                fleet.replicas.push(r);
            }
            // Migrations applied before the others start.
            if kind == "orchestrator" {
                fleet.wait_all_ready(Duration::from_secs(60)).await;
            }
        }
        fleet.wait_all_ready(Duration::from_secs(60)).await;
        fleet
    }

    async fn spawn(&self, kind: &str) -> ServiceProcess {
        let bin = self.bin_dir.join(kind);
        ServiceProcess::spawn(bin.to_str().unwrap(), &[], &self.env).await
    }

    /// SIGKILL, then started again after `down` (the supervisor's delay).
    pub async fn kill_and_restart(&mut self, i: usize, down: Duration) {
        self.kill(i).await;
        tokio::time::sleep(down).await;
        self.restart(i).await;
    }

    pub async fn kill(&mut self, i: usize) {
        let proc = self.replicas[i].proc.take().expect("running replica");
        let status = proc.kill().await;
        self.replicas[i].kills += 1;
        println!("faults: SIGKILL {} ({status})", self.replicas[i].name());
    }

    pub async fn restart(&mut self, i: usize) {
        let kind = self.replicas[i].kind;
        self.replicas[i].proc = Some(self.spawn(kind).await);
    }

    /// `true` when the replica answers `/ready` 200; `None` when it is not running.
    pub async fn ready(&self, i: usize) -> Option<bool> {
        let port = self.replicas[i].port()?;
        let res = self
            .http
            .get(format!("http://127.0.0.1:{port}/ready"))
            .send()
            .await;
        Some(matches!(res, Ok(r) if r.status() == 200))
    }

    pub async fn wait_all_ready(&self, timeout: Duration) {
        let deadline = tokio::time::Instant::now() + timeout;
        for i in 0..self.replicas.len() {
            if self.replicas[i].proc.is_none() {
                continue;
            }
            while self.ready(i).await != Some(true) {
                assert!(
                    tokio::time::Instant::now() < deadline,
                    "{} not ready within {timeout:?}",
                    self.replicas[i].name()
                );
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        }
    }

    /// Indices of the replicas of `kind`.
    pub fn of(&self, kind: &str) -> Vec<usize> {
        (0..self.replicas.len())
            .filter(|i| self.replicas[*i].kind == kind)
            .collect()
    }

    /// Lines a replica printed that say it panicked (the test fails on those).
    pub fn panics(&self) -> Vec<String> {
        self.replicas
            .iter()
            .filter_map(|r| Some((r.name(), r.proc.as_ref()?.lines.clone())))
            .flat_map(|(name, lines)| {
                lines
                    .lock()
                    .unwrap()
                    .iter()
                    .filter(|l| l.contains("panicked"))
                    .map(|l| format!("{name}: {l}"))
                    .collect::<Vec<_>>()
            })
            .collect()
    }

    /// SIGKILLs every replica (the end of the run; nothing to drain).
    pub async fn kill_all(&mut self) {
        for r in &mut self.replicas {
            if let Some(p) = r.proc.take() {
                let _ = p.kill().await;
            }
        }
    }
}
