//! LastSentStore: ids of documents the broker confirmed whose timestamps are still inside
//! the overlap window, so that re-reading the window publishes only what is new. Bounded by
//! count (the oldest go first) and persisted with the checkpoint.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;

use serde_json::{Value, json};

pub struct LastSentStore {
    ids: HashMap<Arc<str>, i64>,
    /// Insertion order, which is timestamp order except for late documents.
    order: VecDeque<(i64, Arc<str>)>,
    capacity: usize,
}

impl LastSentStore {
    pub fn new(capacity: usize) -> Self {
        LastSentStore {
            ids: HashMap::new(),
            order: VecDeque::new(),
            capacity: capacity.max(1),
        }
    }

    /// Reads what [`LastSentStore::to_json`] wrote; malformed entries are ignored (they
    /// only cost a duplicate).
    pub fn from_json(v: &Value, capacity: usize) -> Self {
        let mut store = LastSentStore::new(capacity);
        if let Some(items) = v.as_array() {
            for item in items {
                if let (Some(id), Some(ts)) = (item[0].as_str(), item[1].as_i64()) {
                    store.insert(id, ts);
                }
            }
        }
        store
    }

    pub fn contains(&self, id: &str) -> bool {
        self.ids.contains_key(id)
    }

    pub fn len(&self) -> usize {
        self.ids.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }

    /// Records a confirmed document (its timestamp in epoch milliseconds).
    pub fn insert(&mut self, id: &str, ts_ms: i64) {
        if self.ids.contains_key(id) {
            return;
        }
        let id: Arc<str> = id.into();
        self.ids.insert(id.clone(), ts_ms);
        self.order.push_back((ts_ms, id));
        while self.ids.len() > self.capacity {
            self.pop_front();
        }
    }

    fn pop_front(&mut self) {
        if let Some((_, id)) = self.order.pop_front() {
            self.ids.remove(&id);
        }
    }

    /// Forgets documents older than `floor_ms`: the next poll does not read back that far.
    pub fn evict_before(&mut self, floor_ms: i64) {
        while self.order.front().is_some_and(|(ts, _)| *ts < floor_ms) {
            self.pop_front();
        }
    }

    /// `[["index/id", epoch_ms], ...]`, oldest first, without entries older than `floor_ms`.
    pub fn to_json(&self, floor_ms: i64) -> Value {
        Value::Array(
            self.order
                .iter()
                .filter(|(ts, _)| *ts >= floor_ms)
                .map(|(ts, id)| json!([&**id, ts]))
                .collect(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounded_by_count_and_by_age() {
        let mut s = LastSentStore::new(3);
        for (i, id) in ["a", "b", "c", "d"].iter().enumerate() {
            s.insert(id, i as i64 * 10);
        }
        assert_eq!(s.len(), 3);
        assert!(!s.contains("a"), "the oldest went first");
        assert!(s.contains("d"));
        s.insert("d", 99);
        assert_eq!(s.len(), 3, "ids are kept once");
        s.evict_before(25);
        assert!(!s.contains("b") && !s.contains("c") && s.contains("d"));
    }

    #[test]
    fn persisted_form_round_trips() {
        let mut s = LastSentStore::new(10);
        s.insert("logs-1/x", 5);
        s.insert("logs-1/y", 7);
        let v = s.to_json(6);
        assert_eq!(v, json!([["logs-1/y", 7]]));
        let back = LastSentStore::from_json(&s.to_json(0), 10);
        assert!(back.contains("logs-1/x") && back.contains("logs-1/y"));
        let odd = LastSentStore::from_json(&json!([["ok", 1], ["no ts"], 3]), 10);
        assert_eq!(odd.len(), 1);
    }
}
