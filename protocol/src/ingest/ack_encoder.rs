//! Inserts-stream acks: `{"status":"ok","seq":N}` per row, in seq order.
//!
//! Delimited (default): one ack per line. `application/json`: one array `[{...},{...}]`.

use crate::media_type::ResultFormat;
use crate::value_json::write_json_string;

#[derive(Debug)]
pub struct AckEncoder {
    format: ResultFormat,
    started: bool,
}

impl AckEncoder {
    pub fn new(format: ResultFormat) -> AckEncoder {
        AckEncoder {
            format,
            started: false,
        }
    }

    fn separator(&mut self, out: &mut Vec<u8>) {
        if self.format == ResultFormat::JsonArray {
            out.push(if self.started { b',' } else { b'[' });
        }
        self.started = true;
    }

    fn terminator(&self, out: &mut Vec<u8>) {
        if self.format != ResultFormat::JsonArray {
            out.push(b'\n');
        }
    }

    pub fn ok(&mut self, seq: u64, out: &mut Vec<u8>) {
        self.separator(out);
        out.extend_from_slice(b"{\"status\":\"ok\",\"seq\":");
        out.extend_from_slice(itoa_u64(seq).as_bytes());
        out.push(b'}');
        self.terminator(out);
    }

    /// The error ack; the response ends after it (ksqldb-api.md §5).
    pub fn error(&mut self, seq: u64, error_code: u32, message: &str, out: &mut Vec<u8>) {
        self.separator(out);
        out.extend_from_slice(b"{\"@type\":\"InsertError\",\"status\":\"error\",\"seq\":");
        out.extend_from_slice(itoa_u64(seq).as_bytes());
        out.extend_from_slice(b",\"error_code\":");
        out.extend_from_slice(error_code.to_string().as_bytes());
        out.extend_from_slice(b",\"message\":");
        write_json_string(message, out);
        out.push(b'}');
        self.terminator(out);
    }

    /// Bytes that close the response (`]` for the JSON array; `[]` when no acks were sent).
    pub fn finish(&mut self, out: &mut Vec<u8>) {
        if self.format == ResultFormat::JsonArray {
            if !self.started {
                out.push(b'[');
            }
            out.push(b']');
        }
    }
}

fn itoa_u64(n: u64) -> String {
    n.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delimited_and_array() {
        let mut out = Vec::new();
        let mut d = AckEncoder::new(ResultFormat::Delimited);
        d.ok(0, &mut out);
        d.error(1, 40000, "Invalid JSON in inserts stream", &mut out);
        d.finish(&mut out);
        assert_eq!(
            String::from_utf8(out).expect("utf8"),
            "{\"status\":\"ok\",\"seq\":0}\n{\"@type\":\"InsertError\",\"status\":\"error\",\"seq\":1,\"error_code\":40000,\"message\":\"Invalid JSON in inserts stream\"}\n"
        );
        let mut out = Vec::new();
        let mut a = AckEncoder::new(ResultFormat::JsonArray);
        a.ok(0, &mut out);
        a.ok(1, &mut out);
        a.finish(&mut out);
        assert_eq!(
            String::from_utf8(out).expect("utf8"),
            "[{\"status\":\"ok\",\"seq\":0},{\"status\":\"ok\",\"seq\":1}]"
        );
        let mut out = Vec::new();
        AckEncoder::new(ResultFormat::JsonArray).finish(&mut out);
        assert_eq!(out, b"[]");
    }
}
