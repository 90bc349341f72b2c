//! `GET /queries/{id}/progress`: where a persistent query stands (tests and the conformance
//! runner wait on `caughtUp`).

use http::StatusCode;
use sluice_engine::Engine;
use sluice_protocol::ksqldb::errors::{code, ErrorResponse};
use sluice_protocol::ksqldb::query::query_progress::render_query_progress;

use crate::response::{error, json, HttpResponse};

const PREFIX: &str = "/queries/";
const SUFFIX: &str = "/progress";

/// True for `/queries/{id}/progress` with a non-empty id.
pub fn matches(path: &str) -> bool {
    query_id(path).is_some()
}

fn query_id(path: &str) -> Option<&str> {
    let id = path.strip_prefix(PREFIX)?.strip_suffix(SUFFIX)?;
    (!id.is_empty() && !id.contains('/')).then_some(id)
}

pub fn handle(engine: &Engine, path: &str) -> HttpResponse {
    let id = query_id(path).unwrap_or_default();
    match engine.query_progress(id) {
        Some(progress) => json(StatusCode::OK, render_query_progress(&progress)),
        None => error(ErrorResponse::generic(
            code::NOT_FOUND,
            &format!("No persistent query with id {id}"),
        )),
    }
}
