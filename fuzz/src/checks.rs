//! What each fuzz target asserts about one input. Beyond "no panic, no hang": SQL that
//! parses prints back (`Display`) to SQL that parses to the same tree; a statement's own
//! text parses to the same statement; the line splitter gives the same lines however the
//! body is cut, and the lines a simple model gives; request decoders accept what they
//! decoded once it is re-encoded, and keep the values they were sent.
//!
//! Shared by the targets in `fuzz/fuzz_targets/` and by `tests/fuzz_regressions.rs`, which
//! replays every input under `fuzz/regressions/<target>/` in a normal `cargo test`.

use std::collections::HashMap;

use base64::Engine as _;
use bytes::Bytes;
use serde_json::Value as Json;
use sluice_engine::sql::ast::{Expr, Relation, SelectItem, Statement, TableElement};
use sluice_engine::sql::shape::statement_shape;
use sluice_engine::sql::{
    parse, parse_expression, parse_type, substitute_variables, EXPRESSION_DEPTH_MAX,
    SUBSTITUTED_SQL_BYTES_MAX,
};
use sluice_engine::types::SqlType;
use sluice_protocol::framing::line_splitter::LineSplitter;
use sluice_protocol::ksqldb::ingest::insert_request::InsertsStreamArgs;
use sluice_protocol::ksqldb::media_type::{negotiate, negotiate_old_query};
use sluice_protocol::ksqldb::query::query_request::{string_map, CloseQueryArgs, QueryStreamArgs};
use sluice_protocol::ksqldb::statement::ksql_request::KsqlArgs;
use sluice_protocol::rest_proxy::produce_request::{decode_produce, EmbeddedFormat};
use sluice_protocol::rest_proxy::records_response::RecordsQuery;
use sluice_protocol::rest_proxy::topic_metadata::CreateTopicRequest;
use sluice_protocol::rest_proxy::READ_RECORDS_MAX;

// ---- SQL ------------------------------------------------------------------------------

/// `sluice_engine::sql::parse`: statements, splitting, statement shapes, and the round
/// trips below.
pub fn sql_parse(data: &[u8]) {
    let Ok(sql) = std::str::from_utf8(data) else {
        return;
    };
    let shape = statement_shape(sql);
    let Ok(statements) = parse(sql) else {
        return;
    };
    // A kept pull plan is found by shape and answers with the shape's text, so the shape of
    // one statement must carry the parser's text, and that text the same literals. (Not
    // the same signature: the text ends in one `;` whatever the request had, and `X` and
    // `X;` are two shapes, each with its own kept plan.)
    if let (Some(shape), [parsed]) = (&shape, statements.as_slice()) {
        assert_eq!(shape.text, parsed.text, "shape text of {sql:?}");
        let again = statement_shape(&parsed.text).expect("the text keeps its literals");
        assert_eq!(again.text, parsed.text, "text of {sql:?}");
        assert_eq!(again.literals, shape.literals, "literals of {sql:?}");
    }
    for parsed in &statements {
        // The text ksqlDB echoes for a statement is itself that statement.
        let again = parse(&parsed.text)
            .unwrap_or_else(|e| panic!("statement text {:?} does not parse: {e}", parsed.text));
        assert_eq!(again.len(), 1, "text {:?}", parsed.text);
        assert_eq!(
            again[0].statement, parsed.statement,
            "text {:?}",
            parsed.text
        );
        assert_eq!(again[0].text, parsed.text);
        visit_statement(&parsed.statement, &mut |part| match part {
            Part::Expr(expr) => expression_round_trip(expr),
            Part::Type(ty) => type_round_trip(ty),
        });
    }
}

/// `sluice_engine::sql::parse_expression` and `Display` for expressions.
pub fn sql_expression(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(expr) = parse_expression(text) {
        expression_round_trip(&expr);
    }
}

/// `sluice_engine::sql::parse_type` and `Display` for types.
pub fn sql_type(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(ty) = parse_type(text) {
        type_round_trip(&ty);
    }
}

/// `sluice_engine::sql::substitute_variables`, then parsing its output. The input is
/// `name \0 value \0 name \0 value … \0 sql`.
pub fn sql_variables(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let mut parts: Vec<&str> = text.split('\0').collect();
    let sql = parts.pop().unwrap_or("");
    let vars: HashMap<String, String> = parts
        .chunks_exact(2)
        .map(|pair| (pair[0].to_string(), pair[1].to_string()))
        .collect();
    match substitute_variables(sql, &vars) {
        Ok(out) => {
            assert!(
                out.len() <= SUBSTITUTED_SQL_BYTES_MAX,
                "{} bytes",
                out.len()
            );
            if !sql.contains("${") {
                assert_eq!(out, sql, "nothing to substitute");
            }
            sql_parse(out.as_bytes());
        }
        Err(e) => {
            let message = e.to_string();
            assert!(
                message.starts_with("Illegal argument at Line: ")
                    || message.starts_with("SQL text after variable substitution is longer"),
                "unexpected error: {message}"
            );
        }
    }
}

/// Printing an expression and parsing the text gives the same expression. `Display` wraps
/// every operator in parentheses, so the text nests deeper than the tree: where that passes
/// the nesting limit, a depth error is the right answer.
fn expression_round_trip(expr: &Expr) {
    if !expression_prints_back(expr) {
        return;
    }
    let printed = expr.to_string();
    match parse_expression(&printed) {
        Ok(again) => assert_eq!(&again, expr, "printed as {printed:?}"),
        Err(e) => {
            let message = e.to_string();
            let deep = 2 * expr_depth(expr) + 2 >= EXPRESSION_DEPTH_MAX;
            assert!(
                deep && (message.contains("maximum depth") || message.contains("deeper than")),
                "{expr:?} printed as {printed:?} does not parse: {message}"
            );
        }
    }
}

fn type_round_trip(ty: &SqlType) {
    if !type_prints_back(ty) {
        return;
    }
    let printed = ty.to_string();
    match parse_type(&printed) {
        Ok(again) => assert_eq!(&again, ty, "printed as {printed:?}"),
        Err(e) => panic!("{ty:?} printed as {printed:?} does not parse: {e}"),
    }
}

/// Whether `SqlType`'s `Display`, which writes ksqlDB's wire text, reads back. ksqlDB prints
/// a struct field name in back quotes without doubling a back quote inside it (its
/// `FormatOptions.escape`), so a type with such a field name does not, in ksqlDB either.
fn type_prints_back(ty: &SqlType) -> bool {
    match ty {
        SqlType::Array(elem) => type_prints_back(elem),
        SqlType::Map(key, value) => type_prints_back(key) && type_prints_back(value),
        // ksqlDB prints an empty struct as `STRUCT<>`, which its lexer (and ours) reads as
        // STRUCT followed by `<>`: it does not read back either.
        SqlType::Struct(fields) if fields.is_empty() => false,
        SqlType::Struct(fields) => fields
            .iter()
            .all(|f| !f.name.contains('`') && type_prints_back(&f.ty)),
        _ => true,
    }
}

/// An expression prints back unless a CAST in it names a type that does not.
fn expression_prints_back(root: &Expr) -> bool {
    let mut stack = vec![root];
    while let Some(expr) = stack.pop() {
        if let Expr::Cast { ty, .. } = expr {
            if !type_prints_back(ty) {
                return false;
            }
        }
        children(expr, &mut |child| stack.push(child));
    }
    true
}

/// Depth of an expression tree (a leaf is 1), without recursion.
fn expr_depth(root: &Expr) -> usize {
    let mut max = 0;
    let mut stack = vec![(root, 1)];
    while let Some((expr, depth)) = stack.pop() {
        max = usize::max(max, depth);
        children(expr, &mut |child| stack.push((child, depth + 1)));
    }
    max
}

/// The children of `expr`. Deliberately the fuzzer's own walk, not the parser's
/// `for_each_child`: the depth and node bounds are checked against an independent count,
/// so a child the parser's walk forgets cannot hide an unbounded tree from both.
fn children<'e>(expr: &'e Expr, f: &mut impl FnMut(&'e Expr)) {
    match expr {
        Expr::Column { .. } | Expr::Literal(_) | Expr::Star => {}
        Expr::Unary { expr, .. } | Expr::IsNull { expr, .. } | Expr::Cast { expr, .. } => f(expr),
        Expr::Dereference { base, .. } => f(base),
        Expr::Lambda { body, .. } => f(body),
        Expr::Binary { left, right, .. } | Expr::IsDistinctFrom { left, right, .. } => {
            f(left);
            f(right);
        }
        Expr::Subscript { base, index } => {
            f(base);
            f(index);
        }
        Expr::Like { expr, pattern, .. } => {
            f(expr);
            f(pattern);
        }
        Expr::Between {
            expr, low, high, ..
        } => {
            f(expr);
            f(low);
            f(high);
        }
        Expr::InList { expr, list, .. } => {
            f(expr);
            list.iter().for_each(f);
        }
        Expr::Function { args, .. } | Expr::Array(args) => args.iter().for_each(f),
        Expr::Map(entries) => entries.iter().for_each(|(k, v)| {
            f(k);
            f(v);
        }),
        Expr::Struct(fields) => fields.iter().for_each(|(_, v)| f(v)),
        Expr::Case {
            operand,
            whens,
            else_result,
        } => {
            if let Some(operand) = operand {
                f(operand);
            }
            for (when, then) in whens {
                f(when);
                f(then);
            }
            if let Some(else_result) = else_result {
                f(else_result);
            }
        }
    }
}

/// A top-level expression or type in a statement: the parts `Display` can print.
enum Part<'a> {
    Expr(&'a Expr),
    Type(&'a SqlType),
}

fn visit_statement<'a>(statement: &'a Statement, f: &mut impl FnMut(Part<'a>)) {
    match statement {
        Statement::CreateSource(create) => visit_elements(&create.elements, f),
        Statement::CreateAsSelect(create) => visit_query(&create.query, f),
        Statement::InsertIntoSelect { query, .. } => visit_query(query, f),
        Statement::Query(query) => visit_query(query, f),
        Statement::InsertValues { values, .. } => values.iter().for_each(|v| f(Part::Expr(v))),
        Statement::CreateType { ty, .. } => f(Part::Type(ty)),
        Statement::Explain {
            target: sluice_engine::sql::ast::ExplainTarget::Statement(inner),
        } => visit_statement(inner, f),
        _ => {}
    }
}

fn visit_elements<'a>(elements: &'a [TableElement], f: &mut impl FnMut(Part<'a>)) {
    for element in elements {
        f(Part::Type(&element.ty));
    }
}

fn visit_query<'a>(query: &'a sluice_engine::sql::ast::Query, f: &mut impl FnMut(Part<'a>)) {
    for item in &query.select {
        match item {
            SelectItem::Expr { expr, .. } | SelectItem::StructAll(expr) => f(Part::Expr(expr)),
            SelectItem::Wildcard | SelectItem::QualifiedWildcard(_) => {}
        }
    }
    visit_relation(&query.from, f);
    let clauses = [&query.where_clause, &query.having];
    for expr in clauses.into_iter().flatten() {
        f(Part::Expr(expr));
    }
    for expr in query.group_by.iter().chain(&query.partition_by) {
        f(Part::Expr(expr));
    }
}

fn visit_relation<'a>(relation: &'a Relation, f: &mut impl FnMut(Part<'a>)) {
    if let Relation::Join {
        left, right, on, ..
    } = relation
    {
        visit_relation(left, f);
        visit_relation(right, f);
        f(Part::Expr(on));
    }
}

// ---- inserts-stream body ----------------------------------------------------------------

/// `LineSplitter`: the input is `line_bytes_max, cut count, cuts…, body`. The lines (or the
/// error) must not depend on where the body is cut, and must match a plain model.
pub fn line_splitter(data: &[u8]) {
    let [max_byte, cut_count, rest @ ..] = data else {
        return;
    };
    // Small limits exercise the too-long error; 0 means "far above any fuzz input".
    let line_bytes_max = match *max_byte {
        0 => usize::MAX,
        b => usize::from(b),
    };
    let cut_count = usize::from(*cut_count % 16).min(rest.len());
    let (cut_bytes, body) = rest.split_at(cut_count);
    let mut cuts: Vec<usize> = cut_bytes
        .iter()
        .map(|&b| usize::from(b) * body.len() / 255)
        .collect();
    cuts.sort_unstable();

    let whole = split(&[body], line_bytes_max);
    let mut chunks = Vec::new();
    let mut last = 0;
    for cut in cuts {
        chunks.push(&body[last..cut]);
        last = cut;
    }
    chunks.push(&body[last..]);
    assert_eq!(split(&chunks, line_bytes_max), whole, "cut into {chunks:?}");
    assert_eq!(whole, model_lines(body, line_bytes_max), "body {body:?}");
    // One byte at a time: the most pieces any body can arrive in.
    let bytes: Vec<&[u8]> = body.chunks(1).collect();
    assert_eq!(split(&bytes, line_bytes_max), whole, "byte by byte");
}

/// The lines, or `None` when some line is longer than the limit.
fn split(chunks: &[&[u8]], line_bytes_max: usize) -> Option<Vec<Bytes>> {
    let mut splitter = LineSplitter::new(line_bytes_max);
    let mut out = Vec::new();
    for chunk in chunks {
        splitter
            .push(Bytes::copy_from_slice(chunk), &mut out)
            .ok()?;
        assert!(splitter.pending_bytes() <= line_bytes_max);
    }
    splitter.finish(&mut out);
    Some(out)
}

/// Lines end at `\n`; one `\r` before it is dropped; blank lines are skipped; a last line
/// needs no `\n`; any line (with its `\r`) over the limit is an error.
fn model_lines(body: &[u8], line_bytes_max: usize) -> Option<Vec<Bytes>> {
    let mut lines = Vec::new();
    for line in body.split(|&b| b == b'\n') {
        if line.len() > line_bytes_max {
            return None;
        }
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if !line.iter().all(u8::is_ascii_whitespace) {
            lines.push(Bytes::copy_from_slice(line));
        }
    }
    Some(lines)
}

// ---- request bodies ---------------------------------------------------------------------

/// Every request body decoder of the protocol crate; the first byte picks one.
pub fn request_bodies(data: &[u8]) {
    let [selector, body @ ..] = data else {
        return;
    };
    match selector % 9 {
        0 => ksql_request(body),
        1 => query_stream_request(body),
        2 => close_query_request(body),
        3 => inserts_first_line(body),
        4 => produce_request(body, EmbeddedFormat::Binary),
        5 => produce_request(body, EmbeddedFormat::Json),
        6 => create_topic_request(body),
        7 => records_query(body),
        _ => media_types(body),
    }
}

/// `/ksql` and `/query` bodies.
fn ksql_request(body: &[u8]) {
    let Ok(args) = KsqlArgs::decode(body) else {
        return;
    };
    let _ = string_map(&args.streams_properties);
    let _ = string_map(&args.session_variables);
    let reencoded = serde_json::json!({
        "ksql": args.ksql,
        "streamsProperties": args.streams_properties,
        "sessionVariables": args.session_variables,
        "commandSequenceNumber": args.command_sequence_number,
    });
    let again = KsqlArgs::decode(reencoded.to_string().as_bytes()).expect("re-encoded body");
    assert_eq!(again.ksql, args.ksql);
    assert_same_json(&again.streams_properties, &args.streams_properties);
    assert_same_json(&again.session_variables, &args.session_variables);
    assert_eq!(again.command_sequence_number, args.command_sequence_number);
}

/// Equal maps, numbers within a rounding error: serde_json's default number parser is fast
/// but not correctly rounded, so a double it printed can read back one unit in the last
/// place away.
fn assert_same_json(a: &serde_json::Map<String, Json>, b: &serde_json::Map<String, Json>) {
    fn same(a: &Json, b: &Json) -> bool {
        match (a, b) {
            (Json::Number(x), Json::Number(y)) => match (x.as_f64(), y.as_f64()) {
                (Some(x), Some(y)) if x.is_finite() && y.is_finite() && x != y => {
                    (x - y).abs() <= 4.0 * f64::EPSILON * x.abs().max(y.abs())
                }
                _ => x == y,
            },
            (Json::Array(x), Json::Array(y)) => {
                x.len() == y.len() && x.iter().zip(y).all(|(x, y)| same(x, y))
            }
            (Json::Object(x), Json::Object(y)) => {
                x.len() == y.len() && x.iter().all(|(k, v)| y.get(k).is_some_and(|w| same(v, w)))
            }
            _ => a == b,
        }
    }
    assert!(
        a.len() == b.len() && a.iter().all(|(k, v)| b.get(k).is_some_and(|w| same(v, w))),
        "{a:?} != {b:?}"
    );
}

fn query_stream_request(body: &[u8]) {
    let Ok(args) = QueryStreamArgs::decode(body) else {
        return;
    };
    let props = string_map(&args.properties);
    assert_eq!(props.len(), args.properties.len());
    let reencoded = serde_json::json!({
        "sql": args.sql,
        "properties": args.properties,
        "sessionVariables": args.session_variables,
    });
    let again = QueryStreamArgs::decode(reencoded.to_string().as_bytes()).expect("re-encoded body");
    assert_eq!(again.sql, args.sql);
    assert_same_json(&again.properties, &args.properties);
    assert_same_json(&again.session_variables, &args.session_variables);
}

fn close_query_request(body: &[u8]) {
    let Ok(args) = CloseQueryArgs::decode(body) else {
        return;
    };
    let reencoded = serde_json::json!({ "queryId": args.query_id });
    let again = CloseQueryArgs::decode(reencoded.to_string().as_bytes()).expect("re-encoded body");
    assert_eq!(again.query_id, args.query_id);
}

/// The first line of an inserts-stream body: `{"target": …, "properties": …}`.
fn inserts_first_line(body: &[u8]) {
    let Ok(args) = InsertsStreamArgs::decode(body) else {
        return;
    };
    let name = args.target_name();
    let trimmed = args.target.trim();
    let quoted = ['`', '"']
        .iter()
        .any(|&q| trimmed.len() >= 2 && trimmed.starts_with(q) && trimmed.ends_with(q));
    if quoted {
        assert_eq!(name, trimmed[1..trimmed.len() - 1]);
    } else {
        assert_eq!(name, trimmed.to_uppercase());
    }
}

/// `POST /topics/{name}` bodies: each record keeps its partition, timestamp (or the
/// server's clock) and headers, and its key and value are the bytes sent.
fn produce_request(body: &[u8], format: EmbeddedFormat) {
    const NOW_MS: i64 = 1_609_459_200_000;
    let Ok(records) = decode_produce(body, format, NOW_MS) else {
        return;
    };
    // serde_json skips an unknown field (or object key) without checking that its numbers
    // fit a double or that its `\u` escapes pair their surrogates, which reading the body as
    // a `Value` does check; such a body is still JSON (RFC 8259 leaves number range and
    // unpaired surrogates to implementations, §6 and §8.2), and what was skipped is unused.
    // A leading surrogate followed by anything but another `\u` escape is worded "unexpected
    // end of hex escape"; skipping checks that every escape has four hex digits, so that
    // wording cannot hide a malformed escape here.
    let sent: Json = match serde_json::from_slice(body) {
        Ok(sent) => sent,
        Err(e) if e.to_string().starts_with("number out of range") => return,
        Err(e) if e.to_string().contains("surrogate") => return,
        Err(e) if e.to_string().starts_with("unexpected end of hex escape") => return,
        Err(e) => panic!("a decoded body is not JSON: {e}"),
    };
    let sent = sent["records"].as_array().expect("records is an array");
    assert_eq!(records.len(), sent.len());
    for (decoded, sent) in records.iter().zip(sent) {
        let field = |name: &str| sent.get(name).filter(|v| !v.is_null());
        assert_eq!(
            decoded.partition.map(u64::from),
            field("partition").and_then(Json::as_u64)
        );
        assert_eq!(
            decoded.record.timestamp_ms,
            field("timestamp").and_then(Json::as_i64).unwrap_or(NOW_MS)
        );
        let headers = field("headers").and_then(Json::as_array);
        assert_eq!(
            decoded.record.headers.len(),
            headers.map_or(0, Vec::len),
            "headers"
        );
        for (name, bytes) in [
            ("key", &decoded.record.key),
            ("value", &decoded.record.value),
        ] {
            let Some(sent) = field(name) else {
                assert_eq!(bytes, &None, "{name} absent or null");
                continue;
            };
            let bytes = bytes.as_ref().expect("a present key or value has bytes");
            match format {
                EmbeddedFormat::Binary => {
                    let text = base64::engine::general_purpose::STANDARD.encode(bytes);
                    assert_eq!(Some(text.as_str()), sent.as_str(), "{name}");
                }
                // The stored bytes are the compact text of the same JSON value.
                EmbeddedFormat::Json => {
                    let stored: Json =
                        serde_json::from_slice(bytes).expect("stored JSON text parses");
                    assert_eq!(&stored, sent, "{name}");
                }
            }
        }
    }
}

fn create_topic_request(body: &[u8]) {
    let Ok(request) = CreateTopicRequest::decode(body) else {
        return;
    };
    let reencoded = serde_json::json!({ "name": request.name, "partitions": request.partitions });
    let again =
        CreateTopicRequest::decode(reencoded.to_string().as_bytes()).expect("re-encoded body");
    assert_eq!(again, request);
}

/// The query string of `GET /topics/{name}/partitions/{p}/records`.
fn records_query(body: &[u8]) {
    let Ok(query) = std::str::from_utf8(body) else {
        return;
    };
    if let Ok(parsed) = RecordsQuery::parse(Some(query)) {
        assert!(parsed.limit <= READ_RECORDS_MAX);
    }
}

/// `Content-Type` and `Accept` headers.
fn media_types(body: &[u8]) {
    let Ok(header) = std::str::from_utf8(body) else {
        return;
    };
    let _ = EmbeddedFormat::from_content_type(Some(header));
    let _ = negotiate(Some(header), true);
    let _ = negotiate(Some(header), false);
    let _ = negotiate_old_query(Some(header));
}
