//! KalamDB's auth: setup, login, refresh, me, logout, JWTs on SQL, users in SQL.

use super::*;

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
