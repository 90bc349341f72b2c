//! `GET /queries/{id}/progress`: a persistent query's committed positions as JSON.
//!
//! ```json
//! {"queryId":"CSAS_S_1","caughtUp":true,
//!  "sources":[{"topic":"t","partition":0,"position":10,"endOffset":10}]}
//! ```

use serde_json::json;
use sluice_engine::QueryProgress;

pub fn render_query_progress(progress: &QueryProgress) -> Vec<u8> {
    let sources: Vec<serde_json::Value> = progress
        .sources
        .iter()
        .map(|(topic, partition, position, end)| {
            json!({"topic": topic, "partition": partition, "position": position, "endOffset": end})
        })
        .collect();
    let body = json!({
        "queryId": progress.query_id,
        "caughtUp": progress.caught_up,
        "sources": sources,
    });
    serde_json::to_vec(&body).expect("progress always serializes")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_the_documented_shape() {
        let p = QueryProgress {
            query_id: "CSAS_S_1".into(),
            caught_up: false,
            sources: vec![("t".into(), 0, 3, 5)],
        };
        let rendered: serde_json::Value =
            serde_json::from_slice(&render_query_progress(&p)).unwrap();
        assert_eq!(
            rendered,
            json!({"queryId": "CSAS_S_1", "caughtUp": false,
                   "sources": [{"topic": "t", "partition": 0, "position": 3, "endOffset": 5}]})
        );
    }
}
