//! Request bodies: read whole (bounded) for small JSON requests, or frame by frame for
//! the streaming inserts endpoint.

use bytes::{Bytes, BytesMut};
use http_body_util::BodyExt;
use hyper::body::Incoming;
use sluice_protocol::ProtocolError;

/// Why reading a request body stopped early.
#[derive(Debug)]
pub enum ReadError {
    /// Over the endpoint's limit.
    TooLarge(ProtocolError),
    /// The client went away or the stream was reset mid-body.
    Disconnected,
}

/// Reads a whole request body, refusing more than `limit_bytes`.
pub async fn read_to_limit(body: &mut Incoming, limit_bytes: usize) -> Result<Bytes, ReadError> {
    let mut buf = BytesMut::new();
    while let Some(chunk) = next_data(body).await? {
        if buf.len() + chunk.len() > limit_bytes {
            return Err(ReadError::TooLarge(ProtocolError::BodyTooLarge {
                limit_bytes,
            }));
        }
        buf.extend_from_slice(&chunk);
    }
    Ok(buf.freeze())
}

/// The next DATA chunk (trailers are skipped); `None` at the end of the body.
pub async fn next_data(body: &mut Incoming) -> Result<Option<Bytes>, ReadError> {
    loop {
        match body.frame().await {
            None => return Ok(None),
            Some(Err(_)) => return Err(ReadError::Disconnected),
            Some(Ok(frame)) => {
                if let Ok(data) = frame.into_data() {
                    if !data.is_empty() {
                        return Ok(Some(data));
                    }
                }
            }
        }
    }
}
