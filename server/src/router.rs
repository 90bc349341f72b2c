//! Routes a request to its endpoint by method and path.

use std::sync::Arc;

use http::{header, Method, Request, StatusCode, Version};
use hyper::body::Incoming;
use sluice_engine::Engine;
use sluice_protocol::ksqldb::errors::{code, ErrorResponse};

use crate::endpoint::{self, error, HttpResponse};

pub async fn route(engine: Arc<Engine>, req: Request<Incoming>) -> HttpResponse {
    let (parts, body) = req.into_parts();
    if parts.version == Version::HTTP_10 {
        return error(ErrorResponse::generic(
            code::BAD_REQUEST,
            "HTTP/1.0 is not supported; use HTTP/1.1 or HTTP/2",
        ));
    }
    let accept = parts
        .headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let accept = accept.as_deref();
    let path = parts.uri.path();
    if let Some(response) = endpoint::console::handle(&parts.method, path, &parts.headers) {
        return response;
    }
    if path == "/topics" || path.starts_with("/topics/") {
        let content_type = parts
            .headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok());
        return endpoint::topics::handle(&engine, &parts.method, &parts.uri, content_type, body)
            .await;
    }
    match (&parts.method, path) {
        (&Method::POST, "/inserts-stream" | "/insert-stream") => {
            endpoint::inserts_stream::handle(&engine, accept, body).await
        }
        (&Method::POST, "/query-stream") => {
            endpoint::query_stream::handle(&engine, accept, body).await
        }
        (&Method::POST, "/query") => {
            endpoint::query::handle(&engine, parts.version, accept, body).await
        }
        (&Method::POST, "/close-query") => endpoint::close_query::handle(&engine, body).await,
        (&Method::POST, "/ksql") => endpoint::ksql::handle(&engine, body).await,
        (&Method::GET, "/info") => endpoint::info::info(),
        (&Method::GET, "/healthcheck") => endpoint::info::healthcheck(&engine),
        (&Method::GET, "/status") => endpoint::info::status(&engine),
        (&Method::GET, "/") => endpoint::info::root(),
        (&Method::GET, path) if endpoint::query_progress::matches(path) => {
            endpoint::query_progress::handle(&engine, path)
        }
        (
            _,
            "/inserts-stream" | "/insert-stream" | "/query-stream" | "/query" | "/close-query"
            | "/ksql" | "/info" | "/healthcheck" | "/status",
        ) => endpoint::json(
            StatusCode::METHOD_NOT_ALLOWED,
            ErrorResponse::generic(40500, "Method not allowed").body,
        ),
        (_, path) => error(ErrorResponse::generic(
            code::NOT_FOUND,
            &format!("Path not found: {path}"),
        )),
    }
}
