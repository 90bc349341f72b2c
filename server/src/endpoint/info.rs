//! `GET /info`, `/healthcheck`, `/status`, and `/` (redirect to `/info`; browsers get the
//! console instead, see `console`).

use http::{header, Response, StatusCode};
use sluice_engine::Engine;
use sluice_protocol::ksqldb::info;

use super::{json, HttpResponse};
use crate::body::frames_out::ResponseBody;

pub fn info() -> HttpResponse {
    json(StatusCode::OK, info::info_body())
}

pub fn healthcheck() -> HttpResponse {
    json(StatusCode::OK, info::healthcheck_body(true))
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
