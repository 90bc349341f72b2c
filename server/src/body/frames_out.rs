//! Response bodies: a fixed body, or a stream of chunks fed through a bounded channel,
//! sent as they come or one line per frame.
//!
//! The streaming sender is a tokio `mpsc::Sender`, so a handler can wait on `closed()` to
//! learn at once that the client cancelled its HTTP/2 stream or dropped the connection
//! (hyper drops the body, which drops the receiver), even while it has nothing to send.

use std::convert::Infallible;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use hyper::body::{Body, Frame, SizeHint};
use tokio::sync::mpsc;

/// Chunks queued between a streaming handler and hyper. Small on purpose: once hyper stops
/// pulling (HTTP/2 flow control window exhausted, slow client), the handler waits instead
/// of buffering; memory per slow consumer stays bounded by this × chunk size.
pub const STREAM_CHUNKS_QUEUED_MAX: usize = 8;

pub enum ResponseBody {
    Full(Option<Bytes>),
    Stream(mpsc::Receiver<Bytes>),
    /// A stream whose chunks go out one line (ending in `\n`) per frame, as ksqlDB writes
    /// a query's header and each row: on HTTP/2, one DATA frame per row. Clients rely on
    /// it: the npm `ksqldb-client` parses each DATA frame of `/query-stream` as one JSON
    /// document and failed on a frame of several rows. The handler still hands over whole
    /// batches; the lines are zero-copy slices of them.
    Lines {
        /// `None`: a fixed body, all in `pending`.
        rx: Option<mpsc::Receiver<Bytes>>,
        /// What is left of the last chunk.
        pending: Bytes,
    },
}

impl ResponseBody {
    pub fn empty() -> ResponseBody {
        ResponseBody::Full(None)
    }

    pub fn full(bytes: impl Into<Bytes>) -> ResponseBody {
        let bytes = bytes.into();
        if bytes.is_empty() {
            ResponseBody::Full(None)
        } else {
            ResponseBody::Full(Some(bytes))
        }
    }

    /// A streaming body and the bounded sender that feeds it.
    pub fn channel() -> (mpsc::Sender<Bytes>, ResponseBody) {
        let (tx, rx) = mpsc::channel(STREAM_CHUNKS_QUEUED_MAX);
        (tx, ResponseBody::Stream(rx))
    }

    /// A streaming body that sends its chunks one line per frame ([`ResponseBody::Lines`]),
    /// and the bounded sender that feeds it.
    pub fn channel_by_line() -> (mpsc::Sender<Bytes>, ResponseBody) {
        let (tx, rx) = mpsc::channel(STREAM_CHUNKS_QUEUED_MAX);
        let pending = Bytes::new();
        let rx = Some(rx);
        (tx, ResponseBody::Lines { rx, pending })
    }

    /// `body` (a fixed answer) one line per frame, as [`ResponseBody::channel_by_line`]
    /// sends a streamed one; the last line ends the stream (on HTTP/1.1 a sized body).
    pub fn full_by_line(body: impl Into<Bytes>) -> ResponseBody {
        ResponseBody::Lines {
            rx: None,
            pending: body.into(),
        }
    }
}

impl Body for ResponseBody {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        match self.get_mut() {
            ResponseBody::Full(bytes) => Poll::Ready(bytes.take().map(|b| Ok(Frame::data(b)))),
            // An empty chunk would go out as an empty DATA frame without END_STREAM, which
            // peers count as abuse: h2 (Rust) sends GOAWAY ENHANCE_YOUR_CALM after 100 of
            // them on one connection, so a client sharing a connection among many push
            // queries would lose it after 100 closes. Skip them; the body's end is one frame.
            ResponseBody::Stream(rx) => loop {
                match rx.poll_recv(cx) {
                    Poll::Ready(Some(chunk)) if chunk.is_empty() => continue,
                    other => return other.map(|chunk| chunk.map(|b| Ok(Frame::data(b)))),
                }
            },
            ResponseBody::Lines { rx, pending } => loop {
                if !pending.is_empty() {
                    let end = memchr::memchr(b'\n', pending).map_or(pending.len(), |at| at + 1);
                    return Poll::Ready(Some(Ok(Frame::data(pending.split_to(end)))));
                }
                let Some(chunks) = rx else {
                    return Poll::Ready(None);
                };
                match chunks.poll_recv(cx) {
                    Poll::Ready(Some(chunk)) => *pending = chunk,
                    Poll::Ready(None) => return Poll::Ready(None),
                    Poll::Pending => return Poll::Pending,
                }
            },
        }
    }

    fn is_end_stream(&self) -> bool {
        match self {
            ResponseBody::Full(None) => true,
            ResponseBody::Lines { rx: None, pending } => pending.is_empty(),
            _ => false,
        }
    }

    fn size_hint(&self) -> SizeHint {
        match self {
            ResponseBody::Full(Some(b)) => SizeHint::with_exact(b.len() as u64),
            ResponseBody::Full(None) => SizeHint::with_exact(0),
            ResponseBody::Lines { rx: None, pending } => SizeHint::with_exact(pending.len() as u64),
            ResponseBody::Stream(_) | ResponseBody::Lines { .. } => SizeHint::default(),
        }
    }
}

#[cfg(test)]
mod tests {
    use http_body_util::BodyExt;

    use super::*;

    #[tokio::test]
    async fn a_streaming_body_sends_no_empty_data_frames() {
        let (tx, mut body) = ResponseBody::channel();
        for chunk in ["", "[1]\n", "", "[2]\n", ""] {
            tx.send(Bytes::from(chunk)).await.expect("body is open");
        }
        drop(tx);
        let mut frames = Vec::new();
        while let Some(frame) = body.frame().await {
            let data = frame.expect("infallible").into_data().expect("data frame");
            frames.push(data);
        }
        assert_eq!(frames, ["[1]\n", "[2]\n"]);
    }

    async fn frames(mut body: ResponseBody) -> Vec<Bytes> {
        let mut frames = Vec::new();
        while let Some(frame) = body.frame().await {
            frames.push(frame.expect("infallible").into_data().expect("data frame"));
        }
        frames
    }

    #[tokio::test]
    async fn a_line_framed_body_sends_each_line_as_its_own_frame() {
        let (tx, body) = ResponseBody::channel_by_line();
        for chunk in ["{\"h\":1}\n[1]\n[2]\n", "", "[3]\n", "[4]\n[5"] {
            tx.send(Bytes::from(chunk)).await.expect("body is open");
        }
        drop(tx);
        assert_eq!(
            frames(body).await,
            ["{\"h\":1}\n", "[1]\n", "[2]\n", "[3]\n", "[4]\n", "[5"]
        );
        let full = ResponseBody::full_by_line("[{\"h\":1},\n[1]]");
        assert_eq!(frames(full).await, ["[{\"h\":1},\n", "[1]]"]);
    }
}
