//! A bus namespace per test (all exchanges and queues prefixed, deleted afterwards) and a
//! tap that records what is published.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use bus::{Bus, BusSettings, ConsumerOptions, HandlerError, Message};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

pub fn broker_url() -> String {
    std::env::var("TEST_RABBITMQ_URL")
        .unwrap_or_else(|_| "amqp://guest:guest@127.0.0.1:5672/%2f".into())
}

pub struct TestBus {
    pub namespace: String,
    pub settings: BusSettings,
    pub bus: Bus,
    extra_queues: Arc<Mutex<Vec<String>>>,
    cancel: CancellationToken,
}

impl TestBus {
    /// Connects with a fresh namespace and declares the topology in it.
    pub async fn new() -> TestBus {
        let namespace = format!("t{}", &uuid::Uuid::new_v4().simple().to_string()[..12]);
        let settings = BusSettings {
            url: broker_url(),
            namespace: namespace.clone(),
            retry_initial_delay_ms: 10,
            retry_max_delay_ms: 200,
            connect_timeout_secs: 10,
            ..BusSettings::default()
        };
        let cancel = CancellationToken::new();
        let bus = Bus::connect(&settings, "tests", &cancel)
            .await
            .expect("test broker");
        bus.declare_topology().await.expect("topology");
        TestBus {
            namespace,
            settings,
            bus,
            extra_queues: Arc::default(),
            cancel,
        }
    }

    pub fn bus(&self) -> &Bus {
        &self.bus
    }

    /// Records every message published to `exchange` with one of `keys` from now on.
    pub async fn tap(&self, exchange: &str, keys: &[&str]) -> Tap {
        let queue = format!("tap.{}", &uuid::Uuid::new_v4().simple().to_string()[..8]);
        self.bus
            .declare_queue(&queue, exchange, keys)
            .await
            .expect("tap queue");
        self.extra_queues.lock().unwrap().push(queue.clone());
        let (tx, rx) = mpsc::unbounded_channel();
        let cancel = self.cancel.child_token();
        let bus = self.bus.clone();
        let opts = ConsumerOptions::new(&bus, &queue).max_attempts(1);
        tokio::spawn(async move {
            let _ = bus
                .consume(
                    opts,
                    move |m: Message<serde_json::Value>| {
                        let tx = tx.clone();
                        async move { tx.send(m).map_err(|_| HandlerError::retry("tap closed")) }
                    },
                    cancel,
                )
                .await;
        });
        Tap { rx, queue }
    }

    /// Remembers an ad hoc queue so it is deleted with the namespace.
    pub fn track_queue(&self, logical: &str) {
        self.extra_queues.lock().unwrap().push(logical.to_string());
    }
}

impl Drop for TestBus {
    fn drop(&mut self) {
        self.cancel.cancel();
        let settings = self.settings.clone();
        let extra = self.extra_queues.lock().unwrap().clone();
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async move {
                let cancel = CancellationToken::new();
                if let Ok(bus) = Bus::connect(&settings, "tests-cleanup", &cancel).await {
                    let _ = bus::topology::delete(&bus, &extra).await;
                    bus.close().await;
                }
            });
        })
        .join();
    }
}

/// Messages seen on a tapped exchange.
pub struct Tap {
    rx: mpsc::UnboundedReceiver<Message<serde_json::Value>>,
    pub queue: String,
}

impl Tap {
    /// The next message, or `None` after `timeout`.
    pub async fn next(&mut self, timeout: Duration) -> Option<Message<serde_json::Value>> {
        tokio::time::timeout(timeout, self.rx.recv())
            .await
            .ok()
            .flatten()
    }

    /// Waits for a message of type `kind`, skipping others; panics after `timeout`.
    pub async fn expect(&mut self, kind: &str, timeout: Duration) -> Message<serde_json::Value> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            match self.next(left).await {
                Some(m) if m.envelope.kind == kind => return m,
                Some(_) => continue,
                None => panic!("no `{kind}` message within {timeout:?}"),
            }
        }
    }

    /// Every message arriving within `window`.
    pub async fn drain(&mut self, window: Duration) -> Vec<Message<serde_json::Value>> {
        let deadline = tokio::time::Instant::now() + window;
        let mut out = Vec::new();
        while let Ok(Some(m)) = tokio::time::timeout_at(deadline, self.rx.recv()).await {
            out.push(m);
        }
        out
    }

    /// Collects `n` messages or panics after `timeout`.
    pub async fn collect(
        &mut self,
        n: usize,
        timeout: Duration,
    ) -> Vec<Message<serde_json::Value>> {
        let deadline = tokio::time::Instant::now() + timeout;
        let mut out = Vec::with_capacity(n);
        while out.len() < n {
            match tokio::time::timeout_at(deadline, self.rx.recv()).await {
                Ok(Some(m)) => out.push(m),
                _ => panic!("only {} of {n} messages within {timeout:?}", out.len()),
            }
        }
        out
    }
}

/// Closes, from the broker side, every connection whose client named itself `name`
/// (`rabbitmqctl close_connection`), as a broker restart or an operator would. Returns how
/// many were closed.
pub fn close_connections_named(name: &str) -> usize {
    // The table output prints pids the way `close_connection` accepts them.
    let out = std::process::Command::new("rabbitmqctl")
        .args(["list_connections", "pid", "client_properties", "-q", "-s"])
        .output()
        .expect("rabbitmqctl runs");
    let text = String::from_utf8_lossy(&out.stdout);
    let needle = format!("{{\"connection_name\",\"{name}\"}}");
    let mut closed = 0;
    for line in text.lines().filter(|l| l.contains(&needle)) {
        let Some(pid) = line.split_whitespace().next() else {
            continue;
        };
        let status = std::process::Command::new("rabbitmqctl")
            .args(["close_connection", pid, "closed by test"])
            .status()
            .expect("rabbitmqctl runs");
        if status.success() {
            closed += 1;
        }
    }
    if closed == 0 {
        eprintln!("no connection named {name} among: {text}");
    }
    closed
}

/// A second RabbitMQ user (created with `rabbitmqctl`, full permissions on the test vhost,
/// deleted on drop), to check what a service does with messages from someone else.
pub struct TempUser {
    pub name: String,
    pub password: String,
}

impl TempUser {
    pub fn create(prefix: &str) -> TempUser {
        let name = format!(
            "{prefix}-{}",
            &uuid::Uuid::new_v4().simple().to_string()[..8]
        );
        let password = uuid::Uuid::new_v4().simple().to_string();
        let ctl = |args: &[&str]| {
            let out = std::process::Command::new("rabbitmqctl")
                .args(args)
                .output()
                .expect("rabbitmqctl runs");
            assert!(
                out.status.success(),
                "rabbitmqctl {args:?}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        };
        ctl(&["add_user", &name, &password]);
        ctl(&["set_permissions", "-p", "/", &name, ".*", ".*", ".*"]);
        TempUser { name, password }
    }

    /// The broker URL logging in as this user.
    pub fn url(&self) -> String {
        let base = broker_url();
        let rest = base
            .split_once('@')
            .map(|(_, r)| r)
            .unwrap_or("127.0.0.1:5672/%2f");
        format!("amqp://{}:{}@{rest}", self.name, self.password)
    }
}

impl Drop for TempUser {
    fn drop(&mut self) {
        let _ = std::process::Command::new("rabbitmqctl")
            .args(["delete_user", &self.name])
            .output();
    }
}
