//! `/query-stream` results in the three formats chosen by `Accept` (ksqldb-api.md §3).
//!
//! - Delimited: header object line, then one JSON array line per row.
//! - JSON array: `[{header},[row],[row]]`.
//! - `application/vnd.ksql.v1+json`: `[{"header":…},\n{"row":{"columns":[…]}},\n…{"finalMessage":…}]`.
//! - `application/vnd.ksql.v1+protobuf`: the same array, the header with a `protoSchema`
//!   and each row `{"row":{"protobufBytes":"<base64>"}}` (see `protobuf_rows`).

use sluice_engine::types::{SqlType, Value};
use sluice_engine::EndReason;
use sluice_engine::{CellRef, ResultRows};

use super::protobuf_rows::ProtoRows;
use crate::ksqldb::media_type::ResultFormat;
use crate::value_json::{write_json_string, write_value};
use sluice_engine::codec::write_base64_string;

#[derive(Debug)]
pub struct ResultEncoder {
    format: ResultFormat,
    /// v1+json responses with a final message (push queries, and every query on the old
    /// `/query` endpoint) end every element with `,\n` as it is written, so a client can
    /// parse the header before any row exists, and the final message closes the array (as
    /// ksqlDB's unbuffered writer does). Pull responses on `/query-stream` have no final
    /// message, so they put the separator before each element instead.
    final_message: bool,
    /// The message rows are encoded as, in the protobuf format.
    proto: Option<ProtoRows>,
    /// One row's message before it goes out in base64, reused row after row.
    scratch: std::cell::RefCell<Vec<u8>>,
}

impl ResultEncoder {
    /// For `/query-stream`: every query but a pull over a table ends with a final message
    /// (ksqlDB runs a pull over a stream as a push query that stops at the end).
    pub fn new(format: ResultFormat, final_message: bool) -> ResultEncoder {
        ResultEncoder {
            format,
            final_message,
            proto: None,
            scratch: Default::default(),
        }
    }

    /// For `/query-stream` (and `/query`) in the protobuf format: rows encoded as `proto`.
    pub fn protobuf(proto: ProtoRows, final_message: bool) -> ResultEncoder {
        ResultEncoder {
            format: ResultFormat::KsqlV1Protobuf,
            final_message,
            proto: Some(proto),
            scratch: Default::default(),
        }
    }

    /// For the old `/query` endpoint: the StreamedRow array, where pull queries too end
    /// with `{"finalMessage":"Query Completed"}` (ksqldb-api.md §3, §6).
    pub fn old_query() -> ResultEncoder {
        ResultEncoder {
            format: ResultFormat::KsqlV1Json,
            final_message: true,
            proto: None,
            scratch: Default::default(),
        }
    }

    /// For the old `/query` endpoint, a pull query over a table: ksqlDB ends it with no
    /// final message (rqtt-format.md §2).
    pub fn old_query_table_pull() -> ResultEncoder {
        ResultEncoder {
            format: ResultFormat::KsqlV1Json,
            final_message: false,
            proto: None,
            scratch: Default::default(),
        }
    }

    pub fn header(&self, query_id: &str, names: &[String], types: &[SqlType], out: &mut Vec<u8>) {
        self.header_with_keys(query_id, names, types, &[], out);
    }

    /// The header, with the columns `keys` flags marked `KEY` in a `/query` schema (a pull
    /// query over a table); other framings have no such marker.
    pub fn header_with_keys(
        &self,
        query_id: &str,
        names: &[String],
        types: &[SqlType],
        keys: &[bool],
        out: &mut Vec<u8>,
    ) {
        match self.format {
            ResultFormat::Delimited | ResultFormat::JsonArray => {
                if self.format == ResultFormat::JsonArray {
                    out.push(b'[');
                }
                out.extend_from_slice(b"{\"queryId\":");
                write_json_string(query_id, out);
                out.extend_from_slice(b",\"columnNames\":[");
                for (i, n) in names.iter().enumerate() {
                    if i > 0 {
                        out.push(b',');
                    }
                    write_json_string(n, out);
                }
                out.extend_from_slice(b"],\"columnTypes\":[");
                for (i, t) in types.iter().enumerate() {
                    if i > 0 {
                        out.push(b',');
                    }
                    write_json_string(&t.to_string(), out);
                }
                out.extend_from_slice(b"]}");
                if self.format == ResultFormat::Delimited {
                    out.push(b'\n');
                }
            }
            ResultFormat::KsqlV1Json | ResultFormat::KsqlV1Protobuf => {
                out.extend_from_slice(b"[{\"header\":{\"queryId\":");
                write_json_string(query_id, out);
                out.extend_from_slice(b",\"schema\":");
                let schema: Vec<String> = names
                    .iter()
                    .zip(types)
                    .enumerate()
                    .map(|(i, (n, t))| match keys.get(i) {
                        Some(true) => format!("`{n}` {t} KEY"),
                        _ => format!("`{n}` {t}"),
                    })
                    .collect();
                write_json_string(&schema.join(", "), out);
                if let Some(proto) = &self.proto {
                    out.extend_from_slice(b",\"protoSchema\":");
                    write_json_string(proto.schema(), out);
                }
                out.extend_from_slice(b"}}");
                self.v1_after(out);
            }
        }
    }

    pub fn row(&self, values: &[Value], out: &mut Vec<u8>) {
        self.row_cells(values.iter().map(CellRef::Value), out);
    }

    /// One row given as cells: values are rendered, stored JSON text is copied as it is
    /// (the engine only leaves text that renders identically; see `ResultRows`).
    pub fn row_cells<'a>(&self, cells: impl Iterator<Item = CellRef<'a>>, out: &mut Vec<u8>) {
        match self.format {
            ResultFormat::Delimited => {
                write_array(cells, out);
                out.push(b'\n');
            }
            ResultFormat::JsonArray => {
                out.push(b',');
                write_array(cells, out);
            }
            ResultFormat::KsqlV1Json => {
                self.v1_before(out);
                out.extend_from_slice(b"{\"row\":{\"columns\":");
                write_array(cells, out);
                out.extend_from_slice(b"}}");
                self.v1_after(out);
            }
            ResultFormat::KsqlV1Protobuf => {
                let Some(proto) = &self.proto else {
                    return;
                };
                let mut message = self.scratch.borrow_mut();
                message.clear();
                proto.encode_row(cells, &mut message);
                self.v1_before(out);
                out.extend_from_slice(b"{\"row\":{\"protobufBytes\":");
                write_base64_string(&message, out);
                out.extend_from_slice(b"}}");
                self.v1_after(out);
            }
        }
    }

    /// Every row of a batch. Tombstone rows (a push query on a table passing a delete on)
    /// are shown only in the v1+json format, as ksqlDB does: `"tombstone":true`; the
    /// delimited and JSON-array formats cannot mark one, and ksqlDB drops them there.
    pub fn rows(&self, rows: &ResultRows, out: &mut Vec<u8>) {
        for (tombstone, row) in rows.rows_with_tombstones() {
            match (tombstone, self.format) {
                (false, _) => self.row_cells(row, out),
                // ksqlDB writes a tombstone's key columns as JSON in either v1 format.
                (true, ResultFormat::KsqlV1Json | ResultFormat::KsqlV1Protobuf) => {
                    self.tombstone_cells(row, out)
                }
                (true, _) => {}
            }
        }
    }

    /// A v1+json tombstone row: the key's columns, nulls, and `"tombstone":true`.
    fn tombstone_cells<'a>(&self, cells: impl Iterator<Item = CellRef<'a>>, out: &mut Vec<u8>) {
        self.v1_before(out);
        out.extend_from_slice(b"{\"row\":{\"columns\":");
        write_array(cells, out);
        out.extend_from_slice(b",\"tombstone\":true}}");
        self.v1_after(out);
    }

    /// Closes the response after the last row.
    pub fn end(&self, reason: EndReason, out: &mut Vec<u8>) {
        match self.format {
            ResultFormat::Delimited => {}
            ResultFormat::JsonArray => out.push(b']'),
            ResultFormat::KsqlV1Json | ResultFormat::KsqlV1Protobuf => {
                if self.final_message {
                    out.extend_from_slice(match reason {
                        EndReason::LimitReached => {
                            b"{\"finalMessage\":\"Limit Reached\"}".as_slice()
                        }
                        EndReason::Completed => {
                            b"{\"finalMessage\":\"Query Completed\"}".as_slice()
                        }
                    });
                }
                out.push(b']');
            }
        }
    }

    /// An error after the header: one error element, then the end of the response.
    pub fn error(&self, error_code: u32, message: &str, out: &mut Vec<u8>) {
        let mut obj = Vec::new();
        obj.extend_from_slice(b"{\"@type\":\"generic_error\",\"error_code\":");
        obj.extend_from_slice(error_code.to_string().as_bytes());
        obj.extend_from_slice(b",\"message\":");
        write_json_string(message, &mut obj);
        obj.push(b'}');
        match self.format {
            ResultFormat::Delimited => {
                out.extend_from_slice(&obj);
                out.push(b'\n');
            }
            ResultFormat::JsonArray => {
                out.push(b',');
                out.extend_from_slice(&obj);
                out.push(b']');
            }
            ResultFormat::KsqlV1Json | ResultFormat::KsqlV1Protobuf => {
                self.v1_before(out);
                out.extend_from_slice(b"{\"errorMessage\":");
                out.extend_from_slice(&obj);
                out.extend_from_slice(b"}]");
            }
        }
    }

    fn v1_before(&self, out: &mut Vec<u8>) {
        if !self.final_message {
            out.extend_from_slice(b",\n");
        }
    }

    fn v1_after(&self, out: &mut Vec<u8>) {
        if self.final_message {
            out.extend_from_slice(b",\n");
        }
    }
}

fn write_array<'a>(cells: impl Iterator<Item = CellRef<'a>>, out: &mut Vec<u8>) {
    out.push(b'[');
    for (i, cell) in cells.enumerate() {
        if i > 0 {
            out.push(b',');
        }
        match cell {
            CellRef::Value(v) => write_value(v, out),
            CellRef::Json(text) => out.extend_from_slice(text),
        }
    }
    out.push(b']');
}

#[cfg(test)]
mod tests {
    use super::*;

    fn render(format: ResultFormat, push: bool) -> String {
        let enc = ResultEncoder::new(format, push);
        let mut out = Vec::new();
        enc.header(
            "transient_S_1",
            &["K".into(), "V".into()],
            &[SqlType::String, SqlType::Integer],
            &mut out,
        );
        enc.row(&[Value::String("a".into()), Value::Integer(1)], &mut out);
        enc.end(EndReason::LimitReached, &mut out);
        String::from_utf8(out).expect("utf8")
    }

    #[test]
    fn three_formats() {
        assert_eq!(
            render(ResultFormat::Delimited, true),
            "{\"queryId\":\"transient_S_1\",\"columnNames\":[\"K\",\"V\"],\"columnTypes\":[\"STRING\",\"INTEGER\"]}\n[\"a\",1]\n"
        );
        assert_eq!(
            render(ResultFormat::JsonArray, true),
            "[{\"queryId\":\"transient_S_1\",\"columnNames\":[\"K\",\"V\"],\"columnTypes\":[\"STRING\",\"INTEGER\"]},[\"a\",1]]"
        );
        assert_eq!(
            render(ResultFormat::KsqlV1Json, true),
            "[{\"header\":{\"queryId\":\"transient_S_1\",\"schema\":\"`K` STRING, `V` INTEGER\"}},\n{\"row\":{\"columns\":[\"a\",1]}},\n{\"finalMessage\":\"Limit Reached\"}]"
        );
        assert_eq!(
            render(ResultFormat::KsqlV1Json, false),
            "[{\"header\":{\"queryId\":\"transient_S_1\",\"schema\":\"`K` STRING, `V` INTEGER\"}},\n{\"row\":{\"columns\":[\"a\",1]}}]"
        );
    }

    #[test]
    fn old_query_pull_ends_with_query_completed() {
        let enc = ResultEncoder::old_query();
        let mut out = Vec::new();
        enc.header("query_1", &["V".into()], &[SqlType::Integer], &mut out);
        enc.row(&[Value::Integer(1)], &mut out);
        enc.end(EndReason::Completed, &mut out);
        assert_eq!(
            String::from_utf8(out).expect("utf8"),
            "[{\"header\":{\"queryId\":\"query_1\",\"schema\":\"`V` INTEGER\"}},\n{\"row\":{\"columns\":[1]}},\n{\"finalMessage\":\"Query Completed\"}]"
        );
    }

    #[test]
    fn protobuf_rows_are_base64_messages_under_a_header_with_the_schema() {
        let names = ["V".to_string()];
        let types = [SqlType::Integer];
        let proto = ProtoRows::new(&names, &types).expect("representable");
        let enc = ResultEncoder::protobuf(proto, false);
        let mut out = Vec::new();
        enc.header("q", &names, &types, &mut out);
        enc.row(&[Value::Integer(150)], &mut out);
        enc.end(EndReason::Completed, &mut out);
        assert_eq!(
            String::from_utf8(out).expect("utf8"),
            "[{\"header\":{\"queryId\":\"q\",\"schema\":\"`V` INTEGER\",\"protoSchema\":\"syntax = \\\"proto3\\\";\\n\\nmessage ConnectDefault1 {\\n  int32 V = 1;\\n}\\n\"}},\n{\"row\":{\"protobufBytes\":\"CJYB\"}}]"
        );
    }

    #[test]
    fn push_header_is_complete_before_any_row() {
        let enc = ResultEncoder::new(ResultFormat::KsqlV1Json, true);
        let mut out = Vec::new();
        enc.header("q", &["V".into()], &[SqlType::Integer], &mut out);
        assert!(
            out.ends_with(b"}},\n"),
            "the header line must end with its separator"
        );
    }
}
