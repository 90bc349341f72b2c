//! Foundry's `streamingExecute` against a real server: query functions from a registry,
//! typed parameters, SSE data events for a pull function (one event) and a push function
//! (an event per batch while rows are inserted through ksqlDB's `/inserts-stream`), and
//! Conjure errors before the stream. The real Python SDK (`foundry-platform-sdk`) runs
//! against the same face in `scripts/clients/foundry_client.py`.

mod support;

use std::sync::Arc;

use http::StatusCode;
use serde_json::{json, Value as Json};
use sluice_protocol::foundry::functions::FunctionRegistry;
use sluice_server::auth::{Auth, CredentialStore};
use sluice_server::ServerOptions;
use support::{json as parse, Client, LineReader, Proto, TestServer, WAIT};

const TOKEN: &str = "Bearer foundry-token";

const FUNCTIONS: &str = r#"[
  {"apiName": "pagesAbove", "version": "1.0.0",
   "sql": "SELECT pageid, viewtime FROM pageviews WHERE viewtime > ${min};",
   "parameters": {"min": "long"}},
  {"apiName": "pagesAbove", "version": "2.0.0",
   "sql": "SELECT pageid FROM pageviews WHERE viewtime > ${min} AND pageid <> ${skip};",
   "parameters": {"min": "long", "skip": "string"}},
  {"apiName": "liveViews", "version": "1.0.0",
   "sql": "SELECT pageid, viewtime FROM pageviews WHERE userid = ${user} EMIT CHANGES;",
   "parameters": {"user": "string"}},
  {"apiName": "broken", "version": "1.0.0", "sql": "SELECT nosuch FROM pageviews;"}
]"#;

async fn server() -> TestServer {
    let tokens = CredentialStore::parse("app: foundry-token\n").expect("valid");
    let users = CredentialStore::parse("admin: pw\n").expect("valid");
    let server = TestServer::start_with(ServerOptions {
        auth: Arc::new(Auth::from_stores(Some(users), Some(tokens), &[], None)),
        functions: Arc::new(FunctionRegistry::parse(FUNCTIONS.as_bytes()).expect("functions")),
        ..ServerOptions::default()
    })
    .await;
    let mut client = Client::connect(server.addr, Proto::H2).await;
    let sql = "CREATE STREAM pageviews (userid STRING KEY, pageid STRING, viewtime BIGINT) \
               WITH (kafka_topic='pageviews', value_format='JSON', partitions=1);";
    let body = json!({"ksql": sql, "streamsProperties": {}}).to_string();
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
    server
}

async fn insert(server: &TestServer, rows: &[(&str, &str, i64)]) {
    let mut body = String::from("{\"target\":\"PAGEVIEWS\"}\n");
    for (user, page, time) in rows {
        body.push_str(&json!({"USERID": user, "PAGEID": page, "VIEWTIME": time}).to_string());
        body.push('\n');
    }
    let mut client = Client::connect(server.addr, Proto::H2).await;
    let (status, _, acks) = client
        .send(
            "POST",
            "/inserts-stream",
            &[("authorization", "Basic YWRtaW46cHc=")],
            body.as_bytes(),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        String::from_utf8_lossy(&acks).matches("\"ok\"").count(),
        rows.len()
    );
}

fn path(name: &str) -> String {
    format!("/api/v2/functions/queries/{name}/streamingExecute?preview=true")
}

const HEADERS: [(&str, &str); 3] = [
    ("authorization", TOKEN),
    ("content-type", "application/json"),
    ("accept", "text/event-stream"),
];

/// The `data:` events of a whole SSE body.
fn events(body: &[u8]) -> Vec<Json> {
    let text = std::str::from_utf8(body).expect("utf8");
    assert!(text.is_empty() || text.ends_with("\n\n"), "{text}");
    text.split("\n\n")
        .filter(|e| !e.is_empty())
        .map(|e| parse(e.strip_prefix("data: ").expect("a data line").as_bytes()))
        .collect()
}

#[tokio::test]
async fn a_pull_function_streams_one_data_event() {
    let server = server().await;
    insert(
        &server,
        &[("u1", "p1", 5), ("u2", "p2", 50), ("u1", "p3", 500)],
    )
    .await;
    let mut client = Client::connect(server.addr, Proto::H1).await;
    let (status, headers, body) = client
        .send(
            "POST",
            &path("pagesAbove"),
            &HEADERS,
            br#"{"parameters":{"min":10},"version":"1.0.0"}"#,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(headers["content-type"], "text/event-stream");
    let all = events(&body);
    assert_eq!(all.len(), 1, "{all:?}");
    assert_eq!(all[0]["type"], "data");
    let mut value = all[0]["value"].as_array().expect("batch").clone();
    value.sort_by_key(|r| r["VIEWTIME"].as_i64());
    assert_eq!(
        value,
        vec![
            json!({"PAGEID": "p2", "VIEWTIME": 50}),
            json!({"PAGEID": "p3", "VIEWTIME": 500})
        ]
    );
    // The latest version by default, with its own parameters; a string is bound as a
    // quoted literal, so a quote in it is data, not SQL.
    let (status, _, body) = client
        .send(
            "POST",
            &path("pagesAbove"),
            &HEADERS,
            br#"{"parameters":{"min":0,"skip":"p2' OR 'a'='a"}}"#,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let all = events(&body);
    let pages: Vec<&str> = all[0]["value"]
        .as_array()
        .expect("batch")
        .iter()
        .map(|r| r["PAGEID"].as_str().expect("page"))
        .collect();
    assert_eq!(
        pages.len(),
        3,
        "nothing skipped: no page is named that: {pages:?}"
    );
}

#[tokio::test]
async fn a_push_function_streams_a_data_event_per_batch() {
    let server = server().await;
    let mut client = Client::connect(server.addr, Proto::H2).await;
    let (mut tx, response) = client.open_with("POST", &path("liveViews"), &HEADERS).await;
    tx.send_data(bytes::Bytes::from_static(
        br#"{"parameters":{"user":"u1"}}"#,
    ))
    .await
    .expect("send");
    drop(tx);
    let response = support::response(response).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["content-type"], "text/event-stream");
    let mut lines = LineReader::new(response.into_body());
    let mut seen = Vec::new();
    for (i, page) in ["a", "b", "c"].iter().enumerate() {
        insert(&server, &[("u2", "other", 0), ("u1", page, i as i64)]).await;
        let line = tokio::time::timeout(WAIT, lines.next_line())
            .await
            .expect("an event in time")
            .expect("a line");
        let event = parse(line.strip_prefix("data: ").expect("data line").as_bytes());
        assert_eq!(event["type"], "data");
        for row in event["value"].as_array().expect("batch") {
            seen.push(row["PAGEID"].as_str().expect("page").to_string());
        }
        let blank = lines.next_line().await.expect("the blank line");
        assert_eq!(blank, "");
    }
    assert_eq!(seen, ["a", "b", "c"]);
}

#[tokio::test]
async fn errors_before_the_stream_are_conjure_envelopes() {
    let server = server().await;
    let mut client = Client::connect(server.addr, Proto::H1).await;
    let cases: [(&str, &[u8], u16, &str, &str); 6] = [
        (
            "nosuch",
            br#"{"parameters":{}}"#,
            404,
            "NOT_FOUND",
            "QueryNotFound",
        ),
        (
            "pagesAbove",
            br#"{"parameters":{},"version":"9.0.0"}"#,
            404,
            "NOT_FOUND",
            "QueryVersionNotFound",
        ),
        (
            "pagesAbove",
            br#"{"parameters":{"min":1}}"#,
            400,
            "INVALID_ARGUMENT",
            "MissingParameter",
        ),
        (
            "pagesAbove",
            br#"{"parameters":{"min":1,"skip":"x","z":1}}"#,
            400,
            "INVALID_ARGUMENT",
            "UnknownParameter",
        ),
        (
            "pagesAbove",
            br#"{"parameters":{"min":"ten","skip":"x"}}"#,
            400,
            "INVALID_ARGUMENT",
            "InvalidQueryParameterValue",
        ),
        (
            "broken",
            br#"{"parameters":{}}"#,
            400,
            "INVALID_ARGUMENT",
            "QueryRuntimeError",
        ),
    ];
    for (name, body, status, code, error_name) in cases {
        let (got, headers, bytes) = client.send("POST", &path(name), &HEADERS, body).await;
        let body = parse(&bytes);
        assert_eq!(got.as_u16(), status, "{name}: {body}");
        assert_eq!(headers["content-type"], "application/json");
        assert_eq!(body["errorCode"], code);
        assert_eq!(body["errorName"], error_name);
        assert_eq!(body["errorInstanceId"].as_str().map(str::len), Some(36));
        assert!(body["parameters"].is_object());
    }
    let (status, _, bytes) = client
        .send("POST", &path("nosuch"), &HEADERS, br#"{"parameters":{}}"#)
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(
        parse(&bytes)["parameters"],
        json!({"queryApiName": "nosuch"})
    );

    for auth in [None, Some("Bearer wrong")] {
        let headers: Vec<(&str, &str)> = auth.map(|a| ("authorization", a)).into_iter().collect();
        let (status, _, bytes) = client
            .send("POST", &path("pagesAbove"), &headers, b"{}")
            .await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        let body = parse(&bytes);
        assert_eq!(body["errorCode"], "UNAUTHORIZED");
        assert_eq!(body["errorName"], "Default:Unauthorized");
    }
}

/// `execute` (what the SDK's `functions.Query.execute` calls): a pull function's whole
/// result as `{"value": […]}`; a push function refused (it never ends); the same errors
/// as `streamingExecute`, in the same envelope.
#[tokio::test]
async fn execute_answers_the_whole_result_as_one_value() {
    let server = server().await;
    insert(&server, &[("u1", "p1", 5), ("u2", "p2", 50)]).await;
    let mut client = Client::connect(server.addr, Proto::H2).await;
    let execute = |name: &str| format!("/api/v2/functions/queries/{name}/execute");
    let headers = [
        ("authorization", TOKEN),
        ("content-type", "application/json"),
        ("accept", "application/json"),
    ];
    let (status, response_headers, bytes) = client
        .send(
            "POST",
            &execute("pagesAbove"),
            &headers,
            br#"{"parameters":{"min":1,"skip":"p9"},"latestVersionResolution":"SEMANTIC_VERSION"}"#,
        )
        .await;
    assert_eq!(
        status,
        StatusCode::OK,
        "{}",
        String::from_utf8_lossy(&bytes)
    );
    assert_eq!(response_headers["content-type"], "application/json");
    let body = parse(&bytes);
    let mut pages: Vec<&str> = body["value"]
        .as_array()
        .expect("the rows")
        .iter()
        .map(|r| r["PAGEID"].as_str().expect("PAGEID"))
        .collect();
    pages.sort();
    assert_eq!(pages, ["p1", "p2"], "{body}");
    assert_eq!(body.as_object().map(|o| o.len()), Some(1), "{body}");

    let cases: [(&str, &[u8], u16, &str); 3] = [
        (
            "liveViews",
            br#"{"parameters":{"user":"u1"}}"#,
            400,
            "QueryRuntimeError",
        ),
        ("broken", br#"{"parameters":{}}"#, 400, "QueryRuntimeError"),
        ("nosuch", br#"{"parameters":{}}"#, 404, "QueryNotFound"),
    ];
    for (name, request, status, error_name) in cases {
        let (got, _, bytes) = client.send("POST", &execute(name), &headers, request).await;
        let body = parse(&bytes);
        assert_eq!(got.as_u16(), status, "{name}: {body}");
        assert_eq!(body["errorName"], error_name, "{name}: {body}");
    }
    let (status, _, bytes) = client
        .send("POST", &execute("pagesAbove"), &[], b"{}")
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(parse(&bytes)["errorName"], "Default:Unauthorized");
}
