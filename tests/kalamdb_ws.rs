//! KalamDB's live queries (`GET /v1/ws`) against a real server: KalamDB's own Rust SDK
//! (`kalam-client` 0.5, unmodified) for what it does — header auth, batched snapshots it
//! pulls with `next_batch`, insert/update/delete changes with old values — and a plain
//! WebSocket client for what the SDK never sends: message auth, subscribe before auth,
//! binary frames, bad SQL, resume with `from`, unsubscribe.

mod support;

use std::time::Duration;

use base64::Engine as _;
use futures_util::{SinkExt, StreamExt};
use http::StatusCode;
use kalam_client::{ChangeEvent, KalamLinkClient, SubscriptionConfig, SubscriptionOptions};
use serde_json::{json, Value as Json};
use sluice_server::ServerOptions;
use support::kalam_ws::*;
use support::{Client, Proto, TestServer, WAIT};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::{Error as WsError, Message};

/// A subscription's ack and initial rows (asking for every further batch), with the
/// statuses of the batches in order.
async fn initial_load(ws: &mut Ws, id: &str) -> (Json, Vec<Json>, Vec<String>) {
    let ack = next_json(ws).await.expect("ack");
    assert_eq!(ack["type"], "subscription_ack", "{ack}");
    assert_eq!(ack["subscription_id"], id);
    let (mut rows, mut statuses) = (Vec::new(), Vec::new());
    loop {
        let batch = next_json(ws).await.expect("batch");
        assert_eq!(batch["type"], "initial_data_batch", "{batch}");
        rows.extend(batch["rows"].as_array().expect("rows").iter().cloned());
        statuses.push(
            batch["batch_control"]["status"]
                .as_str()
                .expect("status")
                .to_string(),
        );
        if batch["batch_control"]["has_more"] == false {
            return (ack, rows, statuses);
        }
        send(ws, json!({"type": "next_batch", "subscription_id": id})).await;
    }
}

/// The SDK, untouched: header auth, a snapshot of five rows in three batches it pulls
/// itself, then an insert, an update (with the old row), a delete (with the old row), and
/// a row inserted through ksqlDB's `/inserts-stream`.
#[tokio::test]
async fn kalam_client_gets_batched_snapshot_then_insert_update_delete() {
    let (server, token) = server_with_notes().await;
    for (id, body) in [
        ("n1", "one"),
        ("n2", "two"),
        ("n3", "three"),
        ("n4", "four"),
        ("n5", "five"),
    ] {
        insert(&server, &token, id, body).await;
    }
    let client = KalamLinkClient::builder()
        .base_url(format!("http://{}", server.addr))
        .jwt_token(token.clone())
        .build()
        .expect("client");
    let config = SubscriptionConfig {
        options: Some(SubscriptionOptions::new().with_batch_size(2)),
        ..SubscriptionConfig::new("notes", "SELECT id, body, _seq FROM app.notes")
    };
    let mut live = tokio::time::timeout(WAIT, client.live_events_with_config(config))
        .await
        .expect("subscribed in time")
        .expect("subscribed");
    let cell = |row: &std::collections::HashMap<String, kalam_client::KalamCellValue>, k: &str| {
        row.get(k).map(|v| v.inner().clone()).unwrap_or(Json::Null)
    };

    let (mut snapshot, mut statuses, mut seqs) = (Vec::new(), Vec::new(), Vec::new());
    while statuses.last().map(String::as_str) != Some("Ready") {
        match next_event(&mut live).await {
            ChangeEvent::Ack {
                total_rows, schema, ..
            } => {
                assert_eq!(total_rows, 5);
                let names: Vec<&str> = schema.iter().map(|f| f.name.as_str()).collect();
                assert_eq!(names, ["ID", "BODY", "_seq"]);
            }
            ChangeEvent::InitialDataBatch {
                rows,
                batch_control,
                ..
            } => {
                statuses.push(format!("{:?}", batch_control.status));
                for row in rows {
                    snapshot.push((cell(&row, "ID"), cell(&row, "BODY")));
                    seqs.push(cell(&row, "_seq").as_i64().expect("_seq is a number"));
                }
            }
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(statuses, ["Loading", "LoadingBatch", "Ready"]);
    let want: Vec<(Json, Json)> = [
        ("n1", "one"),
        ("n2", "two"),
        ("n3", "three"),
        ("n4", "four"),
        ("n5", "five"),
    ]
    .iter()
    .map(|(i, b)| (json!(i), json!(b)))
    .collect();
    assert_eq!(snapshot, want);
    assert!(
        seqs.windows(2).all(|w| w[0] < w[1]),
        "_seq ascends: {seqs:?}"
    );

    insert(&server, &token, "n6", "six").await;
    match next_event(&mut live).await {
        ChangeEvent::Insert { rows, .. } => {
            assert_eq!(rows.len(), 1);
            assert_eq!(
                (cell(&rows[0], "ID"), cell(&rows[0], "BODY")),
                (json!("n6"), json!("six"))
            );
            assert!(cell(&rows[0], "_seq").as_i64().expect("seq") > seqs[4]);
        }
        other => panic!("expected an insert, got {other:?}"),
    }
    sql(
        &server,
        &token,
        "UPDATE app.notes SET body = 'one, edited' WHERE id = 'n1'",
    )
    .await;
    match next_event(&mut live).await {
        ChangeEvent::Update { rows, old_rows, .. } => {
            assert_eq!(cell(&rows[0], "BODY"), json!("one, edited"));
            assert_eq!(cell(&old_rows[0], "BODY"), json!("one"));
            // The old values carry the change's `_seq` (the SDK drops rows at or below its
            // resume point), the new row the same.
            assert_eq!(cell(&old_rows[0], "_seq"), cell(&rows[0], "_seq"));
            assert!(cell(&rows[0], "_seq").as_i64().expect("seq") > seqs[4]);
        }
        other => panic!("expected an update, got {other:?}"),
    }
    sql(&server, &token, "DELETE FROM app.notes WHERE body = 'two'").await;
    match next_event(&mut live).await {
        ChangeEvent::Delete { old_rows, .. } => {
            assert_eq!(
                (cell(&old_rows[0], "ID"), cell(&old_rows[0], "BODY")),
                (json!("n2"), json!("two"))
            );
            assert!(cell(&old_rows[0], "_seq").as_i64().expect("seq") > seqs[4]);
        }
        other => panic!("expected a delete, got {other:?}"),
    }

    // A row written through ksqlDB's face arrives as a KalamDB change.
    let mut ksql = Client::connect(server.addr, Proto::H2).await;
    let basic = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(KSQL_BASIC)
    );
    // Only the owner's rows reach the live query: a row of another user's does not.
    let body = "{\"target\":\"`app.notes`\"}\n\
                {\"`_user`\":\"someone else\",\"ID\":\"k0\",\"BODY\":\"not admin's\"}\n\
                {\"`_user`\":\"admin\",\"ID\":\"k1\",\"BODY\":\"from ksqlDB\"}\n";
    let (status, _, acks) = ksql
        .send(
            "POST",
            "/inserts-stream",
            &[("authorization", basic.as_str())],
            body.as_bytes(),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{}", String::from_utf8_lossy(&acks));
    assert!(
        String::from_utf8_lossy(&acks).contains("\"status\":\"ok\""),
        "{acks:?}"
    );
    match next_event(&mut live).await {
        ChangeEvent::Insert { rows, .. } => {
            assert_eq!(
                (cell(&rows[0], "ID"), cell(&rows[0], "BODY")),
                (json!("k1"), json!("from ksqlDB"))
            );
        }
        other => panic!("expected an insert, got {other:?}"),
    }
    client.disconnect().await;
    server.stop().await;
}

#[tokio::test]
async fn header_auth_sends_auth_success_first_and_a_bad_token_is_401() {
    let (server, token) = server_with_notes().await;
    let mut ws = connect(&server, Some(&token)).await.expect("upgraded");
    let first = next_json(&mut ws).await.expect("first frame");
    assert_eq!(first["type"], "auth_success", "{first}");
    assert_eq!(first["role"], "dba");
    assert!(
        first["user"].as_str().is_some_and(|u| !u.is_empty()),
        "{first}"
    );
    assert_eq!(
        first["protocol"],
        json!({"serialization": "json", "compression": "gzip"}),
        "KalamDB's default"
    );

    match connect(&server, Some("not.a.jwt")).await {
        Err(WsError::Http(response)) => assert_eq!(response.status(), StatusCode::UNAUTHORIZED),
        other => panic!("expected 401, got {other:?}"),
    }
    server.stop().await;
}

#[tokio::test]
async fn message_auth_after_subscribe_before_auth_is_refused() {
    let (server, token) = server_with_notes().await;
    let mut ws = connect(&server, None).await.expect("upgraded");
    subscribe(&mut ws, "early", "SELECT * FROM app.notes", json!({})).await;
    let refused = next_json(&mut ws).await.expect("error");
    assert_eq!(
        (
            &refused["type"],
            &refused["code"],
            &refused["subscription_id"]
        ),
        (&json!("error"), &json!("AUTH_REQUIRED"), &json!("early"))
    );
    send(
        &mut ws,
        json!({"type": "authenticate", "method": "jwt", "token": token,
               "protocol": {"serialization": "json", "compression": "none"}}),
    )
    .await;
    let ok = next_json(&mut ws).await.expect("auth answer");
    assert_eq!(
        (&ok["type"], &ok["role"]),
        (&json!("auth_success"), &json!("dba"))
    );
    insert(&server, &token, "n1", "one").await;
    subscribe(&mut ws, "s1", "SELECT * FROM app.notes", json!({})).await;
    let (ack, rows, statuses) = initial_load(&mut ws, "s1").await;
    assert_eq!(ack["total_rows"], 1);
    let names: Vec<&Json> = ack["schema"]
        .as_array()
        .expect("schema")
        .iter()
        .map(|f| &f["name"])
        .collect();
    assert_eq!(names, [&json!("ID"), &json!("BODY"), &json!("_seq")]);
    assert_eq!(ack["schema"][0]["data_type"], "Text");
    assert_eq!(
        (rows[0]["ID"].clone(), rows[0]["BODY"].clone()),
        (json!("n1"), json!("one"))
    );
    assert_eq!(statuses, ["ready"]);

    // A bad token in the message: auth_error, then the server closes.
    let mut bad = connect(&server, None).await.expect("upgraded");
    send(
        &mut bad,
        json!({"type": "authenticate", "method": "jwt", "token": "nope"}),
    )
    .await;
    let answer = next_json(&mut bad).await.expect("auth_error");
    assert_eq!(answer["type"], "auth_error", "{answer}");
    assert_eq!(next_json(&mut bad).await, None, "closed after auth_error");
    server.stop().await;
}

#[tokio::test]
async fn bad_sql_unknown_tables_and_binary_frames_get_error_frames() {
    let (server, token) = server_with_notes().await;
    let mut ws = connect(&server, Some(&token)).await.expect("upgraded");
    assert_eq!(
        next_json(&mut ws).await.expect("auth")["type"],
        "auth_success"
    );
    for (id, sql, code) in [
        ("bad", "SELEC * FROM app.notes", "INVALID_SQL"),
        ("noqual", "SELECT * FROM notes", "INVALID_SQL"),
        ("col", "SELECT nope FROM app.notes", "INVALID_SQL"),
        (
            "where",
            "SELECT * FROM app.notes WHERE body = ",
            "INVALID_SQL",
        ),
        ("missing", "SELECT * FROM app.nothing", "NOT_FOUND"),
    ] {
        subscribe(&mut ws, id, sql, json!({})).await;
        let e = next_json(&mut ws).await.expect("error frame");
        assert_eq!(
            (&e["type"], &e["subscription_id"], &e["code"]),
            (&json!("error"), &json!(id), &json!(code)),
            "{sql}: {e}"
        );
        assert!(e["message"].as_str().is_some_and(|m| !m.is_empty()), "{e}");
    }
    ws.send(Message::Binary(vec![1, 2, 3].into()))
        .await
        .expect("sent");
    let e = next_json(&mut ws).await.expect("error frame");
    assert_eq!(
        (&e["code"], &e["subscription_id"]),
        (&json!("UNSUPPORTED_DATA"), &json!("protocol"))
    );
    // The connection still serves subscriptions.
    subscribe(&mut ws, "ok", "SELECT id FROM app.notes", json!({})).await;
    let (ack, rows, _) = initial_load(&mut ws, "ok").await;
    assert_eq!((ack["total_rows"].clone(), rows.len()), (json!(0), 0));
    server.stop().await;
}

#[tokio::test]
async fn resume_with_from_after_reconnect_delivers_only_newer_rows() {
    let (server, token) = server_with_notes().await;
    insert(&server, &token, "n1", "first").await;
    let mut ws = connect(&server, Some(&token)).await.expect("upgraded");
    next_json(&mut ws).await.expect("auth_success");
    subscribe(
        &mut ws,
        "s1",
        "SELECT id, body, _seq FROM app.notes",
        json!({}),
    )
    .await;
    let (_, rows, _) = initial_load(&mut ws, "s1").await;
    assert_eq!(rows.len(), 1);
    insert(&server, &token, "n2", "second").await;
    let change = next_json(&mut ws).await.expect("change");
    assert_eq!(
        (&change["change_type"], &change["rows"][0]["ID"]),
        (&json!("insert"), &json!("n2"))
    );
    let last_seq = change["rows"][0]["_seq"].as_i64().expect("_seq");
    drop(ws);

    insert(&server, &token, "n3", "third").await;
    let mut ws = connect(&server, Some(&token))
        .await
        .expect("upgraded again");
    next_json(&mut ws).await.expect("auth_success");
    subscribe(
        &mut ws,
        "s1",
        "SELECT id, body, _seq FROM app.notes",
        json!({"from": last_seq}),
    )
    .await;
    let (ack, rows, _) = initial_load(&mut ws, "s1").await;
    assert_eq!(ack["total_rows"], 1);
    assert_eq!(
        (rows[0]["ID"].clone(), rows[0]["BODY"].clone()),
        (json!("n3"), json!("third"))
    );
    assert!(rows[0]["_seq"].as_i64().expect("_seq") > last_seq);
    // `last_rows` is the other way to start late: the newest rows only.
    subscribe(
        &mut ws,
        "s2",
        "SELECT id FROM app.notes",
        json!({"last_rows": 2}),
    )
    .await;
    let (_, rows, _) = initial_load(&mut ws, "s2").await;
    assert_eq!(rows, [json!({"ID": "n2"}), json!({"ID": "n3"})]);
    server.stop().await;
}

#[tokio::test]
async fn unsubscribe_stops_changes_and_filters_turn_into_deletes() {
    let (server, token) = server_with_notes().await;
    let mut ws = connect(&server, Some(&token)).await.expect("upgraded");
    next_json(&mut ws).await.expect("auth_success");
    subscribe(&mut ws, "all", "SELECT id, body FROM app.notes", json!({})).await;
    initial_load(&mut ws, "all").await;
    subscribe(
        &mut ws,
        "open",
        "SELECT id FROM app.notes WHERE body <> 'done'",
        json!({}),
    )
    .await;
    initial_load(&mut ws, "open").await;
    send(
        &mut ws,
        json!({"type": "unsubscribe", "subscription_id": "all"}),
    )
    .await;
    send(&mut ws, json!({"type": "ping"})).await;

    insert(&server, &token, "t1", "todo").await;
    let c = next_json(&mut ws).await.expect("change");
    assert_eq!(
        (&c["subscription_id"], &c["change_type"], &c["rows"]),
        (&json!("open"), &json!("insert"), &json!([{"ID": "t1"}]))
    );
    // The row leaves the filter: a delete carrying the row as it was.
    insert(&server, &token, "t1", "done").await;
    let c = next_json(&mut ws).await.expect("change");
    assert_eq!(
        (&c["subscription_id"], &c["change_type"], &c["old_values"]),
        (&json!("open"), &json!("delete"), &json!([{"ID": "t1"}]))
    );
    assert!(c.get("rows").is_none(), "{c}");
    // Nothing for the unsubscribed query arrived in between, nor after.
    let quiet = tokio::time::timeout(Duration::from_millis(300), ws.next()).await;
    assert!(
        !matches!(quiet, Ok(Some(Ok(Message::Text(_))))),
        "no more frames: {quiet:?}"
    );
    server.stop().await;
}

#[tokio::test]
async fn oversized_messages_and_silent_clients_are_closed() {
    let (server, token) = server_with_notes().await;
    let mut ws = connect(&server, Some(&token)).await.expect("upgraded");
    next_json(&mut ws).await.expect("auth_success");
    let big = format!(
        "{{\"type\":\"ping\",\"pad\":\"{}\"}}",
        "x".repeat(1024 * 1024)
    );
    ws.send(Message::Text(big.into())).await.expect("sent");
    let e = next_json(&mut ws).await.expect("error frame");
    assert_eq!(
        (&e["type"], &e["code"]),
        (&json!("error"), &json!("MESSAGE_TOO_LARGE")),
        "{e}"
    );
    assert_eq!(
        next_json(&mut ws).await,
        None,
        "closed after MESSAGE_TOO_LARGE"
    );

    // No token on the upgrade and no `authenticate` within 3 s: auth_error, then closed.
    let mut quiet = connect(&server, None).await.expect("upgraded");
    let started = std::time::Instant::now();
    let e = next_json(&mut quiet).await.expect("auth_error");
    assert_eq!(
        (&e["type"], &e["message"]),
        (&json!("auth_error"), &json!("Authentication timeout"))
    );
    let waited = started.elapsed();
    assert!(
        waited >= Duration::from_millis(2_900) && waited < Duration::from_secs(6),
        "{waited:?}"
    );
    assert_eq!(next_json(&mut quiet).await, None);
    server.stop().await;
}

/// A WebSocket holds its connection slot (no newcomer past the cap, no idle eviction) until
/// it closes; with authentication off it is the anonymous principal at once.
#[tokio::test]
async fn a_websocket_holds_its_connection_slot_until_it_closes() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let server = TestServer::start_with(ServerOptions {
        limits: sluice_server::ConnectionLimits {
            connections_max: 1,
            health_connections_reserved: 0,
            idle_timeout: Duration::from_millis(300),
            ..sluice_server::ConnectionLimits::default()
        },
        ..ServerOptions::default()
    })
    .await;
    let mut ws = connect(&server, None).await.expect("upgraded");
    let hello = next_json(&mut ws).await.expect("auth_success");
    assert_eq!(
        (&hello["type"], &hello["user"], &hello["role"]),
        (
            &json!("auth_success"),
            &json!("anonymous"),
            &json!("anonymous")
        )
    );
    // Past the idle timeout the socket still serves.
    tokio::time::sleep(Duration::from_millis(600)).await;
    subscribe(&mut ws, "s", "SELECT * FROM app.none", json!({})).await;
    assert_eq!(
        next_json(&mut ws).await.expect("error")["code"],
        "NOT_FOUND"
    );
    let mut refused = TcpStream::connect(server.addr).await.expect("connect");
    let mut buf = [0u8; 64];
    let n = tokio::time::timeout(WAIT, refused.read(&mut buf))
        .await
        .expect("closed in time");
    assert!(
        matches!(n, Ok(0) | Err(_)),
        "a newcomer past the cap is closed: {n:?}"
    );

    ws.close(None).await.expect("closed");
    drop(ws);
    let deadline = std::time::Instant::now() + WAIT;
    loop {
        let mut stream = TcpStream::connect(server.addr).await.expect("connect");
        stream
            .write_all(b"GET /info HTTP/1.1\r\nhost: localhost\r\n\r\n")
            .await
            .expect("request");
        let mut head = [0u8; 12];
        if let Ok(Ok(12)) = tokio::time::timeout(WAIT, stream.read_exact(&mut head)).await {
            assert_eq!(&head, b"HTTP/1.1 200");
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the slot never came back"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    server.stop().await;
}

#[tokio::test]
async fn shutdown_closes_websockets_with_going_away() {
    let (server, token) = server_with_notes().await;
    let mut ws = connect(&server, Some(&token)).await.expect("upgraded");
    next_json(&mut ws).await.expect("auth_success");
    let stopping = tokio::spawn(server.stop());
    let close = loop {
        match tokio::time::timeout(WAIT, ws.next())
            .await
            .expect("a frame in time")
        {
            Some(Ok(Message::Close(frame))) => break frame,
            Some(Ok(_)) => continue,
            other => panic!("expected a close frame, got {other:?}"),
        }
    };
    let code = close.expect("a close code").code;
    assert_eq!(u16::from(code), 1001);
    tokio::time::timeout(WAIT, stopping)
        .await
        .expect("stopped in time")
        .expect("join");
}

/// A KalamDB STREAM table (an append-only engine stream): every row is an insert, rows of
/// the same key included, in the initial load and after it.
#[tokio::test]
async fn stream_tables_load_every_row_then_insert() {
    let (server, token) = server_with_notes().await;
    sql(
        &server,
        &token,
        "CREATE STREAM TABLE app.events (id TEXT PRIMARY KEY, kind TEXT); INSERT INTO app.events (id, kind) VALUES ('e1', 'open'); INSERT INTO app.events (id, kind) VALUES ('e1', 'close')",
    )
    .await;
    let mut ws = connect(&server, Some(&token)).await.expect("upgraded");
    next_json(&mut ws).await.expect("auth_success");
    subscribe(
        &mut ws,
        "ev",
        "SELECT kind FROM app.events WHERE id = 'e1'",
        json!({}),
    )
    .await;
    let (_, rows, _) = initial_load(&mut ws, "ev").await;
    assert_eq!(rows, [json!({"KIND": "open"}), json!({"KIND": "close"})]);
    sql(
        &server,
        &token,
        "INSERT INTO app.events (id, kind) VALUES ('e1', 'open')",
    )
    .await;
    sql(
        &server,
        &token,
        "INSERT INTO app.events (id, kind) VALUES ('e2', 'other')",
    )
    .await;
    let c = next_json(&mut ws).await.expect("change");
    assert_eq!(
        (&c["change_type"], &c["rows"]),
        (&json!("insert"), &json!([{"KIND": "open"}]))
    );
    let quiet = tokio::time::timeout(Duration::from_millis(300), ws.next()).await;
    assert!(
        !matches!(quiet, Ok(Some(Ok(Message::Text(_))))),
        "e2 is filtered out: {quiet:?}"
    );
    server.stop().await;
}

/// A live query on a USER table shows its subscriber's rows only, snapshot and changes
/// alike, and so does one on a STREAM table (KalamDB's STREAM rows are user-scoped); a
/// SHARED table cannot be subscribed to (KalamDB serves USER and STREAM tables).
#[tokio::test]
async fn a_user_tables_live_query_sees_its_subscribers_rows_only() {
    let (server, admin) = server_with_notes().await;
    sql(
        &server,
        &admin,
        "CREATE USER 'alice' WITH PASSWORD 'Secret123!' ROLE user; \
         CREATE TABLE app.config (k TEXT PRIMARY KEY, v TEXT); \
         CREATE TABLE app.typing (id TEXT PRIMARY KEY, what TEXT) WITH (TYPE='STREAM', TTL_SECONDS=60); \
         INSERT INTO app.typing (id, what) VALUES ('t1', 'admin types')",
    )
    .await;
    let mut client = Client::connect(server.addr, Proto::H1).await;
    let login = json!({"user": "alice", "password": "Secret123!"});
    let (status, _, body) = post_json(&mut client, "/v1/api/auth/login", &login, None).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let alice = body["access_token"].as_str().expect("token").to_string();
    insert(&server, &admin, "n1", "by admin").await;
    insert(&server, &alice, "n1", "by alice").await;

    let mut ws = connect(&server, Some(&alice)).await.expect("upgraded");
    next_json(&mut ws).await.expect("auth_success");
    subscribe(&mut ws, "mine", "SELECT * FROM app.notes", json!({})).await;
    let (ack, rows, _) = initial_load(&mut ws, "mine").await;
    assert_eq!(
        schema_names(&ack),
        ["ID", "BODY", "_seq"],
        "no owner column: {ack}"
    );
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert_eq!(rows[0]["BODY"], "by alice", "{rows:?}");

    // The administrator's change is not alice's; her own is.
    insert(&server, &admin, "n2", "by admin too").await;
    insert(&server, &alice, "n2", "by alice too").await;
    let change = next_json(&mut ws).await.expect("change");
    assert_eq!(change["change_type"], "insert", "{change}");
    assert_eq!(change["rows"][0]["BODY"], "by alice too", "{change}");

    // An event of alice's that outlived the TTL (stamped two minutes ago through ksqlDB's
    // face, which may set ROWTIME) is not in her snapshot either.
    let stamped = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_millis() as i64
        - 120_000;
    let basic = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(KSQL_BASIC)
    );
    let expired = format!(
        "INSERT INTO `app.typing` (ROWTIME, `_user`, id, what) VALUES ({stamped}, 'alice', 't0', 'expired');"
    );
    let (status, _, written) = Client::connect(server.addr, Proto::H1)
        .await
        .send(
            "POST",
            "/ksql",
            &[("authorization", basic.as_str())],
            json!({ "ksql": expired }).to_string().as_bytes(),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{written:?}");
    subscribe(&mut ws, "typing", "SELECT * FROM app.typing", json!({})).await;
    let (ack, rows, _) = initial_load(&mut ws, "typing").await;
    assert!(
        rows.is_empty(),
        "neither the admin's events nor expired ones: {rows:?}"
    );
    assert_eq!(
        schema_names(&ack),
        ["ID", "WHAT", "_seq"],
        "no owner column: {ack}"
    );
    let typing = "INSERT INTO app.typing (id, what) VALUES ('t1', $1)";
    for (who, what) in [(&admin, "admin again"), (&alice, "alice types")] {
        let mut client = Client::connect(server.addr, Proto::H1).await;
        let body = json!({"sql": typing, "params": [what]});
        let (status, _, answer) = post_json(&mut client, "/v1/api/sql", &body, Some(who)).await;
        assert_eq!(status, StatusCode::OK, "{answer}");
    }
    let change = next_json(&mut ws).await.expect("change");
    assert_eq!(
        (&change["subscription_id"], &change["change_type"]),
        (&json!("typing"), &json!("insert")),
        "{change}"
    );
    let row = &change["rows"][0];
    assert_eq!(
        (&row["ID"], &row["WHAT"]),
        (&json!("t1"), &json!("alice types")),
        "{change}"
    );
    assert!(row.get("_user").is_none(), "{change}");

    subscribe(&mut ws, "shared", "SELECT * FROM app.config", json!({})).await;
    let e = next_json(&mut ws).await.expect("error frame");
    assert_eq!(
        (&e["type"], &e["subscription_id"], &e["code"]),
        (&json!("error"), &json!("shared"), &json!("UNSUPPORTED")),
        "{e}"
    );
    server.stop().await;
}

/// The column names of a `subscription_ack`'s schema.
fn schema_names(ack: &Json) -> Vec<&str> {
    ack["schema"]
        .as_array()
        .expect("schema")
        .iter()
        .map(|f| f["name"].as_str().expect("name"))
        .collect()
}

/// The live query the fan-out tests share.
const NOTES: &str = "SELECT id, body FROM app.notes";

/// A WebSocket with a header token, past its `auth_success`.
async fn signed_in(server: &TestServer, token: &str) -> Ws {
    let mut ws = connect(server, Some(token)).await.expect("upgraded");
    let hello = next_json(&mut ws).await.expect("auth_success");
    assert_eq!(hello["type"], "auth_success", "{hello}");
    ws
}

/// The ids of a subscription's snapshot rows and insert changes, read until `want` ids
/// arrived (or nothing more comes).
async fn ids_until(ws: &mut Ws, id: &str, want: usize) -> Vec<String> {
    let (_, rows, _) = initial_load(ws, id).await;
    let mut ids: Vec<String> = rows.iter().map(|r| r["ID"].to_string()).collect();
    while ids.len() < want {
        let Some(change) = next_json(ws).await else {
            break;
        };
        assert_eq!(change["type"], "change", "{change}");
        assert_eq!(change["subscription_id"], id, "{change}");
        assert_eq!(change["change_type"], "insert", "{change}");
        let rows = change["rows"].as_array().expect("rows");
        ids.extend(rows.iter().map(|r| r["ID"].to_string()));
    }
    ids
}

/// Subscriptions to the same live query share one feed; one joining while rows arrive
/// still gets every row exactly once, split between its snapshot and its changes.
#[tokio::test]
async fn subscribers_joining_while_rows_arrive_each_see_every_row_once() {
    const ROWS: usize = 40;
    const SUBSCRIBERS: usize = 8;
    let (server, token) = server_with_notes().await;
    let writer = {
        let (addr, token) = (server.addr, token.clone());
        tokio::spawn(async move {
            let mut client = Client::connect(addr, Proto::H1).await;
            for i in 0..ROWS {
                let body = json!({ "sql": format!("INSERT INTO app.notes (id, body) VALUES ('n{i:02}', 'x')") });
                let (status, _, answer) =
                    post_json(&mut client, "/v1/api/sql", &body, Some(&token)).await;
                assert_eq!(status, StatusCode::OK, "{answer}");
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        })
    };
    let mut subscribers = Vec::new();
    for s in 0..SUBSCRIBERS {
        let mut ws = signed_in(&server, &token).await;
        let id = format!("s{s}");
        subscribe(&mut ws, &id, NOTES, json!({"batch_size": 7})).await;
        subscribers.push(tokio::spawn(
            async move { ids_until(&mut ws, &id, ROWS).await },
        ));
        tokio::time::sleep(Duration::from_millis(45)).await;
    }
    writer.await.expect("writer");
    let all: Vec<String> = (0..ROWS).map(|i| format!("\"n{i:02}\"")).collect();
    for (s, subscriber) in subscribers.into_iter().enumerate() {
        let mut ids = subscriber.await.expect("subscriber");
        ids.sort();
        assert_eq!(ids, all, "subscriber {s}: every row once");
    }
    server.stop().await;
}

/// A subscriber that stops reading holds nobody else up: the other subscriber of the same
/// table gets every change meanwhile, and the slow one gets them all, in order, once it
/// reads again (within the hub's ring).
#[tokio::test]
async fn a_subscriber_that_stops_reading_holds_nobody_up() {
    const ROWS: usize = 120;
    let (server, token) = server_with_notes().await;
    let mut slow = signed_in(&server, &token).await;
    subscribe(&mut slow, "slow", NOTES, json!({})).await;
    initial_load(&mut slow, "slow").await;
    let mut quick = signed_in(&server, &token).await;
    subscribe(&mut quick, "quick", NOTES, json!({})).await;
    initial_load(&mut quick, "quick").await;

    // 120 rows of 64 KiB: more than the slow client's socket buffers and queue hold.
    let body = "b".repeat(64 * 1024);
    let mut client = Client::connect(server.addr, Proto::H1).await;
    let mut seen = 0;
    for i in 0..ROWS {
        let insert = json!({ "sql": format!("INSERT INTO app.notes (id, body) VALUES ('n{i:03}', '{body}')") });
        let (status, _, answer) =
            post_json(&mut client, "/v1/api/sql", &insert, Some(&token)).await;
        assert_eq!(status, StatusCode::OK, "{answer}");
        let change = next_json(&mut quick)
            .await
            .expect("the quick subscriber's change");
        let rows = change["rows"].as_array().expect("rows");
        seen += rows.len();
        assert_eq!(rows[rows.len() - 1]["ID"], format!("n{i:03}"));
    }
    assert_eq!(seen, ROWS);
    let mut ids = Vec::new();
    while ids.len() < ROWS {
        let change = next_json(&mut slow)
            .await
            .expect("the slow subscriber's change");
        assert_eq!(change["change_type"], "insert", "{}", change["type"]);
        ids.extend(
            change["rows"]
                .as_array()
                .expect("rows")
                .iter()
                .map(|r| r["ID"].clone()),
        );
    }
    let all: Vec<Json> = (0..ROWS).map(|i| json!(format!("n{i:03}"))).collect();
    assert_eq!(ids, all, "in order, none lost");
    server.stop().await;
}
