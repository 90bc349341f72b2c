//! `GET /v1/ws`: KalamDB's live queries over a WebSocket (RFC 6455, HTTP/1.1 upgrade).
//!
//! ```text
//!  upgrade: Bearer header? ─ bad ─► 401 (KalamDB's SQL error envelope)
//!                          └ good / none ─► 101 ─► session (this connection's task)
//!  session: reader ─► authenticate | subscribe | next_batch | unsubscribe | ping
//!           subscribe ─► live::run (one task per subscription, fed by a live_hub) ─┐
//!           writer ◄─ bounded queue of frames ◄────────────────────────────────────┘
//!                     (+ a ping every 5 s)
//! ```
//!
//! A header token is checked before the 101, and `auth_success` is then the first frame,
//! unprompted (what `kalam-client` 0.5 expects); the upgrade's query string chooses the
//! protocol (`serialization=msgpack`, `compression=none`), else the `authenticate` message
//! does; JSON with gzip'd large frames by default (`sluice_protocol::kalamdb::wire`). The
//! writer encodes each frame once it knows the protocol. Without a header the client has
//! [`AUTH_TIMEOUT_MS`] to send `authenticate`. With authentication off everyone is the
//! anonymous principal, as on `/v1/api/sql`, and `auth_success` comes first too.
//!
//! A slow client fills its connection's queue ([`OUTBOUND_FRAMES_MAX`]); its subscriptions
//! then wait to queue while their hubs go on (`live_hub`): one that falls a whole ring
//! behind is ended with `SUBSCRIPTION_FAILED`, so neither the engine, memory nor the other
//! subscribers feel it.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use http::request::Parts;
use http::{header, HeaderMap, Method, Response, StatusCode};
use hyper::upgrade::{OnUpgrade, Upgraded};
use hyper_util::rt::TokioIo;
use sluice_protocol::kalamdb::envelope::{code as sql_code, error_body};
use sluice_protocol::kalamdb::live::{
    auth_error, auth_success, code, error, ClientMessage, LiveSql, SubscriptionRequest,
    SUBSCRIPTION_ID_CHARS_MAX,
};
use sluice_protocol::kalamdb::wire::{Frame, Serialization, WireProtocol};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::handshake::derive_accept_key;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::{CloseFrame, Role, WebSocketConfig};
use tokio_tungstenite::tungstenite::{Error as WsError, Message};
use tokio_tungstenite::WebSocketStream;

use super::live::{self, Control, Outbound, Subscription};
use crate::auth::{CredentialKind, Principal, Refusal};
use crate::body::frames_out::ResponseBody;
use crate::connection::{UpgradeHooks, UpgradedConnection};
use crate::query_string::query_value;
use crate::response::{json, HttpResponse};
use crate::services::Services;

/// The WebSocket's path.
pub const WS_PATH: &str = "/v1/ws";

/// How long a connection without a header token may take to send `authenticate`
/// (KalamDB's `websocket.auth_timeout_secs` default).
pub const AUTH_TIMEOUT_MS: u64 = 3_000;

/// Largest message a client may send (KalamDB's limit); larger ones close the socket.
pub const MESSAGE_BYTES_MAX: usize = 1024 * 1024;

/// Subscriptions one connection may hold (KalamDB's per-connection limit).
pub const SUBSCRIPTIONS_PER_CONNECTION_MAX: usize = 100;

/// How often the server pings (KalamDB's interval): keeps proxies from timing the socket
/// out and tells the server a vanished client from a quiet one.
pub const PING_INTERVAL_MS: u64 = 5_000;

/// Silence after which the server closes (KalamDB's): two missed pings' worth.
pub const SILENCE_CLOSE_MS: u64 = 10_000;

/// Frames queued for one connection's writer. Subscriptions wait when it is full, so a
/// slow client costs at most this many frames (each ≤ a batch of rows) of memory.
pub const OUTBOUND_FRAMES_MAX: usize = 64;

/// Client requests queued per subscription (`next_batch`): one is outstanding at a time in
/// the SDK; extra ones are dropped, as they ask for nothing more.
pub const CONTROL_MESSAGES_MAX: usize = 4;

/// Answers the upgrade request, and serves the socket on its own task after the 101.
pub async fn handle(services: &Arc<Services>, mut parts: Parts) -> HttpResponse {
    let started = std::time::Instant::now();
    if parts.method != Method::GET {
        return bad(
            StatusCode::METHOD_NOT_ALLOWED,
            "the WebSocket is opened with GET",
        );
    }
    let Some(accept) = accept_key(&parts.headers) else {
        return bad(
            StatusCode::UPGRADE_REQUIRED,
            "this route is a WebSocket: send an HTTP/1.1 upgrade (Upgrade: websocket, Sec-WebSocket-Version: 13)",
        );
    };
    // A missing token waits for `authenticate`; a bad one is refused before the upgrade,
    // which the SDK reports as an authentication error.
    let principal = match services.auth.admit(CredentialKind::Jwt, &parts.headers) {
        Ok(p) => Some(p),
        Err(Refusal::Missing) => None,
        Err(refusal) => return super::refuse(refusal, started),
    };
    let Some(on_upgrade) = parts.extensions.remove::<OnUpgrade>() else {
        return bad(
            StatusCode::BAD_REQUEST,
            "this connection cannot be upgraded",
        );
    };
    let hold = parts
        .extensions
        .get::<UpgradeHooks>()
        .map(UpgradeHooks::hold);
    let query = parts.uri.query();
    let protocol = WireProtocol::from_query_values(
        query_value(query, "serialization").as_deref(),
        query_value(query, "compression").as_deref(),
        query_value(query, "compress").as_deref(),
    );
    let services = Arc::clone(services);
    tokio::spawn(async move {
        match on_upgrade.await {
            Ok(upgraded) => serve(services, upgraded, principal, protocol, hold).await,
            Err(e) => tracing::debug!(error = %e, "WebSocket upgrade did not complete"),
        }
    });
    Response::builder()
        .status(StatusCode::SWITCHING_PROTOCOLS)
        .header(header::UPGRADE, "websocket")
        .header(header::CONNECTION, "Upgrade")
        .header(header::SEC_WEBSOCKET_ACCEPT, accept)
        .body(ResponseBody::empty())
        .expect("static status and valid headers")
}

fn bad(status: StatusCode, message: &str) -> HttpResponse {
    json(status, error_body(sql_code::INVALID_INPUT, message, 0.0))
}

/// `Sec-WebSocket-Accept` for a valid upgrade request (RFC 6455 §4.2.1), else `None`.
fn accept_key(headers: &HeaderMap) -> Option<String> {
    let has = |name: header::HeaderName, token: &str| {
        headers
            .get_all(name)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .any(|t| t.trim().eq_ignore_ascii_case(token))
    };
    if !has(header::UPGRADE, "websocket")
        || !has(header::CONNECTION, "upgrade")
        || !has(header::SEC_WEBSOCKET_VERSION, "13")
    {
        return None;
    }
    let key = headers.get(header::SEC_WEBSOCKET_KEY)?;
    Some(derive_accept_key(key.as_bytes()))
}

/// One connection's live subscriptions.
struct Session {
    services: Arc<Services>,
    principal: Option<Principal>,
    /// What frames use once authenticated: the upgrade's query string's, replaced by the
    /// `authenticate` message's.
    protocol: WireProtocol,
    out: mpsc::Sender<Outbound>,
    subscriptions: HashMap<String, Running>,
}

/// A running subscription; dropping it ends the subscription.
struct Running {
    control: mpsc::Sender<Control>,
    task: JoinHandle<()>,
}

impl Drop for Running {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// What the reader does after a message.
enum Next {
    Continue,
    Close(CloseCode, &'static str),
}

async fn serve(
    services: Arc<Services>,
    upgraded: Upgraded,
    principal: Option<Principal>,
    protocol: WireProtocol,
    mut hold: Option<UpgradedConnection>,
) {
    let config = WebSocketConfig::default()
        .max_message_size(Some(MESSAGE_BYTES_MAX))
        .max_frame_size(Some(MESSAGE_BYTES_MAX));
    let ws =
        WebSocketStream::from_raw_socket(TokioIo::new(upgraded), Role::Server, Some(config)).await;
    let (sink, mut stream) = ws.split();
    let (out, queued) = mpsc::channel(OUTBOUND_FRAMES_MAX);
    let writer = tokio::spawn(write(sink, queued));
    let mut session = Session {
        services,
        principal,
        protocol,
        out,
        subscriptions: HashMap::new(),
    };
    if let Some(p) = session.principal.clone() {
        session.authenticated(&p).await;
    }
    let auth_deadline = Instant::now() + Duration::from_millis(AUTH_TIMEOUT_MS);
    let mut last_heard = Instant::now();
    let silence = Duration::from_millis(SILENCE_CLOSE_MS);
    let mut check = tokio::time::interval(Duration::from_millis(PING_INTERVAL_MS));
    let close = loop {
        let authenticated = session.principal.is_some();
        let next = tokio::select! {
            frame = stream.next() => {
                last_heard = Instant::now();
                match frame {
                    None | Some(Err(WsError::ConnectionClosed | WsError::AlreadyClosed)) => break None,
                    Some(Ok(Message::Close(_))) => break None,
                    Some(Ok(Message::Text(text))) => session.on_text(text.as_str()).await,
                    Some(Ok(Message::Binary(bytes))) => session.on_binary(&bytes).await,
                    // Pings are answered by the WebSocket layer; a pong only proves life.
                    Some(Ok(_)) => Next::Continue,
                    Some(Err(WsError::Capacity(e))) => {
                        session.error("protocol", code::MESSAGE_TOO_LARGE,
                            &format!("{e}; the limit is {MESSAGE_BYTES_MAX} bytes")).await;
                        Next::Close(CloseCode::Size, "message too large")
                    }
                    Some(Err(e)) => {
                        tracing::debug!(error = %e, "WebSocket read failed");
                        break None;
                    }
                }
            }
            () = tokio::time::sleep_until(auth_deadline), if !authenticated => {
                let _ = session.out.send(Outbound::Text(auth_error("Authentication timeout"))).await;
                Next::Close(CloseCode::Policy, "authentication timeout")
            }
            _ = check.tick() => {
                if last_heard.elapsed() >= silence {
                    Next::Close(CloseCode::Away, "no frames within the silence limit")
                } else {
                    Next::Continue
                }
            }
            () = draining(&mut hold) => Next::Close(CloseCode::Away, "server is shutting down"),
        };
        if let Next::Close(code, reason) = next {
            break Some((code, reason));
        }
    };
    // Subscriptions end first, so nothing queues behind the close frame.
    session.subscriptions.clear();
    if let Some((code, reason)) = close {
        let _ = session
            .out
            .send(Outbound::Close(code.into(), reason.to_string()))
            .await;
    }
    drop(session);
    let _ = writer.await;
    drop(hold);
}

async fn draining(hold: &mut Option<UpgradedConnection>) {
    match hold {
        Some(h) => h.draining().await,
        None => std::future::pending().await,
    }
}

/// Writes queued frames, and a ping every [`PING_INTERVAL_MS`], until the queue closes or a
/// close frame goes out.
async fn write<S>(mut sink: S, mut queued: mpsc::Receiver<Outbound>)
where
    S: futures_util::Sink<Message, Error = WsError> + Unpin,
{
    let mut ping = tokio::time::interval(Duration::from_millis(PING_INTERVAL_MS));
    ping.tick().await;
    // JSON text until the session says what was negotiated.
    let mut protocol: Option<WireProtocol> = None;
    loop {
        let message = tokio::select! {
            frame = queued.recv() => match frame {
                Some(Outbound::Text(text)) => match protocol {
                    None => Message::Text(text.into()),
                    Some(p) => match p.encode(text) {
                        Frame::Text(text) => Message::Text(text.into()),
                        Frame::Binary(bytes) => Message::Binary(bytes.into()),
                    },
                },
                Some(Outbound::Protocol(negotiated)) => {
                    protocol = Some(negotiated);
                    continue;
                }
                Some(Outbound::Close(code, reason)) => {
                    let frame = CloseFrame { code: CloseCode::from(code), reason: reason.into() };
                    let _ = sink.send(Message::Close(Some(frame))).await;
                    return;
                }
                None => {
                    let _ = sink.close().await;
                    return;
                }
            },
            _ = ping.tick() => Message::Ping(Vec::new().into()),
        };
        if sink.send(message).await.is_err() {
            return;
        }
    }
}

impl Session {
    /// `auth_success` (JSON text), then the protocol for the writer.
    async fn authenticated(&self, principal: &Principal) {
        let text = self.auth_success(principal);
        let _ = self.out.send(Outbound::Text(text)).await;
        let _ = self.out.send(Outbound::Protocol(self.protocol)).await;
    }

    fn auth_success(&self, principal: &Principal) -> String {
        // KalamDB's `user` is the user's id; the anonymous principal has no user record.
        let user = self
            .services
            .auth
            .verify_jwt_user(principal.name())
            .map_or_else(|| principal.name().to_string(), |u| u.id);
        let role = principal
            .roles()
            .first()
            .map_or("anonymous", String::as_str);
        auth_success(&user, role, &self.protocol)
    }

    async fn error(&self, subscription_id: &str, code: &str, message: &str) {
        let _ = self
            .out
            .send(Outbound::Text(error(subscription_id, code, message)))
            .await;
    }

    /// A binary frame: a MessagePack message once that was negotiated, else refused
    /// (KalamDB's `UNSUPPORTED_DATA`; the socket stays open).
    async fn on_binary(&mut self, bytes: &[u8]) -> Next {
        let negotiated = self.principal.is_some().then_some(self.protocol);
        match negotiated.map(|p| p.decode_binary(bytes)) {
            Some(Ok(text)) => self.on_text(&text).await,
            Some(Err(e)) if self.protocol.serialization == Serialization::Msgpack => {
                // As a JSON client's unreadable text: KalamDB closes the socket.
                self.error("protocol", code::PROTOCOL, &e).await;
                Next::Close(CloseCode::Invalid, "invalid message")
            }
            _ => {
                let message = "binary frames are not accepted; send JSON text";
                self.error("protocol", code::UNSUPPORTED_DATA, message)
                    .await;
                Next::Continue
            }
        }
    }

    async fn on_text(&mut self, text: &str) -> Next {
        let message = match ClientMessage::decode(text) {
            Ok(m) => m,
            // KalamDB closes the socket on a message it cannot read.
            Err(e) => {
                self.error("protocol", code::PROTOCOL, &e).await;
                return Next::Close(CloseCode::Invalid, "invalid message");
            }
        };
        match message {
            ClientMessage::Authenticate {
                method,
                token,
                protocol,
            } => {
                self.protocol = protocol;
                self.authenticate(method, token).await
            }
            ClientMessage::Subscribe { subscription } => {
                self.subscribe(subscription).await;
                Next::Continue
            }
            ClientMessage::NextBatch { subscription_id } => {
                match self.subscriptions.get(&subscription_id) {
                    // Full: a request is already waiting, and this one asks for nothing more.
                    Some(s) => drop(s.control.try_send(Control::NextBatch)),
                    None => {
                        let message = format!("no subscription '{subscription_id}'");
                        self.error(&subscription_id, code::INVALID_SUBSCRIPTION_ID, &message)
                            .await
                    }
                }
                Next::Continue
            }
            // KalamDB sends nothing back for either.
            ClientMessage::Unsubscribe { subscription_id } => {
                self.subscriptions.remove(&subscription_id);
                Next::Continue
            }
            ClientMessage::Ping => Next::Continue,
        }
    }

    async fn authenticate(&mut self, method: Option<String>, token: Option<String>) -> Next {
        let refused = |message: &'static str| (auth_error(message), message);
        let result = match (method.as_deref(), token) {
            (Some("jwt") | None, Some(token)) => self
                .services
                .auth
                .admit_token(&token)
                .map_err(|_| refused("Invalid credentials")),
            (Some("jwt") | None, None) => Err(refused("Authentication required: a token")),
            _ => Err(refused("Only the jwt method is supported")),
        };
        match result {
            Ok(principal) => {
                self.authenticated(&principal).await;
                self.principal = Some(principal);
                Next::Continue
            }
            Err((frame, reason)) => {
                let _ = self.out.send(Outbound::Text(frame)).await;
                Next::Close(CloseCode::Policy, reason)
            }
        }
    }

    async fn subscribe(&mut self, request: SubscriptionRequest) {
        let id = request.id;
        let Some(principal) = self.principal.clone() else {
            let message = "Authentication required before subscribing";
            return self.error(&id, code::AUTH_REQUIRED, message).await;
        };
        if id.is_empty() || id.chars().count() > SUBSCRIPTION_ID_CHARS_MAX {
            let message =
                format!("a subscription id is 1 to {SUBSCRIPTION_ID_CHARS_MAX} characters");
            return self
                .error("subscribe", code::INVALID_SUBSCRIPTION_ID, &message)
                .await;
        }
        self.subscriptions.retain(|_, s| !s.task.is_finished());
        if self.subscriptions.contains_key(&id) {
            let message = format!("subscription '{id}' already exists on this connection");
            return self
                .error(&id, code::INVALID_SUBSCRIPTION_ID, &message)
                .await;
        }
        if self.subscriptions.len() >= SUBSCRIPTIONS_PER_CONNECTION_MAX {
            let message = format!(
                "a connection holds at most {SUBSCRIPTIONS_PER_CONNECTION_MAX} subscriptions"
            );
            return self
                .error(&id, code::SUBSCRIPTION_LIMIT_EXCEEDED, &message)
                .await;
        }
        let sql = match LiveSql::parse(&request.sql) {
            Ok(sql) => sql,
            Err(message) => return self.error(&id, code::INVALID_SQL, &message).await,
        };
        let (control, requests) = mpsc::channel(CONTROL_MESSAGES_MAX);
        let sub = Subscription {
            id: id.clone(),
            sql,
            options: request.options,
            principal,
        };
        let task = tokio::spawn(live::run(
            Arc::clone(&self.services),
            sub,
            self.out.clone(),
            requests,
        ));
        self.subscriptions.insert(id, Running { control, task });
    }
}
