//! One accepted socket: HTTP/1.1 and cleartext HTTP/2 (prior knowledge) on the same port.

use std::convert::Infallible;
use std::sync::Arc;

use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use sluice_engine::Engine;
use tokio::net::TcpStream;

use crate::router::route;

/// HTTP/2 stream window: large enough that one producer streaming ~100 B rows is not
/// throttled by WINDOW_UPDATE round trips on loopback.
pub const H2_STREAM_WINDOW_BYTES: u32 = 4 * 1024 * 1024;
/// HTTP/2 connection window: a few streams' worth.
pub const H2_CONNECTION_WINDOW_BYTES: u32 = 16 * 1024 * 1024;
/// Concurrent streams per HTTP/2 connection (push queries, inserts) — bounds per-client state.
pub const H2_CONCURRENT_STREAMS_MAX: u32 = 1024;

pub fn builder() -> auto::Builder<TokioExecutor> {
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http2()
        .initial_stream_window_size(H2_STREAM_WINDOW_BYTES)
        .initial_connection_window_size(H2_CONNECTION_WINDOW_BYTES)
        .max_concurrent_streams(H2_CONCURRENT_STREAMS_MAX);
    builder
}

/// Serves one connection until the client closes it or `watcher` signals shutdown.
pub async fn serve(
    builder: &auto::Builder<TokioExecutor>,
    stream: TcpStream,
    engine: Arc<Engine>,
    watcher: &hyper_util::server::graceful::GracefulShutdown,
) {
    let _ = stream.set_nodelay(true);
    let service = service_fn(move |req| {
        let engine = Arc::clone(&engine);
        // Boxed because hyper keeps each HTTP/2 stream's task as large as this future for
        // the stream's whole life: inlined, the router's state machine (~2.3 KiB, the
        // largest endpoint's) would stay allocated by every open push query after routing.
        let routed = Box::pin(route(engine, req));
        async move { Ok::<_, Infallible>(routed.await) }
    });
    let conn = builder
        .serve_connection(TokioIo::new(stream), service)
        .into_owned();
    let conn = watcher.watch(conn);
    tokio::spawn(async move {
        if let Err(e) = conn.await {
            tracing::debug!(error = %e, "connection ended with an error");
        }
    });
}
