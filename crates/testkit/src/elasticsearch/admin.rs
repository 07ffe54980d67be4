//! Seeding a server over its HTTP API, so the same test code drives the fake and a real
//! Elasticsearch (`ELASTICSEARCH_URL`).

use std::sync::{Arc, Mutex};

use serde_json::{Value, json};

use super::{FakeElasticsearch, FakeEsConfig};

/// Index, bulk, refresh and delete calls against any Elasticsearch.
#[derive(Clone)]
pub struct EsAdmin {
    base: String,
    client: reqwest::Client,
    /// Indices this client created or wrote to, for cleanup.
    touched: Arc<Mutex<Vec<String>>>,
}

impl EsAdmin {
    pub fn new(url: &str) -> Self {
        // reqwest is built without a default rustls provider.
        let _ = rustls::crypto::ring::default_provider().install_default();
        EsAdmin {
            base: url.trim_end_matches('/').to_string(),
            client: reqwest::Client::new(),
            touched: Arc::default(),
        }
    }

    pub fn url(&self) -> &str {
        &self.base
    }

    fn touch(&self, index: &str) {
        let mut t = self.touched.lock().unwrap_or_else(|e| e.into_inner());
        if !t.iter().any(|i| i == index) {
            t.push(index.to_string());
        }
    }

    async fn call(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
        let mut req = self
            .client
            .request(method.clone(), format!("{}{path}", self.base));
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req
            .send()
            .await
            .unwrap_or_else(|e| panic!("{method} {path}: {e}"));
        let status = resp.status();
        let body: Value = resp.json().await.unwrap_or(Value::Null);
        assert!(status.is_success(), "{method} {path}: {status} {body}");
        body
    }

    /// Creates `name` with the ECS fields the listener reads mapped. With `manual_refresh`
    /// documents stay invisible until [`EsAdmin::refresh`] (`refresh_interval: -1`).
    pub async fn create_index(&self, name: &str, manual_refresh: bool) {
        self.touch(name);
        let keyword = json!({"type": "keyword"});
        let body = json!({
            "settings": {"index": {"refresh_interval": if manual_refresh { "-1" } else { "1s" }}},
            "mappings": {"properties": {
                "@timestamp": {"type": "date"},
                "message": {"type": "text"},
                "log": {"properties": {"level": keyword}},
                "event": {"properties": {"id": keyword, "duration": {"type": "long"}}},
                "jenkins": {"properties": {
                    "job": {"properties": {"name": keyword}},
                    "build": {"properties": {"number": {"type": "long"}}}}},
                "http": {"properties": {
                    "request": {"properties": {"method": keyword}},
                    "response": {"properties": {"status_code": {"type": "long"}}}}},
                "url": {"properties": {"path": keyword}},
                "service": {"properties": {"name": keyword}},
            }}
        });
        self.call(reqwest::Method::PUT, &format!("/{name}"), Some(body))
            .await;
    }

    /// Writes `(id, source)` documents to `index` through `_bulk`, in chunks; panics on any
    /// item error. With `refresh` they are searchable when this returns.
    pub async fn index_docs(&self, index: &str, docs: &[(String, Value)], refresh: bool) {
        self.touch(index);
        for chunk in docs.chunks(5_000) {
            let mut body = String::new();
            for (id, source) in chunk {
                body.push_str(&json!({"index": {"_index": index, "_id": id}}).to_string());
                body.push('\n');
                body.push_str(&source.to_string());
                body.push('\n');
            }
            let path = if refresh {
                "/_bulk?refresh=true"
            } else {
                "/_bulk"
            };
            let resp = self
                .client
                .post(format!("{}{path}", self.base))
                .header("content-type", "application/x-ndjson")
                .body(body)
                .send()
                .await
                .expect("bulk request");
            let status = resp.status();
            let v: Value = resp.json().await.expect("bulk response");
            assert!(
                status.is_success() && v["errors"] == false,
                "bulk failed: {status} {v}"
            );
        }
    }

    pub async fn refresh(&self, expr: &str) {
        self.call(reqwest::Method::POST, &format!("/{expr}/_refresh"), None)
            .await;
    }

    pub async fn delete_index(&self, expr: &str) {
        self.call(reqwest::Method::DELETE, &format!("/{expr}"), None)
            .await;
    }
}

/// The Elasticsearch a test tails: the fake, or the real server `ELASTICSEARCH_URL` names.
/// Index names get a per-test prefix so tests sharing a real server do not meet; on a real
/// server the test's indices are deleted on drop.
pub struct TestElasticsearch {
    fake: Option<FakeElasticsearch>,
    admin: EsAdmin,
    pub prefix: String,
}

impl TestElasticsearch {
    pub async fn start_fake(config: FakeEsConfig) -> Self {
        let fake = FakeElasticsearch::start(config).await;
        let admin = fake.admin();
        TestElasticsearch {
            fake: Some(fake),
            admin,
            prefix: new_prefix(),
        }
    }

    /// The server `ELASTICSEARCH_URL` names, or `None` (saying why) when it is not set.
    pub fn real(test: &str) -> Option<Self> {
        match std::env::var("ELASTICSEARCH_URL") {
            Ok(url) if !url.trim().is_empty() => Some(TestElasticsearch {
                fake: None,
                admin: EsAdmin::new(&url),
                prefix: new_prefix(),
            }),
            _ => {
                eprintln!(
                    "{test}: skipped against a real Elasticsearch: ELASTICSEARCH_URL is not set"
                );
                None
            }
        }
    }

    pub fn url(&self) -> String {
        self.admin.url().to_string()
    }

    pub fn admin(&self) -> &EsAdmin {
        &self.admin
    }

    /// The fake, when this is one (fault injection, PIT switch, statistics).
    pub fn fake(&self) -> Option<&FakeElasticsearch> {
        self.fake.as_ref()
    }

    /// `name` under this test's prefix: `t1a2b3c4d-logs-jenkins-1`.
    pub fn index(&self, name: &str) -> String {
        format!("{}-{name}", self.prefix)
    }
}

fn new_prefix() -> String {
    format!("t{}", &uuid::Uuid::new_v4().simple().to_string()[..8])
}

impl Drop for TestElasticsearch {
    fn drop(&mut self) {
        if self.fake.is_some() {
            return;
        }
        // Named one by one: Elasticsearch 8 refuses wildcard deletes by default.
        let names = self
            .admin
            .touched
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .join(",");
        if names.is_empty() {
            return;
        }
        let url = format!("{}/{names}?ignore_unavailable=true", self.admin.base);
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            // A client of its own: pooled connections of the test's client belong to the
            // test's runtime, which is blocked here.
            rt.block_on(async move {
                let _ = reqwest::Client::new()
                    .delete(url)
                    .timeout(std::time::Duration::from_secs(10))
                    .send()
                    .await;
            });
        })
        .join();
    }
}
