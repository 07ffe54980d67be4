//! The five service processes: waiting until each is ready, stopping them all with SIGTERM.

use std::time::{Duration, Instant};

use anyhow::bail;
use tokio::process::Child;

pub struct Running {
    pub children: Vec<(String, Child)>,
}

impl Running {
    pub async fn stop(mut self) {
        for (_, child) in &self.children {
            if let Some(pid) = child.id() {
                let _ = std::process::Command::new("kill")
                    .args(["-TERM", &pid.to_string()])
                    .status();
            }
        }
        for (name, child) in &mut self.children {
            if tokio::time::timeout(Duration::from_secs(20), child.wait())
                .await
                .is_err()
            {
                eprintln!("{name} did not stop in time, killing it");
                let _ = child.kill().await;
            }
        }
    }
}

pub async fn wait_ready(running: &mut Running, svc: &str, port: u16) -> anyhow::Result<()> {
    let http = reqwest::Client::new();
    let url = format!("http://127.0.0.1:{port}/ready");
    let started = Instant::now();
    loop {
        if let Ok(r) = http.get(&url).send().await
            && r.status().is_success()
        {
            return Ok(());
        }
        if started.elapsed() > Duration::from_secs(60) {
            bail!("{svc} is not ready after 60 s (see .runbooks/demo/{svc}.log)");
        }
        if let Some((_, child)) = running.children.iter_mut().find(|(n, _)| n == svc)
            && let Ok(Some(status)) = child.try_wait()
        {
            bail!("{svc} exited ({status}); see .runbooks/demo/{svc}.log");
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}
