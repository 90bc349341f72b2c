//! KalamDB's SQL API against a real server, call for call as its docs' curl examples and
//! the `kalam-client` crate make them: `/health`, `/v1/api/sql` with namespaces, `$n`
//! parameters, one result per statement with native JSON cells and `took`, KalamDB's error
//! codes, and a table written through ksqlDB's face read through KalamDB's.

mod support;

use std::sync::Arc;

use http::StatusCode;
use serde_json::{json, Value as Json};
use sluice_server::auth::{Auth, AuthConfig, CredentialStore, JwtKeys};
use sluice_server::ServerOptions;
use support::{json as parse, Client, Proto, TestServer};

async fn sql(client: &mut Client, body: &Json) -> (StatusCode, Json) {
    let (status, _, bytes) = client
        .send(
            "POST",
            "/v1/api/sql",
            &[("content-type", "application/json")],
            body.to_string().as_bytes(),
        )
        .await;
    (status, parse(&bytes))
}

/// Asserts a KalamDB error envelope with `code` and returns its message.
fn expect_error(status: StatusCode, body: &Json, want: StatusCode, code: &str) -> String {
    assert_eq!(status, want, "{body}");
    assert_eq!(body["status"], "error", "{body}");
    assert_eq!(body["results"], json!([]), "{body}");
    assert!(body["took"].is_f64() || body["took"].is_u64(), "{body}");
    assert_eq!(body["error"]["code"], code, "{body}");
    assert_eq!(body["error"]["details"], Json::Null, "{body}");
    body["error"]["message"]
        .as_str()
        .expect("message")
        .to_string()
}

/// [`expect_error`], and its message says `text`.
fn expect_error_containing(
    status: StatusCode,
    body: &Json,
    want: StatusCode,
    code: &str,
    text: &str,
) {
    let message = expect_error(status, body, want, code);
    assert!(message.contains(text), "{message}");
}

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

    // The same stream through ksqlDB's face: written there, read here.
    let (status, written) = client
        .ksql("INSERT INTO `app.notes` (id, body, score) VALUES (3, 'from ksql', 0.5);")
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

#[tokio::test]
async fn sql_refuses_missing_and_wrong_credentials() {
    let tokens = CredentialStore::parse("ci: tok-1\n").expect("valid");
    let server = TestServer::start_with(ServerOptions {
        auth: Arc::new(Auth::from_stores(None, Some(tokens), &[], None)),
        ..ServerOptions::default()
    })
    .await;
    let mut client = Client::connect(server.addr, Proto::H1).await;
    let body = json!({"sql": "SHOW NAMESPACES"}).to_string();
    let (status, _, bytes) = client
        .send("POST", "/v1/api/sql", &[], body.as_bytes())
        .await;
    let message = expect_error(
        status,
        &parse(&bytes),
        StatusCode::UNAUTHORIZED,
        "MISSING_AUTHORIZATION",
    );
    assert_eq!(message, "Authentication required");
    let (status, _, bytes) = client
        .send(
            "POST",
            "/v1/api/sql",
            &[("authorization", "Bearer nope")],
            body.as_bytes(),
        )
        .await;
    expect_error(
        status,
        &parse(&bytes),
        StatusCode::UNAUTHORIZED,
        "INVALID_CREDENTIALS",
    );
    server.stop().await;
}

async fn auth_call(
    client: &mut Client,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &Json,
) -> (StatusCode, http::HeaderMap, Json) {
    let mut all = vec![("content-type", "application/json")];
    all.extend_from_slice(headers);
    let payload = if method == "GET" {
        Vec::new()
    } else {
        body.to_string().into_bytes()
    };
    let (status, headers, bytes) = client.send(method, path, &all, &payload).await;
    let json = if bytes.is_empty() {
        Json::Null
    } else {
        parse(&bytes)
    };
    (status, headers, json)
}

fn cookies(headers: &http::HeaderMap) -> Vec<String> {
    headers
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().expect("ascii").to_string())
        .collect()
}

#[tokio::test]
async fn setup_login_refresh_me_logout_and_jwt_on_sql() {
    let server = TestServer::start_with(ServerOptions {
        auth: Arc::new(Auth::off().with_jwt(JwtKeys::random())),
        ..ServerOptions::default()
    })
    .await;
    let mut client = Client::connect(server.addr, Proto::H1).await;
    let null = Json::Null;
    let admin = json!({"user": "admin", "password": "AdminPass123!"});

    let (status, _, body) = auth_call(&mut client, "GET", "/v1/api/auth/status", &[], &null).await;
    assert_eq!(
        (status, &body["needs_setup"]),
        (StatusCode::OK, &json!(true))
    );
    let (status, _, body) = auth_call(&mut client, "POST", "/v1/api/auth/login", &[], &admin).await;
    assert_eq!(status, StatusCode::PRECONDITION_REQUIRED, "{body}");
    assert_eq!(body["error"], "setup_required");

    let setup =
        json!({"user": "admin", "password": "AdminPass123!", "root_password": "RootPass123!"});
    let (status, _, body) = auth_call(&mut client, "POST", "/v1/api/auth/setup", &[], &setup).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, _, body) = auth_call(&mut client, "POST", "/v1/api/auth/setup", &[], &setup).await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    let (_, _, body) = auth_call(&mut client, "GET", "/v1/api/auth/status", &[], &null).await;
    assert_eq!(body["needs_setup"], false);

    let wrong = json!({"user": "admin", "password": "nope"});
    let (status, _, body) = auth_call(&mut client, "POST", "/v1/api/auth/login", &[], &wrong).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(body["error"], "unauthorized");

    let (status, headers, login) =
        auth_call(&mut client, "POST", "/v1/api/auth/login", &[], &admin).await;
    assert_eq!(status, StatusCode::OK, "{login}");
    assert_eq!(login["user"]["role"], "dba");
    assert_eq!(login["admin_ui_access"], true);
    let access = login["access_token"].as_str().expect("access").to_string();
    let refresh = login["refresh_token"]
        .as_str()
        .expect("refresh")
        .to_string();
    let set = cookies(&headers);
    assert!(set
        .iter()
        .any(|c| c.starts_with(&format!("kalamdb_auth={access};"))
            && c.contains("HttpOnly")
            && c.contains("SameSite=Strict")
            && c.contains("Path=/")));
    assert!(set
        .iter()
        .any(|c| c.starts_with(&format!("kalamdb_refresh={refresh};"))));

    // /sql: the access token as Bearer or cookie; no token, Basic, a refresh token or a
    // forged one are refused in KalamDB's 401 envelope.
    let statement = json!({"sql": "CREATE NAMESPACE app"}).to_string();
    let bearer = format!("Bearer {access}");
    let (status, _, bytes) = client
        .send(
            "POST",
            "/v1/api/sql",
            &[("authorization", &bearer)],
            statement.as_bytes(),
        )
        .await;
    let body = parse(&bytes);
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["results"][0]["as_user"], "admin");
    let cookie = format!("kalamdb_auth={access}");
    let show = json!({"sql": "SHOW NAMESPACES"}).to_string();
    let (status, _, bytes) = client
        .send(
            "POST",
            "/v1/api/sql",
            &[("cookie", &cookie)],
            show.as_bytes(),
        )
        .await;
    assert_eq!(parse(&bytes)["results"][0]["rows"], json!([["app"]]));
    assert_eq!(status, StatusCode::OK);
    // One signature character changed (mid-signature, so no padding bits are involved).
    let at = access.len() - 10;
    let swapped = if &access[at..=at] == "A" { "B" } else { "A" };
    let forged = format!("Bearer {}{swapped}{}", &access[..at], &access[at + 1..]);
    let refresh_as_access = format!("Bearer {refresh}");
    let refusals: [(&[(&str, &str)], &str); 4] = [
        (&[], "MISSING_AUTHORIZATION"),
        (
            &[("authorization", "Basic YWRtaW46QWRtaW5QYXNzMTIzIQ==")],
            "INVALID_CREDENTIALS",
        ),
        (
            &[("authorization", &refresh_as_access)],
            "INVALID_CREDENTIALS",
        ),
        (&[("authorization", &forged)], "INVALID_CREDENTIALS"),
    ];
    for (headers, code) in refusals {
        let (status, _, bytes) = client
            .send("POST", "/v1/api/sql", headers, show.as_bytes())
            .await;
        expect_error(status, &parse(&bytes), StatusCode::UNAUTHORIZED, code);
    }

    // me: the access token; refresh: only a refresh token, answering a new working pair.
    let (status, _, me) = auth_call(
        &mut client,
        "GET",
        "/v1/api/auth/me",
        &[("authorization", &bearer)],
        &null,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{me}");
    assert_eq!((&me["id"], &me["role"]), (&json!("u_admin"), &json!("dba")));
    let (status, _, _) = auth_call(&mut client, "GET", "/v1/api/auth/me", &[], &null).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, _, body) = auth_call(
        &mut client,
        "POST",
        "/v1/api/auth/refresh",
        &[("authorization", &bearer)],
        &null,
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    assert_eq!(body["message"], "Refresh endpoint requires a refresh token");
    let refresh_cookie = format!("kalamdb_refresh={refresh}");
    let (status, headers, pair) = auth_call(
        &mut client,
        "POST",
        "/v1/api/auth/refresh",
        &[("cookie", &refresh_cookie)],
        &null,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{pair}");
    assert_eq!(cookies(&headers).len(), 2, "both cookies reset");
    let new_access = format!("Bearer {}", pair["access_token"].as_str().expect("access"));
    let (status, _, _) = auth_call(
        &mut client,
        "GET",
        "/v1/api/auth/me",
        &[("authorization", &new_access)],
        &null,
    )
    .await;
    assert_eq!(status, StatusCode::OK);

    let (status, headers, body) =
        auth_call(&mut client, "POST", "/v1/api/auth/logout", &[], &null).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["message"], "Logged out successfully");
    let cleared = cookies(&headers);
    assert!(cleared
        .iter()
        .any(|c| c.starts_with("kalamdb_auth=;") && c.contains("Max-Age=0")));
    assert!(cleared
        .iter()
        .any(|c| c.starts_with("kalamdb_refresh=;") && c.contains("Max-Age=0")));
    server.stop().await;
}

#[tokio::test]
async fn the_jwt_secret_file_turns_auth_on_and_must_be_long_enough() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("jwt-secret");
    std::fs::write(&path, "too short\n").expect("write");
    let config = AuthConfig {
        jwt_secret: Some(path.clone()),
        ..AuthConfig::default()
    };
    let err = Auth::load(&config).expect_err("9 bytes is too short for HS256");
    assert!(err.to_string().contains("at least 32 bytes"), "{err}");
    std::fs::write(&path, "0123456789abcdef0123456789abcdef\n").expect("write");
    let auth = Auth::load(&config).expect("32 bytes");
    assert!(auth.is_enabled());
    assert!(auth.jwt().is_some());
}

/// First-run setup is kept in the data directory: after a `kill -9` and restart the server
/// does not ask for setup again (whoever reached the port first would make themselves
/// root), refuses a second setup, and the admin still logs in.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn setup_survives_a_restart() {
    let dir = tempfile::tempdir().expect("temp dir");
    let secret = dir.path().join("jwt-secret");
    std::fs::write(&secret, "0123456789abcdef0123456789abcdef\n").expect("write");
    let data = dir.path().join("data");
    let secret_flag = secret.to_str().expect("utf8 path");
    let flags = ["--auth-jwt-secret-file", secret_flag];
    let null = Json::Null;
    let admin = json!({"user": "admin", "password": "AdminPass123!"});
    let setup =
        json!({"user": "admin", "password": "AdminPass123!", "root_password": "RootPass123!"});

    let server = support::child::ChildServer::start_with(&data, &flags);
    let mut client = Client::connect(server.addr, Proto::H1).await;
    let (status, _, body) = auth_call(&mut client, "POST", "/v1/api/auth/setup", &[], &setup).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    server.kill();

    let server = support::child::ChildServer::start_with(&data, &flags);
    let mut client = Client::connect(server.addr, Proto::H1).await;
    let (_, _, body) = auth_call(&mut client, "GET", "/v1/api/auth/status", &[], &null).await;
    assert_eq!(body["needs_setup"], false, "{body}");
    let mallory =
        json!({"user": "mallory", "password": "Mallory123!", "root_password": "Mallory123!"});
    let (status, _, body) =
        auth_call(&mut client, "POST", "/v1/api/auth/setup", &[], &mallory).await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    let (status, _, login) =
        auth_call(&mut client, "POST", "/v1/api/auth/login", &[], &admin).await;
    assert_eq!(status, StatusCode::OK, "{login}");
    assert_eq!(login["user"]["role"], "dba");
    server.kill();
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

/// `CREATE/ALTER/DROP USER` in SQL (smoke scenario 2's first step): a DBA makes users who
/// then log in; a plain user may not manage users and a DBA may not grant `system`; a
/// changed password replaces the old; a dropped user's tokens stop working at once.
#[tokio::test]
async fn users_are_managed_in_sql_by_dbas() {
    let server = TestServer::start_with(ServerOptions {
        auth: Arc::new(Auth::off().with_jwt(JwtKeys::random())),
        ..ServerOptions::default()
    })
    .await;
    let mut client = Client::connect(server.addr, Proto::H1).await;
    let setup =
        json!({"user": "admin", "password": "AdminPass123!", "root_password": "RootPass123!"});
    let (status, _, body) = auth_call(&mut client, "POST", "/v1/api/auth/setup", &[], &setup).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let login = |user: &'static str, password: &'static str| {
        let addr = server.addr;
        async move {
            let mut c = Client::connect(addr, Proto::H1).await;
            let body = json!({"user": user, "password": password});
            let (status, _, login) =
                auth_call(&mut c, "POST", "/v1/api/auth/login", &[], &body).await;
            (status, login["access_token"].as_str().map(str::to_string))
        }
    };
    let as_user = |token: String, statement: &str| {
        let addr = server.addr;
        let statement = statement.to_string();
        async move {
            let mut c = Client::connect(addr, Proto::H1).await;
            let bearer = format!("Bearer {token}");
            let headers = [("authorization", bearer.as_str())];
            let (status, _, body) = auth_call(
                &mut c,
                "POST",
                "/v1/api/sql",
                &headers,
                &json!({ "sql": statement }),
            )
            .await;
            (status, body)
        }
    };
    let admin = login("admin", "AdminPass123!")
        .await
        .1
        .expect("admin token");

    let (status, body) = as_user(
        admin.clone(),
        "CREATE USER 'alice' WITH PASSWORD 'Secret123!' ROLE user; CREATE USER bob WITH PASSWORD 'Secret123!' ROLE viewer EMAIL 'bob@example.com';",
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["results"].as_array().map(Vec::len), Some(2), "{body}");
    let (status, alice) = login("alice", "Secret123!").await;
    assert_eq!(status, StatusCode::OK);
    let alice = alice.expect("alice's token");
    assert_eq!(login("bob", "Secret123!").await.0, StatusCode::OK);

    // A plain user cannot manage users; a DBA cannot grant `system`.
    let (status, body) = as_user(
        alice.clone(),
        "CREATE USER eve WITH PASSWORD 'Eve12345!' ROLE dba",
    )
    .await;
    expect_error(status, &body, StatusCode::FORBIDDEN, "PERMISSION_DENIED");
    let (status, body) = as_user(admin.clone(), "ALTER USER bob SET ROLE system").await;
    expect_error(status, &body, StatusCode::FORBIDDEN, "PERMISSION_DENIED");
    let (status, body) = as_user(
        admin.clone(),
        "CREATE USER 'alice' WITH PASSWORD 'x' ROLE user",
    )
    .await;
    expect_error_containing(
        status,
        &body,
        StatusCode::BAD_REQUEST,
        "SQL_EXECUTION_ERROR",
        "already exists",
    );

    // A new password replaces the old one.
    let (status, body) = as_user(admin.clone(), "ALTER USER bob SET PASSWORD 'N3wSecret!'").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(login("bob", "Secret123!").await.0, StatusCode::UNAUTHORIZED);
    assert_eq!(login("bob", "N3wSecret!").await.0, StatusCode::OK);

    // Dropped: the token alice holds is refused, and so is her password.
    let (status, body) = as_user(admin.clone(), "DROP USER 'alice'").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body) = as_user(alice, "SELECT 1 AS one FROM ignored").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    assert_eq!(
        login("alice", "Secret123!").await.0,
        StatusCode::UNAUTHORIZED
    );
    let (status, body) = as_user(admin.clone(), "DROP USER alice").await;
    expect_error_containing(
        status,
        &body,
        StatusCode::BAD_REQUEST,
        "SQL_EXECUTION_ERROR",
        "does not exist",
    );
    let (status, body) = as_user(admin.clone(), "DROP USER IF EXISTS alice").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body) = as_user(admin, "DROP USER root").await;
    expect_error(
        status,
        &body,
        StatusCode::BAD_REQUEST,
        "SQL_EXECUTION_ERROR",
    );
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

/// Logs `user` in and returns their access token.
async fn token(addr: std::net::SocketAddr, user: &str, password: &str) -> String {
    let mut c = Client::connect(addr, Proto::H1).await;
    let body = json!({"user": user, "password": password});
    let (status, _, login) = auth_call(&mut c, "POST", "/v1/api/auth/login", &[], &body).await;
    assert_eq!(status, StatusCode::OK, "{login}");
    login["access_token"]
        .as_str()
        .expect("access token")
        .to_string()
}

/// `/v1/api/sql` with a bearer token.
async fn sql_as(addr: std::net::SocketAddr, token: &str, body: Json) -> (StatusCode, Json) {
    let mut c = Client::connect(addr, Proto::H1).await;
    let bearer = format!("Bearer {token}");
    let (status, _, body) = auth_call(
        &mut c,
        "POST",
        "/v1/api/sql",
        &[("authorization", &bearer)],
        &body,
    )
    .await;
    (status, body)
}

/// other-faces.md §C(c) scenario 2: a USER table shows each user only their own rows, even
/// when two users pick the same key, and statements that would reach past that are refused.
#[tokio::test]
async fn user_tables_keep_each_users_rows_apart() {
    let server = TestServer::start_with(ServerOptions {
        auth: Arc::new(Auth::off().with_jwt(JwtKeys::random())),
        ..ServerOptions::default()
    })
    .await;
    let addr = server.addr;
    let mut client = Client::connect(addr, Proto::H1).await;
    let setup =
        json!({"user": "admin", "password": "AdminPass123!", "root_password": "RootPass123!"});
    let (status, _, body) = auth_call(&mut client, "POST", "/v1/api/auth/setup", &[], &setup).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let admin = token(addr, "admin", "AdminPass123!").await;
    let (status, body) = sql_as(
        addr,
        &admin,
        json!({"sql": "CREATE NAMESPACE app; \
            CREATE USER 'alice' WITH PASSWORD 'Secret123!' ROLE user; \
            CREATE USER 'bob' WITH PASSWORD 'Secret123!' ROLE user; \
            CREATE TABLE app.notes (id BIGINT PRIMARY KEY DEFAULT SNOWFLAKE_ID(), body TEXT NOT NULL) WITH (TYPE='USER'); \
            CREATE USER TABLE app.docs (id TEXT PRIMARY KEY, body TEXT); \
            CREATE TABLE app.config (k TEXT PRIMARY KEY, v TEXT)"}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["results"].as_array().map(Vec::len), Some(6), "{body}");
    let alice = token(addr, "alice", "Secret123!").await;
    let bob = token(addr, "bob", "Secret123!").await;

    let (status, body) = sql_as(
        addr,
        &alice,
        json!({"sql": "INSERT INTO app.notes (body) VALUES ($1)", "params": ["hi"]}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["results"][0]["row_count"], 1, "{body}");
    assert_eq!(body["results"][0]["as_user"], "alice", "{body}");

    let select = json!({"sql": "SELECT * FROM app.notes"});
    let (status, body) = sql_as(addr, &bob, select.clone()).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["results"][0]["row_count"], 0, "bob sees none: {body}");
    let (status, body) = sql_as(addr, &alice, select).await;
    assert_eq!(status, StatusCode::OK, "{body}");
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
        let (status, body) = sql_as(
            addr,
            who,
            json!({"sql": "INSERT INTO app.docs (id, body) VALUES ('d1', $1)", "params": [text]}),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }
    for (who, text) in [(&alice, "alice's"), (&bob, "bob's")] {
        let (status, body) = sql_as(
            addr,
            who,
            json!({"sql": "SELECT body FROM app.docs WHERE id = 'd1'"}),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(body["results"][0]["rows"], json!([[text]]), "{body}");
    }

    // What would reach other users' rows is refused, and nothing leaks through comments.
    for statement in [
        "INSERT INTO app.notes (`_user`, body) VALUES ('alice', 'forged')",
        "SELECT * FROM app.notes WHERE id > 0) OR (1 = 1",
        "CREATE STREAM leak AS SELECT * FROM app.notes",
        "SELECT * FROM app.notes n JOIN app.docs d ON n.body = d.body",
    ] {
        let (status, body) = sql_as(addr, &bob, json!({ "sql": statement })).await;
        expect_error(status, &body, StatusCode::BAD_REQUEST, "INVALID_SQL");
    }
    let (status, body) = sql_as(
        addr,
        &bob,
        json!({"sql": "SELECT * FROM app.notes /* WHERE */ /* LIMIT */"}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["results"][0]["row_count"], 0, "{body}");

    // A SHARED table is everyone's; DESCRIBE of a USER table does not show the owner.
    let (status, body) = sql_as(
        addr,
        &alice,
        json!({"sql": "INSERT INTO app.config (k, v) VALUES ('theme', 'dark')"}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body) = sql_as(addr, &bob, json!({"sql": "SELECT v FROM app.config"})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["results"][0]["rows"], json!([["dark"]]), "{body}");
    // KalamDB's RBAC: a `user` drops no table and makes no SHARED table, but may make its
    // own USER table; a DBA drops.
    for statement in [
        "DROP TABLE app.config",
        "DROP TABLE app.notes",
        "CREATE TABLE app.mine (k TEXT PRIMARY KEY, v TEXT)",
        "CREATE SHARED TABLE app.mine (k TEXT PRIMARY KEY, v TEXT)",
    ] {
        let (status, body) = sql_as(addr, &bob, json!({ "sql": statement })).await;
        expect_error(status, &body, StatusCode::FORBIDDEN, "PERMISSION_DENIED");
    }
    let (status, body) = sql_as(addr, &bob, json!({"sql": "SELECT v FROM app.config"})).await;
    assert_eq!(
        body["results"][0]["rows"],
        json!([["dark"]]),
        "still there: {status} {body}"
    );
    let (status, body) = sql_as(
        addr,
        &bob,
        json!({"sql": "CREATE USER TABLE app.bobs (k TEXT PRIMARY KEY, v TEXT)"}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body) = sql_as(addr, &admin, json!({"sql": "DROP TABLE app.bobs"})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body) = sql_as(addr, &admin, json!({"sql": "DESCRIBE app.notes"})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        body["results"][0]["rows"],
        json!([["ID", "BIGINT", true], ["BODY", "STRING", false]]),
        "{body}"
    );
    // Even an administrator reads a USER table as themselves...
    let (status, body) = sql_as(addr, &admin, json!({"sql": "SELECT * FROM app.notes"})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["results"][0]["row_count"], 0, "{body}");
    // ...unless acting for a user: a DBA may, a plain user only for themselves.
    let (status, body) = sql_as(
        addr,
        &admin,
        json!({"sql": "EXECUTE AS USER 'alice' (INSERT INTO app.notes (body) VALUES ('for alice'))"}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body) = sql_as(
        addr,
        &admin,
        json!({"sql": "EXECUTE AS USER 'alice' (SELECT body FROM app.notes);"}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let mut bodies: Vec<String> = body["results"][0]["rows"]
        .as_array()
        .expect("rows")
        .iter()
        .map(|r| r[0].as_str().expect("body").to_string())
        .collect();
    bodies.sort();
    assert_eq!(bodies, ["for alice", "hi"], "{body}");
    let (status, body) = sql_as(
        addr,
        &alice,
        json!({"sql": "EXECUTE AS USER 'bob' (SELECT * FROM app.notes)"}),
    )
    .await;
    expect_error(status, &body, StatusCode::FORBIDDEN, "PERMISSION_DENIED");
    let (status, body) = sql_as(
        addr,
        &alice,
        json!({"sql": "EXECUTE AS USER 'alice' (SELECT * FROM app.notes)"}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["results"][0]["row_count"], 2, "{body}");
    let (status, body) = sql_as(
        addr,
        &admin,
        json!({"sql": "EXECUTE AS USER 'nobody' (SELECT * FROM app.notes)"}),
    )
    .await;
    expect_error(
        status,
        &body,
        StatusCode::BAD_REQUEST,
        "SQL_EXECUTION_ERROR",
    );
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
/// object and downloaded byte for byte by its owner only; a missing part is `MISSING_FILE`.
#[tokio::test]
async fn file_columns_take_uploads_and_serve_them_back() {
    let dir = tempfile::tempdir().expect("temp dir");
    let server = TestServer::start_with(ServerOptions {
        auth: Arc::new(Auth::off().with_jwt(JwtKeys::random())),
        kalamdb_namespaces_file: Some(
            dir.path()
                .join(sluice_server::faces::kalamdb::NAMESPACES_FILE),
        ),
        ..ServerOptions::default()
    })
    .await;
    let addr = server.addr;
    let mut client = Client::connect(addr, Proto::H1).await;
    let setup =
        json!({"user": "admin", "password": "AdminPass123!", "root_password": "RootPass123!"});
    let (status, _, body) = auth_call(&mut client, "POST", "/v1/api/auth/setup", &[], &setup).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let admin = token(addr, "admin", "AdminPass123!").await;
    let (status, body) = sql_as(
        addr,
        &admin,
        json!({"sql": "CREATE NAMESPACE app; \
            CREATE USER 'alice' WITH PASSWORD 'Secret123!' ROLE user; \
            CREATE USER 'bob' WITH PASSWORD 'Secret123!' ROLE user; \
            CREATE TABLE app.docs (id TEXT PRIMARY KEY, f FILE) WITH (TYPE='USER')"}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let alice = token(addr, "alice", "Secret123!").await;
    let bob = token(addr, "bob", "Secret123!").await;

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

    let (status, body) = sql_as(addr, &alice, json!({"sql": "SELECT f FROM app.docs"})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
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
    let (status, body) = post(alice, content_type, payload).await;
    expect_error(status, &body, StatusCode::BAD_REQUEST, "EXTRA_FILE");
    server.stop().await;
}
