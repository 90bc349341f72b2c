//! The `DELIMITED` key format over real HTTP: keys a plain producer wrote as text read as
//! typed key columns, keys Sluice writes (inserts, CSAS) stored as ksqlDB's delimited
//! lines, and the types the format refuses.

mod support;

use base64::Engine as _;
use http::StatusCode;
use serde_json::{json, Value as Json};
use support::{wait_all_caught_up, LineReader, TestServer};

/// Writes records with these text keys and JSON values to `topic`, as a plain Kafka
/// producer would (the REST proxy's binary records).
async fn produce(server: &TestServer, topic: &str, records: &[(&str, &str)]) {
    let b64 = base64::engine::general_purpose::STANDARD;
    let records: Vec<Json> = records
        .iter()
        .map(|(k, v)| json!({"key": b64.encode(k), "value": b64.encode(v), "timestamp": 0}))
        .collect();
    let (status, _, body) = server
        .h1()
        .await
        .send(
            "POST",
            &format!("/topics/{topic}"),
            &[("content-type", "application/vnd.kafka.binary.v2+json")],
            json!({ "records": records }).to_string().as_bytes(),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body:?}");
}

/// Runs `create` and inserts `rows` (JSON objects) into `target` through `/inserts-stream`,
/// each acked.
async fn create_and_insert(
    client: &mut support::Client,
    create: &str,
    target: &str,
    rows: &[&str],
) {
    let (status, body) = client.ksql(create).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let body = std::iter::once(json!({ "target": target }).to_string())
        .chain(rows.iter().map(|r| r.to_string()))
        .map(|line| line + "\n")
        .collect::<String>();
    let (status, acks) = client.post("/inserts-stream", &body).await;
    assert_eq!(status, StatusCode::OK, "{acks:?}");
    let acked = String::from_utf8_lossy(&acks);
    assert_eq!(
        acked.matches("\"status\":\"ok\"").count(),
        rows.len(),
        "{acked}"
    );
}

/// A push query from the earliest offset, read until `limit` rows: each row's columns.
async fn rows(server: &TestServer, sql: &str) -> Vec<Json> {
    let body = json!({"sql": sql, "properties": {"auto.offset.reset": "earliest"}});
    let mut client = server.h2().await;
    let (mut tx, resp) = client.open("POST", "/query-stream", None).await;
    tx.send_data(body.to_string().into()).await.expect("send");
    drop(tx);
    let resp = support::response(resp).await;
    assert_eq!(resp.status(), StatusCode::OK);
    let mut lines = LineReader::new(resp.into_body());
    let mut out = Vec::new();
    let mut first = true;
    while let Some(line) = lines.next_line().await {
        if line.is_empty() {
            continue;
        }
        if std::mem::take(&mut first) {
            continue; // the header
        }
        out.push(serde_json::from_str(&line).expect("a JSON row"));
    }
    out
}

/// The lines `PRINT` shows for `topic`'s first `n` records.
async fn printed(server: &TestServer, topic: &str, n: usize) -> Vec<String> {
    let sql = format!("PRINT '{topic}' FROM BEGINNING LIMIT {n};");
    let (status, _, bytes) = server
        .h1()
        .await
        .send(
            "POST",
            "/query-stream",
            &[],
            json!({ "sql": sql }).to_string().as_bytes(),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    String::from_utf8(bytes.to_vec())
        .expect("utf-8")
        .lines()
        .filter(|l| l.starts_with("rowtime"))
        .map(str::to_string)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delimited_keys_are_read_written_and_checked_as_ksqldb_does() {
    let server = TestServer::start().await;
    let mut client = server.h1().await;

    // Keys written as text by a producer, read as INT key columns; one that is not a
    // number is an undecodable record, skipped as ksqlDB's processing log skips it.
    let (status, body) = client
        .ksql(
            "CREATE STREAM TEXT_KEYS (ID INT KEY, V STRING) \
             WITH (kafka_topic='text_keys', partitions=1, key_format='DELIMITED', value_format='JSON');",
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    produce(
        &server,
        "text_keys",
        &[
            ("10", r#"{"V":"a"}"#),
            ("ten", r#"{"V":"skipped"}"#),
            ("11", r#"{"V":"b"}"#),
        ],
    )
    .await;
    assert_eq!(
        rows(&server, "SELECT ID, V FROM TEXT_KEYS EMIT CHANGES LIMIT 2;").await,
        [json!([10, "a"]), json!([11, "b"])]
    );

    // Several key columns are one line; a value holding the delimiter is quoted.
    create_and_insert(
        &mut client,
        "CREATE STREAM PAIRS (A INT KEY, B STRING KEY, V INT) \
         WITH (kafka_topic='pairs', partitions=1, key_format='DELIMITED', value_format='JSON');",
        "PAIRS",
        &[r#"{"a":1,"b":"x,y","v":3}"#, r#"{"A":2,"B":" lead","V":4}"#],
    )
    .await;
    let printed_pairs = printed(&server, "pairs", 2).await;
    assert!(
        printed_pairs[0].contains(r#"key: 1,"x,y", value: {"V":3}"#),
        "{printed_pairs:?}"
    );
    assert!(
        printed_pairs[1].contains(r#"key: 2," lead", value"#),
        "{printed_pairs:?}"
    );
    assert_eq!(
        rows(&server, "SELECT A, B, V FROM PAIRS EMIT CHANGES LIMIT 2;").await,
        [json!([1, "x,y", 3]), json!([2, " lead", 4])]
    );

    // A persistent query (from the earliest record) writes its sink's keys in the format
    // it names.
    let csas = json!({
        "ksql": "CREATE STREAM RELAYED WITH (kafka_topic='relayed', key_format='DELIMITED') AS \
                 SELECT ID, CAST(ID AS DOUBLE) / 4 AS Q, V FROM TEXT_KEYS PARTITION BY CAST(ID AS DOUBLE) / 4;",
        "streamsProperties": {"ksql.streams.auto.offset.reset": "earliest"}
    });
    let (status, body) = client.post("/ksql", &csas.to_string()).await;
    assert_eq!(status, StatusCode::OK, "{body:?}");
    wait_all_caught_up(server.addr, 1).await;
    let relayed = printed(&server, "relayed", 2).await;
    assert!(relayed[0].contains("key: 2.5,"), "{relayed:?}");
    assert!(relayed[1].contains("key: 2.75,"), "{relayed:?}");

    // KEY_DELIMITER splits the key's fields (and decides what is quoted).
    create_and_insert(
        &mut client,
        "CREATE STREAM PIPED (A INT KEY, B STRING KEY, V INT) WITH (kafka_topic='piped', \
         partitions=1, key_format='DELIMITED', key_delimiter='|', value_format='JSON');",
        "PIPED",
        &[r#"{"A":7,"B":"x,y","V":1}"#],
    )
    .await;
    let piped = printed(&server, "piped", 1).await;
    assert!(piped[0].contains("key: 7|x,y, value"), "{piped:?}");

    // What the format cannot hold is refused in ksqlDB's words; DELIMITED values are not
    // supported here.
    for (sql, says) in [
        (
            "CREATE STREAM BAD (K ARRAY<INT> KEY, V INT) WITH (kafka_topic='bad', partitions=1, key_format='DELIMITED', value_format='JSON');",
            "The 'DELIMITED' format does not support type 'ARRAY'",
        ),
        (
            "CREATE STREAM BAD (K INT KEY, V INT) WITH (kafka_topic='bad', partitions=1, format='DELIMITED');",
            "The 'DELIMITED' value format is not supported by this server",
        ),
        (
            "CREATE STREAM BAD (K INT KEY, V INT) WITH (kafka_topic='bad', partitions=1, key_format='DELIMITED', key_delimiter='||', value_format='JSON');",
            "Invalid delimiter value: '||'",
        ),
        (
            "CREATE STREAM BAD (K INT KEY, V INT) WITH (kafka_topic='bad', partitions=1, key_delimiter='|', value_format='JSON');",
            "KEY_DELIMITER applies to the DELIMITED key format only",
        ),
    ] {
        let (status, body) = client.ksql(sql).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{sql}: {body}");
        assert!(
            body["message"].as_str().is_some_and(|m| m.contains(says)),
            "{sql}: {body}"
        );
    }
    server.stop().await;
}
