//! `GET /info`, `/healthcheck`, `/status`, and `/` (redirect to `/info`; browsers get the
//! console instead, see `console`).

use http::{header, Response, StatusCode};
use sluice_engine::Engine;
use sluice_protocol::ksqldb::info;

use crate::body::frames_out::ResponseBody;
use crate::response::{json, HttpResponse};

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
