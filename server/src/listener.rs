//! Binding the port and accepting connections until shutdown.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use hyper_util::server::graceful::GracefulShutdown;
use sluice_engine::Engine;
use tokio::net::TcpListener;

use crate::connection;

/// How long shutdown waits for open responses to finish after push queries are closed.
pub const SHUTDOWN_GRACE_MS: u64 = 5_000;

pub struct Server {
    listener: TcpListener,
    engine: Arc<Engine>,
}

impl Server {
    pub async fn bind(addr: SocketAddr, engine: Arc<Engine>) -> std::io::Result<Server> {
        let listener = TcpListener::bind(addr).await?;
        // Persistent queries replayed from the catalog resume once the server is up.
        engine.start();
        Ok(Server { listener, engine })
    }

    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// Accepts connections until `shutdown` resolves, then closes push queries (their
    /// responses end cleanly) and waits up to `SHUTDOWN_GRACE_MS` for connections to drain.
    pub async fn run(self, shutdown: impl Future<Output = ()>) {
        let builder = connection::builder();
        let graceful = GracefulShutdown::new();
        tokio::pin!(shutdown);
        loop {
            tokio::select! {
                accepted = self.listener.accept() => match accepted {
                    Ok((stream, _)) => {
                        connection::serve(&builder, stream, Arc::clone(&self.engine), &graceful).await;
                    }
                    Err(e) => {
                        // Usually EMFILE: back off briefly rather than spin.
                        tracing::warn!(error = %e, "accept failed");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                    }
                },
                _ = &mut shutdown => break,
            }
        }
        self.engine.close_all_queries();
        let _ = tokio::time::timeout(
            Duration::from_millis(SHUTDOWN_GRACE_MS),
            graceful.shutdown(),
        )
        .await;
    }
}
