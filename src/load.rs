//! `sluice load FILE --stream S`: bulk-loads an NDJSON or CSV file into a stream through
//! `/inserts-stream` (one HTTP/2 request), with a progress bar and the rows/s acked.
//!
//! ```text
//!  file ─► reader thread (NDJSON lines as they are | CSV records ─► JSON objects by the
//!          stream's column types) ─► bounded chunks ─► request body ─► server
//!  server ─► acks ─► counted (rows/s, progress) ─► first error: its row, then exit 1
//! ```
//!
//! CSV needs the stream's schema to spell each field as JSON (a number for `INT`, a string
//! for `STRING`, …): it comes from `DESCRIBE`, so any ksqlDB-compatible server works.

use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use bytes::Bytes;
use http::StatusCode;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde_json::Value as Json;
use tokio::sync::mpsc;

use crate::bench::client::{headers, Lines};
use crate::shell::server::Server;

/// Bytes of rows gathered into one request-body chunk: large enough to amortise a DATA frame
/// and a channel hand-off, small enough that acks start flowing at once.
pub const CHUNK_BYTES_MAX: usize = 64 * 1024;

/// Chunks the reader thread may have ready ahead of the connection (bounded memory:
/// `CHUNKS_QUEUED_MAX × CHUNK_BYTES_MAX`).
pub const CHUNKS_QUEUED_MAX: usize = 16;

/// How often the progress bar redraws: often enough to look live, rarely enough to cost
/// nothing next to the load.
const PROGRESS_REDRAW_MS: u64 = 100;

/// How long the load waits for the next ack once every row is sent: the server acks a row
/// once it is on disk, which a healthy server does in milliseconds.
const ACK_WAIT_MS: u64 = 60_000;

#[derive(Debug, clap::Args)]
pub struct LoadArgs {
    /// The file: NDJSON (one JSON object per line, as `/inserts-stream` takes them) or CSV
    /// (a header row naming the columns, then one row per line).
    file: PathBuf,

    /// The stream (or table) to insert into.
    #[arg(long)]
    stream: String,

    /// The server.
    #[arg(long, env = "SLUICE_URL", default_value = "http://127.0.0.1:8088")]
    server: String,

    /// The file's format; by default `.csv` files are CSV and everything else NDJSON.
    #[arg(long, value_enum)]
    format: Option<Format>,

    /// No progress bar (it is also hidden when stderr is not a terminal).
    #[arg(long)]
    quiet: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Ndjson,
    Csv,
}

pub fn run(args: LoadArgs) -> anyhow::Result<std::process::ExitCode> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    runtime.block_on(load(args))
}

/// What the load achieved.
struct Outcome {
    rows: u64,
    elapsed: Duration,
    /// The server's error ack, if a row was refused.
    error: Option<String>,
}

async fn load(args: LoadArgs) -> anyhow::Result<std::process::ExitCode> {
    let format =
        args.format
            .unwrap_or_else(|| match args.file.extension().and_then(|e| e.to_str()) {
                Some(ext) if ext.eq_ignore_ascii_case("csv") => Format::Csv,
                _ => Format::Ndjson,
            });
    let file =
        File::open(&args.file).with_context(|| format!("opening {}", args.file.display()))?;
    let total_bytes = file.metadata().map(|m| m.len()).unwrap_or(0);
    let mut server = Server::new(&args.server)?;
    let columns = match format {
        Format::Csv => Some(describe(&mut server, &args.stream).await?),
        Format::Ndjson => None,
    };
    let progress = progress_bar(total_bytes, args.quiet);
    let outcome = send(&mut server, &args.stream, file, columns, &progress).await?;
    progress.finish_and_clear();
    let secs = outcome.elapsed.as_secs_f64().max(1e-9);
    let rate = outcome.rows as f64 / secs;
    match outcome.error {
        None => {
            println!(
                "loaded {} rows into {} in {secs:.2} s ({rate:.0} rows/s)",
                outcome.rows, args.stream
            );
            Ok(std::process::ExitCode::SUCCESS)
        }
        Some(error) => {
            println!(
                "loaded {} rows into {} in {secs:.2} s before an error",
                outcome.rows, args.stream
            );
            eprintln!("{error}");
            Ok(std::process::ExitCode::FAILURE)
        }
    }
}

fn progress_bar(total_bytes: u64, quiet: bool) -> ProgressBar {
    if quiet {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::with_draw_target(Some(total_bytes), ProgressDrawTarget::stderr());
    bar.set_style(
        ProgressStyle::with_template("{bar:40} {bytes}/{total_bytes} {msg} ({elapsed}, eta {eta})")
            .expect("the template is valid"),
    );
    bar.enable_steady_tick(Duration::from_millis(PROGRESS_REDRAW_MS));
    bar
}

/// Streams the file's rows and counts the acks; returns at the end of the acks.
async fn send(
    server: &mut Server,
    stream: &str,
    file: File,
    columns: Option<Vec<Column>>,
    progress: &ProgressBar,
) -> anyhow::Result<Outcome> {
    let mut h2 = server.connection().await?;
    let (mut body, response) = h2.open("/inserts-stream").await?;
    let target = serde_json::json!({ "target": stream }).to_string() + "\n";
    body.send_data(Bytes::from(target))
        .await
        .map_err(|_| anyhow::anyhow!("the server stopped reading the request"))?;

    let (chunks_tx, mut chunks) = mpsc::channel::<Chunk>(CHUNKS_QUEUED_MAX);
    let reader = tokio::task::spawn_blocking(move || read_rows(file, columns, chunks_tx));
    let started = Instant::now();
    let sender = {
        let progress = progress.clone();
        tokio::spawn(async move {
            while let Some(chunk) = chunks.recv().await {
                progress.inc(chunk.file_bytes);
                if body.send_data(chunk.rows).await.is_err() {
                    break; // The server ended the request (an error ack says why).
                }
            }
        })
    };

    let response = headers(response).await?;
    let status = response.status();
    if status != StatusCode::OK {
        let body = http_body_util::BodyExt::collect(response.into_body())
            .await
            .map(|b| b.to_bytes())
            .unwrap_or_default();
        bail!(
            "the server refused the load ({status}): {}",
            String::from_utf8_lossy(&body)
        );
    }
    let mut lines = Lines::new(response.into_body());
    let mut acked = 0u64;
    let mut error = None;
    loop {
        let more = tokio::time::timeout(
            Duration::from_millis(ACK_WAIT_MS),
            lines.next_chunk(|line| {
                if error.is_some() || line.is_empty() {
                    return;
                }
                match serde_json::from_slice::<Json>(line) {
                    Ok(ack) if ack["status"] == "ok" => acked += 1,
                    Ok(ack) => error = Some(describe_error(&ack)),
                    Err(_) => {
                        error = Some(format!(
                            "unexpected answer from the server: {}",
                            String::from_utf8_lossy(line)
                        ))
                    }
                }
            }),
        )
        .await
        .context("no ack from the server within a minute")??;
        let secs = started.elapsed().as_secs_f64().max(1e-9);
        progress.set_message(format!("{acked} rows, {:.0} rows/s", acked as f64 / secs));
        if !more || error.is_some() {
            break;
        }
    }
    let elapsed = started.elapsed();
    sender.abort();
    // A reader error (a bad CSV field) is the reason the load stopped, if there was one.
    match reader.await.context("the file reader panicked")? {
        Err(e) if error.is_none() => return Err(e),
        _ => {}
    }
    Ok(Outcome {
        rows: acked,
        elapsed,
        error,
    })
}

fn describe_error(ack: &Json) -> String {
    let seq = ack["seq"].as_u64();
    let message = ack["message"].as_str().unwrap_or("(no message)");
    match seq {
        // Rows are numbered from 1 in messages, as editors number lines.
        Some(seq) => format!("row {} was refused: {message}", seq + 1),
        None => format!("the load failed: {message}"),
    }
}

/// Rows ready to send, and how many bytes of the file they came from (for the progress bar).
struct Chunk {
    rows: Bytes,
    file_bytes: u64,
}

/// Reads the file into chunks of NDJSON rows until its end or until nobody reads them.
fn read_rows(
    file: File,
    columns: Option<Vec<Column>>,
    chunks: mpsc::Sender<Chunk>,
) -> anyhow::Result<()> {
    let mut out = Vec::with_capacity(CHUNK_BYTES_MAX + 1024);
    let mut file_bytes = 0u64;
    let emit = |out: &mut Vec<u8>, file_bytes: &mut u64, force: bool| -> bool {
        if out.len() < CHUNK_BYTES_MAX && !force {
            return true;
        }
        let chunk = Chunk {
            rows: Bytes::from(std::mem::replace(
                out,
                Vec::with_capacity(CHUNK_BYTES_MAX + 1024),
            )),
            file_bytes: std::mem::take(file_bytes),
        };
        chunks.blocking_send(chunk).is_ok()
    };
    match columns {
        None => {
            let mut reader = BufReader::new(file);
            let mut line = Vec::new();
            loop {
                line.clear();
                let n = reader
                    .read_until(b'\n', &mut line)
                    .context("reading the file")?;
                if n == 0 {
                    break;
                }
                file_bytes += n as u64;
                // Blank lines (a trailing one, say) are not rows.
                if line.iter().all(u8::is_ascii_whitespace) {
                    continue;
                }
                out.extend_from_slice(line.trim_ascii_end());
                out.push(b'\n');
                if !emit(&mut out, &mut file_bytes, false) {
                    return Ok(());
                }
            }
        }
        Some(columns) => {
            let mut reader = csv::ReaderBuilder::new().from_reader(CountingReader {
                inner: file,
                read: 0,
            });
            let header = reader.headers().context("reading the CSV header")?.clone();
            let slots = match_header(&header, &columns)?;
            let mut record = csv::StringRecord::new();
            let mut last_position = 0;
            let mut row = 0u64;
            while reader
                .read_record(&mut record)
                .context("reading the CSV file")?
            {
                row += 1;
                csv_row_json(&record, &slots, row, &mut out)?;
                let position = reader.get_ref().read;
                file_bytes += position - last_position;
                last_position = position;
                if !emit(&mut out, &mut file_bytes, false) {
                    return Ok(());
                }
            }
        }
    }
    if !out.is_empty() || file_bytes > 0 {
        emit(&mut out, &mut file_bytes, true);
    }
    Ok(())
}

/// Counts the bytes the CSV reader has taken from the file, for progress.
struct CountingReader {
    inner: File,
    read: u64,
}

impl Read for CountingReader {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.read += n as u64;
        Ok(n)
    }
}

/// A column of the target stream, as `DESCRIBE` tells it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Column {
    pub name: String,
    pub kind: ColumnKind,
}

/// How a CSV field is spelled in JSON for a column of this type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ColumnKind {
    /// INT, BIGINT, DOUBLE, DECIMAL: a JSON number.
    Number,
    Boolean,
    /// ARRAY, MAP, STRUCT: the field holds the value's JSON text.
    Json,
    /// STRING, and types ksqlDB takes as strings in JSON (DATE, TIME, TIMESTAMP, BYTES).
    Text,
}

/// The stream's columns, from `DESCRIBE`.
async fn describe(server: &mut Server, stream: &str) -> anyhow::Result<Vec<Column>> {
    let sql = format!("DESCRIBE {stream};");
    let body = serde_json::json!({ "ksql": sql, "streamsProperties": {} });
    let (status, bytes) = server.post("/ksql", &body).await?;
    let answer: Json = serde_json::from_slice(&bytes).unwrap_or(Json::Null);
    if status != StatusCode::OK {
        let message = answer["message"].as_str().map_or_else(
            || String::from_utf8_lossy(&bytes).into_owned(),
            str::to_string,
        );
        bail!("DESCRIBE {stream} failed: {message}");
    }
    columns_of(&answer).with_context(|| format!("DESCRIBE {stream} answered {answer}"))
}

fn columns_of(answer: &Json) -> anyhow::Result<Vec<Column>> {
    let fields = answer[0]["sourceDescription"]["fields"]
        .as_array()
        .context("no fields in the description")?;
    fields
        .iter()
        .map(|f| {
            let name = f["name"].as_str().context("a field without a name")?;
            let ty = f["schema"]["type"]
                .as_str()
                .context("a field without a type")?;
            let kind = match ty {
                "INTEGER" | "INT" | "BIGINT" | "DOUBLE" | "DECIMAL" => ColumnKind::Number,
                "BOOLEAN" => ColumnKind::Boolean,
                "ARRAY" | "MAP" | "STRUCT" => ColumnKind::Json,
                _ => ColumnKind::Text,
            };
            Ok(Column {
                name: name.to_string(),
                kind,
            })
        })
        .collect()
}

/// Each header field's column: exact name first, then case-insensitively (an unquoted
/// identifier is stored upper-case).
fn match_header(header: &csv::StringRecord, columns: &[Column]) -> anyhow::Result<Vec<Column>> {
    header
        .iter()
        .map(|h| {
            let h = h.trim();
            columns
                .iter()
                .find(|c| c.name == h)
                .or_else(|| columns.iter().find(|c| c.name.eq_ignore_ascii_case(h)))
                .cloned()
                .with_context(|| {
                    let names: Vec<&str> = columns.iter().map(|c| c.name.as_str()).collect();
                    format!(
                        "CSV column {h:?} is not a column of the stream ({})",
                        names.join(", ")
                    )
                })
        })
        .collect()
}

/// Appends CSV record `row` (1-based, after the header) as one JSON object line. An empty
/// field is null, as in ksqlDB's DELIMITED format.
fn csv_row_json(
    record: &csv::StringRecord,
    columns: &[Column],
    row: u64,
    out: &mut Vec<u8>,
) -> anyhow::Result<()> {
    if record.len() != columns.len() {
        bail!(
            "CSV row {row} has {} fields; the header names {}",
            record.len(),
            columns.len()
        );
    }
    out.push(b'{');
    for (i, (field, column)) in record.iter().zip(columns).enumerate() {
        if i > 0 {
            out.push(b',');
        }
        serde_json::to_writer(&mut *out, &column.name).context("writing a row")?;
        out.push(b':');
        if field.is_empty() {
            out.extend_from_slice(b"null");
            continue;
        }
        match column.kind {
            ColumnKind::Text => serde_json::to_writer(&mut *out, field).context("writing a row")?,
            // Checked against JSON's grammar, then sent as written: a DECIMAL's digits must
            // not pass through a double.
            ColumnKind::Number => {
                let text = field.trim();
                if serde_json::from_str::<serde_json::Number>(text).is_err() {
                    bail!(
                        "CSV row {row}, column {}: {field:?} is not a number",
                        column.name
                    );
                }
                out.extend_from_slice(text.as_bytes());
            }
            ColumnKind::Boolean => match field.trim().to_ascii_lowercase().as_str() {
                "true" => out.extend_from_slice(b"true"),
                "false" => out.extend_from_slice(b"false"),
                _ => bail!(
                    "CSV row {row}, column {}: {field:?} is not true or false",
                    column.name
                ),
            },
            ColumnKind::Json => {
                let text = field.trim();
                if serde_json::from_str::<serde::de::IgnoredAny>(text).is_err() {
                    bail!(
                        "CSV row {row}, column {}: {field:?} is not JSON",
                        column.name
                    );
                }
                out.extend_from_slice(text.as_bytes());
            }
        }
    }
    out.extend_from_slice(b"}\n");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn columns() -> Vec<Column> {
        [
            ("ID", ColumnKind::Number),
            ("NAME", ColumnKind::Text),
            ("OK", ColumnKind::Boolean),
            ("TAGS", ColumnKind::Json),
        ]
        .into_iter()
        .map(|(name, kind)| Column {
            name: name.to_string(),
            kind,
        })
        .collect()
    }

    #[test]
    fn csv_fields_are_spelled_by_column_type() {
        let header = csv::StringRecord::from(vec!["id", "name", "ok", "tags"]);
        let slots = match_header(&header, &columns()).expect("known columns");
        let mut out = Vec::new();
        let record = csv::StringRecord::from(vec!["7", "a, \"b\"", "TRUE", "[1,2]"]);
        csv_row_json(&record, &slots, 1, &mut out).expect("valid row");
        let record = csv::StringRecord::from(vec!["1.5e3", "", "false", ""]);
        csv_row_json(&record, &slots, 2, &mut out).expect("valid row");
        assert_eq!(
            String::from_utf8(out).expect("utf-8"),
            "{\"ID\":7,\"NAME\":\"a, \\\"b\\\"\",\"OK\":true,\"TAGS\":[1,2]}\n\
             {\"ID\":1.5e3,\"NAME\":null,\"OK\":false,\"TAGS\":null}\n"
        );
    }

    #[test]
    fn bad_csv_fields_name_their_row_and_column() {
        let slots = columns();
        let record = csv::StringRecord::from(vec!["x", "n", "true", "[]"]);
        let e = csv_row_json(&record, &slots, 3, &mut Vec::new()).expect_err("not a number");
        assert!(e.to_string().contains("row 3, column ID"), "{e}");
        let header = csv::StringRecord::from(vec!["nope"]);
        let e = match_header(&header, &slots).expect_err("unknown column");
        assert!(e.to_string().contains("\"nope\""), "{e}");
    }
}
