//! Inserts-stream acks: `{"status":"ok","seq":N}` per row, in seq order.
//!
//! Delimited (default): one ack per line. `application/json`: one array `[{...},{...}]`.

use crate::ksqldb::media_type::ResultFormat;
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
        write_u64(seq, out);
        out.push(b'}');
        self.terminator(out);
    }

    /// The error ack; the response ends after it (ksqldb-api.md §5).
    pub fn error(&mut self, seq: u64, error_code: u32, message: &str, out: &mut Vec<u8>) {
        self.separator(out);
        out.extend_from_slice(b"{\"@type\":\"InsertError\",\"status\":\"error\",\"seq\":");
        write_u64(seq, out);
        out.extend_from_slice(b",\"error_code\":");
        write_u64(u64::from(error_code), out);
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

/// Decimal digits of `n` without a heap allocation (one ack per row is the hot path).
fn write_u64(mut n: u64, out: &mut Vec<u8>) {
    let mut digits = [0u8; 20];
    let mut i = digits.len();
    loop {
        i -= 1;
        digits[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    out.extend_from_slice(&digits[i..]);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digits() {
        for n in [0u64, 7, 10, 99, 1_000_000, u64::MAX] {
            let mut out = Vec::new();
            write_u64(n, &mut out);
            assert_eq!(out, n.to_string().into_bytes());
        }
    }

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
