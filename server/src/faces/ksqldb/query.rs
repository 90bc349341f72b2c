//! The old `POST /query` endpoint (ksqldb-api.md §1, §6): the `/ksql` body, answered with
//! the StreamedRow array over HTTP/1.1, or like `/query-stream` for the delimited type.
//!
//! ```text
//!  Accept ─► StreamedRows (HTTP/1.1 only) | Delimited | Protobuf ─► body (ksql, streamsProperties)
//!        ─► query_stream::respond (query or PRINT) ─► chunks
//! ```

use std::sync::Arc;

use http::{StatusCode, Version};
use hyper::body::Incoming;
use sluice_engine::Engine;
use sluice_protocol::ksqldb::errors::{protocol_error, ErrorResponse, MessageStyle};
use sluice_protocol::ksqldb::media_type::{negotiate_old_query, OldQueryFormat, ResultFormat};
use sluice_protocol::ksqldb::query::query_request::string_map;
use sluice_protocol::ksqldb::statement::ksql_request::KsqlArgs;
use sluice_protocol::limits::REQUEST_BODY_BYTES_MAX;

use super::query_stream::{respond, Framing, Reply};
use crate::body::frames_in::read_to_limit;
use crate::metrics::Metrics;
use crate::push_quota::PushQuota;
use crate::response::{error, json, not_acceptable, read_error, HttpResponse};

/// ksqlDB's answer to the StreamedRow `/query` over HTTP/2.
pub const HTTP2_REFUSED: &str = "The /query endpoint is not available using HTTP2";

/// The error code Sluice sends with that 405 (the HTTP status × 100, as for every
/// ksqlDB error code).
pub const METHOD_NOT_ALLOWED_CODE: u32 = 40500;

pub async fn handle(
    engine: &Arc<Engine>,
    metrics: &Arc<Metrics>,
    push_quota: PushQuota,
    version: Version,
    accept: Option<&str>,
    mut body: Incoming,
) -> HttpResponse {
    let Some(format) = negotiate_old_query(accept) else {
        return not_acceptable();
    };
    if matches!(format, OldQueryFormat::StreamedRows { .. }) && version == Version::HTTP_2 {
        return json(
            StatusCode::METHOD_NOT_ALLOWED,
            ErrorResponse::generic(METHOD_NOT_ALLOWED_CODE, HTTP2_REFUSED).body,
        );
    }
    let bytes = match read_to_limit(&mut body, REQUEST_BODY_BYTES_MAX).await {
        Ok(b) => b,
        Err(e) => return read_error(e),
    };
    let args = match KsqlArgs::decode(&bytes) {
        Ok(a) => a,
        Err(e) => return error(protocol_error(&e)),
    };
    // `streamsProperties` carries `ksql.streams.auto.offset.reset` (or the bare key).
    let properties = string_map(&args.streams_properties);
    let variables = string_map(&args.session_variables);
    let (framing, content_type) = match format {
        OldQueryFormat::StreamedRows { content_type } => (Framing::OldQuery, content_type),
        OldQueryFormat::Delimited => (
            Framing::QueryStream(ResultFormat::Delimited),
            ResultFormat::Delimited.content_type(),
        ),
        OldQueryFormat::Protobuf => (
            Framing::QueryStream(ResultFormat::KsqlV1Protobuf),
            ResultFormat::KsqlV1Protobuf.content_type(),
        ),
    };
    let reply = Reply {
        framing,
        content_type,
        style: MessageStyle::CauseChain,
    };
    respond(
        engine,
        (metrics, &push_quota),
        reply,
        &args.ksql,
        &properties,
        &variables,
    )
    .await
}
