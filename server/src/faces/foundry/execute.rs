//! `POST /api/v2/functions/queries/{queryApiName}/execute`: start the function's query
//! (`call`), run it to its end and answer `{"value": [rows…]}` (`ExecuteQueryResponse`),
//! which is what the SDK's `functions.Query.execute` reads. A push query never ends, so a
//! push function is refused here: its rows are for `streamingExecute`.

use std::sync::Arc;

use http::StatusCode;
use hyper::body::Incoming;
use sluice_engine::QueryKind;
use sluice_protocol::foundry::events::{execute_response, ConjureError};
use sluice_protocol::statement_table::Cell;

use super::call::{self, PULL_RESULT_BYTES_MAX};
use crate::response::{json, HttpResponse};
use crate::services::Services;

/// Rows read from the engine per step.
const ROWS_PER_READ: usize = 1024;

pub async fn handle(
    services: &Arc<Services>,
    api_name: &str,
    body: Incoming,
) -> Result<HttpResponse, ConjureError> {
    let mut query = call::start(services, api_name, body).await?;
    if query.kind() == QueryKind::Push {
        return Err(call::error(
            "INVALID_ARGUMENT",
            "QueryRuntimeError",
            format!(
                "query function '{api_name}' streams its rows (a push query never ends): \
                 call streamingExecute"
            ),
        ));
    }
    let columns = query.column_names().to_vec();
    let mut batch = query.new_rows();
    let mut rows: Vec<Vec<Cell>> = Vec::new();
    let mut bytes = 0;
    loop {
        batch.clear();
        let end = query
            .next_rows(&mut batch, ROWS_PER_READ)
            .await
            .map_err(|e| call::runtime_error(&e))?;
        bytes += call::append_batch(&batch, &mut rows);
        if bytes > PULL_RESULT_BYTES_MAX {
            return Err(call::too_large());
        }
        if end.is_some() {
            return Ok(json(StatusCode::OK, execute_response(&columns, &rows)));
        }
    }
}
