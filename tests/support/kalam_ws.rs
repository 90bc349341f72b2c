//! `/v1/ws` test helpers shared by the KalamDB live-query suites: a server with KalamDB
//! logins and `app.notes`, SQL through `/v1/api/sql`, and a plain WebSocket client that
//! reads frames as `kalam-client` does (text, or gzip'd JSON in a binary frame).

use std::sync::Arc;

use futures_util::{SinkExt, StreamExt};
use http::StatusCode;
use serde_json::{json, Value as Json};
use sluice_server::auth::{Auth, CredentialStore, JwtKeys};
use sluice_server::ServerOptions;
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::{Error as WsError, Message};
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

use super::{json as parse, Client, Proto, TestServer, WAIT};

pub type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// ksqlDB's Basic user, for writing through ksqlDB's face beside KalamDB's JWTs.
pub const KSQL_BASIC: &str = "ksql:secret";

/// A server with KalamDB logins (JWT) and a ksqlDB Basic user, set up with an admin; the
/// admin's access token, and `app.notes` (TEXT key) created.
pub async fn server_with_notes() -> (TestServer, String) {
    let basic = CredentialStore::parse("ksql: secret\n").expect("valid credentials");
    let auth = Auth::from_stores(Some(basic), None, &[], None).with_jwt(JwtKeys::random());
    let server = TestServer::start_with(ServerOptions {
        auth: Arc::new(auth),
        ..ServerOptions::default()
    })
    .await;
    let mut client = Client::connect(server.addr, Proto::H1).await;
    let admin = json!({"user": "admin", "password": "AdminPass123!"});
    let setup =
        json!({"user": "admin", "password": "AdminPass123!", "root_password": "RootPass123!"});
    let (status, _, _) = post_json(&mut client, "/v1/api/auth/setup", &setup, None).await;
    assert_eq!(status, StatusCode::OK);
    let (status, _, login) = post_json(&mut client, "/v1/api/auth/login", &admin, None).await;
    assert_eq!(status, StatusCode::OK, "{login}");
    let token = login["access_token"].as_str().expect("token").to_string();
    sql(
        &server,
        &token,
        "CREATE NAMESPACE app; CREATE TABLE app.notes (id TEXT PRIMARY KEY, body TEXT NOT NULL) WITH (TYPE='USER')",
    )
    .await;
    (server, token)
}

pub async fn post_json(
    client: &mut Client,
    path: &str,
    body: &Json,
    token: Option<&str>,
) -> (StatusCode, http::HeaderMap, Json) {
    let bearer = token.map(|t| format!("Bearer {t}"));
    let mut headers = vec![("content-type", "application/json")];
    if let Some(b) = &bearer {
        headers.push(("authorization", b.as_str()));
    }
    let (status, headers, bytes) = client
        .send("POST", path, &headers, body.to_string().as_bytes())
        .await;
    (status, headers, parse(&bytes))
}

/// Runs KalamDB SQL as `token` and asserts it succeeded.
pub async fn sql(server: &TestServer, token: &str, statements: &str) {
    let mut client = Client::connect(server.addr, Proto::H1).await;
    let body = json!({ "sql": statements });
    let (status, _, answer) = post_json(&mut client, "/v1/api/sql", &body, Some(token)).await;
    assert_eq!(status, StatusCode::OK, "{statements}: {answer}");
    assert_eq!(answer["status"], "success", "{answer}");
}

pub async fn insert(server: &TestServer, token: &str, id: &str, body: &str) {
    sql(
        server,
        token,
        &format!("INSERT INTO app.notes (id, body) VALUES ('{id}', '{body}')"),
    )
    .await;
}

/// Opens `/v1/ws`, with `Authorization: Bearer` when a token is given.
pub async fn connect(server: &TestServer, token: Option<&str>) -> Result<Ws, WsError> {
    connect_with_query(server, token, "").await
}

/// [`connect`] with a query string (`?compression=none`, …) on the upgrade request.
pub async fn connect_with_query(
    server: &TestServer,
    token: Option<&str>,
    query: &str,
) -> Result<Ws, WsError> {
    let mut request = format!("ws://{}/v1/ws{query}", server.addr)
        .into_client_request()
        .expect("request");
    if let Some(t) = token {
        let value = format!("Bearer {t}").parse().expect("header");
        request.headers_mut().insert("authorization", value);
    }
    tokio_tungstenite::connect_async(request)
        .await
        .map(|(ws, _)| ws)
}

/// The next frame (pings skipped), or `None` once the server closed.
pub async fn next_frame(ws: &mut Ws) -> Option<Message> {
    loop {
        let frame = tokio::time::timeout(WAIT, ws.next())
            .await
            .expect("a frame in time");
        match frame {
            Some(Ok(Message::Ping(_) | Message::Pong(_))) => continue,
            Some(Ok(Message::Close(_))) | None | Some(Err(_)) => return None,
            Some(Ok(other)) => return Some(other),
        }
    }
}

/// The next JSON message (pings skipped), or `None` once the server closed: a text frame,
/// or a binary one holding gzip'd JSON, as `kalam-client` reads them under the default
/// protocol (JSON, large frames gzip'd).
pub async fn next_json(ws: &mut Ws) -> Option<Json> {
    match next_frame(ws).await? {
        Message::Text(text) => Some(parse(text.as_bytes())),
        Message::Binary(bytes) => Some(parse(&gunzip(&bytes))),
        other => panic!("unexpected frame {other:?}"),
    }
}

pub fn gunzip(bytes: &[u8]) -> Vec<u8> {
    use std::io::Read;
    assert_eq!(&bytes[..2], &[0x1f, 0x8b], "a binary JSON frame is gzip'd");
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(bytes)
        .read_to_end(&mut out)
        .expect("valid gzip");
    out
}

pub async fn send(ws: &mut Ws, message: Json) {
    ws.send(Message::Text(message.to_string().into()))
        .await
        .expect("sent");
}

pub async fn subscribe(ws: &mut Ws, id: &str, sql: &str, options: Json) {
    let subscription = json!({"id": id, "sql": sql, "options": options});
    send(
        ws,
        json!({"type": "subscribe", "subscription": subscription}),
    )
    .await;
}

/// The SDK's next event on `live`, within [`WAIT`].
pub async fn next_event(live: &mut kalam_client::SubscriptionManager) -> kalam_client::ChangeEvent {
    tokio::time::timeout(WAIT, live.next())
        .await
        .expect("an event in time")
        .expect("stream open")
        .expect("no error")
}
