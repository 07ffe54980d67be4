//! A person saves an edited post-mortem: a new version with its author, the facts of the
//! version edited, refused when stale or malformed; `POST` with a body is refused instead of
//! silently regenerating.

use reqwest::Method;
use serde_json::{Value, json};

use crate::common::{Orch, T};
use crate::rest_common::{get_json, open_incident, send};

async fn count(o: &Orch) -> i64 {
    o.count("SELECT count(*) FROM postmortems").await
}

#[tokio::test]
async fn an_operator_saves_an_edited_version_and_the_author_is_recorded() {
    let o = Orch::start_with(|s| {
        s.own.ollama.enabled = false;
        s.own.postmortem.changes_timeout_ms = 200;
    })
    .await;
    let id = open_incident(&o, "edit-job").await;
    let path = format!("/api/incidents/{id}/postmortem");
    let edited = "# Build failed: edit-job #3\n\nThe agent ran out of memory (`java.lang.OutOfMemoryError`).\n";

    // Nothing to edit yet: nothing is written either.
    let (s, b) = send(
        &o,
        "otto",
        Method::PUT,
        &path,
        Some(json!({"markdown": edited})),
    )
    .await;
    assert_eq!(s, 404, "{b}");
    assert_eq!(count(&o).await, 0);

    let (s, v1) = get_json(&o, &path).await;
    assert_eq!((s, v1["version"].as_i64()), (200, Some(1)), "{v1}");

    // Who may edit, and what an edit must look like; none of these stores anything.
    let (s, _) = send(
        &o,
        "vera",
        Method::PUT,
        &path,
        Some(json!({"markdown": edited})),
    )
    .await;
    assert_eq!(s, 403, "a viewer");
    let (s, b) = send(
        &o,
        "otto",
        Method::PUT,
        &path,
        Some(json!({"markdown": edited, "author": "ceo"})),
    )
    .await;
    assert_eq!(s, 422, "an unknown field: {b}");
    assert!(b["message"].as_str().unwrap().contains("author"), "{b}");
    let (s, b) = send(
        &o,
        "otto",
        Method::PUT,
        &path,
        Some(json!({"markdown": "  \n"})),
    )
    .await;
    assert_eq!((s, b["field"].as_str()), (400, Some("markdown")), "{b}");
    let (s, b) = send(
        &o,
        "otto",
        Method::PUT,
        &path,
        Some(json!({"markdown": edited, "title": "two\nlines"})),
    )
    .await;
    assert_eq!((s, b["field"].as_str()), (400, Some("title")), "{b}");
    let long = "x".repeat(domain::commands::MAX_EDITED_MARKDOWN + 1);
    let (s, b) = send(
        &o,
        "otto",
        Method::PUT,
        &path,
        Some(json!({"markdown": long})),
    )
    .await;
    assert_eq!((s, b["field"].as_str()), (400, Some("markdown")), "{b}");
    assert_eq!(count(&o).await, 1);

    let mut tap = o.events().await;
    let (s, v2) = send(
        &o,
        "otto",
        Method::PUT,
        &path,
        Some(json!({"markdown": edited, "based_on": 1})),
    )
    .await;
    assert_eq!(s, 201, "{v2}");
    assert_eq!(v2["version"], 2);
    assert_eq!(v2["writer"], "person");
    assert_eq!(v2["trigger"], "edited");
    assert_eq!(v2["requested_by"], "otto");
    assert_eq!(v2["writer_note"], "edited by otto from version 1");
    assert_eq!(v2["markdown"], edited);
    assert_eq!(v2["title"], v1["title"], "the title stays unless given");
    assert_eq!(v2["facts"], v1["facts"], "the facts of the version edited");
    let ev = tap.expect("postmortem.generated", T).await;
    assert_eq!(
        (
            ev.envelope.payload["version"].as_i64(),
            ev.envelope.payload["writer"].as_str()
        ),
        (Some(2), Some("person"))
    );
    let audit = tap.expect("audit.postmortem.edit", T).await;
    assert_eq!(audit.envelope.payload["actor"], "otto");
    assert_eq!(audit.envelope.payload["details"]["edited_from"], 1);

    // A second edit from the same starting point would silently replace the first: refused.
    let (s, b) = send(
        &o,
        "olga",
        Method::PUT,
        &path,
        Some(json!({"markdown": "mine", "based_on": 1})),
    )
    .await;
    assert_eq!(s, 409, "{b}");
    assert!(b["message"].as_str().unwrap().contains("version 2"), "{b}");
    assert_eq!(count(&o).await, 2);

    // The latest is the edit; the original is kept.
    let (_, latest) = get_json(&o, &path).await;
    assert_eq!(latest["markdown"], edited);
    let (_, first) = get_json(&o, &format!("{path}?version=1")).await;
    assert_eq!(first["markdown"], v1["markdown"]);

    // POST regenerates from the facts and takes no body: a body is refused, not ignored.
    let (s, b) = send(
        &o,
        "otto",
        Method::POST,
        &path,
        Some(json!({"markdown": "x"})),
    )
    .await;
    assert_eq!(s, 422, "{b}");
    assert!(b["message"].as_str().unwrap().contains("PUT"), "{b}");
    assert_eq!(count(&o).await, 2);
    let (s, v3) = send(&o, "otto", Method::POST, &path, None).await;
    assert_eq!((s, v3["writer"].as_str()), (201, Some("template")), "{v3}");

    let (_, versions) = get_json(&o, &format!("/api/incidents/{id}/postmortems")).await;
    let writers: Vec<&str> = versions
        .as_array()
        .unwrap()
        .iter()
        .map(|v: &Value| v["writer"].as_str().unwrap())
        .collect();
    assert_eq!(writers, ["template", "person", "template"]);
}
