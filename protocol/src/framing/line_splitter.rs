//! Splits an inserts-stream body into lines, however its DATA frames are cut.
//!
//! A line that lies wholly inside one chunk is returned as a slice of that chunk (no copy).
//! Only a line that straddles chunks is copied, once, into the carry buffer. "Need more
//! bytes" is a normal state, not an error (mini-redis's framing rule).

use bytes::{Bytes, BytesMut};

use crate::error::ProtocolError;

#[derive(Debug)]
pub struct LineSplitter {
    carry: BytesMut,
    line_bytes_max: usize,
}

impl LineSplitter {
    pub fn new(line_bytes_max: usize) -> LineSplitter {
        LineSplitter {
            carry: BytesMut::new(),
            line_bytes_max,
        }
    }

    /// Appends every complete line in `chunk` to `out` (without its `\n` or a trailing
    /// `\r`). Blank lines are skipped.
    pub fn push(&mut self, chunk: Bytes, out: &mut Vec<Bytes>) -> Result<(), ProtocolError> {
        let mut start = 0;
        while let Some(pos) = memchr::memchr(b'\n', &chunk[start..]) {
            let end = start + pos;
            if self.carry.is_empty() {
                self.check_len(end - start)?;
                emit(chunk.slice(start..end), out);
            } else {
                self.check_len(self.carry.len() + end - start)?;
                self.carry.extend_from_slice(&chunk[start..end]);
                emit(self.carry.split().freeze(), out);
            }
            start = end + 1;
        }
        if start < chunk.len() {
            self.check_len(self.carry.len() + chunk.len() - start)?;
            self.carry.extend_from_slice(&chunk[start..]);
        }
        Ok(())
    }

    /// The body ended: a last line without `\n` is still a line (curl `-d` strips newlines).
    pub fn finish(&mut self, out: &mut Vec<Bytes>) {
        if !self.carry.is_empty() {
            emit(self.carry.split().freeze(), out);
        }
    }

    /// Bytes of a partial line waiting for its newline.
    pub fn pending_bytes(&self) -> usize {
        self.carry.len()
    }

    fn check_len(&self, len: usize) -> Result<(), ProtocolError> {
        if len > self.line_bytes_max {
            return Err(ProtocolError::RowTooLarge {
                limit_bytes: self.line_bytes_max,
            });
        }
        Ok(())
    }
}

fn emit(mut line: Bytes, out: &mut Vec<Bytes>) {
    if line.last() == Some(&b'\r') {
        line.truncate(line.len() - 1);
    }
    if line.iter().all(u8::is_ascii_whitespace) {
        return;
    }
    out.push(line);
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn split_all(chunks: &[&[u8]]) -> Result<Vec<Bytes>, ProtocolError> {
        let mut s = LineSplitter::new(64);
        let mut out = Vec::new();
        for c in chunks {
            s.push(Bytes::copy_from_slice(c), &mut out)?;
        }
        s.finish(&mut out);
        Ok(out)
    }

    #[test]
    fn lines_and_blank_lines() {
        let out = split_all(&[b"{\"a\":1}\n\n{\"a\":2}\r\n{\"a\"", b":3}"]).expect("splits");
        assert_eq!(out, vec![&b"{\"a\":1}"[..], b"{\"a\":2}", b"{\"a\":3}"]);
    }

    #[test]
    fn over_long_line_is_an_error_even_across_chunks() {
        let long = vec![b'x'; 40];
        let err = split_all(&[&long, &long]).expect_err("too long");
        assert_eq!(err, ProtocolError::RowTooLarge { limit_bytes: 64 });
    }

    proptest! {
        /// Decoders don't care how input is chunked: every split gives the same lines.
        #[test]
        fn any_chunking_gives_the_same_lines(
            rows in proptest::collection::vec("[a-z0-9{}:\", ]{0,20}", 0..12),
            cuts in proptest::collection::vec(0usize..300, 0..8),
        ) {
            let body: Vec<u8> = rows.iter().flat_map(|r| r.bytes().chain([b'\n'])).collect();
            let whole = split_all(&[&body]).expect("fits");
            let mut points: Vec<usize> = cuts.into_iter().map(|c| c % (body.len() + 1)).collect();
            points.sort_unstable();
            let mut chunks = Vec::new();
            let mut last = 0;
            for p in points {
                chunks.push(&body[last..p]);
                last = p;
            }
            chunks.push(&body[last..]);
            prop_assert_eq!(split_all(&chunks).expect("fits"), whole);
        }
    }

    #[test]
    fn every_single_split_point_gives_the_same_lines() {
        let body = b"{\"K\":\"a\",\"V\":1}\n{\"K\":\"b\",\"V\":2}\n\n{\"K\":\"c\"}\n";
        let whole = split_all(&[body]).expect("fits");
        for i in 0..=body.len() {
            assert_eq!(
                split_all(&[&body[..i], &body[i..]]).expect("fits"),
                whole,
                "split at {i}"
            );
        }
    }
}
