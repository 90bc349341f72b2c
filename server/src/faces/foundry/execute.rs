//! `POST /api/v2/functions/queries/{queryApiName}/execute`: start the function's query
//! (`call`), run it to its end and answer `{"value": [rows…]}` (`ExecuteQueryResponse`),
//! which is what the SDK's `functions.Query.execute` reads. A push query never ends, so a
//! push function is refused here: its rows are for `streamingExecute`.

use std::sync::Arc;

use http::StatusCode;
use hyper::body::Incoming;
use sluice_protocol::foundry::events::{execute_response, ConjureError};

use super::call;
use crate::response::{json, HttpResponse};
use crate::services::Services;

pub async fn handle(
    services: &Arc<Services>,
    api_name: &str,
    body: Incoming,
) -> Result<HttpResponse, ConjureError> {
    let query = call::start(services, api_name, body).await?;
    call::refuse_push(&query, api_name)?;
    let output = call::collect(query).await?;
    let columns: Vec<String> = output.columns.into_iter().map(|c| c.name).collect();
    Ok(json(
        StatusCode::OK,
        execute_response(&columns, &output.rows),
    ))
}
