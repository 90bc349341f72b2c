//! Response bodies: a fixed body, or a stream of chunks fed through a bounded channel.
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
        }
    }

    fn is_end_stream(&self) -> bool {
        matches!(self, ResponseBody::Full(None))
    }

    fn size_hint(&self) -> SizeHint {
        match self {
            ResponseBody::Full(Some(b)) => SizeHint::with_exact(b.len() as u64),
            ResponseBody::Full(None) => SizeHint::with_exact(0),
            ResponseBody::Stream(_) => SizeHint::default(),
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
}
