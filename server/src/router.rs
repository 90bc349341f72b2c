//! Routes a request to `/metrics` or to its face: the web console, the REST-proxy face, or
//! ksqlDB's.

use std::sync::Arc;

use http::{header, Method, Request, Version};
use hyper::body::Incoming;
use sluice_engine::Engine;
use sluice_protocol::ksqldb::errors::{code, ErrorResponse};

use crate::faces::{console, ksqldb, rest_proxy};
use crate::metrics::{scrape, Metrics};
use crate::response::{error, HttpResponse};

pub async fn route(
    engine: Arc<Engine>,
    metrics: Arc<Metrics>,
    req: Request<Incoming>,
) -> HttpResponse {
    let (parts, body) = req.into_parts();
    if parts.version == Version::HTTP_10 {
        return error(ErrorResponse::generic(
            code::BAD_REQUEST,
            "HTTP/1.0 is not supported; use HTTP/1.1 or HTTP/2",
        ));
    }
    let path = parts.uri.path();
    if path == "/metrics" && parts.method == Method::GET {
        let accept = parts
            .headers
            .get(header::ACCEPT)
            .and_then(|v| v.to_str().ok());
        return scrape::handle(&engine, &metrics, accept);
    }
    if let Some(response) = console::handle(&parts.method, path, &parts.headers) {
        return response;
    }
    if rest_proxy::claims(path) {
        let content_type = parts
            .headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok());
        return rest_proxy::topics::handle(&engine, &parts.method, &parts.uri, content_type, body)
            .await;
    }
    ksqldb::handle(&engine, &metrics, &parts, body).await
}
