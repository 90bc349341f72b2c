//! A query function's metadata (`functions.Query`): `GET /queries/{queryApiName}`,
//! `GET /queries/getByRid?rid=` and `POST /queries/getByRidBatch`. The output type comes
//! from planning the function's SQL (parameters filled with neutral values), so it is
//! the result's columns as they are now.

use std::collections::HashMap;
use std::sync::Arc;

use http::request::Parts;
use http::StatusCode;
use hyper::body::Incoming;
use serde_json::{json, Value as Json};
use sluice_engine::QueryRequest;
use sluice_protocol::foundry::events::ConjureError;
use sluice_protocol::foundry::functions::{Lookup, QueryFunction};
use sluice_protocol::foundry::metadata::{decode_rid_batch, query_json};

use super::call;
use crate::query_string::query_value;
use crate::response::{json, HttpResponse};
use crate::services::Services;

/// `GET /api/v2/functions/queries/{queryApiName}[?version=&includePrerelease=&latestVersionResolution=]`.
pub fn get(
    services: &Services,
    api_name: &str,
    parts: &Parts,
) -> Result<HttpResponse, ConjureError> {
    let (version, include_prerelease) = version_params(parts);
    let found = services
        .functions
        .lookup(api_name, version.as_deref(), include_prerelease);
    let function = call::find(found, api_name, version.as_deref())?;
    Ok(answer(describe(services, function)))
}

/// `GET /api/v2/functions/queries/getByRid?rid=…[&version=&includePrerelease=]`.
pub fn get_by_rid(services: &Services, parts: &Parts) -> Result<HttpResponse, ConjureError> {
    let Some(rid) = query_value(parts.uri.query(), "rid") else {
        return Err(call::error(
            "INVALID_ARGUMENT",
            "Default:InvalidArgument",
            "the query parameter `rid` is required".into(),
        ));
    };
    let (version, include_prerelease) = version_params(parts);
    let found = services
        .functions
        .lookup_rid(&rid, version.as_deref(), include_prerelease);
    let function = call::find(found, &rid, version.as_deref())?;
    Ok(answer(describe(services, function)))
}

/// `POST /api/v2/functions/queries/getByRidBatch` with `[{rid, version?,
/// includePrerelease?}…]`: `{"data": [Query…]}`, functions not found left out (as Foundry
/// filters what does not exist or may not be seen).
pub async fn get_by_rid_batch(
    services: &Arc<Services>,
    mut body: Incoming,
) -> Result<HttpResponse, ConjureError> {
    let bytes = call::read_body(&mut body).await?;
    let batch = decode_rid_batch(&bytes)
        .map_err(|e| call::error("INVALID_ARGUMENT", "Default:InvalidArgument", e.to_string()))?;
    let data: Vec<Json> = batch
        .iter()
        .filter_map(|asked| {
            match services.functions.lookup_rid(
                &asked.rid,
                asked.version.as_deref(),
                asked.include_prerelease.unwrap_or(false),
            ) {
                Lookup::Found(f) => Some(describe(services, f)),
                Lookup::NoSuchFunction | Lookup::NoSuchVersion => None,
            }
        })
        .collect();
    Ok(answer(json!({ "data": data })))
}

fn answer(body: Json) -> HttpResponse {
    json(StatusCode::OK, body.to_string().into_bytes())
}

/// `version` and whether pre-releases count, from the query string (Foundry's defaults:
/// pre-releases only with `includePrerelease=true` or `latestVersionResolution=PUBLISH_TIME`).
fn version_params(parts: &Parts) -> (Option<String>, bool) {
    let query = parts.uri.query();
    let version = query_value(query, "version").filter(|v| !v.is_empty());
    let include_prerelease = match query_value(query, "includePrerelease").as_deref() {
        Some(flag) => flag.eq_ignore_ascii_case("true"),
        None => query_value(query, "latestVersionResolution").as_deref() == Some("PUBLISH_TIME"),
    };
    (version, include_prerelease)
}

/// `functions.Query` for `function`: its output from planning its SQL. A function whose SQL
/// does not plan now (its stream dropped, say) is still described, its output Foundry's
/// `unsupported` type with the reason, so a client can list what it cannot run.
fn describe(services: &Services, function: &QueryFunction) -> Json {
    let none = HashMap::new();
    let vars = function.placeholder_vars();
    let shape = services.engine.describe_query(QueryRequest {
        sql: &function.sql,
        properties: &none,
        session_variables: &vars,
    });
    match shape {
        Ok(shape) => query_json(function, &shape.column_names, &shape.column_types),
        Err(e) => {
            let mut query = query_json(function, &[], &[]);
            query["output"] = json!({
                "type": "unsupported",
                "unsupportedType": "UNPLANNED",
                "params": {"reason": e.message()},
            });
            query
        }
    }
}
