//! The frames of KalamDB's `/v1/ws` in each protocol a client can negotiate: JSON with
//! large frames gzip'd (KalamDB's default), plain JSON (`?compression=none` or
//! `"compression":"none"`), and MessagePack (`?serialization=msgpack` or
//! `"serialization":"msgpack"`, client messages binary too). KalamDB's own SDK
//! (`kalam-client`, unmodified) subscribes over MessagePack; a plain WebSocket client
//! checks the bytes on the wire.

mod support;

use futures_util::SinkExt;
use kalam_client::models::{
    CompressionType, ConnectionOptions, ProtocolOptions, SerializationType,
};
use kalam_client::{ChangeEvent, KalamLinkClient, SubscriptionConfig};
use serde_json::{json, Value as Json};
use support::kalam_ws::*;
use support::WAIT;
use tokio_tungstenite::tungstenite::Message;

/// Notes whose snapshot is well over the 512 bytes past which frames are compressed.
async fn server_with_many_notes() -> (support::TestServer, String) {
    let (server, token) = server_with_notes().await;
    let values: Vec<String> = (0..12)
        .map(|i| format!("INSERT INTO app.notes (id, body) VALUES ('n{i:02}', 'a note that says the same thing {i}')"))
        .collect();
    sql(&server, &token, &values.join("; ")).await;
    (server, token)
}

const NOTES: &str = "SELECT id, body FROM app.notes";

/// A MessagePack frame (gzip'd or not, as `kalam-client` accepts both) as JSON.
fn unpack(bytes: &[u8]) -> Json {
    let raw = if bytes.starts_with(&[0x1f, 0x8b]) {
        gunzip(bytes)
    } else {
        bytes.to_vec()
    };
    rmp_serde::from_slice(&raw).expect("a MessagePack message")
}

#[tokio::test]
async fn json_frames_are_gzipped_unless_the_client_says_none() {
    let (server, token) = server_with_many_notes().await;
    // The default: JSON, large frames gzip'd into binary frames.
    let mut ws = connect(&server, Some(&token)).await.expect("upgraded");
    let auth = next_json(&mut ws).await.expect("auth_success");
    assert_eq!(
        auth["protocol"],
        json!({"serialization": "json", "compression": "gzip"})
    );
    subscribe(&mut ws, "s1", NOTES, json!({})).await;
    let ack = next_frame(&mut ws).await.expect("ack");
    assert!(matches!(ack, Message::Text(_)), "a small frame stays text");
    let Some(Message::Binary(batch)) = next_frame(&mut ws).await else {
        panic!("the snapshot's batch is large: a gzip'd binary frame")
    };
    let batch: Json = serde_json::from_slice(&gunzip(&batch)).expect("JSON inside");
    assert_eq!(batch["type"], "initial_data_batch", "{batch}");
    assert_eq!(batch["rows"].as_array().map(Vec::len), Some(12));

    // `?compression=none` (what the SDK sends when compression is off): text frames.
    let mut ws = connect_with_query(&server, Some(&token), "?compression=none")
        .await
        .expect("upgraded");
    let auth = next_json(&mut ws).await.expect("auth_success");
    assert_eq!(auth["protocol"]["compression"], "none");
    subscribe(&mut ws, "s1", NOTES, json!({})).await;
    next_frame(&mut ws).await.expect("ack");
    let Some(Message::Text(batch)) = next_frame(&mut ws).await else {
        panic!("uncompressed: a text frame")
    };
    assert!(batch.as_str().contains("initial_data_batch"));
}

#[tokio::test]
async fn messagepack_both_ways_after_message_auth() {
    let (server, token) = server_with_many_notes().await;
    let mut ws = connect(&server, None).await.expect("upgraded");
    send(
        &mut ws,
        json!({"type": "authenticate", "method": "jwt", "token": token,
               "protocol": {"serialization": "msgpack", "compression": "gzip"}}),
    )
    .await;
    let Some(Message::Text(auth)) = next_frame(&mut ws).await else {
        panic!("auth_success is always JSON text")
    };
    let auth: Json = serde_json::from_str(auth.as_str()).expect("json");
    assert_eq!(
        auth["protocol"],
        json!({"serialization": "msgpack", "compression": "gzip"})
    );
    let subscribe = json!({"type": "subscribe",
                           "subscription": {"id": "m1", "sql": NOTES, "options": {}}});
    let packed = rmp_serde::to_vec_named(&subscribe).expect("msgpack");
    ws.send(Message::Binary(packed.into())).await.expect("sent");
    let Some(Message::Binary(ack)) = next_frame(&mut ws).await else {
        panic!("MessagePack frames are binary")
    };
    let ack = unpack(&ack);
    assert_eq!(
        (&ack["type"], &ack["subscription_id"], &ack["total_rows"]),
        (&json!("subscription_ack"), &json!("m1"), &json!(12))
    );
    let Some(Message::Binary(batch)) = next_frame(&mut ws).await else {
        panic!("binary")
    };
    assert!(batch.starts_with(&[0x1f, 0x8b]), "a large one gzip'd too");
    let batch = unpack(&batch);
    assert_eq!(batch["rows"][0]["ID"], "n00", "{batch}");
    // A binary frame that is not MessagePack: a protocol error, and the socket closes.
    ws.send(Message::Binary(vec![0xc1].into()))
        .await
        .expect("sent");
    let Some(Message::Binary(error)) = next_frame(&mut ws).await else {
        panic!("the error, in MessagePack")
    };
    assert_eq!(unpack(&error)["code"], "PROTOCOL");
    assert!(next_frame(&mut ws).await.is_none(), "closed");
}

/// The SDK set to MessagePack (it then asks with `?serialization=msgpack` on its header
/// auth and sends its own messages as MessagePack): snapshot and changes arrive.
#[tokio::test]
async fn kalam_client_subscribes_over_messagepack() {
    let (server, token) = server_with_many_notes().await;
    let options = ConnectionOptions::default().with_protocol(ProtocolOptions {
        serialization: SerializationType::MessagePack,
        compression: CompressionType::Gzip,
    });
    let client = KalamLinkClient::builder()
        .base_url(format!("http://{}", server.addr))
        .jwt_token(token.clone())
        .connection_options(options)
        .build()
        .expect("client");
    let mut live = tokio::time::timeout(
        WAIT,
        client.live_events_with_config(SubscriptionConfig::new("mp", NOTES)),
    )
    .await
    .expect("subscribed in time")
    .expect("subscribed");
    let mut snapshot = 0;
    loop {
        match next_event(&mut live).await {
            ChangeEvent::Ack { total_rows, .. } => assert_eq!(total_rows, 12),
            ChangeEvent::InitialDataBatch {
                rows,
                batch_control,
                ..
            } => {
                snapshot += rows.len();
                if format!("{:?}", batch_control.status) == "Ready" {
                    break;
                }
            }
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(snapshot, 12);
    insert(&server, &token, "n99", "over msgpack").await;
    match next_event(&mut live).await {
        ChangeEvent::Insert { rows, .. } => {
            assert_eq!(
                rows[0].get("BODY").map(|v| v.inner().clone()),
                Some(json!("over msgpack"))
            );
        }
        other => panic!("expected an insert, got {other:?}"),
    }
    client.disconnect().await;
    server.stop().await;
}
