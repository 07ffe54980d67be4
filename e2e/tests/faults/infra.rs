//! The suite's own PostgreSQL cluster and RabbitMQ node, on free ports, so that it may stop,
//! start and cut them without touching the shared servers on 5432 and 5672 that every other
//! test uses. Both are removed on drop (a failing assertion unwinds through it), and leftovers
//! of an earlier run that was killed outright are removed at the start.

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

/// Clusters and nodes are named `faults-<pid>`, so a leftover's owner can be checked.
const PREFIX: &str = "faults-";

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

fn run(what: &str, cmd: &mut Command) -> String {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("{what}: cannot run: {e}"));
    assert!(
        out.status.success(),
        "{what}: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn pid_alive(pid: &str) -> bool {
    pid.parse::<u32>()
        .is_ok_and(|p| std::path::Path::new(&format!("/proc/{p}")).exists())
}

/// A PostgreSQL cluster of the installed version (`pg_createcluster`, trust on loopback).
pub struct OwnPostgres {
    version: String,
    name: String,
    pub port: u16,
}

impl OwnPostgres {
    pub fn start() -> OwnPostgres {
        let version = std::fs::read_dir("/usr/lib/postgresql")
            .expect("PostgreSQL server packages (/usr/lib/postgresql)")
            .filter_map(|e| e.ok()?.file_name().into_string().ok())
            .max_by_key(|v| v.parse::<u32>().unwrap_or(0))
            .expect("a PostgreSQL version");
        Self::sweep(&version);
        let name = format!("{PREFIX}{}", std::process::id());
        let port = free_port();
        run(
            "pg_createcluster",
            Command::new("pg_createcluster").args([
                &version,
                &name,
                "-p",
                &port.to_string(),
                "--start-conf=manual",
                "--",
                "--auth=trust",
            ]),
        );
        let pg = OwnPostgres {
            version,
            name,
            port,
        };
        pg.ctl("start");
        pg
    }

    /// Drops clusters left by runs whose process is gone.
    fn sweep(version: &str) {
        let Ok(dirs) = std::fs::read_dir(format!("/etc/postgresql/{version}")) else {
            return;
        };
        for d in dirs.filter_map(|e| e.ok()?.file_name().into_string().ok()) {
            if let Some(pid) = d.strip_prefix(PREFIX)
                && !pid_alive(pid)
            {
                eprintln!("faults: dropping leftover cluster {d}");
                let _ = Command::new("pg_dropcluster")
                    .args(["--stop", version, &d])
                    .output();
            }
        }
    }

    fn ctl(&self, verb: &str) {
        run(
            &format!("pg_ctlcluster {verb}"),
            Command::new("pg_ctlcluster")
                .args(["--skip-systemctl-redirect", "-m", "fast"])
                .args([&self.version, &self.name, verb]),
        );
    }

    /// Fast shutdown: sessions are ended, new connections refused.
    pub fn stop(&self) {
        self.ctl("stop");
    }

    pub fn start_again(&self) {
        self.ctl("start");
    }

    pub fn server_url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}", self.port)
    }
}

impl Drop for OwnPostgres {
    fn drop(&mut self) {
        let _ = Command::new("pg_dropcluster")
            .args(["--stop", &self.version, &self.name])
            .output();
    }
}

/// A second RabbitMQ node (its own name, ports, data and log dirs, no plugins), run as the
/// `rabbitmq` user like the packaged one, so that it shares the Erlang cookie of `rabbitmqctl`.
pub struct OwnRabbit {
    pub node: String,
    pub port: u16,
    dir: PathBuf,
}

impl OwnRabbit {
    pub fn start() -> OwnRabbit {
        Self::sweep();
        let id = format!("{PREFIX}{}", std::process::id());
        let dir = std::env::temp_dir().join(format!("rabbit-{id}"));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("mnesia")).unwrap();
        std::fs::create_dir_all(dir.join("log")).unwrap();
        let port = free_port();
        std::fs::write(dir.join("enabled_plugins"), "[].\n").unwrap();
        std::fs::write(
            dir.join("rabbitmq.conf"),
            format!("listeners.tcp.1 = 127.0.0.1:{port}\n"),
        )
        .unwrap();
        run(
            "chown",
            Command::new("chown").args(["-R", "rabbitmq:rabbitmq", dir.to_str().unwrap()]),
        );
        let rabbit = OwnRabbit {
            node: format!("{id}@localhost"),
            port,
            dir,
        };
        run(
            "rabbitmq-server -detached",
            rabbit
                .env(&mut Command::new("rabbitmq-server"))
                .arg("-detached"),
        );
        rabbit.wait_up();
        rabbit
    }

    /// Stops nodes left by runs whose process is gone (their dirs name the pid).
    fn sweep() {
        let Ok(dirs) = std::fs::read_dir(std::env::temp_dir()) else {
            return;
        };
        for d in dirs.filter_map(|e| e.ok()?.file_name().into_string().ok()) {
            if let Some(pid) = d.strip_prefix(&format!("rabbit-{PREFIX}"))
                && !pid_alive(pid)
            {
                eprintln!("faults: stopping leftover node {PREFIX}{pid}");
                let _ = Command::new("rabbitmqctl")
                    .args(["-n", &format!("{PREFIX}{pid}@localhost"), "stop"])
                    .output();
                let _ = std::fs::remove_dir_all(std::env::temp_dir().join(&d));
            }
        }
    }

    fn env<'a>(&self, cmd: &'a mut Command) -> &'a mut Command {
        let d = |s: &str| self.dir.join(s).display().to_string();
        cmd.env("RABBITMQ_NODENAME", &self.node)
            .env("RABBITMQ_NODE_PORT", self.port.to_string())
            .env("RABBITMQ_DIST_PORT", free_port().to_string())
            .env("RABBITMQ_MNESIA_BASE", d("mnesia"))
            .env("RABBITMQ_LOG_BASE", d("log"))
            .env("RABBITMQ_CONFIG_FILE", d("rabbitmq.conf"))
            .env("RABBITMQ_ENABLED_PLUGINS_FILE", d("enabled_plugins"))
            .env("RABBITMQ_PID_FILE", d("pid"))
    }

    pub fn url(&self) -> String {
        format!("amqp://guest:guest@127.0.0.1:{}/%2f", self.port)
    }

    /// `rabbitmqctl -n <this node> args…`, its output.
    pub fn ctl(&self, args: &[&str]) -> String {
        let mut cmd = Command::new("rabbitmqctl");
        cmd.args(["-n", &self.node]).args(args);
        run(&format!("rabbitmqctl {args:?}"), &mut cmd)
    }

    fn wait_up(&self) {
        let started = Instant::now();
        loop {
            let ok = Command::new("rabbitmqctl")
                .args(["-n", &self.node, "await_startup", "--timeout", "5"])
                .output()
                .is_ok_and(|o| o.status.success());
            if ok {
                return;
            }
            assert!(
                started.elapsed() < Duration::from_secs(60),
                "node {} did not start; see {}",
                self.node,
                self.dir.join("log").display()
            );
            std::thread::sleep(Duration::from_millis(500));
        }
    }

    /// Closes every client connection from the broker side.
    pub fn close_all_connections(&self) {
        self.ctl(&["close_all_connections", "fault injected"]);
    }

    pub fn stop_app(&self) {
        self.ctl(&["stop_app"]);
    }

    pub fn start_app(&self) {
        self.ctl(&["start_app"]);
        self.wait_up();
    }

    /// `(queue, ready, unacknowledged)` of every queue.
    pub fn queues(&self) -> Vec<(String, u64, u64)> {
        self.ctl(&[
            "list_queues",
            "name",
            "messages_ready",
            "messages_unacknowledged",
            "-q",
            "-s",
        ])
        .lines()
        .filter_map(|l| {
            let mut f = l.split_whitespace();
            Some((
                f.next()?.to_string(),
                f.next()?.parse().ok()?,
                f.next()?.parse().ok()?,
            ))
        })
        .collect()
    }
}

impl Drop for OwnRabbit {
    fn drop(&mut self) {
        let _ = Command::new("rabbitmqctl")
            .args(["-n", &self.node, "stop"])
            .output();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
