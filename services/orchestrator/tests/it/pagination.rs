//! Bad page sizes are refused the same way on every list, never quietly replaced.

use crate::common::*;
use crate::rest_common::*;

#[tokio::test]
async fn bad_log_limits_are_refused_naming_the_field() {
    let o = Orch::start().await;
    for bad in ["0", "-4", "1001", "100000"] {
        for path in ["/api/logs", "/api/incidents"] {
            let (s, b) = get_json(&o, &format!("{path}?limit={bad}")).await;
            assert_eq!(
                (s, b["field"].as_str()),
                (400, Some("limit")),
                "{path} {bad}: {b}"
            );
        }
    }
    assert_eq!(get_json(&o, "/api/logs?limit=1000").await.0, 200);
}
