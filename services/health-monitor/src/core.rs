//! What every part of the health-monitor shares: the database, the bus, settings, metrics
//! and the HTTP client probes use.

use std::sync::Arc;
use std::time::Duration;

use bus::Bus;
use sqlx::PgPool;

use crate::metrics::MonitorMetrics;
use crate::settings::HealthMonitorSections;

#[derive(Clone)]
pub struct Core {
    pub pool: PgPool,
    pub bus: Bus,
    /// This monitor's instance id (the leader lease names it).
    pub instance_id: String,
    pub settings: Arc<HealthMonitorSections>,
    pub metrics: MonitorMetrics,
    /// Follows no redirect: a probe goes only where it was configured to.
    pub probe_client: reqwest::Client,
    /// One `/check-services` round at a time per process: a reload-happy browser must not
    /// multiply the probes sent to external services.
    pub check_lock: Arc<tokio::sync::Mutex<()>>,
    started: std::time::Instant,
}

impl Core {
    pub fn new(
        pool: PgPool,
        bus: Bus,
        instance_id: String,
        settings: HealthMonitorSections,
        metrics: MonitorMetrics,
    ) -> Core {
        let probe_client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(Duration::from_secs(5))
            .user_agent(concat!(
                "runbooks-health-monitor/",
                env!("CARGO_PKG_VERSION")
            ))
            .build()
            .expect("an HTTP client with rustls");
        Core {
            pool,
            bus,
            instance_id,
            settings: Arc::new(settings),
            metrics,
            probe_client,
            check_lock: Arc::default(),
            started: std::time::Instant::now(),
        }
    }

    /// When an instance counts as silent: `down_after_secs`, or two of its own heartbeat
    /// intervals when those are longer (a slow beater must not flap; the SQL applies that).
    pub fn down_after_secs(&self) -> i64 {
        self.settings.health.down_after_secs as i64
    }

    /// Whether this monitor has run for one silence period: before that, the heartbeats on
    /// record may predate its start and silence proves nothing.
    pub fn settled(&self) -> bool {
        self.started.elapsed() >= Duration::from_secs(self.settings.health.down_after_secs)
    }
}
