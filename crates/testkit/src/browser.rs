//! A real browser for tests: headless Chromium (Debian's `chromium`, or `CHROMIUM`) with a
//! fresh profile and no network but loopback, driven over the DevTools protocol — navigate,
//! run script in the page, wait for a condition, take a screenshot.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{WebSocketStream, client_async};

type Ws = WebSocketStream<TcpStream>;

pub struct Browser {
    child: tokio::process::Child,
    profile: PathBuf,
    ws: Ws,
    next_id: u64,
}

/// The `ws://host:port/path` of a DevTools endpoint, split.
fn split_ws(url: &str) -> (String, String) {
    let rest = url.strip_prefix("ws://").expect("a ws:// DevTools url");
    let (host, path) = rest.split_once('/').expect("a path");
    (host.to_string(), format!("/{path}"))
}

impl Browser {
    /// Starts Chromium and attaches to its first page.
    pub async fn launch() -> Browser {
        let bin = std::env::var("CHROMIUM").unwrap_or_else(|_| "chromium".into());
        let profile =
            std::env::temp_dir().join(format!("rb-cdp-{}", uuid::Uuid::new_v4().simple()));
        let mut child = tokio::process::Command::new(&bin)
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--disable-dev-shm-usage",
                // Anything but loopback (which bypasses proxies) goes to a dead proxy.
                "--proxy-server=http://127.0.0.1:9",
                "--remote-debugging-port=0",
                "--window-size=1400,1000",
                &format!("--user-data-dir={}", profile.display()),
                "about:blank",
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .unwrap_or_else(|e| {
                panic!("cannot run `{bin}` ({e}): `apt-get install -y chromium` (or run .ci/run), or set CHROMIUM")
            });
        let mut lines = BufReader::new(child.stderr.take().expect("stderr")).lines();
        let browser_ws = tokio::time::timeout(Duration::from_secs(30), async {
            while let Ok(Some(line)) = lines.next_line().await {
                if let Some(url) = line.split("DevTools listening on ").nth(1) {
                    return url.trim().to_string();
                }
            }
            panic!("chromium exited before it listened for DevTools");
        })
        .await
        .expect("chromium's DevTools within 30 s");
        // Keep draining stderr so Chromium never blocks on a full pipe.
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        let (host, _) = split_ws(&browser_ws);
        let list: Value = reqwest::get(format!("http://{host}/json/list"))
            .await
            .expect("DevTools /json/list")
            .json()
            .await
            .expect("a JSON target list");
        let page = list
            .as_array()
            .and_then(|l| l.iter().find(|t| t["type"] == "page"))
            .and_then(|t| t["webSocketDebuggerUrl"].as_str())
            .expect("a page target")
            .to_string();
        let (host, path) = split_ws(&page);
        let stream = TcpStream::connect(&host).await.expect("DevTools socket");
        let (ws, _) = client_async(format!("ws://{host}{path}"), stream)
            .await
            .expect("DevTools handshake");
        let mut b = Browser {
            child,
            profile,
            ws,
            next_id: 0,
        };
        b.call("Page.enable", json!({})).await;
        b.call("Runtime.enable", json!({})).await;
        b.call(
            "Emulation.setDeviceMetricsOverride",
            json!({"width": 1400, "height": 1000, "deviceScaleFactor": 1, "mobile": false}),
        )
        .await;
        b
    }

    /// One DevTools command and its result (events meanwhile are skipped). A protocol
    /// error comes back as `Err`.
    pub async fn try_call(&mut self, method: &str, params: Value) -> Result<Value, Value> {
        self.next_id += 1;
        let id = self.next_id;
        let msg = json!({"id": id, "method": method, "params": params}).to_string();
        self.ws
            .send(Message::text(msg))
            .await
            .expect("DevTools send");
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let next = tokio::time::timeout(left, self.ws.next())
                .await
                .unwrap_or_else(|_| panic!("no answer to {method} within 30 s"));
            let Some(Ok(Message::Text(text))) = next else {
                if next.is_none() {
                    panic!("DevTools closed during {method}");
                }
                continue;
            };
            let v: Value = serde_json::from_str(text.as_str()).expect("DevTools JSON");
            if v["id"].as_u64() == Some(id) {
                return match v.get("error") {
                    Some(e) => Err(e.clone()),
                    None => Ok(v["result"].clone()),
                };
            }
        }
    }

    pub async fn call(&mut self, method: &str, params: Value) -> Value {
        self.try_call(method, params)
            .await
            .unwrap_or_else(|e| panic!("{method} failed: {e}"))
    }

    /// Evaluates `js` in the page (promises awaited); its value, or `Err` while the page
    /// is between documents or the script threw.
    pub async fn try_eval(&mut self, js: &str) -> Result<Value, String> {
        let params = json!({"expression": js, "returnByValue": true, "awaitPromise": true});
        match self.try_call("Runtime.evaluate", params).await {
            Ok(r) if r.get("exceptionDetails").is_some() => Err(r["exceptionDetails"].to_string()),
            Ok(r) => Ok(r["result"]["value"].clone()),
            Err(e) => Err(e.to_string()),
        }
    }

    pub async fn eval(&mut self, js: &str) -> Value {
        self.try_eval(js)
            .await
            .unwrap_or_else(|e| panic!("script failed: {e}\n{js}"))
    }

    pub async fn goto(&mut self, url: &str) {
        self.call("Page.navigate", json!({"url": url})).await;
        self.wait_for(
            "document.readyState === 'complete'",
            Duration::from_secs(30),
        )
        .await;
    }

    /// Waits until `condition` (a script) is true in a loaded page; panics with the page's
    /// text when it never is.
    pub async fn wait_for(&mut self, condition: &str, within: Duration) {
        let js = format!("document.readyState === 'complete' && !!({condition})");
        let deadline = Instant::now() + within;
        while Instant::now() < deadline {
            if self.try_eval(&js).await == Ok(Value::Bool(true)) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let text = self
            .try_eval("location.href + '\\n' + document.body.innerText")
            .await
            .unwrap_or_default();
        panic!("not true within {within:?}: {condition}\npage: {text}");
    }

    /// A PNG of the viewport, written to `path` (its folder is created).
    pub async fn screenshot(&mut self, path: &Path) {
        use base64::Engine;
        let r = self
            .call(
                "Page.captureScreenshot",
                json!({"format": "png", "captureBeyondViewport": true}),
            )
            .await;
        let png = base64::engine::general_purpose::STANDARD
            .decode(r["data"].as_str().expect("screenshot data"))
            .expect("base64 PNG");
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).expect("screenshot folder");
        }
        std::fs::write(path, png).expect("screenshot written");
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.child.start_kill();
        let _ = std::fs::remove_dir_all(&self.profile);
    }
}
