//! Routes a request to `/metrics` or to its face: the web console, the REST proxy,
//! DeltaStream, Roe, Foundry, KalamDB, or ksqlDB. Each face's non-public routes pass the auth gate first, and a refusal is answered
//! in that face's own shape.

use std::sync::Arc;

use http::{header, Method, Request, Version};
use hyper::body::Incoming;
use sluice_protocol::ksqldb::errors::{code, ErrorResponse};

use crate::auth::CredentialKind;
use crate::faces::{console, deltastream, foundry, kalamdb, ksqldb, rest_proxy, roe};
use crate::metrics::scrape;
use crate::response::{error, HttpResponse};
use crate::services::Services;

pub async fn route(services: Arc<Services>, req: Request<Incoming>) -> HttpResponse {
    let (parts, body) = req.into_parts();
    if parts.version == Version::HTTP_10 {
        return error(ErrorResponse::generic(
            code::BAD_REQUEST,
            "HTTP/1.0 is not supported; use HTTP/1.1 or HTTP/2",
        ));
    }
    let (engine, auth) = (&services.engine, &services.auth);
    let path = parts.uri.path();
    if rest_proxy::claims(path) {
        if let Err(refusal) = auth.admit(CredentialKind::Basic, &parts.headers) {
            return rest_proxy::auth::refuse(refusal, auth.realm());
        }
        let content_type = parts
            .headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok());
        return rest_proxy::topics::handle(engine, &parts.method, &parts.uri, content_type, body)
            .await;
    }
    if deltastream::claims(path) {
        return deltastream::handle(&services, &parts, body).await;
    }
    if roe::claims(path) {
        return roe::handle(&services, &parts, body).await;
    }
    if foundry::claims(path) {
        return foundry::handle(&services, &parts, body).await;
    }
    if path == kalamdb::ws::WS_PATH {
        return kalamdb::ws::handle(&services, parts).await;
    }
    if kalamdb::claims(path) {
        return kalamdb::handle(&services, &parts, body).await;
    }
    // The console and ksqlDB's API share ksqlDB's Basic authentication: the console's pages
    // call that API with the credentials the browser asked for.
    if !ksqldb::auth::is_public(&parts.method, path) {
        if let Err(refusal) = auth.admit(CredentialKind::Basic, &parts.headers) {
            return ksqldb::auth::refuse(refusal, auth.realm());
        }
    }
    // Metrics name streams and queries, so with auth on they need ksqlDB's credentials too.
    if path == "/metrics" && parts.method == Method::GET {
        let accept = parts
            .headers
            .get(header::ACCEPT)
            .and_then(|v| v.to_str().ok());
        return scrape::handle(engine, &services.metrics, accept);
    }
    if let Some(response) = console::handle(&parts.method, path, &parts.headers) {
        return response;
    }
    ksqldb::handle(engine, &services.metrics, &parts, body).await
}
