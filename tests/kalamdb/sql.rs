//! `/v1/api/sql`: namespaces, parameters, results, errors, defaults, restarts.

use super::*;

#[tokio::test]
async fn health_answers_kalamdb_shape() {
    let server = TestServer::start().await;
    let mut client = Client::connect(server.addr, Proto::H1).await;
    for path in ["/health", "/v1/api/healthcheck"] {
        let (status, _, bytes) = client.send("GET", path, &[], b"").await;
        assert_eq!(status, StatusCode::OK);
        let body = parse(&bytes);
        assert_eq!(body["status"], "healthy");
        assert_eq!(body["api_version"], "v1");
        assert!(body["version"].is_string());
    }
    server.stop().await;
}

#[tokio::test]
async fn namespaces_tables_params_and_results() {
    let server = TestServer::start().await;
    let mut client = Client::connect(server.addr, Proto::H2).await;
    let (status, body) = sql(
        &mut client,
        &json!({"sql": "CREATE NAMESPACE app; CREATE STREAM TABLE app.notes (id BIGINT PRIMARY KEY, body TEXT NOT NULL, score DOUBLE) WITH (TTL_SECONDS=60); SHOW NAMESPACES"}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["status"], "success");
    let results = body["results"].as_array().expect("results");
    assert_eq!(results.len(), 3, "one result per statement: {body}");
    assert_eq!(results[0]["message"], "Namespace 'app' created");
    assert_eq!(results[0]["as_user"], "anonymous");
    assert_eq!(results[0]["row_count"], 0);
    assert!(results[0].get("rows").is_none() && results[0].get("schema").is_none());
    assert_eq!(results[2]["rows"], json!([["app"]]));
    assert!(body["took"].as_f64().expect("took") >= 0.0);

    for (id, text, score) in [(1, "it's a note", 1.5), (2, "second", 2.0)] {
        let (status, body) = sql(
            &mut client,
            &json!({"sql": "INSERT INTO notes (id, body, score) VALUES ($1, $2, $3)",
                    "params": [id, text, score], "namespace_id": "app"}),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(body["results"][0]["row_count"], 1, "{body}");
    }
    let (status, body) = sql(
        &mut client,
        &json!({"sql": "SELECT id, body, score FROM app.notes WHERE id = $1", "params": [1]}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let result = &body["results"][0];
    assert_eq!(
        result["schema"],
        json!([{"name":"ID","data_type":"BigInt","index":0},
               {"name":"BODY","data_type":"Text","index":1},
               {"name":"SCORE","data_type":"Double","index":2}])
    );
    assert_eq!(
        result["rows"],
        json!([[1, "it's a note", 1.5]]),
        "native JSON cells"
    );
    assert_eq!(result["row_count"], 1);

    // The same stream through ksqlDB's face: written there, read here. A STREAM table's
    // rows are per user: ksqlDB's face sees the owner column and must name one; a row
    // written for nobody is nobody's to read.
    let (status, written) = client
        .ksql(
            "INSERT INTO `app.notes` (`_user`, id, body, score) VALUES ('anonymous', 3, 'from ksql', 0.5); \
             INSERT INTO `app.notes` (id, body, score) VALUES (3, 'no owner', 0.5);",
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{written}");
    let (status, body) = sql(
        &mut client,
        &json!({"sql": "USE app; SELECT body FROM notes WHERE id = 3"}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["results"][1]["rows"], json!([["from ksql"]]), "{body}");
    server.stop().await;
}

#[tokio::test]
async fn errors_in_kalamdb_envelope() {
    let server = TestServer::start().await;
    let mut client = Client::connect(server.addr, Proto::H1).await;
    let cases: &[(Json, StatusCode, &str)] = &[
        (
            json!({"sql": "SELEC 1"}),
            StatusCode::BAD_REQUEST,
            "INVALID_SQL",
        ),
        (
            json!({"sql": "  ;  "}),
            StatusCode::BAD_REQUEST,
            "EMPTY_SQL",
        ),
        (
            json!({"sql": "SELECT 1 FROM a; SELECT 2 FROM b", "params": [1]}),
            StatusCode::BAD_REQUEST,
            "PARAMS_WITH_BATCH",
        ),
        (
            json!({"sql": "SELECT * FROM app.t WHERE id = $2", "params": [1]}),
            StatusCode::BAD_REQUEST,
            "INVALID_PARAMETER",
        ),
        (
            json!({"sql": "SELECT * FROM app.missing"}),
            StatusCode::BAD_REQUEST,
            "TABLE_NOT_FOUND",
        ),
        (
            json!({"sql": "DROP NAMESPACE nowhere"}),
            StatusCode::BAD_REQUEST,
            "SQL_EXECUTION_ERROR",
        ),
        (
            json!({"query": "SELECT 1"}),
            StatusCode::BAD_REQUEST,
            "INVALID_INPUT",
        ),
    ];
    for (body, want, code) in cases {
        let (status, answer) = sql(&mut client, body).await;
        expect_error(status, &answer, *want, code);
    }
    let (status, _, bytes) = client.send("GET", "/v1/api/sql", &[], b"").await;
    expect_error(
        status,
        &parse(&bytes),
        StatusCode::METHOD_NOT_ALLOWED,
        "INVALID_INPUT",
    );
    server.stop().await;
}

/// A KalamDB (user) table is a keyed table: a row written twice under one key reads back
/// once, with its last value, and a SELECT reads it though no query materializes it (the
/// table's topic is compacted on read, as for a ksqlDB SOURCE table).
#[tokio::test]
async fn user_tables_read_back_their_latest_row_per_key() {
    let server = TestServer::start().await;
    let mut client = Client::connect(server.addr, Proto::H1).await;
    let (status, body) = sql(
        &mut client,
        &json!({"sql": "CREATE NAMESPACE app; CREATE TABLE app.messages (id BIGINT PRIMARY KEY, author TEXT, body TEXT)"}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    for (id, body_text) in [(1, "first"), (2, "other"), (1, "edited")] {
        let (status, body) = sql(
            &mut client,
            &json!({"sql": "INSERT INTO messages (id, author, body) VALUES ($1, $2, $3)",
                    "params": [id, "alice", body_text], "namespace_id": "app"}),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }
    let (status, body) = sql(
        &mut client,
        &json!({"sql": "SELECT id, body FROM app.messages WHERE id = $1", "params": [1]}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["results"][0]["rows"], json!([[1, "edited"]]), "{body}");
    let (status, body) = sql(
        &mut client,
        &json!({"sql": "SELECT id, body FROM app.messages"}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let mut rows = body["results"][0]["rows"].as_array().expect("rows").clone();
    rows.sort_by_key(|r| r[0].as_i64());
    assert_eq!(rows, [json!([1, "edited"]), json!([2, "other"])], "{body}");
    // ksqlDB's face keeps ksqlDB's answer: the table is not materialized by any query.
    let (status, _) = client
        .post(
            "/query-stream",
            &json!({"sql": "SELECT * FROM `app.messages` WHERE id = 1;"}).to_string(),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    server.stop().await;
}

/// A namespace a client was told exists survives a `kill -9` and restart: it is written to
/// the data directory before `CREATE NAMESPACE` answers.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn namespaces_survive_a_restart() {
    let dir = tempfile::tempdir().expect("temp dir");
    let server = support::child::ChildServer::start(dir.path());
    let mut client = Client::connect(server.addr, Proto::H1).await;
    let (status, body) = sql(
        &mut client,
        &json!({"sql": "CREATE NAMESPACE app; CREATE NAMESPACE gone; DROP NAMESPACE gone;"}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    server.kill();

    let server = support::child::ChildServer::start(dir.path());
    let mut client = Client::connect(server.addr, Proto::H1).await;
    let (status, body) = sql(&mut client, &json!({"sql": "SHOW NAMESPACES; USE app;"})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["results"][0]["rows"], json!([["app"]]), "{body}");
    let (status, body) = sql(&mut client, &json!({"sql": "CREATE NAMESPACE app"})).await;
    expect_error_containing(
        status,
        &body,
        StatusCode::BAD_REQUEST,
        "SQL_EXECUTION_ERROR",
        "already exists",
    );
    server.kill();
}

/// Column `DEFAULT`s (smoke scenario 2's table): an insert that leaves `id` out gets a new
/// `SNOWFLAKE_ID()` each time, `CURRENT_USER()` the caller, a literal its value; a column
/// given keeps its value; an unsupported default is refused; defaults survive a restart.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn column_defaults_fill_the_columns_an_insert_leaves_out() {
    let dir = tempfile::tempdir().expect("temp dir");
    let server = support::child::ChildServer::start(dir.path());
    let mut client = Client::connect(server.addr, Proto::H1).await;
    let (status, body) = sql(
        &mut client,
        &json!({"sql": "CREATE NAMESPACE app; CREATE TABLE app.notes (id BIGINT PRIMARY KEY DEFAULT SNOWFLAKE_ID(), body TEXT NOT NULL, who TEXT DEFAULT CURRENT_USER(), n INT DEFAULT 7) WITH (TYPE='USER');"}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    for note in ["hi", "there"] {
        let (status, body) = sql(
            &mut client,
            &json!({"sql": "INSERT INTO app.notes (body) VALUES ($1)", "params": [note]}),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(body["results"][0]["row_count"], 1, "{body}");
    }
    server.kill();

    // After a restart the table still has its defaults.
    let server = support::child::ChildServer::start(dir.path());
    let mut client = Client::connect(server.addr, Proto::H1).await;
    let (status, body) = sql(
        &mut client,
        &json!({"sql": "INSERT INTO app.notes (id, body, n) VALUES (1, 'given', 0)"}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body) = sql(
        &mut client,
        &json!({"sql": "SELECT id, body, who, n FROM app.notes"}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let rows = body["results"][0]["rows"].as_array().expect("rows").clone();
    assert_eq!(rows.len(), 3, "{body}");
    let mut ids: Vec<i64> = rows.iter().map(|r| r[0].as_i64().expect("id")).collect();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), 3, "every insert got its own id: {body}");
    for row in &rows {
        match row[1].as_str() {
            Some("given") => assert_eq!((row[0].clone(), row[3].clone()), (json!(1), json!(0))),
            Some("hi" | "there") => {
                assert!(row[0].as_i64().expect("id") > 1 << 22, "{row}");
                assert_eq!(row[3], 7, "{row}");
            }
            other => panic!("unexpected row {other:?}: {body}"),
        }
        assert_eq!(row[2], "anonymous", "{row}");
    }
    let (status, body) = sql(
        &mut client,
        &json!({"sql": "CREATE TABLE app.bad (id BIGINT PRIMARY KEY DEFAULT RANDOM())"}),
    )
    .await;
    expect_error_containing(
        status,
        &body,
        StatusCode::BAD_REQUEST,
        "INVALID_SQL",
        "DEFAULT RANDOM()",
    );
    server.kill();
}

/// `ORDER BY` (names, positions, expressions, columns not selected, NULLS), `LIMIT` and
/// `OFFSET`, as KalamDB's DataFusion answers them.
#[tokio::test]
async fn selects_order_and_page_their_rows() {
    let server = TestServer::start().await;
    let mut client = Client::connect(server.addr, Proto::H1).await;
    let setup = "CREATE NAMESPACE chat; \
        CREATE TABLE chat.m (id BIGINT PRIMARY KEY, room TEXT, body TEXT, ts BIGINT); \
        INSERT INTO chat.m (id, room, body, ts) VALUES (1, 'a', 'Hello', 30); \
        INSERT INTO chat.m (id, room, body, ts) VALUES (2, 'a', 'again', 10); \
        INSERT INTO chat.m (id, room, body, ts) VALUES (3, 'b', 'zed', 20); \
        INSERT INTO chat.m (id, room, body) VALUES (4, 'a', 'no time')";
    let (status, body) = sql(&mut client, &json!({ "sql": setup })).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let cases: &[(&str, Json)] = &[
        (
            "SELECT id, ts FROM chat.m ORDER BY ts DESC",
            json!([[4, null], [1, 30], [3, 20], [2, 10]]),
        ),
        (
            "SELECT id FROM chat.m ORDER BY ts NULLS FIRST LIMIT 2",
            json!([[4], [2]]),
        ),
        (
            "SELECT id, body FROM chat.m WHERE room = 'a' ORDER BY LCASE(body) LIMIT 2 OFFSET 1",
            json!([[1, "Hello"], [4, "no time"]]),
        ),
        (
            "SELECT room, id AS n FROM chat.m ORDER BY 1 DESC, n;",
            json!([["b", 3], ["a", 1], ["a", 2], ["a", 4]]),
        ),
        (
            "SELECT id FROM chat.m ORDER BY id LIMIT 1 OFFSET 3",
            json!([[4]]),
        ),
    ];
    for (statement, want) in cases {
        let (status, body) = sql(&mut client, &json!({ "sql": statement })).await;
        assert_eq!(status, StatusCode::OK, "{statement}: {body}");
        let result = &body["results"][0];
        assert_eq!(&result["rows"], want, "{statement}: {body}");
        assert_eq!(result["row_count"], want.as_array().map_or(0, Vec::len));
        let columns = result["schema"].as_array().map_or(0, Vec::len);
        assert_eq!(
            columns,
            want[0].as_array().map_or(0, Vec::len),
            "no hidden column shows"
        );
    }
    // Aggregates over the table's current rows: a row moved to another group counts there.
    let (status, body) = sql(
        &mut client,
        &json!({"sql": "UPDATE chat.m SET room = 'b' WHERE id = 4"}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    for (statement, want) in [
        ("SELECT COUNT(*) AS n FROM chat.m", json!([[4]])),
        (
            "SELECT COUNT(*) AS n, MAX(ts) AS last FROM chat.m WHERE room = 'nobody'",
            json!([[0, null]]),
        ),
        (
            "SELECT room, COUNT(*) AS n, MAX(ts) AS last FROM chat.m GROUP BY room ORDER BY room",
            json!([["a", 2, 30], ["b", 2, 20]]),
        ),
        (
            "SELECT room, COUNT(*) AS n FROM chat.m GROUP BY room HAVING MIN(id) < 2",
            json!([["a", 2]]),
        ),
        // Each group passed `< 2` at its first row and stopped at its second.
        (
            "SELECT room FROM chat.m GROUP BY room HAVING COUNT(*) < 2",
            json!(null),
        ),
    ] {
        let (status, body) = sql(&mut client, &json!({ "sql": statement })).await;
        assert_eq!(status, StatusCode::OK, "{statement}: {body}");
        assert_eq!(body["results"][0]["rows"], want, "{statement}: {body}");
    }
    for bad in [
        "SELECT id FROM chat.m ORDER BY 3",
        "SELECT id FROM chat.m ORDER BY nope",
        "SELECT id FROM chat.m ORDER BY id LIMIT many",
    ] {
        let (status, body) = sql(&mut client, &json!({ "sql": bad })).await;
        expect_error(status, &body, StatusCode::BAD_REQUEST, "INVALID_SQL");
    }
    server.stop().await;
}
