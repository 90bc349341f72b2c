//! Queries and PRINT over `/query-stream`: push rows printed as they arrive until LIMIT, the
//! server or Ctrl-C ends them (Ctrl-C asks the server to end the query with
//! `/close-query`), pull rows gathered into one table, PRINT lines passed through.
//!
//! ```text
//! POST /query-stream ─► header line (queryId, columnNames) ─► rows, one JSON array a line
//!   push: StreamedRows, a line at a time ─► Ctrl-C ─► POST /close-query ─► drain ─► end
//!   pull: gathered (up to PULL_TABLE_ROWS_MAX) ─► rows_table ─► end
//! ```

use std::time::Duration;

use anyhow::{anyhow, Context};
use http::StatusCode;
use http_body_util::BodyExt;
use serde_json::{json, Value as Json};

use super::console::{Console, Mode};
use super::render::{self, StreamedRows};
use super::server::Server;
use crate::bench::client::{Lines, CALL_TIMEOUT};

/// How long the rows already on their way may take to arrive once `/close-query` has
/// answered; after that the response is dropped (which also ends the query server-side).
const CLOSE_DRAIN_TIMEOUT: Duration = Duration::from_secs(5);

/// Rows a pull query may gather to size its table's columns to their content; a larger
/// result switches to streamed rows (fixed-width cells) so memory stays bounded.
const PULL_TABLE_ROWS_MAX: usize = 10_000;

/// Printed when Ctrl-C stops a query: the terminal has echoed `^C` with no line break.
const AFTER_CTRL_C: &str = "\n";

/// What the statement is, which decides how its response is shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum QueryKind {
    Push,
    Pull,
    Print,
}

/// How a response's rows ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ended {
    /// The server ended the response (LIMIT, a pull query's last row, an error line).
    ByServer,
    /// Ctrl-C.
    Interrupted,
}

/// Runs one query or PRINT and shows its result. Fails on an error from the server, before
/// the rows or among them.
pub(crate) async fn run(
    server: &mut Server,
    console: &mut Console,
    kind: QueryKind,
    request: Json,
) -> anyhow::Result<()> {
    let ctrl_c = tokio::signal::ctrl_c();
    tokio::pin!(ctrl_c);
    let response = tokio::select! {
        response = server.open_stream("/query-stream", &request) => response?,
        _ = &mut ctrl_c => {
            // The request is dropped unanswered; the server ends the query when its
            // stream is reset.
            console.print(AFTER_CTRL_C)?;
            console.print("Query terminated\n")?;
            return Ok(());
        }
    };
    if response.status() != StatusCode::OK {
        let status = response.status();
        let body = tokio::time::timeout(CALL_TIMEOUT, response.into_body().collect())
            .await
            .context("the error response timed out")?
            .context("reading the error response")?
            .to_bytes();
        return Err(server_error(status, &body));
    }
    let mut lines = Lines::new(response.into_body());
    if kind == QueryKind::Print {
        return print_topic(&mut lines, console, ctrl_c).await;
    }

    let header = tokio::select! {
        header = lines.first_line() => header?,
        _ = &mut ctrl_c => {
            console.print(AFTER_CTRL_C)?;
            console.print("Query terminated\n")?;
            return Ok(());
        }
    };
    let header: Json = serde_json::from_slice(&header).context("the query's header")?;
    if let Some(message) = error_message(&header) {
        return Err(anyhow!(message));
    }
    let columns: Vec<String> = header["columnNames"]
        .as_array()
        .context("the query's header has no columnNames")?
        .iter()
        .map(render::cell)
        .collect();
    let query_id = header["queryId"].as_str().unwrap_or_default().to_string();

    let mut rows = RowSink::new(kind, columns, console.width);
    if kind == QueryKind::Push && console.mode == Mode::Interactive {
        console.print("Press CTRL-C to interrupt\n")?;
    }
    console.print(&rows.start())?;
    let ended = loop {
        let more = tokio::select! {
            more = lines.next_chunk(|line| rows.line(line)) => more?,
            _ = &mut ctrl_c => break Ended::Interrupted,
        };
        console.print(&rows.take_output())?;
        if !more {
            break Ended::ByServer;
        }
    };
    if ended == Ended::Interrupted {
        console.print(AFTER_CTRL_C)?;
        if kind == QueryKind::Push {
            close_and_drain(server, &query_id, &mut lines, &mut rows, console).await?;
        }
    }
    // Dropping the response resets its stream if the server has not ended it already.
    drop(lines);
    console.print(&rows.finish())?;
    console.print("Query terminated\n")?;
    match rows.error {
        Some(message) => Err(anyhow!(message)),
        None => Ok(()),
    }
}

/// Asks the server to end the push query, then shows the rows it had already sent.
async fn close_and_drain(
    server: &mut Server,
    query_id: &str,
    lines: &mut Lines,
    rows: &mut RowSink,
    console: &mut Console,
) -> anyhow::Result<()> {
    let closed = server
        .post("/close-query", &json!({ "queryId": query_id }))
        .await;
    match closed {
        Ok((StatusCode::OK, _)) => {}
        Ok((status, body)) => {
            console.error(&server_error(status, &body).to_string());
            return Ok(());
        }
        Err(e) => {
            console.error(&format!("{e:#}"));
            return Ok(());
        }
    }
    // A second Ctrl-C stops waiting for the tail.
    let ctrl_c = tokio::signal::ctrl_c();
    tokio::pin!(ctrl_c);
    let deadline = tokio::time::sleep(CLOSE_DRAIN_TIMEOUT);
    tokio::pin!(deadline);
    loop {
        let more = tokio::select! {
            more = lines.next_chunk(|line| rows.line(line)) => more?,
            _ = &mut ctrl_c => return Ok(()),
            _ = &mut deadline => return Ok(()),
        };
        console.print(&rows.take_output())?;
        if !more {
            return Ok(());
        }
    }
}

/// PRINT: the server's text lines as they are, until it ends them or Ctrl-C.
async fn print_topic(
    lines: &mut Lines,
    console: &mut Console,
    ctrl_c: std::pin::Pin<&mut impl std::future::Future<Output = std::io::Result<()>>>,
) -> anyhow::Result<()> {
    let mut ctrl_c = ctrl_c;
    let mut error = None;
    loop {
        let mut text = String::new();
        let more = tokio::select! {
            more = lines.next_chunk(|line| {
                let line = String::from_utf8_lossy(line);
                match serde_json::from_str::<Json>(&line).ok().as_ref().and_then(error_message) {
                    Some(message) => error = Some(message),
                    None => {
                        text.push_str(&line);
                        text.push('\n');
                    }
                }
            }) => more?,
            _ = &mut ctrl_c => {
                text.push_str(AFTER_CTRL_C);
                false
            }
        };
        console.print(&text)?;
        if !more {
            break;
        }
    }
    console.print("Topic printing ceased\n")?;
    match error {
        Some(message) => Err(anyhow!(message)),
        None => Ok(()),
    }
}

/// Turns a query's lines into text: streamed at once for push queries (and for pull queries
/// past `PULL_TABLE_ROWS_MAX`), gathered into one table otherwise.
struct RowSink {
    columns: Vec<String>,
    streamed: StreamedRows,
    /// `Some` while a pull query's rows are being gathered for one table.
    gathered: Option<Vec<Vec<String>>>,
    width: usize,
    output: String,
    /// The server's error line, if one came.
    error: Option<String>,
}

impl RowSink {
    fn new(kind: QueryKind, columns: Vec<String>, width: usize) -> RowSink {
        RowSink {
            streamed: StreamedRows::new(columns.len(), width),
            gathered: (kind == QueryKind::Pull).then(Vec::new),
            columns,
            width,
            output: String::new(),
            error: None,
        }
    }

    /// What to print before any row.
    fn start(&self) -> String {
        match self.gathered {
            Some(_) => String::new(),
            None => self.streamed.header(&self.columns),
        }
    }

    fn line(&mut self, line: &[u8]) {
        let Ok(value) = serde_json::from_slice::<Json>(line) else {
            // Not JSON: show it rather than lose it.
            self.output.push_str(&String::from_utf8_lossy(line));
            self.output.push('\n');
            return;
        };
        match value {
            Json::Array(values) => {
                let cells: Vec<String> = values.iter().map(render::cell).collect();
                self.row(cells);
            }
            other => {
                if let Some(message) = error_message(&other) {
                    self.error = Some(message);
                }
                // Other objects (consistency or continuation tokens) are not rows.
            }
        }
    }

    fn row(&mut self, cells: Vec<String>) {
        match &mut self.gathered {
            Some(rows) if rows.len() < PULL_TABLE_ROWS_MAX => rows.push(cells),
            Some(_) => {
                // Too many to size one table: print what was gathered, stream the rest.
                let rows = self.gathered.take().unwrap_or_default();
                self.output.push_str(&self.streamed.header(&self.columns));
                for row in rows {
                    self.output.push_str(&self.streamed.row(&row));
                }
                self.output.push_str(&self.streamed.row(&cells));
            }
            None => self.output.push_str(&self.streamed.row(&cells)),
        }
    }

    fn take_output(&mut self) -> String {
        std::mem::take(&mut self.output)
    }

    /// What to print once the rows have ended.
    fn finish(&mut self) -> String {
        match self.gathered.take() {
            Some(rows) => render::rows_table(&self.columns, &rows, self.width),
            None => String::new(),
        }
    }
}

/// The message of a ksqlDB error object (`{"@type":…,"error_code":…,"message":…}`).
pub(crate) fn error_message(value: &Json) -> Option<String> {
    let object = value.as_object()?;
    if !object.contains_key("error_code") && !object.contains_key("@type") {
        return None;
    }
    object
        .get("message")
        .map(render::cell)
        .or_else(|| value.get("errorMessage").and_then(error_message))
}

/// A non-200 answer as the error the user sees: the server's message when the body is a
/// ksqlDB error object, otherwise the status and body.
pub(crate) fn server_error(status: StatusCode, body: &[u8]) -> anyhow::Error {
    match serde_json::from_slice::<Json>(body)
        .ok()
        .as_ref()
        .and_then(error_message)
    {
        Some(message) => anyhow!(message),
        None => anyhow!(
            "the server answered {status}: {}",
            String::from_utf8_lossy(body).trim()
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn push_rows_stream_and_error_lines_are_kept() {
        let mut sink = RowSink::new(QueryKind::Push, vec!["K".into(), "V".into()], 20);
        assert!(sink.start().starts_with("+--------+--------+\n|K "));
        sink.line(br#"["a",1]"#);
        assert_eq!(sink.take_output(), "|a       |1       |\n");
        sink.line(br#"{"@type":"generic_error","error_code":50000,"message":"boom"}"#);
        assert_eq!(sink.take_output(), "");
        assert_eq!(sink.error.as_deref(), Some("boom"));
        assert_eq!(sink.finish(), "");
    }

    #[test]
    fn pull_rows_are_gathered_into_one_table() {
        let mut sink = RowSink::new(QueryKind::Pull, vec!["K".into()], 80);
        assert_eq!(sink.start(), "");
        sink.line(br#"["abc"]"#);
        sink.line(br#"{"consistencyToken":"x"}"#);
        assert_eq!(sink.take_output(), "");
        assert_eq!(sink.finish(), "+---+\n|K  |\n+---+\n|abc|\n+---+\n");
        assert!(sink.error.is_none());
    }

    #[test]
    fn a_large_pull_result_switches_to_streamed_rows() {
        let mut sink = RowSink::new(QueryKind::Pull, vec!["K".into()], 20);
        for i in 0..=PULL_TABLE_ROWS_MAX {
            sink.line(format!("[{i}]").as_bytes());
        }
        let out = sink.take_output();
        assert_eq!(out.lines().count(), 3 + PULL_TABLE_ROWS_MAX + 1);
        assert!(out.ends_with(&format!("|{PULL_TABLE_ROWS_MAX:<18}|\n")));
        assert_eq!(sink.finish(), "");
    }

    #[test]
    fn errors_show_the_server_message() {
        let e = server_error(
            StatusCode::BAD_REQUEST,
            br#"{"@type":"statement_error","error_code":40001,"message":"S does not exist."}"#,
        );
        assert_eq!(e.to_string(), "S does not exist.");
        let e = server_error(StatusCode::NOT_FOUND, b"nope");
        assert_eq!(e.to_string(), "the server answered 404 Not Found: nope");
        assert_eq!(error_message(&json!({"queryId": "q"})), None);
    }
}
