//! The bench's result: one serialisable [`Report`] (what `--json` prints) and its
//! human-readable rendering.

use std::fmt::Write;

use serde::Serialize;

use super::latency::LatencySummary;
use super::rows::RowShape;
use super::shared::{IdleStream, QueryFilter, ResultFrames};

#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub config: ConfigEcho,
    pub sent_rows: u64,
    pub acked_rows: u64,
    pub acked_bytes: u64,
    /// From the first row's schedule to the last ack.
    pub elapsed_s: f64,
    pub acked_rows_per_s: f64,
    /// 10^6 bytes of row text per second (newlines not counted).
    pub acked_mb_per_s: f64,
    pub ack_latency: Option<LatencySummary>,
    pub e2e_latency: Option<LatencySummary>,
    pub producers: Vec<ProducerLine>,
    pub consumers: Vec<ConsumerLine>,
    pub catch_up: Option<CatchUpLine>,
    pub idle: Option<IdleLine>,
    pub server: Option<ProcLine>,
    pub client: Option<ProcLine>,
    pub errors: Vec<String>,
    /// No errors, every acked row seen by every consumer of its stream, no duplicates.
    pub ok: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct ConfigEcho {
    pub addr: String,
    pub producers: usize,
    pub streams: usize,
    pub partitions: u32,
    pub keyed: bool,
    pub row_shape: RowShape,
    /// `--row-bytes`, if given.
    pub row_bytes: Option<usize>,
    pub window_rows: u32,
    pub chunk_rows: u32,
    /// Total target rate, or `None` for flat out.
    pub rate_rows_per_s: Option<f64>,
    pub queries: usize,
    pub query_filter: QueryFilter,
    pub result_frames: ResultFrames,
    pub rows_max: u64,
    pub duration_s_max: f64,
    pub catch_up: bool,
    pub idle_queries: usize,
    pub idle_stream: IdleStream,
}

#[derive(Debug, Clone, Serialize)]
pub struct ProducerLine {
    pub index: usize,
    pub stream: String,
    pub sent_rows: u64,
    pub acked_rows: u64,
    pub acked_rows_per_s: f64,
    pub error: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ConsumerLine {
    pub index: usize,
    pub stream: String,
    pub rows: u64,
    /// Rows over the time from the query's start to its last row.
    pub rows_per_s: f64,
    /// Acked rows of its stream the consumer never saw.
    pub missing: u64,
    pub duplicates: u64,
    /// Rows seen that were sent but not acked (the run stopped before their ack).
    pub unacked_seen: u64,
    pub unparsed: u64,
    pub error: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct CatchUpLine {
    pub rows: u64,
    pub elapsed_s: f64,
    pub rows_per_s: f64,
    pub mb_per_s: f64,
    pub missing: u64,
    pub duplicates: u64,
    pub server_cpu_us_per_row: Option<f64>,
}

/// What `--idle-queries` measured. Server figures need `--spawn` or `--server-pid`.
#[derive(Debug, Clone, Serialize)]
pub struct IdleLine {
    /// Asked for.
    pub queries: usize,
    /// Whose header arrived (opening stops at the first failure).
    pub opened: usize,
    pub stream: IdleStream,
    /// HTTP/2 connections carrying them.
    pub connections: usize,
    /// From the first request to the last header.
    pub open_s: f64,
    /// Server RSS before opening them…
    pub server_rss_before_bytes: Option<u64>,
    /// …once all were open and the server had sat with them for a second…
    pub server_rss_opened_bytes: Option<u64>,
    /// …and after the workload, with every row delivered and all still attached.
    pub server_rss_after_load_bytes: Option<u64>,
    /// (opened − before) / opened: what one idle query holds.
    pub server_rss_bytes_per_query: Option<f64>,
    /// (after load − before) / opened: adds what the workload left in each query, and the
    /// server's own growth from the load, so it is an upper bound.
    pub server_rss_bytes_per_query_after_load: Option<f64>,
    /// Server CPU over the second after the last header, with only the idle queries
    /// attached (100 = one core busy).
    pub server_cpu_percent_while_idle: Option<f64>,
    /// Queries that counted exactly their stream's acked rows (none on the quiet stream).
    pub received_all: usize,
    /// Queries `/close-query` closed and whose body then ended cleanly.
    pub closed: usize,
    pub error: Option<String>,
}

impl IdleLine {
    /// Every query opened, got every row, and closed cleanly.
    pub fn ok(&self) -> bool {
        self.error.is_none()
            && self.opened == self.queries
            && self.received_all == self.opened
            && self.closed == self.opened
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct ProcLine {
    pub pid: u32,
    pub rss_bytes: u64,
    pub rss_peak_bytes: u64,
    /// CPU time (user + system) while rows were produced and pushed.
    pub cpu_s: f64,
    /// That CPU time over the wall time: 100 = one core busy.
    pub cpu_percent: f64,
    pub cpu_us_per_row: f64,
}

/// What `--pull-queries` measured: setup, then key lookups on the materialized table.
#[derive(Debug, Clone, Serialize)]
pub struct PullReport {
    pub config: PullConfigEcho,
    /// Rows loaded into the source stream (one per key) and acked.
    pub loaded_rows: u64,
    pub load_s: f64,
    pub load_rows_per_s: f64,
    /// From the CTAS statement to its progress reporting every loaded row read (with a
    /// source table, which has no query to wait for: its CREATE's round trip).
    pub ctas_catch_up_s: f64,
    /// Lookups answered with status 200 and exactly the key's row.
    pub queries_ok: u64,
    /// Answered with a row that is not the key's (or not a row, or more than one).
    pub wrong_rows: u64,
    /// Answered 200 with no row for a key the table holds.
    pub empty_answers: u64,
    /// Another status, or the request failed.
    pub failed: u64,
    /// From the first lookup to the last answer.
    pub elapsed_s: f64,
    /// `queries_ok` per second of `elapsed_s`.
    pub queries_per_s: f64,
    /// From each lookup's send (closed loop) or scheduled send (`--pull-rate`) to its whole
    /// answer, over every lookup answered.
    pub latency: Option<LatencySummary>,
    pub server: Option<PullProcLine>,
    pub client: Option<PullProcLine>,
    /// One example of each kind of error.
    pub errors: Vec<String>,
    /// Every lookup answered with its row, and setup went through.
    pub ok: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct PullConfigEcho {
    pub addr: String,
    pub keys: u64,
    pub connections: usize,
    pub in_flight_per_connection: usize,
    /// Total target rate, or `None` for a closed loop (each worker sends when answered).
    pub rate_queries_per_s: Option<f64>,
    pub duration_s_max: f64,
    pub endpoint: String,
    pub table: String,
    /// `ctas` or `source` (`--pull-table`).
    pub table_kind: String,
    pub row_shape: RowShape,
    pub partitions: u32,
    pub seed: u64,
}

/// A process's cost over the lookup phase.
#[derive(Debug, Clone, Serialize)]
pub struct PullProcLine {
    pub pid: u32,
    pub rss_bytes: u64,
    pub rss_peak_bytes: u64,
    pub cpu_s: f64,
    /// 100 = one core busy.
    pub cpu_percent: f64,
    /// CPU time over the lookups answered (ok or not).
    pub cpu_us_per_query: f64,
}

/// `1234567` → `1,234,567`.
pub fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    // A comma goes before every digit whose distance from the end is a multiple of three.
    let phase = digits.len() % 3;
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && i % 3 == phase {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// A µs latency in the unit that reads best.
pub fn duration_us(us: u64) -> String {
    #[allow(clippy::cast_precision_loss)]
    let f = us as f64;
    if us < 1_000 {
        format!("{us} µs")
    } else if us < 1_000_000 {
        format!("{:.2} ms", f / 1e3)
    } else {
        format!("{:.2} s", f / 1e6)
    }
}

fn mib(bytes: u64) -> String {
    #[allow(clippy::cast_precision_loss)]
    let m = bytes as f64 / (1024.0 * 1024.0);
    format!("{m:.1} MiB")
}

#[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
fn rate(r: f64) -> String {
    thousands(r.round() as u64)
}

fn latency_line(out: &mut String, name: &str, l: Option<&LatencySummary>) {
    match l {
        None => writeln!(out, "{name:<14}(none)"),
        Some(l) => writeln!(
            out,
            "{name:<14}p50 {}  p99 {}  p99.9 {}  max {}  ({} rows)",
            duration_us(l.p50_us),
            duration_us(l.p99_us),
            duration_us(l.p999_us),
            duration_us(l.max_us),
            thousands(l.count)
        ),
    }
    .expect("writing to a String cannot fail");
}

fn proc_line(out: &mut String, name: &str, p: &ProcLine) {
    writeln!(
        out,
        "{name:<14}pid {}  RSS {} (peak {})  CPU {:.2} s ({:.0}% of a core) = {:.2} µs/row",
        p.pid,
        mib(p.rss_bytes),
        mib(p.rss_peak_bytes),
        p.cpu_s,
        p.cpu_percent,
        p.cpu_us_per_row
    )
    .expect("writing to a String cannot fail");
}

fn signed_mib(bytes: Option<u64>, base: Option<u64>) -> String {
    match bytes.zip(base) {
        #[allow(clippy::cast_precision_loss)]
        Some((b, base)) => format!("{:+.1} MiB", (b as f64 - base as f64) / (1024.0 * 1024.0)),
        None => "?".to_string(),
    }
}

fn bytes_per_query(b: Option<f64>) -> String {
    #[allow(clippy::cast_possible_truncation)]
    b.map_or_else(
        || "? B".to_string(),
        |b| {
            let sign = if b < 0.0 { "-" } else { "" };
            format!("{sign}{} B", thousands(b.abs().round() as u64))
        },
    )
}

fn idle_lines(out: &mut String, i: &IdleLine) {
    let stream = match i.stream {
        IdleStream::Written => "the written stream(s)",
        IdleStream::Quiet => "a quiet stream",
    };
    let _ = writeln!(
        out,
        "{:<14}{}/{} open on {stream} over {} connection(s) in {:.2} s: server RSS {} = {}/query, \
         CPU at rest {}",
        "idle queries",
        thousands(i.opened as u64),
        thousands(i.queries as u64),
        i.connections,
        i.open_s,
        signed_mib(i.server_rss_opened_bytes, i.server_rss_before_bytes),
        bytes_per_query(i.server_rss_bytes_per_query),
        i.server_cpu_percent_while_idle
            .map_or_else(|| "?".to_string(), |c| format!("{c:.0}%")),
    );
    let received = match i.stream {
        IdleStream::Written => "got every row",
        IdleStream::Quiet => "got no row, as expected",
    };
    let _ = writeln!(
        out,
        "{:<14}after load: {} {received}, RSS {} = {}/query; {} closed cleanly{}",
        "",
        thousands(i.received_all as u64),
        signed_mib(i.server_rss_after_load_bytes, i.server_rss_before_bytes),
        bytes_per_query(i.server_rss_bytes_per_query_after_load),
        thousands(i.closed as u64),
        i.error
            .as_deref()
            .map(|e| format!(", error: {e}"))
            .unwrap_or_default()
    );
}

/// The report for people: a few aligned lines, one per consumer.
pub fn render_human(r: &Report) -> String {
    let mut out = String::new();
    let c = &r.config;
    let pace = match c.rate_rows_per_s {
        Some(rate_total) => format!("paced at {} rows/s", rate(rate_total)),
        None => "flat out".to_string(),
    };
    let w = &mut out;
    let _ = writeln!(
        w,
        "sluice bench against {}: {} producer(s) → {} stream(s) × {} partition(s){}, \
         {} rows, {} push quer{}, {pace}, window {} rows",
        c.addr,
        c.producers,
        c.streams,
        c.partitions,
        if c.keyed { " keyed" } else { "" },
        c.row_shape.name(),
        c.queries,
        if c.queries == 1 { "y" } else { "ies" },
        thousands(u64::from(c.window_rows)),
    );
    #[allow(clippy::cast_precision_loss)]
    let mean_row = if r.acked_rows == 0 {
        0.0
    } else {
        r.acked_bytes as f64 / r.acked_rows as f64
    };
    let _ = writeln!(
        w,
        "{:<14}{} rows sent, {} acked in {:.2} s: {} rows/s, {:.2} MB/s (rows {mean_row:.0} B)",
        "ingest",
        thousands(r.sent_rows),
        thousands(r.acked_rows),
        r.elapsed_s,
        rate(r.acked_rows_per_s),
        r.acked_mb_per_s,
    );
    latency_line(w, "ack latency", r.ack_latency.as_ref());
    latency_line(w, "e2e latency", r.e2e_latency.as_ref());
    for p in &r.consumers {
        let _ = writeln!(
            w,
            "{:<14}#{} {}: {} rows, {} rows/s, missing {}, duplicates {}{}",
            "push query",
            p.index,
            p.stream,
            thousands(p.rows),
            rate(p.rows_per_s),
            thousands(p.missing),
            thousands(p.duplicates),
            p.error
                .as_deref()
                .map(|e| format!(", error: {e}"))
                .unwrap_or_default()
        );
    }
    if let Some(cu) = &r.catch_up {
        let _ = writeln!(
            w,
            "{:<14}{} rows from earliest in {:.2} s: {} rows/s, {:.2} MB/s, missing {}, \
             duplicates {}{}",
            "catch-up",
            thousands(cu.rows),
            cu.elapsed_s,
            rate(cu.rows_per_s),
            cu.mb_per_s,
            thousands(cu.missing),
            thousands(cu.duplicates),
            cu.server_cpu_us_per_row
                .map(|c| format!(", server {c:.2} µs CPU/row"))
                .unwrap_or_default()
        );
    }
    if let Some(idle) = &r.idle {
        idle_lines(w, idle);
    }
    if let Some(s) = &r.server {
        proc_line(w, "server", s);
    }
    if let Some(s) = &r.client {
        proc_line(w, "client", s);
    }
    for e in &r.errors {
        let _ = writeln!(w, "{:<14}{e}", "error");
    }
    let _ = writeln!(w, "{:<14}{}", "result", if r.ok { "ok" } else { "FAILED" });
    out
}

fn pull_proc_line(out: &mut String, name: &str, p: &PullProcLine) {
    let _ = writeln!(
        out,
        "{name:<14}pid {}  RSS {} (peak {})  CPU {:.2} s ({:.0}% of a core) = {:.2} µs/query",
        p.pid,
        mib(p.rss_bytes),
        mib(p.rss_peak_bytes),
        p.cpu_s,
        p.cpu_percent,
        p.cpu_us_per_query
    );
}

/// The `--pull-queries` report for people.
pub fn render_pull_human(r: &PullReport) -> String {
    let mut out = String::new();
    let c = &r.config;
    let pace = match c.rate_queries_per_s {
        Some(q) => format!("paced at {} queries/s", rate(q)),
        None => "closed loop".to_string(),
    };
    let w = &mut out;
    let _ = writeln!(
        w,
        "sluice bench --pull-queries against {}: {} keys in {} ({}, {} rows, {} partition(s)), \
         {} connection(s) × {} in flight on {}, {pace}, {:.0} s",
        c.addr,
        thousands(c.keys),
        c.table,
        c.table_kind,
        c.row_shape.name(),
        c.partitions,
        c.connections,
        c.in_flight_per_connection,
        c.endpoint,
        c.duration_s_max,
    );
    let table_ready = if c.table_kind == "source" {
        "the source table was created"
    } else {
        "the CTAS caught up"
    };
    let _ = writeln!(
        w,
        "{:<14}{} rows loaded in {:.2} s ({} rows/s); {table_ready} {:.2} s later",
        "setup",
        thousands(r.loaded_rows),
        r.load_s,
        rate(r.load_rows_per_s),
        r.ctas_catch_up_s,
    );
    let _ = writeln!(
        w,
        "{:<14}{} answered with their row in {:.2} s: {} queries/s; wrong row {}, no row {}, \
         failed {}",
        "pull queries",
        thousands(r.queries_ok),
        r.elapsed_s,
        rate(r.queries_per_s),
        thousands(r.wrong_rows),
        thousands(r.empty_answers),
        thousands(r.failed),
    );
    if let Some(l) = &r.latency {
        let _ = writeln!(
            w,
            "{:<14}p50 {}  p99 {}  p99.9 {}  max {}  ({} queries)",
            "latency",
            duration_us(l.p50_us),
            duration_us(l.p99_us),
            duration_us(l.p999_us),
            duration_us(l.max_us),
            thousands(l.count)
        );
    }
    if let Some(s) = &r.server {
        pull_proc_line(w, "server", s);
    }
    if let Some(s) = &r.client {
        pull_proc_line(w, "client", s);
    }
    for e in &r.errors {
        let _ = writeln!(w, "{:<14}{e}", "error");
    }
    let _ = writeln!(w, "{:<14}{}", "result", if r.ok { "ok" } else { "FAILED" });
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) fn sample() -> Report {
        Report {
            config: ConfigEcho {
                addr: "127.0.0.1:8088".into(),
                producers: 1,
                streams: 1,
                partitions: 1,
                keyed: false,
                row_shape: RowShape::Mixed,
                row_bytes: None,
                window_rows: 10_000,
                chunk_rows: 256,
                rate_rows_per_s: None,
                queries: 1,
                query_filter: QueryFilter::None,
                result_frames: ResultFrames::Row,
                rows_max: 1_000_000,
                duration_s_max: 60.0,
                catch_up: false,
                idle_queries: 0,
                idle_stream: IdleStream::Written,
            },
            sent_rows: 1_000_000,
            acked_rows: 1_000_000,
            acked_bytes: 105_000_000,
            elapsed_s: 10.0,
            acked_rows_per_s: 100_000.0,
            acked_mb_per_s: 10.5,
            ack_latency: Some(LatencySummary {
                count: 1_000_000,
                p50_us: 850,
                p99_us: 2_500,
                p999_us: 12_345,
                max_us: 1_500_000,
                mean_us: 900.0,
            }),
            e2e_latency: None,
            producers: vec![],
            consumers: vec![ConsumerLine {
                index: 0,
                stream: "bench_0".into(),
                rows: 1_000_000,
                rows_per_s: 99_999.6,
                missing: 0,
                duplicates: 0,
                unacked_seen: 0,
                unparsed: 0,
                error: None,
            }],
            catch_up: None,
            idle: None,
            server: Some(ProcLine {
                pid: 42,
                rss_bytes: 50 * 1024 * 1024,
                rss_peak_bytes: 60 * 1024 * 1024,
                cpu_s: 12.5,
                cpu_percent: 125.0,
                cpu_us_per_row: 12.5,
            }),
            client: None,
            errors: vec![],
            ok: true,
        }
    }

    #[test]
    fn numbers_read_well() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1_000), "1,000");
        assert_eq!(thousands(1_234_567), "1,234,567");
        assert_eq!(duration_us(850), "850 µs");
        assert_eq!(duration_us(12_345), "12.35 ms");
        assert_eq!(duration_us(1_500_000), "1.50 s");
    }

    #[test]
    fn human_report() {
        let text = render_human(&sample());
        let expected = "\
sluice bench against 127.0.0.1:8088: 1 producer(s) → 1 stream(s) × 1 partition(s), mixed rows, 1 push query, flat out, window 10,000 rows
ingest        1,000,000 rows sent, 1,000,000 acked in 10.00 s: 100,000 rows/s, 10.50 MB/s (rows 105 B)
ack latency   p50 850 µs  p99 2.50 ms  p99.9 12.35 ms  max 1.50 s  (1,000,000 rows)
e2e latency   (none)
push query    #0 bench_0: 1,000,000 rows, 100,000 rows/s, missing 0, duplicates 0
server        pid 42  RSS 50.0 MiB (peak 60.0 MiB)  CPU 12.50 s (125% of a core) = 12.50 µs/row
result        ok
";
        assert_eq!(text, expected);
    }

    #[test]
    fn human_report_with_idle_queries() {
        let mut r = sample();
        r.idle = Some(IdleLine {
            queries: 10_000,
            opened: 10_000,
            stream: IdleStream::Quiet,
            connections: 10,
            open_s: 1.234,
            server_rss_before_bytes: Some(10 << 20),
            server_rss_opened_bytes: Some(100 << 20),
            server_rss_after_load_bytes: Some(101 << 20),
            server_rss_bytes_per_query: Some(9_437.18),
            server_rss_bytes_per_query_after_load: Some(9_542.04),
            server_cpu_percent_while_idle: Some(0.4),
            received_all: 10_000,
            closed: 9_999,
            error: Some("idle query q: the body did not end after /close-query".into()),
        });
        let text = render_human(&r);
        let expected = "\
idle queries  10,000/10,000 open on a quiet stream over 10 connection(s) in 1.23 s: server RSS +90.0 MiB = 9,437 B/query, CPU at rest 0%
              after load: 10,000 got no row, as expected, RSS +91.0 MiB = 9,542 B/query; 9,999 closed cleanly, error: idle query q: the body did not end after /close-query
";
        assert!(text.contains(expected), "{text}");
        assert!(!r.idle.as_ref().expect("set").ok());
        let v = serde_json::to_value(&r).expect("serialises");
        assert_eq!(v["idle"]["stream"], "quiet");
        assert_eq!(v["idle"]["closed"], 9_999);
    }

    #[test]
    fn json_report_has_the_counts_at_the_top() {
        let v = serde_json::to_value(sample()).expect("serialises");
        assert_eq!(v["acked_rows"], 1_000_000);
        assert_eq!(v["ack_latency"]["p999_us"], 12_345);
        assert_eq!(v["consumers"][0]["missing"], 0);
        assert!(v["e2e_latency"].is_null());
        assert_eq!(v["ok"], true);
    }
}
