//! Roe's `/v1/tables/query/` variant (what the current `roe-ai` SDK calls) against a real
//! server: submit → 202 with `table_query_id`, result with columns, row objects, the limit
//! and `truncated`; bad SQL → 400; unknown ids, other routes' tasks and other owners → 404;
//! bearer keys refused in Roe's `{"detail"}` shape. Same engine path and registry as
//! `/v1/database/query/` (tests/roe.rs).

mod support;

use std::sync::Arc;
use std::time::Duration;

use http::StatusCode;
use serde_json::{json, Value as Json};
use sluice_server::auth::{Auth, CredentialStore};
use sluice_server::ServerOptions;
use support::{json as parse, Client, TestServer};

const KEY: &str = "roe-key-1";
const OTHER_KEY: &str = "roe-key-2";

async fn server() -> TestServer {
    let tokens =
        CredentialStore::parse(&format!("alice: {KEY}\nbob: {OTHER_KEY}\n")).expect("valid");
    TestServer::start_with(ServerOptions {
        auth: Arc::new(Auth::from_stores(None, Some(tokens), &[], None)),
        ..ServerOptions::default()
    })
    .await
}

async fn call(
    client: &mut Client,
    method: &str,
    path: &str,
    key: &str,
    body: Option<&Json>,
) -> (StatusCode, Json) {
    let auth = format!("Bearer {key}");
    let payload = body.map(|b| b.to_string().into_bytes()).unwrap_or_default();
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

/// Polls the result until the status is final.
async fn result(client: &mut Client, id: &str) -> Json {
    for _ in 0..200 {
        let path = format!("/v1/tables/query/{id}/result/");
        let (status, body) = call(client, "GET", &path, KEY, None).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        if body["status"] == "SUCCESS" || body["status"] == "FAILURE" {
            return body;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("table query {id} never finished");
}

/// Stream `files` with `n` rows, written through the tables route itself (DML is SQL too).
async fn files_with_rows(client: &mut Client, n: usize) {
    let create = "CREATE STREAM files (name STRING KEY, file_size BIGINT, tags ARRAY<STRING>) \
                  WITH (kafka_topic='files', value_format='JSON', partitions=1);";
    let (status, body) = call(
        client,
        "POST",
        "/v1/tables/query/",
        KEY,
        Some(&json!({"sql": create})),
    )
    .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    assert_eq!(
        result(client, body["table_query_id"].as_str().expect("id")).await["status"],
        "SUCCESS"
    );
    for i in 0..n {
        let sql = format!(
            "INSERT INTO files (name, file_size, tags) VALUES ('f{i}.pdf', {i}, ARRAY['a']);"
        );
        let (status, body) = call(
            client,
            "POST",
            "/v1/tables/query",
            KEY,
            Some(&json!({"sql": sql})),
        )
        .await;
        assert_eq!(status, StatusCode::ACCEPTED, "{body}");
        result(client, body["table_query_id"].as_str().expect("id")).await;
    }
}

#[tokio::test]
async fn a_table_query_answers_202_then_row_objects() {
    let server = server().await;
    let mut client = server.h2().await;
    files_with_rows(&mut client, 5).await;

    let sql = "SELECT name, file_size, tags FROM files;";
    let (status, body) = call(
        &mut client,
        "POST",
        "/v1/tables/query/",
        KEY,
        Some(&json!({"sql": sql, "limit": 3})),
    )
    .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    let id = body["table_query_id"].as_str().expect("id").to_string();
    assert_eq!(id.len(), 36);
    assert!(["PENDING", "STARTED", "SUCCESS"].contains(&body["status"].as_str().expect("status")));
    assert!(body["created_at"]
        .as_str()
        .expect("created_at")
        .ends_with('Z'));

    let body = result(&mut client, &id).await;
    assert_eq!(body["status"], "SUCCESS", "{body}");
    assert_eq!(body["table_query_id"], id.as_str());
    assert_eq!(body["error"], Json::Null);
    assert_eq!(
        body["columns"],
        json!([{"name": "NAME", "type": "String"}, {"name": "FILE_SIZE", "type": "Int64"},
               {"name": "TAGS", "type": "Array(String)"}])
    );
    // Five rows, the limit three: three row objects with native values, and truncated.
    assert_eq!(body["row_count"], 3);
    assert_eq!(body["truncated"], true);
    let rows = body["rows"].as_array().expect("rows");
    assert_eq!(rows.len(), 3);
    assert!(
        rows[0]["NAME"].is_string() && rows[0]["FILE_SIZE"].is_i64(),
        "{body}"
    );
    assert_eq!(rows[0]["TAGS"], json!(["a"]));
    assert!(body["execution_time_ms"].is_u64());

    // Without a limit: the default (1,000) holds all five.
    let (_, body) = call(
        &mut client,
        "POST",
        "/v1/tables/query/",
        KEY,
        Some(&json!({"sql": sql})),
    )
    .await;
    let body = result(&mut client, body["table_query_id"].as_str().expect("id")).await;
    assert_eq!(
        (body["row_count"].as_u64(), &body["truncated"]),
        (Some(5), &json!(false))
    );
    server.stop().await;
}

#[tokio::test]
async fn bad_requests_and_unknown_ids() {
    let server = server().await;
    let mut client = server.h2().await;
    let bad = [
        (json!({"sql": "SELEC 1;"}), "SELEC"),
        (json!({"sql": "SELECT * FROM nosuch;"}), "NOSUCH"),
        (
            json!({"sql": "SHOW STREAMS; SHOW TABLES;"}),
            "one statement",
        ),
        (json!({"sql": "SHOW STREAMS;", "limit": 0}), "limit"),
        (json!({"query": "SHOW STREAMS;"}), "sql"),
    ];
    for (body, says) in bad {
        let (status, answer) =
            call(&mut client, "POST", "/v1/tables/query/", KEY, Some(&body)).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}: {answer}");
        let detail = answer["detail"].as_str().expect("detail");
        assert!(detail.contains(says), "{body}: {detail}");
    }

    // Unknown id, not a UUID, and another owner's query: 404 in Roe's shape.
    let (_, body) = call(
        &mut client,
        "POST",
        "/v1/tables/query/",
        KEY,
        Some(&json!({"sql": "SHOW STREAMS;"})),
    )
    .await;
    let id = body["table_query_id"].as_str().expect("id").to_string();
    let path = format!("/v1/tables/query/{id}/result/");
    let (status, body) = call(&mut client, "GET", &path, OTHER_KEY, None).await;
    assert_eq!(
        (status, body),
        (StatusCode::NOT_FOUND, json!({"detail": "Not found."}))
    );
    for path in [
        "/v1/tables/query/00000000-0000-4000-8000-000000000000/result/",
        "/v1/tables/query/nope/result",
        "/v1/tables/other/",
    ] {
        let (status, body) = call(&mut client, "GET", path, KEY, None).await;
        assert_eq!(
            (status, body),
            (StatusCode::NOT_FOUND, json!({"detail": "Not found."})),
            "{path}"
        );
    }
    // A /v1/database task is not a table query.
    let (_, body) = call(
        &mut client,
        "POST",
        "/v1/database/query/async/",
        KEY,
        Some(&json!({"query": "SHOW STREAMS;"})),
    )
    .await;
    let path = format!(
        "/v1/tables/query/{}/result/",
        body["id"].as_str().expect("id")
    );
    assert_eq!(
        call(&mut client, "GET", &path, KEY, None).await.0,
        StatusCode::NOT_FOUND
    );

    // Wrong method, no key, wrong key.
    let (status, _) = call(&mut client, "GET", "/v1/tables/query/", KEY, None).await;
    assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED);
    let (status, _, bytes) = client
        .send(
            "POST",
            "/v1/tables/query/",
            &[],
            br#"{"sql":"SHOW STREAMS;"}"#,
        )
        .await;
    let body = parse(&bytes);
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        body["detail"],
        "Authentication credentials were not provided."
    );
    let (status, _) = call(
        &mut client,
        "POST",
        "/v1/tables/query/",
        "wrong",
        Some(&json!({"sql": "SHOW STREAMS;"})),
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    server.stop().await;
}
