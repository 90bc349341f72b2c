//! Roe AI's database query API against a real server, call for call as its docs' curl
//! examples make them: sync run with one result per statement, async run → id, status
//! through its state machine, result with counts and timings, failures, unknown ids and
//! trailing slashes, bearer API keys refused in Roe's `{"detail"}` shape.

mod support;

use std::sync::Arc;
use std::time::Duration;

use http::StatusCode;
use serde_json::{json, Value as Json};
use sluice_server::auth::{Auth, CredentialStore};
use sluice_server::ServerOptions;
use support::{json as parse, Client, Proto, TestServer};

const KEY: &str = "roe-key-1";

async fn server() -> TestServer {
    let tokens = CredentialStore::parse(&format!("alice: {KEY}\nbob: roe-key-2\n")).expect("valid");
    let users = CredentialStore::parse("admin: pw\n").expect("valid");
    TestServer::start_with(ServerOptions {
        auth: Arc::new(Auth::from_stores(Some(users), Some(tokens), &[], None)),
        ..ServerOptions::default()
    })
    .await
}

async fn call(
    client: &mut Client,
    method: &str,
    path: &str,
    key: &str,
    body: &Json,
) -> (StatusCode, Json) {
    let auth = format!("Bearer {key}");
    let payload = if method == "GET" {
        Vec::new()
    } else {
        body.to_string().into_bytes()
    };
    let (status, _, bytes) = client
        .send(
            method,
            path,
            &[
                ("authorization", &auth),
                ("content-type", "application/json"),
            ],
            &payload,
        )
        .await;
    (status, parse(&bytes))
}

/// Creates stream `files` and writes `n` rows into it through ksqlDB's `/ksql` (INSERT
/// VALUES, as admin over Basic auth).
async fn files_with_rows(server: &TestServer, n: usize) {
    let mut client = Client::connect(server.addr, Proto::H2).await;
    let mut sql = String::from(
        "CREATE STREAM files (name STRING KEY, file_size BIGINT) WITH (kafka_topic='files', value_format='JSON', partitions=1);",
    );
    for i in 0..n {
        sql.push_str(&format!(
            "INSERT INTO files (name, file_size) VALUES ('example{i}.pdf', {i});"
        ));
    }
    let body = json!({"ksql": sql, "streamsProperties": {}}).to_string();
    // "admin:pw"
    let (status, _, bytes) = client
        .send(
            "POST",
            "/ksql",
            &[("authorization", "Basic YWRtaW46cHc=")],
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

#[tokio::test]
async fn sync_run_answers_one_result_per_statement() {
    let server = server().await;
    files_with_rows(&server, 3).await;
    let mut client = Client::connect(server.addr, Proto::H1).await;
    let (status, body) = call(
        &mut client,
        "POST",
        "/v1/database/query/",
        KEY,
        &json!({"query": "SELECT name, file_size FROM files; SELECT name FROM files WHERE file_size > 0"}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let results = body.as_array().expect("array");
    assert_eq!(results.len(), 2);
    let first = &results[0];
    assert_eq!(first["column_names"], json!(["NAME", "FILE_SIZE"]));
    assert_eq!(first["column_types"], json!(["String", "Int64"]));
    assert_eq!(first["row_count"], 3);
    assert_eq!(first["summary"]["result_rows"], 3);
    assert_eq!(first["summary"]["query_id"], first["query_id"]);
    let mut rows: Vec<(String, String)> = first["result_rows"]
        .as_array()
        .expect("matrix")
        .iter()
        .map(|r| {
            (
                r[0].as_str().expect("text").into(),
                r[1].as_str().expect("text").into(),
            )
        })
        .collect();
    rows.sort();
    assert_eq!(rows[0], ("example0.pdf".to_string(), "0".to_string()));
    assert!(first["summary"]["elapsed_ns"].as_u64().expect("ns") > 0);
    assert!(first["end_timestamp"].as_f64() >= first["start_timestamp"].as_f64());
    assert!(first["start_timestamp"].as_f64().expect("secs") > 1.6e9);
    assert_eq!(results[1]["row_count"], 2);
    // It read all three files to answer two.
    assert_eq!(results[1]["summary"]["read_rows"], 3);
    assert_eq!(results[1]["summary"]["total_rows_to_read"], 3);
    assert!(
        results[1]["summary"]["read_bytes"].as_u64()
            > results[1]["summary"]["result_bytes"].as_u64()
    );
    assert_ne!(results[0]["query_id"], results[1]["query_id"]);

    // Roe's SQL is a database's: a SELECT may aggregate (smoke scenario 2's `count(*)`),
    // one row per group over the rows there are; LIMIT counts groups.
    let (status, body) = call(
        &mut client,
        "POST",
        "/v1/database/query/",
        KEY,
        &json!({"query": "SELECT count(*) FROM files; \
            SELECT file_size % 2 AS parity, COUNT(*) AS n, SUM(file_size) AS total FROM files GROUP BY file_size % 2; \
            SELECT COUNT(*) AS n FROM files GROUP BY name LIMIT 2; \
            SELECT file_size % 2 AS parity FROM files GROUP BY file_size % 2 HAVING COUNT(*) < 2; \
            SELECT count(*), SUM(file_size) FROM files WHERE file_size > 100"}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body[0]["result_rows"], json!([["3"]]), "{body}");
    assert_eq!(body[0]["summary"]["read_rows"], 3, "rows scanned: {body}");
    let mut groups = body[1]["result_rows"].as_array().expect("matrix").clone();
    groups.sort_by_key(|g| g[0].as_str().map(String::from));
    assert_eq!(
        groups,
        [json!(["0", "2", "2"]), json!(["1", "1", "1"])],
        "{body}"
    );
    assert_eq!(
        body[1]["column_names"],
        json!(["PARITY", "N", "TOTAL"]),
        "{body}"
    );
    assert_eq!(body[2]["row_count"], 2, "{body}");
    // Parity 0 passed HAVING at its first file and stopped at its second.
    assert_eq!(body[3]["result_rows"], json!([["1"]]), "{body}");
    // Over no rows, as ClickHouse answers (and ksqlDB's SUM starts): one row, 0 and 0.
    assert_eq!(body[4]["result_rows"], json!([["0", "0"]]), "{body}");

    // DML counts what it wrote.
    let (status, body) = call(
        &mut client,
        "POST",
        "/v1/database/query",
        KEY,
        &json!({"query": "INSERT INTO files (name, file_size) VALUES ('x.pdf', 9);"}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body[0]["summary"]["written_rows"], 1);
    assert_eq!(body[0]["summary"]["result_rows"], 0);

    let (status, body) = call(
        &mut client,
        "POST",
        "/v1/database/query/",
        KEY,
        &json!({"query": "SELEC 1"}),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(body["detail"].is_string(), "{body}");
    let (status, body) = call(
        &mut client,
        "POST",
        "/v1/database/query/",
        KEY,
        &json!({"sql": "x"}),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(body["detail"].as_str().expect("detail").contains("query"));
}

async fn wait_for_end(client: &mut Client, id: &str) -> Json {
    for _ in 0..400 {
        let (status, body) = call(
            client,
            "GET",
            &format!("/v1/database/query/{id}/status/"),
            KEY,
            &json!(null),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let state = body["status"].as_str().expect("status");
        assert!(
            ["PENDING", "STARTED", "SUCCESS", "FAILURE"].contains(&state),
            "{state}"
        );
        if state == "SUCCESS" || state == "FAILURE" {
            return body;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("query {id} never finished");
}

#[tokio::test]
async fn async_run_status_and_result() {
    let server = server().await;
    files_with_rows(&server, 5).await;
    let mut client = Client::connect(server.addr, Proto::H2).await;
    let (status, submitted) = call(
        &mut client,
        "POST",
        "/v1/database/query/async/",
        KEY,
        &json!({"query": "SELECT * FROM files", "worksheet_id": null}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{submitted}");
    let id = submitted["id"].as_str().expect("id").to_string();
    assert_eq!(submitted["query_task_id"], id.as_str());
    assert!(["PENDING", "STARTED", "SUCCESS"]
        .contains(&submitted["query_task_status"].as_str().expect("s")));
    assert!(submitted["finished_at"].is_null());

    let status_body = wait_for_end(&mut client, &id).await;
    assert_eq!(status_body["status"], "SUCCESS");
    assert_eq!(status_body["worksheet_query_id"], id.as_str());
    assert!(status_body["finished_at"].is_string() && status_body["error"].is_null());
    // Without the trailing slash, the same answer.
    let (status, result) = call(
        &mut client,
        "GET",
        &format!("/v1/database/query/{id}/result"),
        KEY,
        &json!(null),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(result["status"], "SUCCESS");
    assert_eq!(result["results"].as_array().expect("results").len(), 1);
    assert_eq!(result["results"][0]["row_count"], 5);
    assert_eq!(result["results"][0]["summary"]["read_rows"], 5);
    assert!(result["error"].is_null());

    // A failing query ends in FAILURE with its error and no rows.
    let (_, submitted) = call(
        &mut client,
        "POST",
        "/v1/database/query/async",
        KEY,
        &json!({"query": "SELEC 1"}),
    )
    .await;
    let bad = submitted["id"].as_str().expect("id").to_string();
    let status_body = wait_for_end(&mut client, &bad).await;
    assert_eq!(status_body["status"], "FAILURE");
    let (_, result) = call(
        &mut client,
        "GET",
        &format!("/v1/database/query/{bad}/result/"),
        KEY,
        &json!(null),
    )
    .await;
    assert_eq!(result["status"], "FAILURE");
    assert!(
        result["error"].as_str().expect("error").contains("SELEC"),
        "{result}"
    );
    assert_eq!(result["results"], json!([]));

    // Unknown ids, and another key's query, are 404 {"detail"}.
    for path in [
        "/v1/database/query/3f0c1a2b-1111-4222-8333-444455556666/result/".to_string(),
        "/v1/database/query/3f0c1a2b-1111-4222-8333-444455556666/status".to_string(),
        "/v1/database/query/not-a-uuid/result/".to_string(),
    ] {
        let (status, body) = call(&mut client, "GET", &path, KEY, &json!(null)).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{path}");
        assert_eq!(body, json!({"detail": "Not found."}));
    }
    let (status, _) = call(
        &mut client,
        "GET",
        &format!("/v1/database/query/{id}/result/"),
        "roe-key-2",
        &json!(null),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn api_keys_are_required() {
    let server = server().await;
    let mut client = Client::connect(server.addr, Proto::H1).await;
    for (method, path) in [
        ("POST", "/v1/database/query/"),
        ("POST", "/v1/database/query/async/"),
        (
            "GET",
            "/v1/database/query/3f0c1a2b-1111-4222-8333-444455556666/status/",
        ),
        (
            "GET",
            "/v1/database/query/3f0c1a2b-1111-4222-8333-444455556666/result/",
        ),
    ] {
        let (status, _, bytes) = client
            .send(method, path, &[], br#"{"query":"SHOW STREAMS"}"#)
            .await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{method} {path}");
        assert_eq!(
            parse(&bytes),
            json!({"detail": "Authentication credentials were not provided."})
        );
        let (status, _, bytes) = client
            .send(
                method,
                path,
                &[("authorization", "Bearer wrong")],
                br#"{"query":"SHOW STREAMS"}"#,
            )
            .await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        assert_eq!(parse(&bytes), json!({"detail": "Invalid API key."}));
    }
}
