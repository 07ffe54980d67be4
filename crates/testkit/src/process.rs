//! Runs a service binary the way production does, for start/ready/heartbeat/SIGTERM tests.

use std::process::{ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

use crate::{TestBus, TestDb};

/// Environment that points a service at a test database and bus namespace.
pub fn service_env(db: &TestDb, tb: &TestBus) -> Vec<(String, String)> {
    [
        ("DATABASE_URL", db.url().to_string()),
        ("RABBITMQ_URL", tb.settings.url.clone()),
        ("RUNBOOKS__BUS__NAMESPACE", tb.namespace.clone()),
        ("RUNBOOKS__HTTP__HOST", "127.0.0.1".into()),
        ("RUNBOOKS__HTTP__PORT", "0".into()),
        ("RUNBOOKS__HEARTBEAT__INTERVAL_SECS", "1".into()),
        ("RUNBOOKS__TELEMETRY__LOG_FORMAT", "json".into()),
        ("RUST_LOG", "info".into()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect()
}

pub struct ServiceProcess {
    child: Child,
    pub port: u16,
    /// Every line the process printed on stdout (JSON logs).
    pub lines: Arc<Mutex<Vec<String>>>,
}

impl ServiceProcess {
    /// Starts `bin` and waits until it logs the port it listens on.
    pub async fn spawn(bin: &str, args: &[&str], env: &[(String, String)]) -> ServiceProcess {
        let mut child = Command::new(bin)
            .args(args)
            .envs(env.iter().map(|(k, v)| (k, v)))
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {bin}: {e}"));
        let lines: Arc<Mutex<Vec<String>>> = Arc::default();
        let (port_tx, port_rx) = tokio::sync::oneshot::channel();
        let stdout = child.stdout.take().unwrap();
        let sink = lines.clone();
        tokio::spawn(async move {
            let mut port_tx = Some(port_tx);
            let mut reader = BufReader::new(stdout).lines();
            while let Ok(Some(line)) = reader.next_line().await {
                if let Ok(v) = serde_json::from_str::<serde_json::Value>(&line)
                    && v["message"] == "http listening"
                    && let Some(port) = v["port"].as_u64()
                    && let Some(tx) = port_tx.take()
                {
                    let _ = tx.send(port as u16);
                }
                sink.lock().unwrap().push(line);
            }
        });
        let port = tokio::time::timeout(Duration::from_secs(60), port_rx)
            .await
            .unwrap_or_else(|_| {
                panic!(
                    "{bin} did not start listening; output: {:?}",
                    lines.lock().unwrap()
                )
            })
            .unwrap_or_else(|_| panic!("{bin} exited; output: {:?}", lines.lock().unwrap()));
        ServiceProcess { child, port, lines }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    /// Waits for `GET /ready` to answer 200.
    pub async fn wait_ready(&self, timeout: Duration) {
        let client = reqwest::Client::new();
        let url = self.url("/ready");
        crate::wait_until("/ready to answer 200", timeout, || {
            let req = client.get(&url).send();
            async move { matches!(req.await, Ok(r) if r.status() == 200) }
        })
        .await;
    }

    /// Kills the process with SIGKILL (no farewell, no draining) and waits for it to go.
    pub async fn kill(mut self) -> ExitStatus {
        self.child.kill().await.expect("SIGKILL sent");
        self.child.wait().await.expect("killed child reaped")
    }

    /// Sends SIGTERM and waits for the exit.
    pub async fn terminate(mut self, timeout: Duration) -> ExitStatus {
        let pid = self.child.id().expect("running child").to_string();
        let sent = Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .await
            .unwrap();
        assert!(sent.success(), "kill -TERM failed");
        tokio::time::timeout(timeout, self.child.wait())
            .await
            .unwrap_or_else(|_| panic!("no exit within {timeout:?} of SIGTERM"))
            .unwrap()
    }
}

/// The walking-skeleton contract every binary keeps: it starts against a fresh database and
/// bus namespace, `/ready` turns 200, its heartbeat arrives on the bus, and SIGTERM makes it
/// exit 0 within a few seconds after a last `stopping` heartbeat.
pub async fn assert_service_lifecycle(bin: &str, service: &str) {
    assert_service_lifecycle_with(bin, service, &[]).await
}

/// [`assert_service_lifecycle`] with extra environment (settings a service needs to start).
pub async fn assert_service_lifecycle_with(bin: &str, service: &str, extra_env: &[(&str, &str)]) {
    crate::init_tracing();
    let (db, tb) = (TestDb::new().await, TestBus::new().await);
    let key = domain::names::heartbeat_key(service);
    let mut beats = tb
        .tap(domain::names::exchange::HEALTH, &[key.as_str()])
        .await;
    let mut env = service_env(&db, &tb);
    env.extend(
        extra_env
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string())),
    );
    let proc = ServiceProcess::spawn(bin, &[], &env).await;
    proc.wait_ready(Duration::from_secs(30)).await;

    let beat = beats
        .expect("health.heartbeat", Duration::from_secs(10))
        .await;
    assert_eq!(beat.routing_key, key);
    assert_eq!(beat.envelope.payload["service"], service);
    assert_eq!(
        beat.envelope.payload["status"], "up",
        "{:?}",
        beat.envelope.payload
    );
    assert_eq!(beat.envelope.payload["checks"]["database"]["ok"], true);
    assert_eq!(beat.envelope.payload["checks"]["broker"]["ok"], true);

    let metrics = reqwest::get(proc.url("/metrics")).await.unwrap();
    assert_eq!(metrics.status(), 200);
    let lines = proc.lines.clone();
    let started = std::time::Instant::now();
    let status = proc.terminate(Duration::from_secs(15)).await;
    assert!(status.success(), "exit status {status:?}");
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "took {:?} to stop",
        started.elapsed()
    );
    let mut last = None;
    while let Some(m) = beats.next(Duration::from_secs(2)).await {
        last = Some(m);
    }
    assert_eq!(
        last.expect("a farewell heartbeat").envelope.payload["status"],
        "stopping"
    );
    let logs = lines.lock().unwrap();
    let first: serde_json::Value = serde_json::from_str(&logs[0]).expect("json logs");
    assert_eq!(first["service"], service);
    assert!(first["instance"].as_str().unwrap().starts_with(service));
}
