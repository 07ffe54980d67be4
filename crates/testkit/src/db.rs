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
