//! `POST /close-query {"queryId"}`: ends a push query from any connection.

use http::StatusCode;
use hyper::body::Incoming;
use sluice_engine::Engine;
use sluice_protocol::ksqldb::errors::{code, protocol_error, ErrorResponse};
use sluice_protocol::ksqldb::query::query_request::CloseQueryArgs;
use sluice_protocol::limits::REQUEST_BODY_BYTES_MAX;

use crate::body::frames_in::read_to_limit;
use crate::response::{error, json, read_error, HttpResponse};

pub async fn handle(engine: &Engine, mut body: Incoming) -> HttpResponse {
    let bytes = match read_to_limit(&mut body, REQUEST_BODY_BYTES_MAX).await {
        Ok(b) => b,
        Err(e) => return read_error(e),
    };
    let args = match CloseQueryArgs::decode(&bytes) {
        Ok(a) => a,
        Err(e) => return error(protocol_error(&e)),
    };
    if engine.close_query(&args.query_id) {
        json(StatusCode::OK, Vec::new())
    } else {
        error(ErrorResponse::generic(
            code::BAD_REQUEST,
            &format!("No query with id {}", args.query_id),
        ))
    }
}
