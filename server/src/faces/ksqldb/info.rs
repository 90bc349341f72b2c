//! `GET /info`, `/healthcheck`, `/status` (and `/status/{command id}`), and `/` (redirect to `/info`; browsers get the
//! console instead, see `console`).

use http::{header, Response, StatusCode};
use percent_encoding::percent_decode_str;
use sluice_engine::Engine;
use sluice_protocol::ksqldb::errors::{code, ErrorResponse};
use sluice_protocol::ksqldb::info;

use crate::body::frames_out::ResponseBody;
use crate::response::{error, json, HttpResponse};

pub fn info() -> HttpResponse {
    json(StatusCode::OK, info::info_body())
}

/// 200 while the engine can write and holds no damaged data; 503 otherwise, as ksqlDB
/// answers when a check fails, so load balancers stop routing writes here.
pub fn healthcheck(engine: &Engine) -> HttpResponse {
    let health = engine.health();
    if !health.is_healthy() {
        tracing::warn!(?health, "healthcheck: unhealthy");
    }
    let status = match health.is_healthy() {
        true => StatusCode::OK,
        false => StatusCode::SERVICE_UNAVAILABLE,
    };
    json(
        status,
        info::healthcheck_body(health.is_healthy(), health.can_write()),
    )
}

/// `GET /status/{type}/{entity}/{action}`: one command's status, as ksqlDB's
/// `StatusResource` answers; `rest` is the path after `/status/`. Clients send the entity
/// as the command id spells it, with backticks: percent-encoded (`%60`) they reach us; a
/// raw backtick is not a valid path character and the HTTP parser refuses it first.
pub fn command_status(engine: &Engine, rest: &str) -> HttpResponse {
    let command_id = percent_decode_str(rest).decode_utf8_lossy();
    match engine.command_status(&command_id) {
        Some(status) => json(StatusCode::OK, info::command_status_body(&status)),
        None => error(ErrorResponse::generic(code::NOT_FOUND, "Command not found")),
    }
}

pub fn status(engine: &Engine) -> HttpResponse {
    json(
        StatusCode::OK,
        info::status_body(&engine.command_statuses()),
    )
}

pub fn root() -> HttpResponse {
    Response::builder()
        .status(StatusCode::TEMPORARY_REDIRECT)
        .header(header::LOCATION, "/info")
        .body(ResponseBody::empty())
        .expect("static response is valid")
}
