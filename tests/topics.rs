//! The raw-record face (`/topics…`, REST Proxy v2 shapes) over real HTTP/1.1 and HTTP/2:
//! produce binary and JSON records with explicit key, partition, timestamp and headers,
//! read them back byte for byte, murmur2 placement of keyed records, and the errors.

mod support;

use http::StatusCode;
use serde_json::json;
use sluice_engine::codec::partition_for_key;
use support::{Client, TestServer};

const BINARY: &str = "application/vnd.kafka.binary.v2+json";
const JSON_V2: &str = "application/vnd.kafka.json.v2+json";

async fn create(client: &mut Client, name: &str, partitions: u32) {
    let body = json!({"name": name, "partitions": partitions}).to_string();
    let (status, _, bytes) = client
        .send(
            "POST",
            "/topics",
            &[("content-type", "application/json")],
            body.as_bytes(),
        )
        .await;
    assert_eq!(
        status,
        StatusCode::OK,
        "{}",
        String::from_utf8_lossy(&bytes)
    );
}

async fn produce(
    client: &mut Client,
    topic: &str,
    content_type: &str,
    body: &str,
) -> (StatusCode, String) {
    let (status, _, bytes) = client
        .send(
            "POST",
            &format!("/topics/{topic}"),
            &[("content-type", content_type)],
            body.as_bytes(),
        )
        .await;
    (status, String::from_utf8(bytes.to_vec()).expect("utf8"))
}

async fn get(client: &mut Client, path: &str) -> (StatusCode, String) {
    let (status, headers, bytes) = client.send("GET", path, &[], b"").await;
    if status == StatusCode::OK {
        assert_eq!(
            headers
                .get("content-type")
                .map(|v| v.to_str().expect("ascii")),
            Some("application/vnd.kafka.v2+json")
        );
    }
    (status, String::from_utf8(bytes.to_vec()).expect("utf8"))
}

#[tokio::test]
async fn binary_records_round_trip_byte_exact_over_both_protocols() {
    let server = TestServer::start().await;
    for (mut client, topic) in [(server.h1().await, "bin1"), (server.h2().await, "bin2")] {
        create(&mut client, topic, 2).await;
        // key "key", value [0, 255, 10], header bytes [1, 2]; then a null key and value.
        let body = r#"{"records":[
            {"key":"a2V5","value":"AP8K","partition":1,"timestamp":1609459200000,"headers":[{"key":"h1","value":"AQI="},{"key":"h2","value":null}]},
            {"key":null,"value":null,"partition":1,"timestamp":5}]}"#;
        let (status, text) = produce(&mut client, topic, BINARY, body).await;
        assert_eq!(status, StatusCode::OK, "{text}");
        assert_eq!(
            text,
            r#"{"offsets":[{"partition":1,"offset":0,"error_code":null,"error":null},{"partition":1,"offset":1,"error_code":null,"error":null}],"key_schema_id":null,"value_schema_id":null}"#
        );
        let (status, text) = get(
            &mut client,
            &format!("/topics/{topic}/partitions/1/records?offset=0&limit=10"),
        )
        .await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(
            text,
            r#"{"records":[{"partition":1,"offset":0,"timestamp":1609459200000,"key":"a2V5","value":"AP8K","headers":[{"key":"h1","value":"AQI="},{"key":"h2","value":null}]},{"partition":1,"offset":1,"timestamp":5,"key":null,"value":null,"headers":[]}],"nextOffset":2}"#
        );
        // Paging: from offset 1, one record; past the end, nothing.
        let (_, text) = get(
            &mut client,
            &format!("/topics/{topic}/partitions/1/records?offset=1&limit=1"),
        )
        .await;
        assert!(text.ends_with(r#""nextOffset":2}"#), "{text}");
        assert!(text.contains(r#""offset":1,"#), "{text}");
        let (_, text) = get(
            &mut client,
            &format!("/topics/{topic}/partitions/1/records?offset=2"),
        )
        .await;
        assert_eq!(text, r#"{"records":[],"nextOffset":2}"#);
        let (_, text) = get(&mut client, &format!("/topics/{topic}")).await;
        assert_eq!(
            text,
            format!(
                r#"{{"name":"{topic}","partitions":[{{"partition":0,"startOffset":0,"endOffset":0}},{{"partition":1,"startOffset":0,"endOffset":2}}]}}"#
            )
        );
    }
    let (status, text) = get(&mut server.h1().await, "/topics").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(text, r#"["bin1","bin2"]"#);
}

#[tokio::test]
async fn json_records_store_compact_json_text() {
    let server = TestServer::start().await;
    let mut client = server.h2().await;
    create(&mut client, "j", 1).await;
    let body = r#"{"records":[{"key":"k1","value":{ "A" : 1.50, "B" : [1, 2] },"timestamp":7},{"key":12,"value":null,"timestamp":8}]}"#;
    for content_type in [JSON_V2, "application/json"] {
        let (status, text) = produce(&mut client, "j", content_type, body).await;
        assert_eq!(status, StatusCode::OK, "{text}");
    }
    let (_, text) = get(&mut client, "/topics/j/partitions/0/records").await;
    let read: serde_json::Value = serde_json::from_str(&text).expect("json");
    let b64 = |s: &str| {
        use base64::Engine as _;
        base64::engine::general_purpose::STANDARD.encode(s)
    };
    let records = read["records"].as_array().expect("records");
    assert_eq!(records.len(), 4);
    assert_eq!(records[0]["key"], b64("\"k1\""));
    assert_eq!(records[0]["value"], b64(r#"{"A":1.50,"B":[1,2]}"#));
    assert_eq!(records[1]["key"], b64("12"));
    assert_eq!(records[1]["value"], serde_json::Value::Null);
    assert_eq!(records[3]["timestamp"], 8);
    assert_eq!(read["nextOffset"], 4);
}

#[tokio::test]
async fn keyed_records_land_on_murmur2_partitions_and_keyless_spread() {
    let server = TestServer::start().await;
    let mut client = server.h1().await;
    create(&mut client, "keyed", 8).await;
    let keys: Vec<String> = (0..20).map(|i| format!("user-{i}")).collect();
    let records: Vec<_> = keys.iter().map(|k| json!({"key": k, "value": 1})).collect();
    let (status, text) = produce(
        &mut client,
        "keyed",
        JSON_V2,
        &json!({ "records": records }).to_string(),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{text}");
    let resp: serde_json::Value = serde_json::from_str(&text).expect("json");
    for (key, offset) in keys
        .iter()
        .zip(resp["offsets"].as_array().expect("offsets"))
    {
        // JSON embedding stores the key as its JSON text, quotes included.
        let bytes = serde_json::to_string(key).expect("json");
        let expected = partition_for_key(bytes.as_bytes(), 8).0;
        assert_eq!(offset["partition"], expected, "key {key}");
    }
    // Keyless records spread: eight of them touch more than one partition.
    let records: Vec<_> = (0..8).map(|_| json!({"value": 1})).collect();
    let (_, text) = produce(
        &mut client,
        "keyed",
        JSON_V2,
        &json!({ "records": records }).to_string(),
    )
    .await;
    let resp: serde_json::Value = serde_json::from_str(&text).expect("json");
    let partitions: std::collections::HashSet<_> = resp["offsets"]
        .as_array()
        .expect("offsets")
        .iter()
        .map(|o| o["partition"].as_u64().expect("partition"))
        .collect();
    assert!(partitions.len() > 1, "{partitions:?}");
}

#[tokio::test]
async fn errors_are_rest_proxy_shaped() {
    let server = TestServer::start().await;
    let mut client = server.h2().await;
    let not_found = r#"{"error_code":40401,"message":"Topic not found."}"#;
    assert_eq!(
        get(&mut client, "/topics/nope").await,
        (StatusCode::NOT_FOUND, not_found.to_string())
    );
    assert_eq!(
        produce(&mut client, "nope", BINARY, r#"{"records":[]}"#).await,
        (StatusCode::NOT_FOUND, not_found.to_string())
    );
    assert_eq!(
        get(&mut client, "/topics/nope/partitions/0/records").await,
        (StatusCode::NOT_FOUND, not_found.to_string())
    );
    create(&mut client, "t", 1).await;
    let (status, text) = produce(
        &mut client,
        "t",
        BINARY,
        r#"{"records":[{"value":"not base64!"}]}"#,
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        text.starts_with(r#"{"error_code":42201,"message":"records[0].value: invalid base64"#),
        "{text}"
    );
    let (status, text) = produce(&mut client, "t", BINARY, r#"{"records":[{"value":5}]}"#).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{text}");
    let (status, text) = produce(&mut client, "t", BINARY, "{not json").await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{text}");
    assert!(text.starts_with(r#"{"error_code":400,"#), "{text}");
    let (status, text) = produce(&mut client, "t", "text/csv", r#"{"records":[]}"#).await;
    assert_eq!(status, StatusCode::UNSUPPORTED_MEDIA_TYPE, "{text}");
    let (status, text) = produce(
        &mut client,
        "t",
        BINARY,
        r#"{"records":[{"value":null,"partition":3}]}"#,
    )
    .await;
    assert_eq!(
        (status, text.as_str()),
        (
            StatusCode::NOT_FOUND,
            r#"{"error_code":40402,"message":"Partition not found."}"#
        )
    );
    // Nothing of the rejected requests was appended.
    assert_eq!(
        get(&mut client, "/topics/t").await.1,
        r#"{"name":"t","partitions":[{"partition":0,"startOffset":0,"endOffset":0}]}"#
    );
    let (status, _) = get(&mut client, "/topics/t/partitions/1/records").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, text) = get(&mut client, "/topics/t/partitions/0/records?limit=x").await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{text}");
    // Create twice: conflict; bad partition count: 422.
    let (status, _, _) = client
        .send("POST", "/topics", &[], br#"{"name":"t","partitions":1}"#)
        .await;
    assert_eq!(status, StatusCode::CONFLICT);
    let (status, _, _) = client
        .send("POST", "/topics", &[], br#"{"name":"u","partitions":0}"#)
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    // Delete: 204, then 404.
    let (status, _, body) = client.send("DELETE", "/topics/t", &[], b"").await;
    assert_eq!((status, body.len()), (StatusCode::NO_CONTENT, 0));
    let (status, _, body) = client.send("DELETE", "/topics/t", &[], b"").await;
    assert_eq!(
        (status, &body[..]),
        (StatusCode::NOT_FOUND, not_found.as_bytes())
    );
    let (status, _, _) = client.send("PUT", "/topics", &[], b"").await;
    assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED);
}

#[tokio::test]
async fn produced_records_feed_a_stream_over_the_topic() {
    let server = TestServer::start().await;
    server
        .ksql_ok("CREATE STREAM s (k STRING KEY, v INT) WITH (kafka_topic='s', value_format='JSON', partitions=1);")
        .await;
    let mut client = server.h1().await;
    // KAFKA key format: the key is the raw UTF-8 string.
    let (status, text) = produce(
        &mut client,
        "s",
        BINARY,
        r#"{"records":[{"key":"YQ==","value":"eyJWIjo3fQ=="}]}"#,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{text}");
    let (status, bytes) = client
        .post(
            "/query-stream",
            &json!({"sql": "SELECT * FROM s;"}).to_string(),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let text = String::from_utf8(bytes.to_vec()).expect("utf8");
    assert!(text.ends_with("[\"a\",7]\n"), "{text}");
}
