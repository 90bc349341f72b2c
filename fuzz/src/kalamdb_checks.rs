//! What the `kalamdb_topics` fuzz target asserts: KalamDB's topic statements and the
//! consume/ack bodies never panic, stay inside their limits, and what decodes once
//! re-encodes to the same value (statements print back to SQL that parses to the same
//! statement); a stored message's change kind is taken out of its value exactly (the
//! value is the payload with the kind's field appended, or untouched).
//!
//! And what `kalamdb_live` asserts: `/v1/ws` client messages and live-query SQL never
//! panic, a parsed filter stays in its place when the server embeds it, and USER-table
//! scoping never panics and never lets a read or write of the table through unscoped.

use sluice_protocol::kalamdb::topic_statement::ChangeOp;
use sluice_protocol::kalamdb::topic_statement::{
    parse_statement, valid_topic_name, Start, TopicStatement, CONSUME_LIMIT_MAX,
    GROUP_NAME_CHARS_MAX, ROUTE_FILTER_BYTES_MAX,
};
use sluice_protocol::kalamdb::topics::{split_op, AckRequest, ConsumeRequest, OP_FIELD};

/// The first byte picks the decoder: a topic statement, a consume body, an ack body, a
/// stored message's value.
pub fn kalamdb_topics(data: &[u8]) {
    let [selector, body @ ..] = data else {
        return;
    };
    match selector % 4 {
        0 => statement(&String::from_utf8_lossy(body)),
        1 => consume_request(body),
        2 => ack_request(body),
        _ => message(body),
    }
}

/// `split_op` either leaves a value as it is (an insert) or takes off exactly the field a
/// route appended: putting it back gives the stored bytes.
fn message(value: &[u8]) {
    let (payload, op) = split_op(Some(value));
    if payload.as_ref() == value {
        assert_eq!(op, ChangeOp::Insert);
        return;
    }
    let open = payload.len() - 1;
    assert_eq!(payload.last(), Some(&b'}'), "{payload:?}");
    let mut rebuilt = payload[..open].to_vec();
    if payload.as_ref() != b"{}" {
        rebuilt.push(b',');
    }
    rebuilt.extend_from_slice(format!("\"{OP_FIELD}\":\"{}\"}}", op.sql_name()).as_bytes());
    assert_eq!(rebuilt, value);
}

fn statement(sql: &str) {
    let Some(Ok(parsed)) = parse_statement(sql, None) else {
        return;
    };
    match &parsed {
        TopicStatement::Create { topic, .. }
        | TopicStatement::Drop { topic, .. }
        | TopicStatement::Clear { topic } => assert!(valid_topic_name(topic), "{topic}"),
        TopicStatement::AddSource(route) => {
            assert!(valid_topic_name(&route.topic) && valid_topic_name(&route.table));
            if let Some(filter) = &route.filter {
                // A `;` or a comment opener may be data inside a string literal (the
                // filter re-quotes strings); outside one it could cut the route's query.
                let code = outside_strings(filter);
                assert!(filter.len() <= ROUTE_FILTER_BYTES_MAX, "{filter}");
                assert!(
                    !code.contains(';') && !code.contains("--") && !code.contains("/*"),
                    "{filter}"
                );
            }
        }
        TopicStatement::Consume { limit, group, .. } => {
            assert!((1..=CONSUME_LIMIT_MAX).contains(limit));
            assert!(group
                .as_ref()
                .is_none_or(|g| g.chars().count() <= GROUP_NAME_CHARS_MAX));
        }
        TopicStatement::Ack { group, .. } => {
            assert!(group.chars().count() <= GROUP_NAME_CHARS_MAX)
        }
    }
    let printed = parsed.to_string();
    assert_eq!(
        parse_statement(&printed, None),
        Some(Ok(parsed)),
        "{sql:?} printed as {printed:?}"
    );
}

fn consume_request(body: &[u8]) {
    let Ok(request) = ConsumeRequest::decode(body) else {
        return;
    };
    assert!((1..=CONSUME_LIMIT_MAX).contains(&request.limit));
    let start = match request.start {
        Start::Latest => serde_json::json!("Latest"),
        Start::Earliest => serde_json::json!("Earliest"),
        Start::Offset(o) => serde_json::json!({"Offset": o}),
    };
    let again = serde_json::json!({
        "topic_id": request.topic_id,
        "group_id": request.group_id,
        "start": start,
        "limit": request.limit,
        "partition_id": request.partition_id,
    });
    let decoded = ConsumeRequest::decode(again.to_string().as_bytes()).expect("re-encoded");
    assert_eq!(decoded, request);
}

fn ack_request(body: &[u8]) {
    let Ok(request) = AckRequest::decode(body) else {
        return;
    };
    let again = serde_json::json!({
        "topic_id": request.topic_id,
        "group_id": request.group_id,
        "partition_id": request.partition_id,
        "upto_offset": request.upto_offset,
    });
    let decoded = AckRequest::decode(again.to_string().as_bytes()).expect("re-encoded");
    assert_eq!(decoded, request);
}

// ---- KalamDB live-query messages ---------------------------------------------------------

/// `/v1/ws` client messages (selector byte even) or a live query's SQL (odd). A parsed live
/// query's filter is embedded by the server in SQL of its own, so it must stay in its place:
/// put back after `WHERE`, and in parentheses, it parses to the same filter.
/// USER-table scoping never panics, and a statement it lets through that names the USER
/// table carries the owner's predicate or value (`user_scope`'s property test checks
/// where the predicate lands).
fn user_scope(sql: &str) {
    use sluice_protocol::kalamdb::user_scope::{execute_as, scope_statement, PerUserTable};
    let _ = execute_as(sql);
    // A STREAM table with a TTL: its SELECTs carry the TTL's bound too.
    let is_notes = |t: &str| {
        (t == "app.notes").then_some(PerUserTable {
            visible_since_ms: Some(1000),
        })
    };
    if let Ok(scoped) = scope_statement(sql, &is_notes, "alice") {
        if scoped.user_table
            && !scoped
                .sql
                .trim_start()
                .get(..4)
                .is_some_and(|w| w.eq_ignore_ascii_case("DESC") || w.eq_ignore_ascii_case("DROP"))
        {
            assert!(scoped.sql.contains("'alice'"), "{sql} → {}", scoped.sql);
            let select = scoped.sql.trim_start().get(..6);
            if select.is_some_and(|w| w.eq_ignore_ascii_case("SELECT")) {
                assert!(
                    scoped.sql.contains("ROWTIME >= 1000"),
                    "{sql} → {}",
                    scoped.sql
                );
            }
        }
    }
}

pub fn kalamdb_live(data: &[u8]) {
    use sluice_protocol::kalamdb::live::{ClientMessage, LiveSql};
    let [selector, body @ ..] = data else {
        return;
    };
    if selector % 3 == 0 {
        msgpack_client_message(body);
    }
    let Ok(text) = std::str::from_utf8(body) else {
        return;
    };
    if selector % 3 == 2 {
        user_scope(text);
        return;
    }
    if selector % 3 == 0 {
        if let Ok(ClientMessage::Subscribe { subscription }) = ClientMessage::decode(text) {
            let _ = LiveSql::parse(&subscription.sql);
            let _ = subscription.options.batch_rows();
        }
        return;
    }
    let Ok(query) = LiveSql::parse(text) else {
        return;
    };
    let Some(filter) = query.filter else {
        return;
    };
    for embedded in [filter.clone(), format!("({filter})")] {
        let again = LiveSql::parse(&format!("SELECT * FROM x.y WHERE {embedded}"))
            .expect("a filter that parsed once parses again");
        assert_eq!(again.filter.as_deref(), Some(embedded.as_str()));
    }
}

/// A binary `/v1/ws` message under MessagePack: whatever the bytes, decoding never panics;
/// what decodes is JSON the text path reads, and the server's own MessagePack frame of that
/// JSON decodes back to it (numbers exactly, -0.0 included).
fn msgpack_client_message(bytes: &[u8]) {
    use sluice_protocol::kalamdb::live::ClientMessage;
    use sluice_protocol::kalamdb::wire::{Compression, Frame, Serialization, WireProtocol};
    let msgpack = WireProtocol {
        serialization: Serialization::Msgpack,
        compression: Compression::None,
    };
    let Ok(json) = msgpack.decode_binary(bytes) else {
        return;
    };
    if ClientMessage::decode(&json).is_err()
        && serde_json::from_str::<serde_json::Value>(&json).is_err()
    {
        // Deeper than serde_json's nesting limit: the session refuses it as it refuses
        // such text; the server's own messages never nest that deep.
        return;
    }
    let Frame::Binary(frame) = msgpack.encode(json.clone()) else {
        panic!("MessagePack frames are binary");
    };
    let again = msgpack
        .decode_binary(&frame)
        .expect("our own frame decodes");
    assert_eq!(again, json, "a MessagePack round trip changed the message");
}

/// `sql` with each single-quoted string literal (`''` is a quote inside one) replaced by a
/// space, so text on either side of a literal never runs together; an unclosed literal
/// runs to the end.
fn outside_strings(sql: &str) -> String {
    let mut out = String::with_capacity(sql.len());
    let mut chars = sql.chars().peekable();
    let mut quoted = false;
    while let Some(c) = chars.next() {
        match (quoted, c) {
            (false, '\'') => {
                quoted = true;
                out.push(' ');
            }
            (true, '\'') if chars.peek() == Some(&'\'') => {
                chars.next();
            }
            (true, '\'') => quoted = false,
            (false, c) => out.push(c),
            (true, _) => {}
        }
    }
    out
}
