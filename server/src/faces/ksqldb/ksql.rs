//! `POST /ksql`: statements in, entities out.

use http::StatusCode;
use hyper::body::Incoming;
use sluice_engine::{Engine, KsqlError};
use sluice_protocol::ksqldb::errors::{
    error_code, protocol_error, statement_error, statement_message, Endpoint, MessageStyle,
};
use sluice_protocol::ksqldb::query::query_request::string_map;
use sluice_protocol::ksqldb::statement::entities::render_entities;
use sluice_protocol::ksqldb::statement::ksql_request::KsqlArgs;
use sluice_protocol::limits::REQUEST_BODY_BYTES_MAX;

use crate::body::frames_in::read_to_limit;
use crate::response::{error, json, read_error, HttpResponse};

pub async fn handle(engine: &Engine, mut body: Incoming) -> HttpResponse {
    let bytes = match read_to_limit(&mut body, REQUEST_BODY_BYTES_MAX).await {
        Ok(b) => b,
        Err(e) => return read_error(e),
    };
    let args = match KsqlArgs::decode(&bytes) {
        Ok(a) => a,
        Err(e) => return error(protocol_error(&e)),
    };
    let vars = string_map(&args.session_variables);
    let props = string_map(&args.streams_properties);
    match engine.execute(&args.ksql, &vars, &props).await {
        Ok(results) => match render_entities(&results) {
            Ok(body) => json(StatusCode::OK, body),
            Err(e) => error(protocol_error(&e)),
        },
        Err(e) => error(ksql_error(&e)),
    }
}

/// The one mapping from a failed `/ksql` request to ksqlDB's `statement_error`.
fn ksql_error(e: &KsqlError) -> sluice_protocol::ksqldb::errors::ErrorResponse {
    let message = statement_message(&e.error, &e.statement_text, MessageStyle::Raw);
    let error_code = error_code(e.error.code(), Endpoint::Statements);
    // Entities of the statements applied before the failing one; if even they are too
    // large to send, the error goes without them.
    let entities = render_entities(&e.entities).unwrap_or_else(|_| b"[]".to_vec());
    statement_error(error_code, &message, &e.statement_text, &entities)
}
