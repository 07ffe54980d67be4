//! What the REST tests share: requests answered as status and JSON, and an incident to
//! work on.
//! Relies on the test crate's `mod common;`.

#![allow(dead_code)]

use domain::Level;
use serde_json::Value;

use crate::common::{Orch, jenkins};

pub async fn body(resp: reqwest::Response) -> (u16, Value) {
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap_or(Value::Null))
}

/// `method path`, with a JSON body when given, as one of the test people.
pub async fn send(
    o: &Orch,
    who: &str,
    method: reqwest::Method,
    path: &str,
    b: Option<Value>,
) -> (u16, Value) {
    let mut req = o.as_(who, method, path);
    if let Some(b) = b {
        req = req.json(&b);
    }
    body(req.send().await.unwrap()).await
}

/// `POST path` with a JSON body and the test token.
pub async fn post_json<T: serde::Serialize + ?Sized>(
    o: &Orch,
    path: &str,
    json: &T,
) -> (u16, Value) {
    body(o.post(path).json(json).send().await.unwrap()).await
}

/// `GET path` with the test token.
pub async fn get_json(o: &Orch, path: &str) -> (u16, Value) {
    body(o.get(path).send().await.unwrap()).await
}

pub async fn open_incident(o: &Orch, job: &str) -> i64 {
    o.publish(jenkins(Level::Error, "BUILD FAILED", job, 3))
        .await;
    let sql = format!("SELECT count(*) FROM incidents WHERE job_name = '{job}'");
    o.wait_count(&sql, 1).await;
    sqlx::query_scalar("SELECT id FROM incidents WHERE job_name = $1")
        .bind(job)
        .fetch_one(o.pool())
        .await
        .unwrap()
}
