use std::time::Duration;

use serde_json::{Value, json};

use super::*;

async fn post(url: &str, body: Value) -> (u16, Value) {
    crate::init_tracing();
    let resp = reqwest::Client::new()
        .post(url)
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap_or(Value::Null))
}

fn doc(ts: &str, n: usize) -> Value {
    json!({"@timestamp": ts, "message": format!("line {n}"), "log": {"level": "info"}})
}

fn manual() -> FakeEsConfig {
    FakeEsConfig {
        refresh_interval: None,
        ..FakeEsConfig::default()
    }
}

#[tokio::test]
async fn bulk_answers_like_elasticsearch_and_documents_wait_for_a_refresh() {
    crate::init_tracing();
    let es = FakeElasticsearch::start(manual()).await;
    let body = "{\"index\":{\"_index\":\"logs-jenkins-1\",\"_id\":\"a\"}}\n{\"@timestamp\":\"2026-11-29T10:00:00Z\"}\n\
                {\"create\":{\"_index\":\"logs-jenkins-1\"}}\n{\"@timestamp\":\"2026-11-29T10:00:00Z\"}\n\
                {\"create\":{\"_index\":\"logs-jenkins-1\",\"_id\":\"a\"}}\n{\"@timestamp\":\"2026-11-29T10:00:00Z\"}\n";
    let resp = reqwest::Client::new()
        .post(format!("{}/_bulk", es.url()))
        .header("content-type", "application/x-ndjson")
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.headers()["x-elastic-product"], "Elasticsearch");
    let v: Value = resp.json().await.unwrap();
    assert_eq!(v["errors"], true);
    assert_eq!(v["items"][0]["index"]["result"], "created");
    assert_eq!(v["items"][0]["index"]["status"], 201);
    assert_eq!(v["items"][1]["create"]["_id"].as_str().unwrap().len(), 20);
    assert_eq!(v["items"][2]["create"]["status"], 409);
    assert_eq!(
        v["items"][2]["create"]["error"]["type"],
        "version_conflict_engine_exception"
    );

    let search = |es: String| async move {
        post(
            &format!("{es}/logs-jenkins*/_search"),
            json!({"query": {"match_all": {}}}),
        )
        .await
    };
    let (status, v) = search(es.url()).await;
    assert_eq!(status, 200);
    assert_eq!(v["hits"]["hits"], json!([]), "invisible before a refresh");
    es.admin().refresh("logs-jenkins*").await;
    let (_, v) = search(es.url()).await;
    assert_eq!(v["hits"]["total"], json!({"value": 2, "relation": "eq"}));
    assert_eq!(v["hits"]["hits"][0]["_id"], "a");
    assert_eq!(v["hits"]["hits"][0]["_index"], "logs-jenkins-1");
}

#[tokio::test]
async fn a_point_in_time_pages_a_frozen_view_with_search_after() {
    let es = FakeElasticsearch::start(manual()).await;
    let admin = es.admin();
    admin.create_index("logs-api-1", true).await;
    let same = "2026-11-29T10:00:00.000Z";
    let docs: Vec<_> = (0..25)
        .map(|i| (format!("d{i:02}"), doc(same, i)))
        .collect();
    admin.index_docs("logs-api-1", &docs, true).await;

    let (status, pit) = post(
        &format!("{}/logs-api*/_pit?keep_alive=1m", es.url()),
        json!(null),
    )
    .await;
    assert_eq!(status, 200, "{pit}");
    let pit_id = pit["id"].as_str().unwrap().to_string();
    // Written after the PIT opened: never visible through it.
    admin
        .index_docs("logs-api-1", &[("late".into(), doc(same, 99))], true)
        .await;

    let mut after: Option<Value> = None;
    let mut ids = Vec::new();
    loop {
        let mut body = json!({
            "size": 10,
            "pit": {"id": pit_id, "keep_alive": "1m"},
            "query": {"range": {"@timestamp": {"gte": same, "lte": same}}},
            "sort": [{"@timestamp": {"order": "asc", "unmapped_type": "date"}}, {"_shard_doc": "asc"}],
            "_source": {"includes": ["message"]},
            "track_total_hits": false,
        });
        if let Some(a) = &after {
            body["search_after"] = a.clone();
        }
        let (status, v) = post(&format!("{}/_search", es.url()), body).await;
        assert_eq!(status, 200, "{v}");
        assert_eq!(v["pit_id"], pit_id.as_str());
        assert!(v["hits"].get("total").is_none());
        let hits = v["hits"]["hits"].as_array().unwrap().clone();
        if hits.is_empty() {
            break;
        }
        let last = hits.last().unwrap();
        assert_eq!(
            last["sort"][0], 1_795_946_400_000_i64,
            "dates sort as epoch millis"
        );
        assert_eq!(
            last["_source"],
            json!({"message": last["_source"]["message"]})
        );
        after = Some(last["sort"].clone());
        ids.extend(hits.iter().map(|h| h["_id"].as_str().unwrap().to_string()));
    }
    assert_eq!(ids.len(), 25);
    assert!(!ids.contains(&"late".to_string()));

    let closed = reqwest::Client::new()
        .delete(format!("{}/_pit", es.url()))
        .json(&json!({"id": pit_id}))
        .send()
        .await
        .unwrap();
    assert_eq!(closed.status(), 200);
    let (status, v) = post(
        &format!("{}/_search", es.url()),
        json!({"pit": {"id": pit_id}, "sort": [{"_shard_doc": "asc"}]}),
    )
    .await;
    assert_eq!(status, 404);
    assert_eq!(v["error"]["type"], "search_phase_execution_exception");
    assert_eq!(es.open_pits(), 0);
}

#[tokio::test]
async fn without_the_pit_api_the_probe_is_404_and_id_sorting_still_pages() {
    let es = FakeElasticsearch::start(FakeEsConfig {
        point_in_time: false,
        ..manual()
    })
    .await;
    let admin = es.admin();
    let docs: Vec<_> = (0..5)
        .map(|i| (format!("id{i}"), doc("2026-11-29T10:00:00Z", i)))
        .collect();
    admin.index_docs("logs-jenkins-a", &docs, true).await;
    let (status, v) = post(
        &format!("{}/logs-jenkins*/_pit?keep_alive=1m", es.url()),
        json!(null),
    )
    .await;
    assert_eq!(status, 404, "{v}");
    assert_ne!(v["error"]["type"], "index_not_found_exception");
    assert_eq!(es.stats().pit_refused, 1);

    let body = json!({"size": 3, "sort": [{"@timestamp": "asc"}, {"_id": "asc"}],
        "search_after": [1_795_946_400_000_i64, "id2"]});
    let (status, v) = post(&format!("{}/logs-jenkins*/_search", es.url()), body).await;
    assert_eq!(status, 200, "{v}");
    let ids: Vec<_> = v["hits"]["hits"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["_id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["id3", "id4"]);

    let (status, v) = post(
        &format!("{}/logs-jenkins*/_search", es.url()),
        json!({"sort": ["_shard_doc"]}),
    )
    .await;
    assert_eq!(status, 400, "{v}");
    let (status, v) = post(&format!("{}/missing/_search", es.url()), json!({})).await;
    assert_eq!(
        (status, v["error"]["type"].as_str()),
        (404, Some("index_not_found_exception"))
    );
}

#[tokio::test]
async fn refresh_interval_and_faults() {
    let es = FakeElasticsearch::start(FakeEsConfig {
        refresh_interval: Some(Duration::from_millis(100)),
        ..FakeEsConfig::default()
    })
    .await;
    es.admin()
        .index_docs(
            "logs-api-x",
            &[("a".into(), doc("2026-11-29T10:00:00Z", 0))],
            false,
        )
        .await;
    crate::wait_until("the periodic refresh", Duration::from_secs(5), || async {
        let (_, v) = post(&format!("{}/logs-api-x/_search", es.url()), json!({})).await;
        v["hits"]["hits"].as_array().is_some_and(|h| h.len() == 1)
    })
    .await;
    es.set_down(true);
    let (status, v) = post(&format!("{}/_search", es.url()), json!({})).await;
    assert_eq!(status, 503, "{v}");
    es.set_down(false);
    let (status, _) = post(&format!("{}/_search", es.url()), json!({})).await;
    assert_eq!(status, 200);
    assert_eq!(es.doc_count("logs-api*"), 1);
}
