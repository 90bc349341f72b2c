//! Binding the port (and any per-face ports) and accepting connections until shutdown.
//!
//! Every port shares one set of services, one connection cap and one shutdown; a face port
//! differs only in routing ([`crate::face_port`]).
//!
//! The accept loop never waits on a connection: admission against the connection cap is a
//! non-blocking slot grab ([`crate::limits`]), a refused socket is closed at once, and TLS
//! handshakes run in each connection's own task.

use std::future::{poll_fn, Future};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::task::Poll;
use std::time::Duration;

use sluice_engine::Engine;
use sluice_protocol::foundry::functions::FunctionRegistry;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::time::Instant;

use crate::auth::Auth;
use crate::connection::{self, Phase, Shared};
use crate::face_port::Face;
use crate::faces::kalamdb::file_store::{FileStore, FILES_DIR};
use crate::faces::kalamdb::{ConsumerGroups, KalamState, TopicOptions};
use crate::limits::{self, ConnectionLimits, ConnectionSlots};
use crate::metrics::Metrics;
use crate::services::Services;
use crate::tasks::{TaskRegistry, STATEMENT_WAIT_MS};
use crate::tls::TlsConfig;

/// How long shutdown waits for open responses to finish after push queries are closed.
pub const SHUTDOWN_GRACE_MS: u64 = 5_000;

/// How long shutdown waits, after the grace period, for connections told to close to go.
/// They only have to drop their sockets.
pub const SHUTDOWN_CLOSE_MS: u64 = 1_000;

/// Back-off after `accept` fails (EMFILE, ENFILE, ENOBUFS): retrying at once would spin on
/// the same error; the wait lets connections close and free descriptors.
pub const ACCEPT_ERROR_BACKOFF_MS: u64 = 50;

/// At most one warning per this interval about refused connections, with their count: a
/// flood must not turn into a flood of log lines.
pub const REFUSED_LOG_INTERVAL_MS: u64 = 10_000;

/// How a server listens, beyond its address.
#[derive(Debug, Clone)]
pub struct ServerOptions {
    pub limits: ConnectionLimits,
    /// TLS on the port (and only TLS); `None` serves cleartext.
    pub tls: Option<TlsConfig>,
    /// Who may do what; the default is authentication off.
    pub auth: Arc<Auth>,
    /// How long a statement request (DeltaStream's `POST /v2/statements`) waits for its
    /// result before answering 202 and leaving the client to poll.
    pub statement_wait: Duration,
    /// Foundry's query functions (`streamingExecute`); none by default.
    pub functions: Arc<FunctionRegistry>,
    /// KalamDB topics: the visibility timeout of consumed ranges, where committed offsets
    /// are kept.
    pub kalamdb_topics: TopicOptions,
    /// Where the KalamDB face keeps its namespaces; `None` keeps them in memory only.
    pub kalamdb_namespaces_file: Option<PathBuf>,
    /// Extra ports, each serving one face (and the health check); none by default, when
    /// every face is on the main port only.
    pub face_listens: Vec<(Face, SocketAddr)>,
}

impl Default for ServerOptions {
    fn default() -> ServerOptions {
        ServerOptions {
            limits: ConnectionLimits::default(),
            tls: None,
            auth: Arc::default(),
            statement_wait: Duration::from_millis(STATEMENT_WAIT_MS),
            functions: Arc::default(),
            kalamdb_topics: TopicOptions::default(),
            kalamdb_namespaces_file: None,
            face_listens: Vec::new(),
        }
    }
}

pub struct Server {
    listener: TcpListener,
    face_listeners: Vec<(Face, TcpListener)>,
    engine: Arc<Engine>,
    limits: ConnectionLimits,
    tls: Option<TlsConfig>,
    auth: Arc<Auth>,
    statement_wait: Duration,
    functions: Arc<FunctionRegistry>,
    kalamdb: Arc<KalamState>,
    kalamdb_topics: Arc<ConsumerGroups>,
    kalamdb_files: Arc<FileStore>,
}

impl Server {
    /// A cleartext server with the default limits.
    pub async fn bind(addr: SocketAddr, engine: Arc<Engine>) -> std::io::Result<Server> {
        Server::bind_with(addr, engine, ServerOptions::default()).await
    }

    /// Binds `addr`. The connection cap is lowered (with a warning) if it would not fit in
    /// the process's open-file limit; [`Server::limits`] tells the value in force.
    pub async fn bind_with(
        addr: SocketAddr,
        engine: Arc<Engine>,
        options: ServerOptions,
    ) -> std::io::Result<Server> {
        let (limits, lowered_from) = options
            .limits
            .fitted_to_open_files(limits::open_files_max());
        match lowered_from {
            // Lowering the default is the design working; lowering what an operator asked
            // for deserves their attention.
            Some(limits::CONNECTIONS_MAX) => tracing::info!(
                connections_max = limits.connections_max,
                open_files_max = ?limits::open_files_max(),
                "connection cap fitted to the open-file limit"
            ),
            Some(requested) => tracing::warn!(
                requested,
                connections_max = limits.connections_max,
                open_files_max = ?limits::open_files_max(),
                "connection cap lowered to fit the open-file limit; raise `ulimit -n` to allow more"
            ),
            None => {}
        }
        let kalamdb_topics = Arc::new(ConsumerGroups::open(&options.kalamdb_topics)?);
        let kalamdb = Arc::new(KalamState::open(options.kalamdb_namespaces_file.clone())?);
        // Uploaded files live beside the face's state, in the data directory.
        let files_dir = options
            .kalamdb_namespaces_file
            .as_ref()
            .and_then(|f| f.parent())
            .map(|dir| dir.join(FILES_DIR));
        let kalamdb_files = Arc::new(FileStore::new(files_dir));
        let listener = TcpListener::bind(addr).await?;
        let mut face_listeners = Vec::with_capacity(options.face_listens.len());
        for (face, face_addr) in &options.face_listens {
            // Named in the error: the caller's context names only the main address.
            let bound = TcpListener::bind(face_addr).await.map_err(|e| {
                std::io::Error::new(
                    e.kind(),
                    format!("binding the {face} port {face_addr}: {e}"),
                )
            })?;
            face_listeners.push((*face, bound));
            announce_auth(&options.auth, *face_addr);
        }
        announce_auth(&options.auth, addr);
        // Persistent queries replayed from the catalog resume once the server is up.
        engine.start();
        Ok(Server {
            listener,
            face_listeners,
            engine,
            limits,
            tls: options.tls,
            auth: options.auth,
            statement_wait: options.statement_wait,
            functions: options.functions,
            kalamdb,
            kalamdb_topics,
            kalamdb_files,
        })
    }

    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// Each face port's face and bound address (its port is known here when 0 was asked).
    pub fn face_addrs(&self) -> std::io::Result<Vec<(Face, SocketAddr)>> {
        self.face_listeners
            .iter()
            .map(|(face, l)| Ok((*face, l.local_addr()?)))
            .collect()
    }

    /// The limits in force (after fitting to the open-file limit).
    pub fn limits(&self) -> &ConnectionLimits {
        &self.limits
    }

    pub fn is_tls(&self) -> bool {
        self.tls.is_some()
    }

    /// Accepts connections until `shutdown` resolves, then closes push queries (their
    /// responses end cleanly), lets connections finish what is in flight for up to
    /// `SHUTDOWN_GRACE_MS`, and drops the rest.
    pub async fn run(self, shutdown: impl Future<Output = ()>) {
        let Server {
            listener,
            face_listeners,
            engine,
            limits,
            tls,
            auth,
            statement_wait,
            functions,
            kalamdb,
            kalamdb_topics,
            kalamdb_files,
        } = self;
        let slots = ConnectionSlots::new(&limits);
        let (phase, phase_rx) = watch::channel(Phase::Serving);
        let services = Arc::new(Services {
            engine: Arc::clone(&engine),
            auth,
            tasks: Arc::new(TaskRegistry::default()),
            statement_wait,
            functions,
            kalamdb,
            kalamdb_topics,
            kalamdb_files,
            kalamdb_live: Arc::default(),
            deltastream_sources: Arc::default(),
            metrics: Arc::new(Metrics::new()),
        });
        // One `Shared` per port: the same services, limits, TLS and phase; only the face
        // filter differs.
        let shared_for = |face: Option<Face>| {
            Arc::new(Shared {
                builder: connection::builder(&limits),
                services: Arc::clone(&services),
                face,
                limits: limits.clone(),
                tls: tls.clone(),
                phase: phase_rx.clone(),
            })
        };
        let mut ports: Vec<(TcpListener, Arc<Shared>)> = vec![(listener, shared_for(None))];
        for (face, face_listener) in face_listeners {
            ports.push((face_listener, shared_for(Some(face))));
        }
        let mut refused = RefusedLog::new();
        let mut first_polled = 0;
        tokio::pin!(shutdown);
        loop {
            tokio::select! {
                (port, accepted) = accept_any(&ports, first_polled) => match accepted {
                    Ok(stream) => match slots.admit() {
                        Some(admission) => {
                            first_polled = port + 1;
                            let shared = Arc::clone(&ports[port].1);
                            tokio::spawn(connection::run(stream, admission, shared));
                        }
                        // Closing at once (not leaving it in the backlog) tells the client
                        // now, and keeps the descriptor count under the cap.
                        None => {
                            drop(stream);
                            refused.count(slots.open());
                        }
                    },
                    Err(e) => {
                        tracing::warn!(error = %e, "accept failed");
                        tokio::time::sleep(Duration::from_millis(ACCEPT_ERROR_BACKOFF_MS)).await;
                    }
                },
                _ = &mut shutdown => break,
            }
        }
        drop(ports);
        // New connections are refused by the OS from here on (the listeners went with
        // `ports`), not queued unanswered.
        engine.close_all_queries();
        phase.send_replace(Phase::Draining);
        let drained =
            tokio::time::timeout(Duration::from_millis(SHUTDOWN_GRACE_MS), slots.all_closed())
                .await;
        if drained.is_err() {
            phase.send_replace(Phase::Closed);
            let _ =
                tokio::time::timeout(Duration::from_millis(SHUTDOWN_CLOSE_MS), slots.all_closed())
                    .await;
        }
    }
}

/// The next connection accepted on any of `ports`, with the index of its port. Polling
/// every listener in one future keeps one accept loop (one cap, one shutdown) for all.
/// Polling starts at `first` (the port after the last one served), so a flood on one port
/// cannot starve the others' accepts.
async fn accept_any(
    ports: &[(TcpListener, Arc<Shared>)],
    first: usize,
) -> (usize, std::io::Result<TcpStream>) {
    poll_fn(|cx| {
        for offset in 0..ports.len() {
            let i = (first + offset) % ports.len();
            if let Poll::Ready(accepted) = ports[i].0.poll_accept(cx) {
                return Poll::Ready((i, accepted.map(|(stream, _)| stream)));
            }
        }
        Poll::Pending
    })
    .await
}

/// Says at start whether requests are authenticated: with auth off, anyone who reaches the
/// port can do anything, which is fine on loopback and worth a warning anywhere else.
fn announce_auth(auth: &Auth, addr: SocketAddr) {
    if auth.is_enabled() || addr.ip().is_loopback() {
        tracing::info!(%addr, "{}", auth.describe());
    } else {
        tracing::warn!(%addr, "{}, and the port is reachable beyond this machine; \
            configure --auth-basic-file / --auth-tokens-file", auth.describe());
    }
}

/// Counts connections refused at the cap and warns about them at most once per interval.
struct RefusedLog {
    since_last: u64,
    last: Option<Instant>,
}

impl RefusedLog {
    fn new() -> RefusedLog {
        RefusedLog {
            since_last: 0,
            last: None,
        }
    }

    fn count(&mut self, open: usize) {
        self.since_last += 1;
        let now = Instant::now();
        let due = self.last.is_none_or(|last| {
            now.duration_since(last) >= Duration::from_millis(REFUSED_LOG_INTERVAL_MS)
        });
        if due {
            tracing::warn!(
                refused = self.since_last,
                open,
                "at the connection limit: refusing new connections"
            );
            self.since_last = 0;
            self.last = Some(now);
        }
    }
}
