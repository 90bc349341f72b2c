//! DeltaStream's REST API v2 against a real server: statements as JSON and multipart, 200
//! vs 202 and polling, paged results, SQLSTATE codes in 200 bodies, the context echo,
//! `/v2/version`, and bearer-token auth answering 403. The real Python client
//! (`deltastream-connector`) runs against the same face in `scripts/deltastream_client.py`.

mod support;

use std::sync::Arc;
use std::time::Duration;

use http::StatusCode;
use serde_json::{json, Value as Json};
use sluice_server::auth::{Auth, CredentialStore};
use sluice_server::ServerOptions;
use support::{json as parse, Client, Proto, TestServer};

const TOKEN: &str = "tok-fred";
const OTHER_TOKEN: &str = "tok-barney";

async fn server(statement_wait: Duration) -> TestServer {
    let tokens =
        CredentialStore::parse(&format!("fred: {TOKEN}\nbarney: {OTHER_TOKEN}\n")).expect("valid");
    let users = CredentialStore::parse("fred: letmein\n").expect("valid");
    TestServer::start_with(ServerOptions {
        auth: Arc::new(Auth::from_stores(Some(users), Some(tokens), &[], None)),
        statement_wait,
        ..ServerOptions::default()
    })
    .await
}

fn bearer(token: &str) -> String {
    format!("Bearer {token}")
}

async fn post_json(client: &mut Client, token: &str, body: &Json) -> (StatusCode, Json) {
    let auth = bearer(token);
    let (status, _, bytes) = client
        .send(
            "POST",
            "/v2/statements",
            &[
                ("authorization", &auth),
                ("content-type", "application/json"),
            ],
            body.to_string().as_bytes(),
        )
        .await;
    (status, parse(&bytes))
}

async fn statement(client: &mut Client, sql: &str) -> (StatusCode, Json) {
    post_json(client, TOKEN, &json!({"statement": sql})).await
}

async fn get(client: &mut Client, token: &str, path: &str) -> (StatusCode, Json) {
    let auth = bearer(token);
    let (status, _, bytes) = client
        .send("GET", path, &[("authorization", &auth)], b"")
        .await;
    (status, parse(&bytes))
}

/// Polls `GET /v2/statements/{id}` until it stops answering 202.
async fn poll(client: &mut Client, id: &str, page: usize) -> (StatusCode, Json) {
    let path = format!("/v2/statements/{id}?partitionID={page}");
    for _ in 0..200 {
        let (status, body) = get(client, TOKEN, &path).await;
        if status != StatusCode::ACCEPTED {
            return (status, body);
        }
        assert_eq!(body["sqlState"], "03000");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("statement {id} never finished");
}

const CREATE: &str =
    "CREATE STREAM pageviews (userid VARCHAR KEY, pageid VARCHAR, viewtime BIGINT) \
                      WITH ('topic'='pageviews', 'value.format'='json', 'topic.partitions'=2);";

#[tokio::test]
async fn version_and_tokens() {
    let server = server(Duration::from_secs(5)).await;
    let mut client = Client::connect(server.addr, Proto::H1).await;
    let (status, body) = get(&mut client, TOKEN, "/v2/version").await;
    assert_eq!(status, StatusCode::OK);
    assert!(body["major"].is_u64() && body["minor"].is_u64() && body["patch"].is_u64());
    for headers in [
        vec![],
        vec![("authorization", "Bearer nope")],
        vec![("authorization", "Basic Zm9vOmJhcg==")],
    ] {
        for (method, path) in [
            ("GET", "/v2/version"),
            ("POST", "/v2/statements"),
            ("GET", "/v2/statements/x"),
        ] {
            let (status, _, bytes) = client.send(method, path, &headers, b"{}").await;
            assert_eq!(status, StatusCode::FORBIDDEN, "{method} {path} {headers:?}");
            let body = parse(&bytes);
            assert!(
                body["message"].is_string() && body["traceID"].is_string(),
                "{body}"
            );
        }
    }
}

#[tokio::test]
async fn ddl_over_json_and_multipart_with_sql_states_and_context() {
    let server = server(Duration::from_secs(5)).await;
    let mut client = Client::connect(server.addr, Proto::H2).await;
    let (status, body) = statement(&mut client, CREATE).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["sqlState"], "00000");
    let columns: Vec<&str> = body["metadata"]["columns"]
        .as_array()
        .expect("columns")
        .iter()
        .map(|c| c["name"].as_str().expect("name"))
        .collect();
    assert_eq!(columns, ["Type", "Name", "Command", "Summary"]);
    assert_eq!(body["metadata"]["partitionInfo"], json!([{"rowCount": 1}]));
    assert_eq!(body["data"][0][0], "stream");
    assert_eq!(body["data"][0][1], "PAGEVIEWS");
    assert_eq!(body["data"][0][2], "CREATE");
    assert!(body["createdOn"].as_i64().expect("seconds") > 1_600_000_000);
    assert!(
        body["createdOn"].as_i64().expect("seconds") < 100_000_000_000,
        "seconds, not ms"
    );

    // The same statement again: still 200, the error in sqlState and message.
    let (status, body) = statement(&mut client, CREATE).await;
    assert_eq!(status, StatusCode::OK);
    // DeltaStream's own code for a relation that exists already.
    assert_eq!(body["sqlState"], "42P017", "{body}");
    assert!(body["message"]
        .as_str()
        .expect("message")
        .contains("already exists"));
    assert!(body["statementID"].is_string());

    let (_, body) = statement(&mut client, "SELEC 1;").await;
    assert_eq!(body["sqlState"], "42601");
    // An unknown relation: DeltaStream's "invalid relation".
    let (_, body) = statement(&mut client, "DROP STREAM nosuch;").await;
    assert_eq!(body["sqlState"], "3D020", "{body}");
    assert!(body["message"]
        .as_str()
        .expect("message")
        .contains("does not exist"));

    // Multipart, as the real clients send every statement: the request part has no
    // content type; USE changes the echoed context, the request's fields are echoed too.
    let form = "--BOUNDARY\r\nContent-Disposition: form-data; name=\"request\"\r\n\r\n\
                {\"statement\":\"USE DATABASE Demo; LIST STREAMS;\",\"schema\":\"public\",\"organization\":null}\r\n\
                --BOUNDARY--\r\n";
    let auth = bearer(TOKEN);
    let (status, _, bytes) = client
        .send(
            "POST",
            "/v2/statements",
            &[
                ("authorization", &auth),
                ("content-type", "multipart/form-data; boundary=BOUNDARY"),
            ],
            form.as_bytes(),
        )
        .await;
    let body = parse(&bytes);
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["sqlState"], "00000");
    let context = &body["metadata"]["context"];
    assert_eq!(context["databaseName"], "demo");
    assert_eq!(context["schemaName"], "public");
    assert_eq!(context["organizationID"].as_str().map(str::len), Some(36));
    // Two statements: two ids; the body shows the last one's result (LIST STREAMS).
    let ids = body["statementIDs"]
        .as_array()
        .expect("statementIDs")
        .clone();
    assert_eq!(ids.len(), 2);
    assert_eq!(body["data"][0][0], "PAGEVIEWS", "{body}");
    assert_eq!(body["data"][0][1], "stream");
    // Each statement id answers with its own statement's result.
    let (status, first) = poll(&mut client, ids[0].as_str().expect("id"), 0).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(first["metadata"]["columns"], json!([]));
    assert_eq!(first["metadata"]["context"]["databaseName"], "demo");

    // A form without its request part is a 400 in DeltaStream's error shape.
    let (status, _, bytes) = client
        .send(
            "POST",
            "/v2/statements",
            &[
                ("authorization", &auth),
                ("content-type", "multipart/form-data; boundary=B"),
            ],
            b"--B\r\nContent-Disposition: form-data; name=\"x\"\r\n\r\ny\r\n--B--\r\n",
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(parse(&bytes)["message"]
        .as_str()
        .expect("message")
        .contains("request"));
}

#[tokio::test]
async fn slow_statements_answer_202_and_results_page() {
    // A zero wait: every statement answers 202 and is polled, as a slow one would be.
    let server = server(Duration::ZERO).await;
    let mut client = Client::connect(server.addr, Proto::H1).await;
    let (status, body) = statement(&mut client, CREATE).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    assert_eq!(body["sqlState"], "03000");
    let id = body["statementID"].as_str().expect("id").to_string();
    assert!(body["createdOn"].is_i64());
    let (status, body) = poll(&mut client, &id, 0).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["sqlState"], "00000");

    // Rows written through ksqlDB's face are read through DeltaStream's.
    let rows: String = (0..2017)
        .map(|i| {
            format!(
                "{{\"USERID\":\"u{}\",\"PAGEID\":\"p{i}\",\"VIEWTIME\":{i}}}\n",
                i % 7
            )
        })
        .collect();
    // "fred:letmein", ksqlDB's Basic credential.
    let (status, _, acks) = server
        .h2()
        .await
        .send(
            "POST",
            "/inserts-stream",
            &[("authorization", "Basic ZnJlZDpsZXRtZWlu")],
            format!("{{\"target\":\"PAGEVIEWS\"}}\n{rows}").as_bytes(),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let acks = String::from_utf8_lossy(&acks);
    assert_eq!(
        acks.matches("\"ok\"").count(),
        2017,
        "{}",
        &acks[..acks.len().min(300)]
    );

    let (status, body) = statement(&mut client, "SELECT pageid, viewtime FROM pageviews;").await;
    assert_eq!(status, StatusCode::ACCEPTED);
    let id = body["statementID"].as_str().expect("id").to_string();
    let (status, page0) = poll(&mut client, &id, 0).await;
    assert_eq!(status, StatusCode::OK, "{page0}");
    assert_eq!(
        page0["metadata"]["partitionInfo"],
        json!([{"rowCount": 1000}, {"rowCount": 1000}, {"rowCount": 17}])
    );
    assert_eq!(
        page0["metadata"]["columns"],
        json!([{"name":"PAGEID","type":"VARCHAR","nullable":true},
               {"name":"VIEWTIME","type":"BIGINT","nullable":true}])
    );
    let mut seen = Vec::new();
    for page in 0..3 {
        let (status, body) = poll(&mut client, &id, page).await;
        assert_eq!(status, StatusCode::OK);
        let data = body["data"].as_array().expect("data");
        assert_eq!(data.len(), [1000, 1000, 17][page]);
        for row in data {
            // Every cell is a string.
            let viewtime: u32 = row[1]
                .as_str()
                .expect("string cell")
                .parse()
                .expect("number");
            seen.push(viewtime);
        }
    }
    seen.sort_unstable();
    assert_eq!(seen, (0..2017).collect::<Vec<u32>>());
    let (status, body) = poll(&mut client, &id, 3).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(body["message"]
        .as_str()
        .expect("message")
        .contains("partitionID 3"));
    let (status, _) = get(
        &mut client,
        TOKEN,
        &format!("/v2/statements/{id}?partitionID=x"),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);

    // Unknown ids, and other principals' statements, are 404.
    let (status, body) = get(
        &mut client,
        TOKEN,
        "/v2/statements/3f0c1a2b-1111-4222-8333-444455556666",
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(body["message"].is_string() && body["traceID"].is_string());
    let (status, _) = get(&mut client, OTHER_TOKEN, &format!("/v2/statements/{id}")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn deltastream_spellings_reach_the_engine() {
    let server = server(Duration::from_secs(5)).await;
    let mut client = Client::connect(server.addr, Proto::H2).await;
    let (_, body) = statement(&mut client, CREATE).await;
    assert_eq!(body["sqlState"], "00000", "{body}");
    let (_, body) = statement(
        &mut client,
        "CREATE STREAM views_copy WITH ('topic.partitions'=1) AS SELECT * FROM pageviews;",
    )
    .await;
    assert_eq!(body["sqlState"], "00000", "{body}");
    // A query-starting statement names its query in `Name` (terraform reads it so).
    let query_id = body["data"][0][1].as_str().expect("query id").to_string();
    assert!(query_id.starts_with("CSAS_VIEWS_COPY"), "{query_id}");
    let (_, body) = statement(&mut client, "LIST QUERIES;").await;
    assert_eq!(body["metadata"]["columns"][0]["name"], "ID");
    assert_eq!(body["metadata"]["columns"][1]["name"], "ActualState");
    assert_eq!(body["data"][0][0], query_id.as_str());
    assert_eq!(body["data"][0][1], "running");
    let (_, body) = statement(&mut client, &format!("TERMINATE QUERY {query_id};")).await;
    assert_eq!(body["sqlState"], "00000", "{body}");
    let (_, body) = statement(&mut client, "LIST QUERIES;").await;
    assert_eq!(body["metadata"]["partitionInfo"], json!([]));
    let (_, body) = statement(&mut client, "LIST ENTITIES;").await;
    let topics: Vec<&str> = body["data"]
        .as_array()
        .expect("data")
        .iter()
        .map(|r| r[0].as_str().expect("name"))
        .collect();
    assert!(topics.contains(&"pageviews"), "{topics:?}");
    // Continuous queries need the streaming data plane, which is not served: 0A000.
    let (_, body) = statement(&mut client, "SELECT * FROM pageviews EMIT CHANGES;").await;
    assert_eq!(body["sqlState"], "0A000", "{body}");
}
