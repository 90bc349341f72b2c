//! KalamDB topics and consumer groups against a real server over real sockets, as its
//! docs' smoke scenario 4 and the `kalam-client` consumer call them: `CREATE TOPIC`,
//! `ALTER TOPIC … ADD SOURCE`, `POST /v1/api/topics/consume` and `/ack` with roles, claims
//! redelivered after the visibility timeout, committed offsets across a restart, the SQL
//! `CONSUME`/`ACK` forms, `CLEAR TOPIC`, and the topic error envelope.

mod support;

use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::Engine as _;
use http::StatusCode;
use kalam_client::consumer::{AutoOffsetReset, TopicOp};
use serde_json::{json, Value as Json};
use sluice_server::auth::{Auth, JwtKeys};
use sluice_server::faces::kalamdb::TopicOptions;
use sluice_server::ServerOptions;
use support::{json as parse, Client, Proto, TestServer, WAIT};

const CONSUME: &str = "/v1/api/topics/consume";
const ACK: &str = "/v1/api/topics/ack";

/// The visibility timeout the redelivery test runs with: long enough that a claim does not
/// expire between two calls of one test step, short enough not to slow the suite.
const VISIBILITY_TIMEOUT_MS: u64 = 500;

async fn post(
    client: &mut Client,
    path: &str,
    token: Option<&str>,
    body: &Json,
) -> (StatusCode, Json) {
    let bearer = token.map(|t| format!("Bearer {t}"));
    let mut headers = vec![("content-type", "application/json")];
    if let Some(b) = &bearer {
        headers.push(("authorization", b));
    }
    let (status, _, bytes) = client
        .send("POST", path, &headers, body.to_string().as_bytes())
        .await;
    (status, parse(&bytes))
}

async fn sql(client: &mut Client, token: Option<&str>, statement: &str) -> (StatusCode, Json) {
    post(client, "/v1/api/sql", token, &json!({"sql": statement})).await
}

async fn sql_ok(client: &mut Client, token: Option<&str>, statement: &str) -> Json {
    let (status, body) = sql(client, token, statement).await;
    assert_eq!(status, StatusCode::OK, "{statement}: {body}");
    assert_eq!(body["status"], "success", "{body}");
    body
}

async fn login(client: &mut Client, user: &str, password: &str) -> String {
    let (status, body) = post(
        client,
        "/v1/api/auth/login",
        None,
        &json!({"user": user, "password": password}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body["access_token"].as_str().expect("token").to_string()
}

/// The JSON a message's base64 payload holds.
fn payload(message: &Json) -> Json {
    let b64 = message["payload"].as_str().expect("payload is base64 text");
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(b64)
        .expect("valid base64");
    serde_json::from_slice(&bytes).expect("the payload is JSON")
}

fn offsets(body: &Json) -> Vec<u64> {
    body["messages"]
        .as_array()
        .expect("messages")
        .iter()
        .map(|m| m["offset"].as_u64().expect("offset"))
        .collect()
}

/// Asserts the topic endpoints' error envelope: exactly `{"error": <text>, "code": code}`.
fn expect_topic_error(status: StatusCode, body: &Json, want: StatusCode, code: &str) {
    assert_eq!(status, want, "{body}");
    assert_eq!(body["code"], code, "{body}");
    assert!(
        body["error"].as_str().is_some_and(|e| !e.is_empty()),
        "{body}"
    );
    assert_eq!(body.as_object().expect("object").len(), 2, "{body}");
}

/// Waits until the SQL `CONSUME` without a group (which claims nothing) sees `count`
/// messages in the topic: the route is a persistent query and writes asynchronously.
async fn wait_for_messages(client: &mut Client, token: Option<&str>, topic: &str, count: usize) {
    let deadline = Instant::now() + WAIT;
    loop {
        let body = sql_ok(
            client,
            token,
            &format!("CONSUME FROM {topic} FROM EARLIEST LIMIT 100"),
        )
        .await;
        let seen = body["results"][0]["row_count"].as_u64().expect("row_count");
        if seen as usize >= count {
            assert_eq!(seen as usize, count, "{body}");
            return;
        }
        assert!(
            Instant::now() < deadline,
            "the route wrote {seen} of {count}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// KalamDB logins: `admin` (dba, from the first-run setup), `svc` (service) and `alice`
/// (user), with the passwords the tests log in with.
fn kalam_users() -> Auth {
    let auth = Auth::off().with_jwt(JwtKeys::random());
    let users = auth.users();
    users
        .setup("admin", "AdminPass123!", "RootPass123!", None, 0)
        .expect("setup");
    users
        .create_user("svc", "Service123!", "service", 0)
        .expect("service user");
    users
        .create_user("alice", "Secret123!", "user", 0)
        .expect("plain user");
    auth
}

/// `app.notes` routed into topic `app.ev` (one partition) on insert, and three notes
/// inserted (ids 1–3): the route writes them asynchronously.
async fn notes_routed_to_ev(client: &mut Client) {
    sql_ok(
        client,
        None,
        "CREATE NAMESPACE app; CREATE TABLE app.notes (id BIGINT PRIMARY KEY, body TEXT); \
         CREATE TOPIC app.ev PARTITIONS 1; ALTER TOPIC app.ev ADD SOURCE app.notes ON INSERT; \
         INSERT INTO app.notes (id, body) VALUES (1, 'a'); \
         INSERT INTO app.notes (id, body) VALUES (2, 'b'); \
         INSERT INTO app.notes (id, body) VALUES (3, 'c')",
    )
    .await;
}

/// Smoke scenario 4: a topic fed by a table, consumed and acked by a service user, refused
/// to a plain user, and a claim nobody acks redelivered after the visibility timeout.
#[tokio::test]
async fn smoke_scenario_topic_consume_ack_roles_and_redelivery() {
    let server = TestServer::start_with(ServerOptions {
        auth: Arc::new(kalam_users()),
        kalamdb_topics: TopicOptions {
            visibility_timeout: Duration::from_millis(VISIBILITY_TIMEOUT_MS),
            offsets_file: None,
        },
        ..ServerOptions::default()
    })
    .await;
    let mut client = Client::connect(server.addr, Proto::H2).await;
    let admin = login(&mut client, "admin", "AdminPass123!").await;
    let svc = login(&mut client, "svc", "Service123!").await;
    let alice = login(&mut client, "alice", "Secret123!").await;

    let created = sql_ok(
        &mut client,
        Some(&admin),
        "CREATE NAMESPACE app; \
         CREATE TABLE app.notes (id BIGINT PRIMARY KEY, body TEXT NOT NULL) WITH (TYPE='USER'); \
         CREATE TOPIC app.note_events PARTITIONS 1; \
         ALTER TOPIC app.note_events ADD SOURCE app.notes ON INSERT WITH (payload='full')",
    )
    .await;
    assert_eq!(
        created["results"][2]["message"],
        "Topic 'app.note_events' created"
    );
    let added = created["results"][3]["message"].as_str().expect("message");
    assert!(
        added.starts_with("Source 'app.notes' added to topic 'app.note_events' (query CSAS_"),
        "{added}"
    );
    // A plain user may not manage topics over SQL either.
    let (status, body) = sql(&mut client, Some(&alice), "CREATE TOPIC app.mine").await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert_eq!(body["error"]["code"], "PERMISSION_DENIED");

    for (id, text) in [(1, "first"), (2, "second"), (3, "third")] {
        let (status, body) = post(
            &mut client,
            "/v1/api/sql",
            Some(&alice),
            &json!({"sql": "INSERT INTO app.notes (id, body) VALUES ($1, $2)", "params": [id, text]}),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(body["results"][0]["as_user"], "alice");
    }
    wait_for_messages(&mut client, Some(&svc), "app.note_events", 3).await;

    let request = json!({"topic_id": "app.note_events", "group_id": "g1", "start": "Earliest",
                         "limit": 2, "partition_id": 0});
    let (status, first) = post(&mut client, CONSUME, Some(&svc), &request).await;
    assert_eq!(status, StatusCode::OK, "{first}");
    assert_eq!(offsets(&first), [0, 1]);
    assert_eq!(
        (&first["next_offset"], &first["has_more"]),
        (&json!(2), &json!(true))
    );
    let m = &first["messages"][0];
    assert_eq!(m["topic_id"], "app.note_events");
    assert_eq!(m["partition_id"], 0);
    assert_eq!(m["op"], "Insert");
    assert_eq!(m["key"], "1");
    assert!(m["timestamp_ms"].as_i64().expect("timestamp") > 0);
    assert_eq!(
        payload(m),
        json!({"id": 1, "body": "first", "_table": "app.notes"})
    );
    assert_eq!(payload(&first["messages"][1])["body"], "second");

    let ack = json!({"topic_id": "app.note_events", "group_id": "g1", "partition_id": 0, "upto_offset": 1});
    let (status, body) = post(&mut client, ACK, Some(&svc), &ack).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body, json!({"success": true, "acknowledged_offset": 1}));

    let (status, second) = post(&mut client, CONSUME, Some(&svc), &request).await;
    assert_eq!(status, StatusCode::OK, "{second}");
    assert_eq!(offsets(&second), [2]);
    assert_eq!(payload(&second["messages"][0])["body"], "third");
    assert_eq!(
        (&second["next_offset"], &second["has_more"]),
        (&json!(3), &json!(false))
    );

    // Offset 2 is claimed: another consumer of the group gets nothing until it expires…
    let (_, third) = post(&mut client, CONSUME, Some(&svc), &request).await;
    assert_eq!(offsets(&third), Vec::<u64>::new(), "{third}");
    // … and then it is delivered again (at least once).
    tokio::time::sleep(Duration::from_millis(VISIBILITY_TIMEOUT_MS + 200)).await;
    let (status, redelivered) = post(&mut client, CONSUME, Some(&svc), &request).await;
    assert_eq!(status, StatusCode::OK, "{redelivered}");
    assert_eq!(offsets(&redelivered), [2], "{redelivered}");
    assert_eq!(payload(&redelivered["messages"][0])["body"], "third");

    // A lower ack never moves the committed offset back.
    let lower = json!({"topic_id": "app.note_events", "group_id": "g1", "partition_id": 0, "upto_offset": 0});
    let (_, body) = post(&mut client, ACK, Some(&svc), &lower).await;
    assert_eq!(body, json!({"success": true, "acknowledged_offset": 1}));

    // Roles: a `user` is forbidden, no token is unauthorized, both in the topic envelope.
    let (status, body) = post(&mut client, CONSUME, Some(&alice), &request).await;
    expect_topic_error(status, &body, StatusCode::FORBIDDEN, "FORBIDDEN");
    let (status, body) = post(&mut client, ACK, Some(&alice), &ack).await;
    expect_topic_error(status, &body, StatusCode::FORBIDDEN, "FORBIDDEN");
    let (status, body) = post(&mut client, CONSUME, None, &request).await;
    expect_topic_error(status, &body, StatusCode::UNAUTHORIZED, "UNAUTHORIZED");

    // The admin (dba) drops the topic: its route stops, its groups go.
    let dropped = sql_ok(&mut client, Some(&admin), "DROP TOPIC app.note_events").await;
    assert_eq!(
        dropped["results"][0]["message"],
        "Topic 'app.note_events' dropped"
    );
    let (status, body) = post(&mut client, CONSUME, Some(&svc), &request).await;
    expect_topic_error(status, &body, StatusCode::NOT_FOUND, "NOT_FOUND");
    assert!(server.engine.describe_topic("app.note_events").is_none());
    let none = std::collections::HashMap::new();
    let shown = server
        .engine
        .execute("SHOW QUERIES;", &none, &none)
        .await
        .expect("SHOW QUERIES");
    match &shown[0].outcome {
        sluice_engine::Outcome::Queries { queries } => {
            assert!(queries.is_empty(), "the route's query is gone: {queries:?}")
        }
        other => panic!("{other:?}"),
    }
    server.stop().await;
}

/// A group's committed offset is kept in the data directory: after `kill -9` and a restart
/// the group resumes right after it, and a lower ack still does not move it back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn committed_offsets_survive_a_restart() {
    let dir = tempfile::tempdir().expect("temp dir");
    let server = support::child::ChildServer::start(dir.path());
    let mut client = Client::connect(server.addr, Proto::H1).await;
    notes_routed_to_ev(&mut client).await;
    wait_for_messages(&mut client, None, "app.ev", 3).await;
    let request =
        json!({"topic_id": "app.ev", "group_id": "durable", "start": "Earliest", "limit": 2});
    let (_, body) = post(&mut client, CONSUME, None, &request).await;
    assert_eq!(offsets(&body), [0, 1], "{body}");
    let ack =
        json!({"topic_id": "app.ev", "group_id": "durable", "partition_id": 0, "upto_offset": 1});
    let (status, body) = post(&mut client, ACK, None, &ack).await;
    assert_eq!(
        (status, body),
        (
            StatusCode::OK,
            json!({"success": true, "acknowledged_offset": 1})
        )
    );
    server.kill();

    // Restarted with a short visibility timeout (the operator's flag).
    let server = support::child::ChildServer::start_with(
        dir.path(),
        &["--kalamdb-visibility-timeout-ms", "300"],
    );
    let mut client = Client::connect(server.addr, Proto::H1).await;
    let (status, body) = post(&mut client, CONSUME, None, &request).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        offsets(&body),
        [2],
        "resumes after the committed offset: {body}"
    );
    assert_eq!(
        payload(&body["messages"][0]),
        json!({"id": 3, "body": "c", "_table": "app.notes"})
    );
    let lower =
        json!({"topic_id": "app.ev", "group_id": "durable", "partition_id": 0, "upto_offset": 0});
    let (_, body) = post(&mut client, ACK, None, &lower).await;
    assert_eq!(body, json!({"success": true, "acknowledged_offset": 1}));
    // Offset 2 was never acked: once the flag's 300 ms pass it is delivered again.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let (_, body) = post(&mut client, CONSUME, None, &request).await;
    assert_eq!(offsets(&body), [2], "redelivered after 300 ms: {body}");
    // The route survived the restart too: a new row still reaches the topic.
    sql_ok(
        &mut client,
        None,
        "INSERT INTO app.notes (id, body) VALUES (4, 'd')",
    )
    .await;
    wait_for_messages(&mut client, None, "app.ev", 4).await;
    server.kill();
}

/// `CONSUME` and `ACK` through `/v1/api/sql`, a filtered key-only route, and the topic
/// statements the engine cannot run, in KalamDB's SQL error envelope.
#[tokio::test]
async fn sql_consume_ack_and_unsupported_forms() {
    let server = TestServer::start().await;
    let mut client = Client::connect(server.addr, Proto::H1).await;
    sql_ok(
        &mut client,
        None,
        "CREATE NAMESPACE shop; CREATE TABLE shop.orders (id BIGINT PRIMARY KEY, total DOUBLE); \
         CREATE STREAM TABLE shop.visits (id BIGINT PRIMARY KEY, page TEXT); \
         CREATE TOPIC shop.big PARTITIONS 1; \
         ALTER TOPIC shop.big ADD SOURCE shop.orders ON INSERT WHERE total > 10 WITH (payload='key')",
    )
    .await;
    for (id, total) in [(1, 50.0), (2, 5.0), (3, 99.5)] {
        sql_ok(
            &mut client,
            None,
            &format!("INSERT INTO shop.orders (id, total) VALUES ({id}, {total})"),
        )
        .await;
    }
    wait_for_messages(&mut client, None, "shop.big", 2).await;
    let body = sql_ok(
        &mut client,
        None,
        "CONSUME FROM shop.big GROUP 'billing' FROM EARLIEST LIMIT 1",
    )
    .await;
    let result = &body["results"][0];
    let names: Vec<&str> = result["schema"]
        .as_array()
        .expect("schema")
        .iter()
        .map(|f| f["name"].as_str().expect("name"))
        .collect();
    assert_eq!(
        names,
        [
            "topic_id",
            "partition_id",
            "offset",
            "key",
            "op",
            "timestamp_ms",
            "payload"
        ]
    );
    assert_eq!(result["row_count"], 1, "{body}");
    let row = &result["rows"][0];
    assert_eq!(
        (&row[0], &row[1], &row[2], &row[4]),
        (&json!("shop.big"), &json!(0), &json!(0), &json!("Insert"))
    );
    assert_eq!(row[3], "1");
    assert_eq!(
        row[6],
        json!({"id": 1}),
        "key payload: the key columns only"
    );
    // Order 2 (total 5) is filtered out: the second message is order 3.
    let body = sql_ok(&mut client, None, "CONSUME FROM shop.big FROM 1 LIMIT 5").await;
    assert_eq!(body["results"][0]["rows"][0][6], json!({"id": 3}), "{body}");

    let body = sql_ok(
        &mut client,
        None,
        "ACK shop.big GROUP 'billing' PARTITION 0 UPTO OFFSET 0",
    )
    .await;
    assert_eq!(
        body["results"][0]["rows"],
        json!([["billing", 0, 0]]),
        "{body}"
    );
    let (_, acked) = post(
        &mut client,
        ACK,
        None,
        &json!({"topic_id": "shop.big", "group_id": "billing", "partition_id": 0, "upto_offset": 0}),
    )
    .await;
    assert_eq!(acked["acknowledged_offset"], 0);

    // A text key: the message key is the key's text, not its JSON.
    sql_ok(
        &mut client,
        None,
        "CREATE TABLE shop.customers (name TEXT PRIMARY KEY, tier TEXT); CREATE TOPIC shop.vip; \
         ALTER TOPIC shop.vip ADD SOURCE shop.customers ON INSERT; \
         INSERT INTO shop.customers (name, tier) VALUES ('ann', 'gold')",
    )
    .await;
    wait_for_messages(&mut client, None, "shop.vip", 1).await;
    let (status, body) = post(
        &mut client,
        CONSUME,
        None,
        &json!({"topic_id": "shop.vip", "group_id": "crm", "start": "Earliest"}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["messages"][0]["key"], "ann", "{body}");
    assert_eq!(
        payload(&body["messages"][0]),
        json!({"name": "ann", "tier": "gold", "_table": "shop.customers"})
    );

    let cases: &[(&str, StatusCode, &str, &str)] = &[
        (
            "CLEAR TOPIC shop.orders",
            StatusCode::BAD_REQUEST,
            "SQL_EXECUTION_ERROR",
            "holds the rows of 'shop.orders'",
        ),
        (
            "CLEAR TOPIC shop.missing",
            StatusCode::BAD_REQUEST,
            "TABLE_NOT_FOUND",
            "Topic 'shop.missing' does not exist",
        ),
        (
            "ALTER TOPIC shop.big ADD SOURCE shop.visits ON UPDATE",
            StatusCode::BAD_REQUEST,
            "SQL_EXECUTION_ERROR",
            "is a STREAM table: its rows are only inserted",
        ),
        (
            "CONSUME FROM shop.missing GROUP 'g'",
            StatusCode::BAD_REQUEST,
            "TABLE_NOT_FOUND",
            "Topic 'shop.missing' does not exist",
        ),
        (
            "ALTER TOPIC shop.big ADD SOURCE shop.nothing ON INSERT",
            StatusCode::BAD_REQUEST,
            "TABLE_NOT_FOUND",
            "does not exist",
        ),
        (
            "ACK shop.big GROUP 'g' UPTO OFFSET 99",
            StatusCode::BAD_REQUEST,
            "SQL_EXECUTION_ERROR",
            "past the last message",
        ),
        (
            "CREATE TOPIC shop.big",
            StatusCode::BAD_REQUEST,
            "SQL_EXECUTION_ERROR",
            "shop.big",
        ),
        (
            "DROP TOPIC shop.orders",
            StatusCode::BAD_REQUEST,
            "SQL_EXECUTION_ERROR",
            "holds the rows of 'shop.orders'",
        ),
        (
            "CONSUME FROM shop.big GROUP g",
            StatusCode::BAD_REQUEST,
            "INVALID_SQL",
            "quoted string",
        ),
    ];
    for (statement, want, code, text) in cases {
        let (status, body) = sql(&mut client, None, statement).await;
        assert_eq!(status, *want, "{statement}: {body}");
        assert_eq!(body["error"]["code"], *code, "{statement}: {body}");
        let message = body["error"]["message"].as_str().expect("message");
        assert!(message.contains(text), "{statement}: {message}");
    }
    server.stop().await;
}

/// Bodies the topic endpoints cannot use are answered in the topic error envelope.
#[tokio::test]
async fn bad_topic_requests_get_the_topic_error_envelope() {
    let server = TestServer::start().await;
    let mut client = Client::connect(server.addr, Proto::H2).await;
    sql_ok(&mut client, None, "CREATE TOPIC app.ev PARTITIONS 1").await;
    let raw: &[(&str, &[u8], StatusCode, &str)] = &[
        (CONSUME, b"not json", StatusCode::BAD_REQUEST, "BAD_REQUEST"),
        (
            CONSUME,
            br#"{"topic_id":"app.ev"}"#,
            StatusCode::BAD_REQUEST,
            "BAD_REQUEST",
        ),
        (
            CONSUME,
            br#"{"topic_id":"app.ev","group_id":"g","start":"Middle"}"#,
            StatusCode::BAD_REQUEST,
            "BAD_REQUEST",
        ),
        (
            CONSUME,
            br#"{"topic_id":"app.ev","group_id":"g","limit":-3}"#,
            StatusCode::BAD_REQUEST,
            "BAD_REQUEST",
        ),
        (
            CONSUME,
            br#"{"topic_id":"app.nope","group_id":"g"}"#,
            StatusCode::NOT_FOUND,
            "NOT_FOUND",
        ),
        (
            CONSUME,
            br#"{"topic_id":"../../etc","group_id":"g"}"#,
            StatusCode::NOT_FOUND,
            "NOT_FOUND",
        ),
        (
            CONSUME,
            br#"{"topic_id":"app.ev","group_id":"g","partition_id":5}"#,
            StatusCode::NOT_FOUND,
            "NOT_FOUND",
        ),
        (
            ACK,
            br#"{"topic_id":"app.ev","group_id":"g","upto_offset":"x"}"#,
            StatusCode::BAD_REQUEST,
            "BAD_REQUEST",
        ),
        (
            ACK,
            br#"{"topic_id":"app.ev","group_id":"g","upto_offset":0}"#,
            StatusCode::BAD_REQUEST,
            "BAD_REQUEST",
        ),
        (
            "/v1/api/topics/other",
            b"{}",
            StatusCode::NOT_FOUND,
            "NOT_FOUND",
        ),
    ];
    for (path, body, want, code) in raw {
        let (status, _, bytes) = client
            .send("POST", path, &[("content-type", "application/json")], body)
            .await;
        expect_topic_error(status, &parse(&bytes), *want, code);
    }
    let (status, _, bytes) = client.send("GET", CONSUME, &[], b"").await;
    expect_topic_error(
        status,
        &parse(&bytes),
        StatusCode::METHOD_NOT_ALLOWED,
        "METHOD_NOT_ALLOWED",
    );
    // An empty topic: nothing to consume, nothing more to come yet.
    let (status, body) = post(
        &mut client,
        CONSUME,
        None,
        &json!({"topic_id": "app.ev", "group_id": "g", "start": {"Offset": 0}, "limit": 10}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        body,
        json!({"messages": [], "next_offset": 0, "has_more": false})
    );
    server.stop().await;
}

/// Routes of each kind into one topic, as KalamDB's `test_topic_consume_mixed_operations`
/// drives them: each message carries the statement that made it (`op`), an update its new
/// row, a delete the row it deleted; a route's WHERE sees those rows; a route only
/// forwards its own kind; and the kind stays out of the payload.
#[tokio::test]
async fn insert_update_and_delete_routes_forward_their_own_changes() {
    let server = TestServer::start().await;
    let mut client = Client::connect(server.addr, Proto::H1).await;
    sql_ok(
        &mut client,
        None,
        "CREATE NAMESPACE app; \
         CREATE TABLE app.docs (id INT PRIMARY KEY, data TEXT, version INT); \
         CREATE TOPIC app.docs_events PARTITIONS 1; \
         ALTER TOPIC app.docs_events ADD SOURCE app.docs ON INSERT; \
         ALTER TOPIC app.docs_events ADD SOURCE app.docs ON UPDATE WHERE version < 10; \
         ALTER TOPIC app.docs_events ADD SOURCE app.docs ON DELETE",
    )
    .await;
    // Each statement waits for the last one's message, so the topic's order is theirs.
    let steps = [
        "INSERT INTO app.docs (id, data, version) VALUES (1, 'initial', 1)",
        "UPDATE app.docs SET data = 'updated', version = 2 WHERE id = 1",
        "INSERT INTO app.docs (id, data, version) VALUES (2, 'second', 1)",
        "DELETE FROM app.docs WHERE id = 1",
        "UPDATE app.docs SET version = 2 WHERE id = 2",
        // Filtered out by the update route's WHERE (the new row's version).
        "UPDATE app.docs SET version = 50 WHERE id = 2",
        "INSERT INTO app.docs (id, data, version) VALUES (3, 'third', 1)",
    ];
    let mut expected = 0;
    for (i, step) in steps.iter().enumerate() {
        sql_ok(&mut client, None, step).await;
        if i != 5 {
            expected += 1;
            wait_for_messages(&mut client, None, "app.docs_events", expected).await;
        }
    }
    let (status, body) = post(
        &mut client,
        CONSUME,
        None,
        &json!({"topic_id": "app.docs_events", "group_id": "audit", "start": "Earliest", "limit": 20}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let messages = body["messages"].as_array().expect("messages");
    let seen: Vec<(String, String, Json)> = messages
        .iter()
        .map(|m| {
            (
                m["op"].as_str().expect("op").to_string(),
                m["key"].as_str().expect("key").to_string(),
                payload(m),
            )
        })
        .collect();
    let row = |id: i64, data: &str, version: i64| json!({"id": id, "data": data, "version": version, "_table": "app.docs"});
    assert_eq!(
        seen,
        [
            ("Insert".into(), "1".into(), row(1, "initial", 1)),
            ("Update".into(), "1".into(), row(1, "updated", 2)),
            ("Insert".into(), "2".into(), row(2, "second", 1)),
            ("Delete".into(), "1".into(), row(1, "updated", 2)),
            ("Update".into(), "2".into(), row(2, "second", 2)),
            ("Insert".into(), "3".into(), row(3, "third", 1)),
        ],
        "{body}"
    );
    // The table itself is unchanged by the routes: row 1 deleted, row 2 updated twice.
    let body = sql_ok(&mut client, None, "SELECT id, version FROM app.docs").await;
    let mut rows = body["results"][0]["rows"].as_array().expect("rows").clone();
    rows.sort_by_key(|r| r[0].as_i64());
    assert_eq!(rows, [json!([2, 50]), json!([3, 1])], "{body}");
}

/// KalamDB's own consumer (`kalam-client`'s `TopicConsumer`, unmodified) reads routed
/// changes with their kinds and payloads, commits what it processed, and a later consumer
/// of the group resumes after the commit.
#[tokio::test]
async fn kalam_client_consumer_reads_each_kind_of_change() {
    let server = TestServer::start().await;
    let mut client = Client::connect(server.addr, Proto::H1).await;
    sql_ok(
        &mut client,
        None,
        "CREATE NAMESPACE app; CREATE TABLE app.tasks (id BIGINT PRIMARY KEY, state TEXT); \
         CREATE TOPIC app.task_events; \
         ALTER TOPIC app.task_events ADD SOURCE app.tasks ON INSERT; \
         ALTER TOPIC app.task_events ADD SOURCE app.tasks ON UPDATE; \
         ALTER TOPIC app.task_events ADD SOURCE app.tasks ON DELETE WITH (payload='key')",
    )
    .await;
    let steps = [
        "INSERT INTO app.tasks (id, state) VALUES (7, 'new')",
        "UPDATE app.tasks SET state = 'done' WHERE id = 7",
        "DELETE FROM app.tasks WHERE id = 7",
        "INSERT INTO app.tasks (id, state) VALUES (8, 'new')",
    ];
    for (i, step) in steps.iter().enumerate() {
        sql_ok(&mut client, None, step).await;
        wait_for_messages(&mut client, None, "app.task_events", i + 1).await;
    }
    let sdk = kalam_client::KalamLinkClient::builder()
        .base_url(format!("http://{}", server.addr))
        .build()
        .expect("client");
    let consumer = |reset| {
        sdk.consumer()
            .topic("app.task_events")
            .group_id("workers")
            .auto_offset_reset(reset)
            .max_poll_records(10)
            .build()
            .expect("consumer")
    };
    let mut first = consumer(AutoOffsetReset::Earliest);
    let records = first.poll().await.expect("poll");
    let seen: Vec<(TopicOp, Json)> = records
        .iter()
        .map(|r| {
            let payload = serde_json::from_slice(&r.payload).expect("payload is JSON");
            (r.op, payload)
        })
        .collect();
    assert_eq!(
        seen,
        [
            (
                TopicOp::Insert,
                json!({"id": 7, "state": "new", "_table": "app.tasks"})
            ),
            (
                TopicOp::Update,
                json!({"id": 7, "state": "done", "_table": "app.tasks"})
            ),
            (TopicOp::Delete, json!({"id": 7})),
            (
                TopicOp::Insert,
                json!({"id": 8, "state": "new", "_table": "app.tasks"})
            ),
        ]
    );
    for record in &records {
        first.mark_processed(record);
    }
    let committed = first.commit_sync().await.expect("commit");
    assert_eq!(committed.acknowledged_offset, 3);

    sql_ok(
        &mut client,
        None,
        "UPDATE app.tasks SET state = 'running' WHERE id = 8",
    )
    .await;
    wait_for_messages(&mut client, None, "app.task_events", 5).await;
    let mut second = consumer(AutoOffsetReset::Earliest);
    let records = second.poll().await.expect("poll");
    let ops: Vec<(u64, TopicOp)> = records.iter().map(|r| (r.offset, r.op)).collect();
    assert_eq!(ops, [(4, TopicOp::Update)], "resumes after the commit");
}

/// Consumers of one group polling at once never get the same offset (no claim expires
/// here), and together they get every message exactly once. The source is a STREAM table,
/// which a route reads directly.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_consumers_of_one_group_get_disjoint_ranges() {
    let server = TestServer::start().await;
    let mut client = Client::connect(server.addr, Proto::H2).await;
    sql_ok(
        &mut client,
        None,
        "CREATE NAMESPACE app; CREATE STREAM TABLE app.clicks (id BIGINT PRIMARY KEY, page TEXT); \
         CREATE TOPIC app.ev; ALTER TOPIC app.ev ADD SOURCE app.clicks ON INSERT",
    )
    .await;
    let inserts: Vec<String> = (0..12)
        .map(|i| format!("INSERT INTO app.clicks (id, page) VALUES ({i}, 'p{i}')"))
        .collect();
    sql_ok(&mut client, None, &inserts.join("; ")).await;
    wait_for_messages(&mut client, None, "app.ev", 12).await;

    let consumers = (0..4).map(|_| {
        let addr = server.addr;
        tokio::spawn(async move {
            let mut client = Client::connect(addr, Proto::H2).await;
            let request = json!({"topic_id": "app.ev", "group_id": "shared", "start": "Earliest", "limit": 2});
            let mut got = Vec::new();
            loop {
                let (status, body) = post(&mut client, CONSUME, None, &request).await;
                assert_eq!(status, StatusCode::OK, "{body}");
                let batch = offsets(&body);
                if batch.is_empty() {
                    return got;
                }
                assert_eq!(
                    payload(&body["messages"][0])["_table"],
                    "app.clicks",
                    "{body}"
                );
                got.extend(batch);
            }
        })
    });
    let mut all = Vec::new();
    for consumer in consumers {
        all.extend(consumer.await.expect("consumer"));
    }
    all.sort_unstable();
    assert_eq!(
        all,
        (0..12).collect::<Vec<u64>>(),
        "each offset to exactly one consumer"
    );
    server.stop().await;
}

/// `CLEAR TOPIC` (DBA and system only): every message goes and the topic's groups are
/// forgotten, as KalamDB's cleanup job deletes messages and offsets; the topic, its route
/// and its offsets carry on, across a restart too.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clear_topic_deletes_messages_and_forgets_groups() {
    let dir = tempfile::tempdir().expect("temp dir");
    let server = support::child::ChildServer::start(dir.path());
    let mut client = Client::connect(server.addr, Proto::H1).await;
    notes_routed_to_ev(&mut client).await;
    wait_for_messages(&mut client, None, "app.ev", 3).await;
    let request = json!({"topic_id": "app.ev", "group_id": "g", "start": "Earliest", "limit": 2});
    let (_, body) = post(&mut client, CONSUME, None, &request).await;
    assert_eq!(offsets(&body), [0, 1], "{body}");
    let ack = json!({"topic_id": "app.ev", "group_id": "g", "partition_id": 0, "upto_offset": 1});
    post(&mut client, ACK, None, &ack).await;

    let body = sql_ok(&mut client, None, "CLEAR TOPIC app.ev").await;
    assert_eq!(
        body["results"][0]["message"], "Topic 'app.ev' cleared",
        "{body}"
    );
    let body = sql_ok(
        &mut client,
        None,
        "CONSUME FROM app.ev FROM EARLIEST LIMIT 10",
    )
    .await;
    assert_eq!(
        body["results"][0]["row_count"], 0,
        "no message left: {body}"
    );
    // The route still feeds the topic; offsets carry on after the cleared ones.
    sql_ok(
        &mut client,
        None,
        "INSERT INTO app.notes (id, body) VALUES (4, 'd')",
    )
    .await;
    wait_for_messages(&mut client, None, "app.ev", 1).await;
    // The group was forgotten: it starts over where its request says, at the new start.
    let (status, body) = post(&mut client, CONSUME, None, &request).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(offsets(&body), [3], "{body}");
    assert_eq!(
        payload(&body["messages"][0]),
        json!({"id": 4, "body": "d", "_table": "app.notes"})
    );
    server.kill();

    // After a restart the cleared messages stay gone.
    let server = support::child::ChildServer::start(dir.path());
    let mut client = Client::connect(server.addr, Proto::H1).await;
    let body = sql_ok(
        &mut client,
        None,
        "CONSUME FROM app.ev FROM EARLIEST LIMIT 10",
    )
    .await;
    assert_eq!(body["results"][0]["rows"][0][2], 3, "{body}");
    assert_eq!(body["results"][0]["row_count"], 1, "{body}");
    server.kill();
}

/// Only DBA and system users may clear a topic (KalamDB's handler checks it); a service
/// user, who may consume and manage topics, may not.
#[tokio::test]
async fn clear_topic_needs_dba_or_system() {
    let server = TestServer::start_with(ServerOptions {
        auth: Arc::new(kalam_users()),
        ..ServerOptions::default()
    })
    .await;
    let mut client = Client::connect(server.addr, Proto::H2).await;
    let admin = login(&mut client, "admin", "AdminPass123!").await;
    let svc = login(&mut client, "svc", "Service123!").await;
    sql_ok(&mut client, Some(&svc), "CREATE TOPIC app.ev PARTITIONS 1").await;
    let (status, body) = sql(&mut client, Some(&svc), "CLEAR TOPIC app.ev").await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert_eq!(body["error"]["code"], "PERMISSION_DENIED", "{body}");
    sql_ok(&mut client, Some(&admin), "CLEAR TOPIC app.ev").await;
    server.stop().await;
}
