//! No name a client chooses ever becomes a path outside the data directory (issue 9,
//! finding 1). Streams, sinks (whose names become query ids and so journal files), topics
//! and query ids spelled as paths are created, used, restarted, terminated and dropped;
//! afterwards nothing exists beside the data directory, and every file inside it is where
//! the layout says.

mod support;

use std::path::{Path, PathBuf};

use http::StatusCode;
use serde_json::{json, Value as Json};
use sluice_engine::FsyncPolicy;
use support::TestServer;

const EARLIEST: &str = r#"{"ksql.streams.auto.offset.reset":"earliest"}"#;

/// Sink names as a hostile client would spell them (back-quoted, so kept verbatim).
const HOSTILE_NAMES: &[&str] = &[
    "../../../../../../../tmp/sluice_escape",
    "../escape",
    "/tmp/sluice_absolute",
    "a/b/c",
    "..",
    ".",
    ".hidden",
    "back\\slash",
    "nul\u{0}byte",
    "spaces and ünïcödé",
];

async fn ksql(server: &TestServer, sql: &str) -> (StatusCode, Json) {
    let body = format!(
        "{{\"ksql\":{},\"streamsProperties\":{EARLIEST}}}",
        json!(sql)
    );
    let (status, bytes) = server.h2().await.post("/ksql", &body).await;
    (status, support::json(&bytes))
}

fn quoted(name: &str) -> String {
    format!("`{}`", name.replace('`', "``"))
}

/// Every path under `root`, files and directories.
fn walk(root: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path.clone());
            }
            out.push(path);
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_names_never_leave_the_data_dir() {
    let parent = tempfile::tempdir().expect("temp dir");
    let data = parent.path().join("data");
    let server = TestServer::start_in(&data, FsyncPolicy::Always).await;
    let (status, body) = ksql(
        &server,
        "CREATE STREAM SRC (ID INT KEY, V STRING) WITH (kafka_topic='src', value_format='JSON', partitions=1);",
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let mut query_ids = Vec::new();
    for (i, name) in HOSTILE_NAMES.iter().enumerate() {
        let sql = format!(
            "CREATE STREAM {} WITH (kafka_topic='sink_{i}') AS SELECT * FROM SRC EMIT CHANGES;",
            quoted(name)
        );
        let (status, body) = ksql(&server, &sql).await;
        assert_eq!(status, StatusCode::OK, "{sql}: {body}");
        let id = body[0]["commandStatus"]["queryId"]
            .as_str()
            .expect("a query id")
            .to_string();
        query_ids.push(id);
    }
    // Topic names that are paths are refused outright (Kafka's legal characters only).
    for topic in ["../x", "a/b", "..", "."] {
        let sql = format!(
            "CREATE STREAM T_{} (V STRING) WITH (kafka_topic='{topic}', value_format='JSON', partitions=1);",
            topic.len()
        );
        let (status, body) = ksql(&server, &sql).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{sql}: {body}");
    }
    // The queries run: rows reach every hostile sink.
    let mut rows = json!({"target": "SRC"}).to_string();
    rows.push_str("\n{\"ID\":1,\"V\":\"a\"}\n");
    let (status, _) = server
        .h2()
        .await
        .request("POST", "/inserts-stream", None, rows.as_bytes())
        .await;
    assert_eq!(status, StatusCode::OK);

    // A restart replays every query and reopens its journal under the same name.
    server.stop().await;
    let server = TestServer::start_in(&data, FsyncPolicy::Always).await;
    for id in &query_ids {
        let (status, body) = ksql(&server, &format!("TERMINATE {};", quoted(id))).await;
        assert_eq!(status, StatusCode::OK, "TERMINATE {id}: {body}");
    }
    for name in HOSTILE_NAMES {
        let (status, body) = ksql(&server, &format!("DROP STREAM {};", quoted(name))).await;
        assert_eq!(status, StatusCode::OK, "DROP {name}: {body}");
    }
    server.stop().await;

    let outside: Vec<PathBuf> = walk(parent.path())
        .into_iter()
        .filter(|p| !p.starts_with(&data))
        .collect();
    assert!(
        outside.is_empty(),
        "created outside the data dir: {outside:?}"
    );
    for path in walk(&data) {
        let relative = path.strip_prefix(&data).expect("inside");
        let top = relative.components().next().expect("a component");
        let top = top.as_os_str().to_string_lossy();
        assert!(
            ["catalog.journal", "topics", "queries", "state"].contains(&top.as_ref()),
            "unexpected path in the data dir: {relative:?}"
        );
    }
    let escaped: Vec<PathBuf> = std::fs::read_dir("/tmp")
        .expect("/tmp")
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            let name = p.file_name().unwrap_or_default().to_string_lossy();
            name.starts_with("sluice_escape") || name.starts_with("sluice_absolute")
        })
        .collect();
    assert!(escaped.is_empty(), "created in /tmp: {escaped:?}");
}
