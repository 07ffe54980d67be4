//! A fresh, migrated database per test, dropped afterwards.

use sqlx::{Connection, PgConnection, PgPool};
use store::DatabaseSettings;

/// The server tests run against (`TEST_DATABASE_URL`, else the local default), without a
/// database name.
pub fn server_url() -> String {
    std::env::var("TEST_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432".into())
}

pub struct TestDb {
    pub name: String,
    pub settings: DatabaseSettings,
    pub pool: PgPool,
}

impl TestDb {
    /// Creates `rbt_<random>` and applies every migration.
    pub async fn new() -> TestDb {
        let name = format!("rbt_{}", uuid::Uuid::new_v4().simple());
        let settings = DatabaseSettings {
            url: format!("{}/{name}", server_url()),
            max_connections: 20,
            connect_timeout_secs: 10,
            ..DatabaseSettings::default()
        };
        let pool = store::connect(&settings).await.expect("test database");
        store::migrate(&pool).await.expect("migrations apply");
        TestDb {
            name,
            settings,
            pool,
        }
    }

    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    pub fn url(&self) -> &str {
        &self.settings.url
    }

    /// The server's address (for a [`crate::proxy::TcpProxy`] in front of it).
    pub fn server_addr(&self) -> std::net::SocketAddr {
        let u = url::Url::parse(&self.settings.url).expect("database url");
        let host = u.host_str().unwrap_or("127.0.0.1");
        let host = if host == "localhost" {
            "127.0.0.1"
        } else {
            host
        };
        format!("{host}:{}", u.port().unwrap_or(5432))
            .parse()
            .expect("database server address")
    }

    /// This database's URL through a proxy on 127.0.0.1:`port`.
    pub fn url_through(&self, port: u16) -> String {
        let mut u = url::Url::parse(&self.settings.url).expect("database url");
        u.set_host(Some("127.0.0.1")).expect("host");
        u.set_port(Some(port)).expect("port");
        u.to_string()
    }

    /// Turns the database read-only (`default_transaction_read_only`), as a primary demoted
    /// by a failover answers, and ends every session on it so that pools reconnect into
    /// read-only sessions; `false` turns it back.
    pub async fn set_read_only(&self, on: bool) {
        let mut admin = PgConnection::connect(&format!("{}/postgres", server_url()))
            .await
            .expect("admin connection");
        sqlx::query(&format!(
            "ALTER DATABASE \"{}\" SET default_transaction_read_only = {}",
            self.name,
            if on { "on" } else { "off" }
        ))
        .execute(&mut admin)
        .await
        .expect("alter database");
        self.terminate_sessions_with(&mut admin).await;
    }

    /// Ends every session on this database (`57P01 terminating connection due to
    /// administrator command`), as a server restart or a failover does.
    pub async fn terminate_sessions(&self) {
        let mut admin = PgConnection::connect(&format!("{}/postgres", server_url()))
            .await
            .expect("admin connection");
        self.terminate_sessions_with(&mut admin).await;
    }

    async fn terminate_sessions_with(&self, admin: &mut PgConnection) {
        sqlx::query(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity
             WHERE datname = $1 AND pid <> pg_backend_pid()",
        )
        .bind(&self.name)
        .execute(admin)
        .await
        .expect("terminate sessions");
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let name = self.name.clone();
        // Drop runs inside the test's runtime; a private one on its own thread can block.
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async move {
                if let Ok(mut c) =
                    PgConnection::connect(&format!("{}/postgres", server_url())).await
                {
                    let _ =
                        sqlx::query(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"))
                            .execute(&mut c)
                            .await;
                }
            });
        })
        .join();
    }
}
