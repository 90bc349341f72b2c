//! USER tables (each user sees only their own rows) and FILE columns.

use super::*;

/// A server with JWT auth after KalamDB's first-run setup: an admin, the users `alice` and
/// `bob` (role `user`), the namespace `app`, and then `tables` run by the admin. ksqlDB's
/// face takes HTTP Basic [`KSQL_BASIC`].
struct AliceAndBob {
    server: TestServer,
    addr: std::net::SocketAddr,
    admin: String,
    alice: String,
    bob: String,
}

/// ksqlDB's Basic credentials in [`alice_and_bob`]'s server, encoded for the header.
const KSQL_BASIC: &str = "Basic a3NxbDpzZWNyZXQ=";

async fn alice_and_bob(options: ServerOptions, tables: &str) -> AliceAndBob {
    let server = TestServer::start_with(ServerOptions {
        auth: Arc::new(
            Auth::from_stores(
                Some(CredentialStore::parse("ksql: secret\n").expect("credentials")),
                None,
                &[],
                None,
            )
            .with_jwt(JwtKeys::random()),
        ),
        ..options
    })
    .await;
    let addr = server.addr;
    let mut client = Client::connect(addr, Proto::H1).await;
    let setup =
        json!({"user": "admin", "password": "AdminPass123!", "root_password": "RootPass123!"});
    let (status, _, body) = auth_call(&mut client, "POST", "/v1/api/auth/setup", &[], &setup).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let admin = token(addr, "admin", "AdminPass123!").await;
    let people = "CREATE NAMESPACE app; \
        CREATE USER 'alice' WITH PASSWORD 'Secret123!' ROLE user; \
        CREATE USER 'bob' WITH PASSWORD 'Secret123!' ROLE user";
    let body = sql_ok(addr, &admin, json!({"sql": format!("{people}; {tables}")})).await;
    let statements = 3 + tables.split(';').filter(|s| !s.trim().is_empty()).count();
    assert_eq!(
        body["results"].as_array().map(Vec::len),
        Some(statements),
        "{body}"
    );
    AliceAndBob {
        alice: token(addr, "alice", "Secret123!").await,
        bob: token(addr, "bob", "Secret123!").await,
        server,
        addr,
        admin,
    }
}

/// other-faces.md §C(c) scenario 2: a USER table shows each user only their own rows, even
/// when two users pick the same key, and statements that would reach past that are refused.
#[tokio::test]
async fn user_tables_keep_each_users_rows_apart() {
    let AliceAndBob {
        server,
        addr,
        admin,
        alice,
        bob,
    } = alice_and_bob(
        ServerOptions::default(),
        "CREATE TABLE app.notes (id BIGINT PRIMARY KEY DEFAULT SNOWFLAKE_ID(), body TEXT NOT NULL) WITH (TYPE='USER'); \
         CREATE USER TABLE app.docs (id TEXT PRIMARY KEY, body TEXT); \
         CREATE TABLE app.config (k TEXT PRIMARY KEY, v TEXT) WITH (ACCESS_LEVEL='PUBLIC')",
    )
    .await;

    let body = sql_ok(
        addr,
        &alice,
        json!({"sql": "INSERT INTO app.notes (body) VALUES ($1)", "params": ["hi"]}),
    )
    .await;
    assert_eq!(body["results"][0]["row_count"], 1, "{body}");
    assert_eq!(body["results"][0]["as_user"], "alice", "{body}");
    assert_eq!(body["results"][0]["message"], "Inserted 1 row(s)", "{body}");

    let select = json!({"sql": "SELECT * FROM app.notes"});
    let body = sql_ok(addr, &bob, select.clone()).await;
    assert_eq!(body["results"][0]["row_count"], 0, "bob sees none: {body}");
    let body = sql_ok(addr, &alice, select).await;
    assert_eq!(body["results"][0]["row_count"], 1, "{body}");
    assert_eq!(body["results"][0]["rows"][0][1], "hi", "{body}");
    let names: Vec<&str> = body["results"][0]["schema"]
        .as_array()
        .expect("schema")
        .iter()
        .map(|f| f["name"].as_str().expect("name"))
        .collect();
    assert_eq!(
        names,
        ["ID", "BODY"],
        "the owner column stays hidden: {body}"
    );

    // The same key from two users is two rows.
    for (who, text) in [(&alice, "alice's"), (&bob, "bob's")] {
        sql_ok(
            addr,
            who,
            json!({"sql": "INSERT INTO app.docs (id, body) VALUES ('d1', $1)", "params": [text]}),
        )
        .await;
    }
    for (who, text) in [(&alice, "alice's"), (&bob, "bob's")] {
        let body = sql_ok(
            addr,
            who,
            json!({"sql": "SELECT body FROM app.docs WHERE id = 'd1'"}),
        )
        .await;
        assert_eq!(body["results"][0]["rows"], json!([[text]]), "{body}");
    }

    // What would reach other users' rows is refused, and nothing leaks through comments.
    for statement in [
        "INSERT INTO app.notes (`_user`, body) VALUES ('alice', 'forged')",
        "SELECT * FROM app.notes WHERE id > 0) OR (1 = 1",
        "CREATE STREAM leak AS SELECT * FROM app.notes",
        "SELECT * FROM app.notes n JOIN app.docs d ON n.body = d.body",
    ] {
        sql_refused(
            addr,
            &bob,
            json!({ "sql": statement }),
            StatusCode::BAD_REQUEST,
            "INVALID_SQL",
        )
        .await;
    }
    let body = sql_ok(
        addr,
        &bob,
        json!({"sql": "SELECT * FROM app.notes /* WHERE */ /* LIMIT */"}),
    )
    .await;
    assert_eq!(body["results"][0]["row_count"], 0, "{body}");

    // A PUBLIC SHARED table is everyone's to read (see
    // `shared_tables_follow_their_access_level`); DESCRIBE of a USER table does not show
    // the owner.
    sql_ok(
        addr,
        &admin,
        json!({"sql": "INSERT INTO app.config (k, v) VALUES ('theme', 'dark')"}),
    )
    .await;
    let body = sql_ok(addr, &bob, json!({"sql": "SELECT v FROM app.config"})).await;
    assert_eq!(body["results"][0]["rows"], json!([["dark"]]), "{body}");
    // KalamDB's RBAC: a `user` drops no table and makes no SHARED table, but may make its
    // own USER table; a DBA drops.
    for statement in [
        "DROP TABLE app.config",
        "DROP TABLE app.notes",
        "CREATE TABLE app.mine (k TEXT PRIMARY KEY, v TEXT)",
        "CREATE SHARED TABLE app.mine (k TEXT PRIMARY KEY, v TEXT)",
    ] {
        sql_refused(
            addr,
            &bob,
            json!({ "sql": statement }),
            StatusCode::FORBIDDEN,
            "PERMISSION_DENIED",
        )
        .await;
    }
    let (status, body) = sql_as(addr, &bob, json!({"sql": "SELECT v FROM app.config"})).await;
    assert_eq!(
        body["results"][0]["rows"],
        json!([["dark"]]),
        "still there: {status} {body}"
    );
    sql_ok(
        addr,
        &bob,
        json!({"sql": "CREATE USER TABLE app.bobs (k TEXT PRIMARY KEY, v TEXT)"}),
    )
    .await;
    sql_ok(addr, &admin, json!({"sql": "DROP TABLE app.bobs"})).await;
    let body = sql_ok(addr, &admin, json!({"sql": "DESCRIBE app.notes"})).await;
    assert_eq!(
        body["results"][0]["rows"],
        json!([["ID", "BIGINT", true], ["BODY", "STRING", false]]),
        "{body}"
    );
    // Even an administrator reads a USER table as themselves...
    let body = sql_ok(addr, &admin, json!({"sql": "SELECT * FROM app.notes"})).await;
    assert_eq!(body["results"][0]["row_count"], 0, "{body}");
    // ...unless acting for a user: a DBA may, a plain user only for themselves.
    sql_ok(
        addr,
        &admin,
        json!({"sql": "EXECUTE AS USER 'alice' (INSERT INTO app.notes (body) VALUES ('for alice'))"}),
    ).await;
    let body = sql_ok(
        addr,
        &admin,
        json!({"sql": "EXECUTE AS USER 'alice' (SELECT body FROM app.notes);"}),
    )
    .await;
    let mut bodies: Vec<String> = body["results"][0]["rows"]
        .as_array()
        .expect("rows")
        .iter()
        .map(|r| r[0].as_str().expect("body").to_string())
        .collect();
    bodies.sort();
    assert_eq!(bodies, ["for alice", "hi"], "{body}");
    sql_refused(
        addr,
        &alice,
        json!({"sql": "EXECUTE AS USER 'bob' (SELECT * FROM app.notes)"}),
        StatusCode::FORBIDDEN,
        "PERMISSION_DENIED",
    )
    .await;
    let body = sql_ok(
        addr,
        &alice,
        json!({"sql": "EXECUTE AS USER 'alice' (SELECT * FROM app.notes)"}),
    )
    .await;
    assert_eq!(body["results"][0]["row_count"], 2, "{body}");
    sql_refused(
        addr,
        &admin,
        json!({"sql": "EXECUTE AS USER 'nobody' (SELECT * FROM app.notes)"}),
        StatusCode::BAD_REQUEST,
        "SQL_EXECUTION_ERROR",
    )
    .await;
    server.stop().await;
}

/// A `multipart/form-data` body of text fields and files (`(name, filename, type, bytes)`).
fn form(fields: &[(&str, &str)], files: &[(&str, &str, &str, &[u8])]) -> (String, Vec<u8>) {
    let boundary = "sluice-test-boundary-7f3a";
    let mut body = Vec::new();
    for (name, value) in fields {
        body.extend_from_slice(
            format!("--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n")
                .as_bytes(),
        );
    }
    for (name, filename, ty, bytes) in files {
        body.extend_from_slice(
            format!(
                "--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"; filename=\"{filename}\"\r\nContent-Type: {ty}\r\n\r\n"
            )
            .as_bytes(),
        );
        body.extend_from_slice(bytes);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
}

/// other-faces.md §C(c) scenario 5: a FILE cell from a multipart upload, read back as its
/// object and downloaded byte for byte by its owner only; a missing part is `MISSING_FILE`;
/// dropping the table removes its files.
#[tokio::test]
async fn file_columns_take_uploads_and_serve_them_back() {
    let dir = tempfile::tempdir().expect("temp dir");
    let AliceAndBob {
        server,
        addr,
        admin,
        alice,
        bob,
    } = alice_and_bob(
        ServerOptions {
            kalamdb_namespaces_file: Some(
                dir.path()
                    .join(sluice_server::faces::kalamdb::NAMESPACES_FILE),
            ),
            ..ServerOptions::default()
        },
        "CREATE TABLE app.docs (id TEXT PRIMARY KEY, f FILE) WITH (TYPE='USER')",
    )
    .await;

    let pdf: Vec<u8> = (0..=255u8).cycle().take(70_000).collect();
    let (content_type, payload) = form(
        &[(
            "sql",
            "INSERT INTO app.docs (id, f) VALUES ('d1', FILE('c'))",
        )],
        &[("file:c", "contract.pdf", "application/pdf", &pdf)],
    );
    let post = |token: String, content_type: String, payload: Vec<u8>| async move {
        let mut c = Client::connect(addr, Proto::H2).await;
        let bearer = format!("Bearer {token}");
        let headers = [
            ("authorization", bearer.as_str()),
            ("content-type", content_type.as_str()),
        ];
        let (status, _, bytes) = c.send("POST", "/v1/api/sql", &headers, &payload).await;
        (status, parse(&bytes))
    };
    let (status, body) = post(alice.clone(), content_type.clone(), payload.clone()).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["results"][0]["row_count"], 1, "{body}");

    let body = sql_ok(addr, &alice, json!({"sql": "SELECT f FROM app.docs"})).await;
    assert_eq!(
        body["results"][0]["schema"][0]["data_type"], "File",
        "{body}"
    );
    let cell = body["results"][0]["rows"][0][0].clone();
    assert_eq!(cell["name"], "contract.pdf", "{body}");
    assert_eq!(cell["mime"], "application/pdf", "{body}");
    assert_eq!(cell["size"], 70_000, "{body}");
    assert_eq!(cell["sha256"].as_str().map(str::len), Some(64), "{body}");
    let path = format!(
        "/v1/files/app/docs/{}/{}",
        cell["sub"].as_str().expect("sub"),
        cell["id"].as_str().expect("id")
    );

    let get = |token: String, path: String| async move {
        let mut c = Client::connect(addr, Proto::H1).await;
        let bearer = format!("Bearer {token}");
        c.send("GET", &path, &[("authorization", bearer.as_str())], b"")
            .await
    };
    let (status, headers, bytes) = get(alice.clone(), path.clone()).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(bytes.as_ref(), pdf.as_slice(), "the exact bytes");
    assert_eq!(headers["content-type"], "application/pdf");
    assert!(headers["content-disposition"]
        .to_str()
        .expect("ascii")
        .starts_with("inline"));
    // Bob has no such file of his own, and may not read alice's.
    let (status, _, bytes) = get(bob.clone(), path.clone()).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(parse(&bytes)["error"]["code"], "FILE_NOT_FOUND");
    let (status, _, _) = get(bob.clone(), format!("{path}?user_id=alice")).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _, bytes) = get(admin.clone(), format!("{path}?user_id=alice")).await;
    assert_eq!((status, bytes.len()), (StatusCode::OK, pdf.len()));
    for hostile in [
        "/v1/files/app/docs/f0001/..%2F..%2Fx",
        "/v1/files/app/../../etc/passwd",
    ] {
        let (status, _, _) = get(alice.clone(), hostile.to_string()).await;
        assert!(status.is_client_error(), "{hostile}: {status}");
    }

    // A placeholder without its part, and a part without its placeholder.
    let (content_type, payload) = form(
        &[(
            "sql",
            "INSERT INTO app.docs (id, f) VALUES ('d2', FILE('c'))",
        )],
        &[],
    );
    let (status, body) = post(alice.clone(), content_type, payload).await;
    expect_error(status, &body, StatusCode::BAD_REQUEST, "MISSING_FILE");
    let (content_type, payload) = form(
        &[("sql", "INSERT INTO app.docs (id) VALUES ('d3')")],
        &[("file:c", "x.txt", "text/plain", b"x")],
    );
    let (status, body) = post(alice.clone(), content_type, payload).await;
    expect_error(status, &body, StatusCode::BAD_REQUEST, "EXTRA_FILE");

    // A dropped table's files go with it: a table made again under its name has none.
    sql_ok(
        addr,
        &admin,
        json!({"sql": "DROP TABLE app.docs; CREATE TABLE app.docs (id TEXT PRIMARY KEY, f FILE) WITH (TYPE='USER')"}),
    )
    .await;
    let (status, _, bytes) = get(alice, path).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(parse(&bytes)["error"]["code"], "FILE_NOT_FOUND");
    server.stop().await;
}

/// KalamDB's SHARED-table access levels: a `PUBLIC` table is read by every user and written
/// by services and up, a `PRIVATE` one (the default) is for services and up only, a `DBA`
/// one for DBAs and up; only services and up change a level.
#[tokio::test]
async fn shared_tables_follow_their_access_level() {
    let AliceAndBob {
        server,
        addr,
        admin,
        alice,
        ..
    } = alice_and_bob(
        ServerOptions::default(),
        "CREATE USER 'svc' WITH PASSWORD 'Secret123!' ROLE service; \
         CREATE TABLE app.prices (sym TEXT PRIMARY KEY, px DOUBLE) \
             WITH (TYPE='SHARED', ACCESS_LEVEL='PUBLIC'); \
         CREATE SHARED TABLE app.secrets (k TEXT PRIMARY KEY, v TEXT); \
         CREATE TABLE app.vault (k TEXT PRIMARY KEY, v TEXT) WITH (TYPE='SHARED', ACCESS_LEVEL='dba'); \
         CREATE USER TABLE app.notes (id TEXT PRIMARY KEY, body TEXT)",
    )
    .await;
    let svc = token(addr, "svc", "Secret123!").await;
    let run = |token: &String, sql: &str| {
        let (token, sql) = (token.clone(), sql.to_string());
        async move { sql_as(addr, &token, json!({ "sql": sql })).await }
    };
    let ok = |(status, body): (StatusCode, Json)| {
        assert_eq!(status, StatusCode::OK, "{body}");
        body
    };
    let denied = |(status, body): (StatusCode, Json), text: &str| {
        expect_error_containing(
            status,
            &body,
            StatusCode::FORBIDDEN,
            "PERMISSION_DENIED",
            text,
        );
    };
    ok(run(
        &admin,
        "INSERT INTO app.prices (sym, px) VALUES ('ACME', 12.5)",
    )
    .await);
    ok(run(
        &admin,
        "INSERT INTO app.secrets (k, v) VALUES ('key', 'hunter2')",
    )
    .await);
    ok(run(&admin, "INSERT INTO app.vault (k, v) VALUES ('root', 'x')").await);

    // A user reads the public table and nothing else, and writes none of them.
    let body = ok(run(&alice, "SELECT * FROM app.prices").await);
    assert_eq!(body["results"][0]["row_count"], 1, "{body}");
    denied(
        run(
            &alice,
            "INSERT INTO app.prices (sym, px) VALUES ('EVIL', 0)",
        )
        .await,
        "write the public SHARED table 'app.prices'",
    );
    for change in [
        "UPDATE app.prices SET px = 0 WHERE sym = 'ACME'",
        "DELETE FROM app.prices",
    ] {
        denied(
            run(&alice, change).await,
            "write the public SHARED table 'app.prices'",
        );
    }
    denied(
        run(&alice, "SELECT * FROM app.secrets").await,
        "read the private SHARED table 'app.secrets'",
    );
    denied(
        run(&alice, "SELECT v FROM app.secrets WHERE k = 'key'").await,
        "app.secrets",
    );
    // Not by copying it into a table of their own either.
    denied(
        run(
            &alice,
            "INSERT INTO app.notes SELECT k AS id, v AS body FROM app.secrets",
        )
        .await,
        "app.secrets",
    );
    // Nor by acting as someone: a service acting as Alice has Alice's reach.
    denied(
        run(&svc, "EXECUTE AS USER 'alice' (SELECT * FROM app.secrets)").await,
        "app.secrets",
    );

    // A service reads and writes the private table, but not the DBA one.
    let body = ok(run(&svc, "SELECT * FROM app.secrets").await);
    assert_eq!(body["results"][0]["rows"][0][1], "hunter2", "{body}");
    ok(run(
        &svc,
        "INSERT INTO app.prices (sym, px) VALUES ('INIT', 1.0)",
    )
    .await);
    let body = ok(run(&svc, "UPDATE app.prices SET px = px * 2 WHERE sym = 'ACME'").await);
    assert_eq!(body["results"][0]["message"], "Updated 1 row(s)", "{body}");
    let body = ok(run(&alice, "SELECT px FROM app.prices WHERE sym = 'ACME'").await);
    assert_eq!(body["results"][0]["rows"], json!([[25.0]]), "{body}");
    denied(
        run(&svc, "SELECT * FROM app.vault").await,
        "read the dba SHARED table 'app.vault'",
    );
    let body = ok(run(&admin, "SELECT * FROM app.vault").await);
    assert_eq!(body["results"][0]["row_count"], 1, "{body}");

    // Levels change only by services and up, and only on SHARED tables.
    denied(
        run(&alice, "ALTER TABLE app.secrets SET ACCESS LEVEL public").await,
        "change access levels",
    );
    ok(run(&svc, "ALTER TABLE app.secrets SET ACCESS LEVEL public").await);
    let body = ok(run(&alice, "SELECT * FROM app.secrets").await);
    assert_eq!(body["results"][0]["row_count"], 1, "{body}");
    let (status, body) = run(&admin, "ALTER TABLE app.notes SET ACCESS LEVEL public").await;
    expect_error_containing(
        status,
        &body,
        StatusCode::BAD_REQUEST,
        "SQL_EXECUTION_ERROR",
        "not a SHARED table",
    );
    let (status, body) = run(&admin, "ALTER TABLE app.prices SET ACCESS LEVEL everyone").await;
    expect_error_containing(
        status,
        &body,
        StatusCode::BAD_REQUEST,
        "INVALID_SQL",
        "not an access level",
    );
    server.stop().await;
}

/// KalamDB's STREAM rows are user-scoped ("a stream is not automatically a shared
/// broadcast channel"): each user reads only the events they wrote, under any key, and a
/// later `CREATE TABLE IF NOT EXISTS` of another type does not open them. Rows older than
/// the table's `TTL_SECONDS` are gone from reads.
#[tokio::test]
async fn stream_tables_keep_each_users_rows_apart() {
    let AliceAndBob {
        server,
        addr,
        admin,
        alice,
        bob,
    } = alice_and_bob(
        ServerOptions::default(),
        "CREATE TABLE app.typing (id TEXT PRIMARY KEY, what TEXT) WITH (TYPE='STREAM', TTL_SECONDS=60); \
         CREATE STREAM TABLE app.presence (state TEXT) WITH (TTL_SECONDS=60)",
    )
    .await;
    let events = |who: &String, sql: &'static str| {
        let who = who.clone();
        async move {
            let body = sql_ok(addr, &who, json!({ "sql": sql })).await;
            let result = &body["results"][0];
            let names: Vec<String> = result["schema"]
                .as_array()
                .expect("schema")
                .iter()
                .map(|f| f["name"].as_str().expect("name").to_string())
                .collect();
            assert!(!names.iter().any(|n| n == "_user"), "owner shown: {body}");
            Json::Array(result["rows"].as_array().cloned().unwrap_or_default())
        }
    };
    for (who, what) in [(&alice, "a1"), (&bob, "b1"), (&alice, "a2")] {
        let insert =
            json!({"sql": "INSERT INTO app.typing (id, what) VALUES ('t1', $1)", "params": [what]});
        let body = sql_ok(addr, who, insert).await;
        assert_eq!(body["results"][0]["row_count"], 1, "{body}");
        let insert =
            json!({"sql": "INSERT INTO app.presence (state) VALUES ($1)", "params": [what]});
        sql_ok(addr, who, insert).await;
    }
    // An event stamped two minutes ago (written through ksqlDB's face, which may set
    // ROWTIME) has outlived the 60 s TTL; one stamped now has not.
    let now_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_millis() as i64;
    let expired = format!(
        "INSERT INTO `app.typing` (ROWTIME, `_user`, id, what) VALUES ({0}, 'alice', 't0', 'expired'); \
         INSERT INTO `app.typing` (ROWTIME, `_user`, id, what) VALUES ({0}, 'bob', 't0', 'expired');",
        now_ms - 120_000
    );
    let (status, _, written) = Client::connect(addr, Proto::H1)
        .await
        .send(
            "POST",
            "/ksql",
            &[("authorization", KSQL_BASIC)],
            json!({ "ksql": expired }).to_string().as_bytes(),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{written:?}");
    let typing = "SELECT id, what FROM app.typing";
    assert_eq!(
        events(&alice, typing).await,
        json!([["t1", "a1"], ["t1", "a2"]])
    );
    assert_eq!(events(&bob, typing).await, json!([["t1", "b1"]]));
    assert_eq!(events(&admin, typing).await, json!([]), "not the admin's");
    let presence = "SELECT * FROM app.presence";
    assert_eq!(events(&alice, presence).await, json!([["a1"], ["a2"]]));
    assert_eq!(events(&bob, presence).await, json!([["b1"]]));
    let body = sql_ok(addr, &bob, json!({"sql": "DESCRIBE app.typing"})).await;
    assert_eq!(
        body["results"][0]["rows"],
        json!([["ID", "STRING", true], ["WHAT", "STRING", false]]),
        "owner hidden: {body}"
    );

    sql_ok(
        addr,
        &admin,
        json!({"sql": "CREATE TABLE IF NOT EXISTS app.typing (id TEXT PRIMARY KEY, what TEXT) WITH (TYPE='SHARED')"}),
    )
    .await;
    assert_eq!(events(&bob, typing).await, json!([["t1", "b1"]]));
    // A condition on the owner cannot widen a user's view, nor can an insert forge one.
    assert_eq!(
        events(
            &bob,
            "SELECT id, what FROM app.typing WHERE `_user` = 'alice' OR 1 = 1"
        )
        .await,
        json!([["t1", "b1"]])
    );
    sql_refused(
        addr,
        &bob,
        json!({"sql": "INSERT INTO app.typing (`_user`, id, what) VALUES ('alice', 't9', 'forged')"}),
        StatusCode::BAD_REQUEST,
        "INVALID_SQL",
    )
    .await;
    assert_eq!(
        events(&alice, typing).await,
        json!([["t1", "a1"], ["t1", "a2"]])
    );
    server.stop().await;
}

/// KalamDB's UPDATE and DELETE: values may read the row, the WHERE picks any rows, and in a
/// USER table each user changes only their own rows, even under a key another user has.
#[tokio::test]
async fn update_and_delete_change_only_the_callers_rows() {
    let AliceAndBob {
        server,
        addr,
        alice,
        bob,
        ..
    } = alice_and_bob(
        ServerOptions::default(),
        "CREATE USER TABLE app.cart (id BIGINT PRIMARY KEY, item TEXT, quantity INT); \
         CREATE STREAM TABLE app.clicks (id BIGINT PRIMARY KEY, page TEXT)",
    )
    .await;
    let sql = |sql: &str| json!({ "sql": sql });
    for (who, values) in [
        (&alice, "(1, 'apple', 1), (2, 'pear', 5)"),
        (&bob, "(1, 'plum', 9)"),
    ] {
        for row in values.split("), (") {
            let row = row.trim_matches(|c| c == '(' || c == ')');
            let insert = format!("INSERT INTO app.cart (id, item, quantity) VALUES ({row})");
            sql_ok(addr, who, sql(&insert)).await;
        }
    }
    let cart = |who: &String| {
        let who = who.clone();
        async move {
            let body = sql_ok(
                addr,
                &who,
                json!({"sql": "SELECT id, item, quantity FROM app.cart"}),
            )
            .await;
            let mut rows = body["results"][0]["rows"]
                .as_array()
                .cloned()
                .unwrap_or_default();
            rows.sort_by_key(|r| r[0].as_i64());
            Json::Array(rows)
        }
    };

    let body = sql_ok(
        addr,
        &alice,
        sql("UPDATE app.cart SET quantity = quantity + 1, item = 'green apple' WHERE id = 1"),
    )
    .await;
    assert_eq!(body["results"][0]["row_count"], 1, "{body}");
    assert_eq!(body["results"][0]["message"], "Updated 1 row(s)", "{body}");
    assert_eq!(
        cart(&alice).await,
        json!([[1, "green apple", 2], [2, "pear", 5]])
    );
    assert_eq!(
        cart(&bob).await,
        json!([[1, "plum", 9]]),
        "bob's id 1 is his own"
    );

    // Any condition picks the rows; Bob's quantity 9 is not Alice's to delete.
    let body = sql_ok(
        addr,
        &alice,
        sql("DELETE FROM app.cart WHERE quantity > 3;"),
    )
    .await;
    assert_eq!(body["results"][0]["message"], "Deleted 1 row(s)", "{body}");
    assert_eq!(cart(&alice).await, json!([[1, "green apple", 2]]));
    assert_eq!(cart(&bob).await, json!([[1, "plum", 9]]));
    let body = sql_ok(
        addr,
        &alice,
        sql("UPDATE app.cart SET quantity = 0 WHERE id = 42"),
    )
    .await;
    assert_eq!(body["results"][0]["row_count"], 0, "{body}");
    let body = sql_ok(addr, &bob, sql("DELETE FROM app.cart")).await;
    assert_eq!(body["results"][0]["row_count"], 1, "{body}");
    assert_eq!(cart(&bob).await, json!([]));
    assert_eq!(cart(&alice).await, json!([[1, "green apple", 2]]));

    // A key is not updated, the owner least of all; unknown columns, bad shapes and
    // append-only STREAM tables are refused.
    for bad in [
        "UPDATE app.cart SET id = 5 WHERE id = 1",
        "UPDATE app.cart SET \"_user\" = 'bob'",
        "UPDATE app.cart SET _user = 'bob'",
        "UPDATE app.cart SET nope = 1",
        "UPDATE app.cart quantity = 1",
        "DELETE FROM app.cart WHERE",
        "DELETE FROM app.clicks WHERE id = 1",
    ] {
        sql_refused(
            addr,
            &alice,
            sql(bad),
            StatusCode::BAD_REQUEST,
            "INVALID_SQL",
        )
        .await;
    }
    assert_eq!(cart(&alice).await, json!([[1, "green apple", 2]]));
    server.stop().await;
}
