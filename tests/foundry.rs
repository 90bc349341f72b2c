//! Foundry's `streamingExecute` against a real server: query functions from a registry,
//! typed parameters, SSE data events for a pull function (one event) and a push function
//! (an event per batch while rows are inserted through ksqlDB's `/inserts-stream`), and
//! Conjure errors before the stream; `execute`, `executeAsync` and its executions, and the
//! functions' metadata. The real Python SDK (`foundry-platform-sdk`) runs
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
    server_with(ServerOptions::default()).await
}

/// A server with the functions and tokens, other options from `options`.
async fn server_with(options: ServerOptions) -> TestServer {
    let tokens = CredentialStore::parse("app: foundry-token\n").expect("valid");
    let users = CredentialStore::parse("admin: pw\n").expect("valid");
    let server = TestServer::start_with(ServerOptions {
        auth: Arc::new(Auth::from_stores(Some(users), Some(tokens), &[], None)),
        functions: Arc::new(FunctionRegistry::parse(FUNCTIONS.as_bytes()).expect("functions")),
        ..options
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

/// `POST` operation `op` of `pagesAbove` 1.0.0 with `min` = 10: the rows whose VIEWTIME is
/// over 10.
async fn pages_above(
    client: &mut Client,
    op: &str,
    headers: &[(&str, &str)],
) -> (StatusCode, http::HeaderMap, bytes::Bytes) {
    let path = format!("/api/v2/functions/queries/pagesAbove/{op}");
    let body = br#"{"parameters":{"min":10},"version":"1.0.0"}"#;
    client.send("POST", &path, headers, body).await
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
    let (status, headers, body) =
        pages_above(&mut client, "streamingExecute?preview=true", &HEADERS).await;
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

const JSON_HEADERS: [(&str, &str); 3] = [
    ("authorization", TOKEN),
    ("content-type", "application/json"),
    ("accept", "application/json"),
];

/// `GET path` with the token: the status and the JSON body.
async fn get(client: &mut Client, path: String) -> (StatusCode, Json) {
    let (status, _, bytes) = client.send("GET", &path, &JSON_HEADERS, b"").await;
    (status, parse(&bytes))
}

/// The functions' metadata (`functions.Query`): parameters and the output type planned
/// from the SQL, by name and version, by rid, in a batch by rid.
#[tokio::test]
async fn metadata_describes_parameters_and_output() {
    let server = server().await;
    let mut client = Client::connect(server.addr, Proto::H2).await;
    let base = "/api/v2/functions/queries";
    let (status, latest) = get(&mut client, format!("{base}/pagesAbove")).await;
    assert_eq!(status, StatusCode::OK, "{latest}");
    assert_eq!(latest["apiName"], "pagesAbove");
    assert_eq!(latest["version"], "2.0.0");
    assert_eq!(
        latest["parameters"],
        json!({"min": {"dataType": {"type": "long"}, "required": true},
               "skip": {"dataType": {"type": "string"}, "required": true}})
    );
    assert_eq!(
        latest["output"],
        json!({"type": "array", "subType": {"type": "struct", "fields": [
            {"name": "PAGEID", "fieldType": {"type": "string"}}]}})
    );
    let rid = latest["rid"].as_str().expect("rid").to_string();
    assert!(
        rid.starts_with("ri.function-registry.main.function."),
        "{rid}"
    );

    let (status, old) = get(&mut client, format!("{base}/pagesAbove?version=1.0.0")).await;
    assert_eq!(status, StatusCode::OK, "{old}");
    assert_eq!(old["version"], "1.0.0");
    assert_eq!(old["rid"], rid.as_str(), "one rid for every version");
    assert_eq!(
        old["output"]["subType"]["fields"][1],
        json!({"name": "VIEWTIME", "fieldType": {"type": "long"}})
    );

    let (status, by_rid) = get(&mut client, format!("{base}/getByRid?rid={rid}")).await;
    assert_eq!(status, StatusCode::OK, "{by_rid}");
    assert_eq!(by_rid, latest);

    let batch = json!([{"rid": rid, "version": "1.0.0"}, {"rid": "ri.function-registry.main.function.nope"}]);
    let (status, _, bytes) = client
        .send(
            "POST",
            &format!("{base}/getByRidBatch"),
            &JSON_HEADERS,
            batch.to_string().as_bytes(),
        )
        .await;
    let found = parse(&bytes);
    assert_eq!(status, StatusCode::OK, "{found}");
    assert_eq!(found["data"].as_array().map(Vec::len), Some(1), "{found}");
    assert_eq!(found["data"][0], old);

    // A function whose SQL does not plan is still described; its output says why.
    let (status, broken) = get(&mut client, format!("{base}/broken")).await;
    assert_eq!(status, StatusCode::OK, "{broken}");
    assert_eq!(broken["output"]["type"], "unsupported");
    assert!(broken["output"]["params"]["reason"]
        .as_str()
        .is_some_and(|r| r.contains("NOSUCH")));

    for (path, error_name) in [
        (format!("{base}/nosuch"), "QueryNotFound"),
        (
            format!("{base}/pagesAbove?version=9.9.9"),
            "QueryVersionNotFound",
        ),
        (format!("{base}/getByRid?rid=ri.x"), "QueryNotFound"),
    ] {
        let (status, body) = get(&mut client, path.clone()).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{path}: {body}");
        assert_eq!(body["errorName"], error_name, "{path}");
    }
    let (status, body) = get(&mut client, format!("{base}/getByRid")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    let (status, _, bytes) = client
        .send("POST", &format!("{base}/pagesAbove"), &JSON_HEADERS, b"{}")
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(parse(&bytes)["errorName"], "Default:MethodNotAllowed");
    let (status, _, _) = client
        .send("GET", &format!("{base}/pagesAbove"), &[], b"")
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

/// `executeAsync`: `completed` with the rows when the query ends within the statement
/// wait; with no wait (`--statement-wait-ms 0`), `submitted`, then `getResult` gives
/// `succeeded` with the same rows.
/// Execution ids are this face's own and unknown ones are `ExecutionNotFound`; `cancel`
/// answers the id and leaves a finished execution as it ended.
#[tokio::test]
async fn execute_async_completes_or_is_polled() {
    // A long wait (answered as soon as the query ends) so a loaded machine still completes.
    for wait_ms in [10_000, 0] {
        let server = server_with(ServerOptions {
            statement_wait: std::time::Duration::from_millis(wait_ms),
            ..ServerOptions::default()
        })
        .await;
        insert(&server, &[("u1", "p1", 5), ("u2", "p2", 50)]).await;
        let mut client = Client::connect(server.addr, Proto::H2).await;
        let (status, _, bytes) = pages_above(&mut client, "executeAsync", &JSON_HEADERS).await;
        let started = parse(&bytes);
        assert_eq!(status, StatusCode::OK, "{started}");
        let expected = json!([{"PAGEID": "p2", "VIEWTIME": 50}]);
        if wait_ms > 0 {
            assert_eq!(started, json!({"type": "completed", "value": expected}));
            continue;
        }
        assert_eq!(started["type"], "submitted", "{started}");
        let id = started["executionId"].as_str().expect("an execution id");
        let executions = "/api/v2/functions/executions";
        let (status, _, bytes) = client
            .send(
                "POST",
                &format!("{executions}/{id}/getResult"),
                &JSON_HEADERS,
                br#"{"timeout":30}"#,
            )
            .await;
        let result = parse(&bytes);
        assert_eq!(status, StatusCode::OK, "{result}");
        assert_eq!(result, json!({"type": "succeeded", "value": expected}));
        let (status, _, bytes) = client
            .send(
                "POST",
                &format!("{executions}/{id}/cancel"),
                &JSON_HEADERS,
                b"{}",
            )
            .await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(parse(&bytes), json!({"id": id}));
        let (_, _, bytes) = client
            .send(
                "POST",
                &format!("{executions}/{id}/getResult"),
                &JSON_HEADERS,
                b"",
            )
            .await;
        assert_eq!(
            parse(&bytes)["type"],
            "succeeded",
            "canceling a finished one"
        );

        // Canceled at once: the execution ends canceled, or had already succeeded.
        let (_, _, bytes) = pages_above(&mut client, "executeAsync", &JSON_HEADERS).await;
        let other = parse(&bytes)["executionId"]
            .as_str()
            .expect("submitted")
            .to_string();
        client
            .send(
                "POST",
                &format!("{executions}/{other}/cancel"),
                &JSON_HEADERS,
                b"",
            )
            .await;
        let (status, _, bytes) = client
            .send(
                "POST",
                &format!("{executions}/{other}/getResult"),
                &JSON_HEADERS,
                br#"{"timeout":30}"#,
            )
            .await;
        let ended = parse(&bytes);
        match status {
            StatusCode::OK => assert_eq!(ended["type"], "succeeded", "{ended}"),
            StatusCode::BAD_REQUEST => {
                assert_eq!(ended["errorName"], "AsyncQueryCanceled", "{ended}");
                assert_eq!(ended["parameters"]["functionVersion"], "1.0.0", "{ended}");
            }
            other => panic!("{other}: {ended}"),
        }
        for op in ["getResult", "cancel"] {
            let (status, _, bytes) = client
                .send(
                    "POST",
                    &format!("{executions}/00000000-0000-4000-8000-000000000000/{op}"),
                    &JSON_HEADERS,
                    b"{}",
                )
                .await;
            assert_eq!(status, StatusCode::NOT_FOUND);
            assert_eq!(parse(&bytes)["errorName"], "ExecutionNotFound");
        }
        let (status, _, _) = client
            .send("POST", &format!("{executions}/{id}/getResult"), &[], b"")
            .await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
    }
    let server = server().await;
    let mut client = Client::connect(server.addr, Proto::H2).await;
    let (status, _, bytes) = client
        .send(
            "POST",
            "/api/v2/functions/queries/liveViews/executeAsync",
            &JSON_HEADERS,
            br#"{"parameters":{"user":"u1"}}"#,
        )
        .await;
    assert_eq!(
        status,
        StatusCode::BAD_REQUEST,
        "a push function never ends"
    );
    assert_eq!(parse(&bytes)["errorName"], "QueryRuntimeError");
}

/// `streamingExecuteEvents` answers as `streamingExecute` does.
#[tokio::test]
async fn streaming_execute_events_is_streaming_execute() {
    let server = server().await;
    insert(&server, &[("u1", "p1", 5), ("u2", "p2", 50)]).await;
    let mut client = Client::connect(server.addr, Proto::H1).await;
    let (status, headers, body) =
        pages_above(&mut client, "streamingExecuteEvents", &HEADERS).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(headers["content-type"], "text/event-stream");
    assert_eq!(
        events(&body),
        [json!({"type": "data", "value": [{"PAGEID": "p2", "VIEWTIME": 50}]})]
    );
}

/// A token without an allowed role: 403 with each operation's own permission error; no
/// token or a wrong one: 401.
#[tokio::test]
async fn a_principal_without_the_role_gets_the_operations_permission_error() {
    let tokens = CredentialStore::parse("app: foundry-token, reader\n").expect("valid");
    let server = TestServer::start_with(ServerOptions {
        auth: Arc::new(Auth::from_stores(
            None,
            Some(tokens),
            &["analyst".to_string()],
            None,
        )),
        functions: Arc::new(FunctionRegistry::parse(FUNCTIONS.as_bytes()).expect("functions")),
        ..ServerOptions::default()
    })
    .await;
    let mut client = Client::connect(server.addr, Proto::H2).await;
    // method, path under /api/v2/functions/, the operation's error, what its parameters name
    let cases = [
        "GET queries/pagesAbove Default:PermissionDenied query",
        "GET queries/getByRid?rid=r GetByRidPermissionDenied -",
        "POST queries/pagesAbove/execute ExecuteQueryPermissionDenied query",
        "POST queries/pagesAbove/executeAsync ExecuteAsyncQueryPermissionDenied query",
        "POST queries/pagesAbove/streamingExecuteEvents StreamingExecuteEventsQueryPermissionDenied query",
        "POST executions/e1/getResult GetResultExecutionPermissionDenied execution",
        "POST executions/e1/cancel CancelExecutionPermissionDenied execution",
    ];
    for case in cases {
        let [method, path, error_name, names] = case.split(' ').collect::<Vec<_>>()[..] else {
            panic!("four words: {case}")
        };
        let path = format!("/api/v2/functions/{path}");
        let parameters = match names {
            "query" => json!({"queryApiName": "pagesAbove"}),
            "execution" => json!({"executionId": "e1"}),
            _ => json!({}),
        };
        let (status, _, bytes) = client.send(method, &path, &JSON_HEADERS, b"{}").await;
        let body = parse(&bytes);
        assert_eq!(status, StatusCode::FORBIDDEN, "{path}: {body}");
        assert_eq!(body["errorCode"], "PERMISSION_DENIED", "{path}");
        assert_eq!(body["errorName"], error_name, "{path}");
        assert_eq!(body["parameters"], parameters, "{path}");
        // Without a token, or with a wrong one: 401, whatever the operation.
        for auth in [None, Some("Bearer wrong")] {
            let headers: Vec<(&str, &str)> =
                auth.map(|a| ("authorization", a)).into_iter().collect();
            let (status, _, bytes) = client.send(method, &path, &headers, b"{}").await;
            assert_eq!(status, StatusCode::UNAUTHORIZED, "{path}");
            assert_eq!(parse(&bytes)["errorName"], "Default:Unauthorized", "{path}");
        }
    }
}
