//! The HTTP responses every face builds: JSON bodies, error bodies, streaming bodies.

use bytes::Bytes;
use http::{header, Response, StatusCode};
use sluice_protocol::ksqldb::errors::{protocol_error, ErrorResponse};

use crate::body::frames_in::ReadError;
use crate::body::frames_out::ResponseBody;

pub type HttpResponse = Response<ResponseBody>;

pub const APPLICATION_JSON: &str = "application/json";

pub fn json(status: StatusCode, body: impl Into<Bytes>) -> HttpResponse {
    Response::builder()
        .status(status)
        .header(header::CONTENT_TYPE, APPLICATION_JSON)
        .body(ResponseBody::full(body))
        .expect("static status and header are valid")
}

pub fn error(err: ErrorResponse) -> HttpResponse {
    let status = StatusCode::from_u16(err.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    json(status, err.body)
}

/// `response` with one more header (a value that is not a valid header is a bug).
pub fn with_header(
    mut response: HttpResponse,
    name: header::HeaderName,
    value: &str,
) -> HttpResponse {
    let value =
        http::HeaderValue::from_str(value).expect("header values built here are visible ASCII");
    response.headers_mut().insert(name, value);
    response
}

pub fn read_error(err: ReadError) -> HttpResponse {
    match err {
        ReadError::TooLarge(e) => error(protocol_error(&e)),
        // Nobody is left to read it, but hyper still wants a response.
        ReadError::Disconnected => error(ErrorResponse::generic(
            sluice_protocol::ksqldb::errors::code::BAD_REQUEST,
            "The request body was cut off",
        )),
    }
}

/// 406 with no body, as ksqlDB answers an Accept it cannot produce.
pub fn not_acceptable() -> HttpResponse {
    Response::builder()
        .status(StatusCode::NOT_ACCEPTABLE)
        .body(ResponseBody::empty())
        .expect("static response is valid")
}

pub fn streaming(content_type: &str, body: ResponseBody) -> HttpResponse {
    Response::builder()
        .status(StatusCode::OK)
        .header(header::CONTENT_TYPE, content_type)
        .body(body)
        .expect("static status and header are valid")
}
