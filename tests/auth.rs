//! Authentication on ksqlDB's face, its console and the REST proxy: ksqlDB's
//! `authentication.method=BASIC` with a credentials file, refusals in each face's own
//! status, body and headers, over real HTTP/1.1 and HTTP/2 connections.

mod support;

use std::sync::Arc;

use base64::Engine as _;
use http::StatusCode;
use sluice_server::auth::{Auth, AuthConfig};
use sluice_server::ServerOptions;
use support::{json, Client, Proto, TestServer};

const UNAUTHORIZED: &str =
    r#"{"@type":"generic_error","error_code":40100,"message":"Unauthorized"}"#;
const FORBIDDEN: &str = r#"{"@type":"generic_error","error_code":40300,"message":"Forbidden"}"#;
const CHALLENGE: &str = r#"Basic realm="KsqlServer-Props""#;

/// A server with Basic users `fred` (role admin) and `barney` (role user), bearer token
/// `tok-1`, and `roles` as the allowed roles.
async fn server(roles: &[&str]) -> (TestServer, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("temp dir");
    let basic = dir.path().join("users.properties");
    std::fs::write(
        &basic,
        "# ksqlDB users\nfred: letmein,admin\nbarney: pw:x,user\n",
    )
    .expect("write users");
    let tokens = dir.path().join("tokens");
    std::fs::write(&tokens, "ci: tok-1,admin\n").expect("write tokens");
    let auth = Auth::load(&AuthConfig {
        basic_credentials: Some(basic),
        bearer_tokens: Some(tokens),
        roles: roles.iter().map(|r| r.to_string()).collect(),
        realm: None,
        jwt_secret: None,
        users_file: None,
    })
    .expect("auth files load");
    let server = TestServer::start_with(ServerOptions {
        auth: Arc::new(auth),
        ..ServerOptions::default()
    })
    .await;
    (server, dir)
}

fn basic(name: &str, password: &str) -> String {
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{name}:{password}"))
    )
}

const KSQL_BODY: &[u8] = br#"{"ksql":"SHOW STREAMS;","streamsProperties":{}}"#;

/// Every non-public route of ksqlDB's face and the console, with a body where it takes one.
const ROUTES: &[(&str, &str, &[u8])] = &[
    ("POST", "/ksql", KSQL_BODY),
    (
        "POST",
        "/query-stream",
        br#"{"sql":"SELECT * FROM s EMIT CHANGES;"}"#,
    ),
    (
        "POST",
        "/query",
        br#"{"ksql":"SELECT * FROM s EMIT CHANGES;"}"#,
    ),
    ("POST", "/inserts-stream", b"{\"target\":\"s\"}\n"),
    ("POST", "/close-query", br#"{"queryId":"q"}"#),
    ("GET", "/info", b""),
    ("GET", "/status", b""),
    ("GET", "/queries/q1/progress", b""),
    ("GET", "/console/app.js", b""),
    ("GET", "/no/such/path", b""),
];

#[tokio::test]
async fn missing_or_wrong_credentials_get_ksqldb_401_on_every_route() {
    let (server, _dir) = server(&[]).await;
    for proto in [Proto::H1, Proto::H2] {
        let mut client = Client::connect(server.addr, proto).await;
        for (method, path, body) in ROUTES {
            let wrong = basic("fred", "nope");
            let unknown = basic("wilma", "letmein");
            for headers in [
                vec![],
                vec![("authorization", wrong.as_str())],
                vec![("authorization", unknown.as_str())],
                // A bearer token is not a credential ksqlDB's Basic method reads.
                vec![("authorization", "Bearer tok-1")],
            ] {
                let (status, resp_headers, bytes) = client.send(method, path, &headers, body).await;
                assert_eq!(
                    status,
                    StatusCode::UNAUTHORIZED,
                    "{proto:?} {method} {path} {headers:?}"
                );
                assert_eq!(std::str::from_utf8(&bytes).expect("utf8"), UNAUTHORIZED);
                assert_eq!(resp_headers["www-authenticate"], CHALLENGE);
                assert_eq!(resp_headers["content-type"], "application/json");
            }
        }
    }
    // The browser console's page asks for the password the same way.
    let mut client = Client::connect(server.addr, Proto::H1).await;
    let (status, headers, _) = client
        .send("GET", "/", &[("accept", "text/html")], b"")
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(headers["www-authenticate"], CHALLENGE);
}

#[tokio::test]
async fn a_malformed_basic_header_is_ksqldb_400() {
    let (server, _dir) = server(&[]).await;
    let mut client = Client::connect(server.addr, Proto::H2).await;
    for value in ["Basic %%%not-base64", "Basic Zm9vYmFy"] {
        let (status, _, bytes) = client
            .send("POST", "/ksql", &[("authorization", value)], KSQL_BODY)
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{value}");
        assert_eq!(
            json(&bytes),
            serde_json::json!({"@type":"generic_error","error_code":40000,
                               "message":"Malformed authorization header"})
        );
    }
}

#[tokio::test]
async fn valid_credentials_run_statements_and_health_stays_public() {
    let (server, _dir) = server(&[]).await;
    let fred = basic("fred", "letmein");
    let barney = basic("barney", "pw:x");
    for proto in [Proto::H1, Proto::H2] {
        let mut client = Client::connect(server.addr, proto).await;
        for who in [&fred, &barney] {
            let (status, _, bytes) = client
                .send(
                    "POST",
                    "/ksql",
                    &[("authorization", who.as_str())],
                    KSQL_BODY,
                )
                .await;
            assert_eq!(
                status,
                StatusCode::OK,
                "{}",
                String::from_utf8_lossy(&bytes)
            );
            assert_eq!(json(&bytes)[0]["@type"], "streams");
            let (status, _, bytes) = client
                .send("GET", "/info", &[("authorization", who.as_str())], b"")
                .await;
            assert_eq!(status, StatusCode::OK);
            assert!(json(&bytes)["KsqlServerInfo"].is_object());
        }
        // Health probes come from machines that hold no credentials.
        let (status, _, bytes) = client.send("GET", "/healthcheck", &[], b"").await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(json(&bytes)["isHealthy"], true);
    }
}

#[tokio::test]
async fn a_user_without_an_allowed_role_is_ksqldb_403() {
    let (server, _dir) = server(&["admin", "developer"]).await;
    let mut client = Client::connect(server.addr, Proto::H2).await;
    let barney = basic("barney", "pw:x");
    let (status, _, bytes) = client
        .send(
            "POST",
            "/ksql",
            &[("authorization", barney.as_str())],
            KSQL_BODY,
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(std::str::from_utf8(&bytes).expect("utf8"), FORBIDDEN);
    let fred = basic("fred", "letmein");
    let (status, _, _) = client
        .send(
            "POST",
            "/ksql",
            &[("authorization", fred.as_str())],
            KSQL_BODY,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn the_rest_proxy_refuses_in_its_own_shape() {
    let (server, _dir) = server(&[]).await;
    let mut client = Client::connect(server.addr, Proto::H1).await;
    let (status, headers, bytes) = client.send("GET", "/topics", &[], b"").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        json(&bytes),
        serde_json::json!({"error_code":401,"message":"Unauthorized"})
    );
    assert_eq!(headers["www-authenticate"], CHALLENGE);
    let fred = basic("fred", "letmein");
    let (status, _, bytes) = client
        .send("GET", "/topics", &[("authorization", fred.as_str())], b"")
        .await;
    assert_eq!(
        status,
        StatusCode::OK,
        "{}",
        String::from_utf8_lossy(&bytes)
    );
    assert!(json(&bytes).is_array());
}

#[tokio::test]
async fn a_bad_credentials_file_is_refused_at_load_naming_the_line() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("users");
    std::fs::write(&path, "fred: letmein\nbarney\n").expect("write");
    let err = Auth::load(&AuthConfig {
        basic_credentials: Some(path),
        ..AuthConfig::default()
    })
    .expect_err("line 2 has no secret");
    assert!(
        err.to_string()
            .ends_with(":2: expected `name: secret[,role ...]`"),
        "{err}"
    );
}
