//! # sluice-server
//!
//! The only crate that touches sockets. It accepts connections, speaks HTTP/1.1 and
//! HTTP/2 on one port (cleartext, or TLS with ALPN), routes requests, and runs each
//! endpoint's data path between the protocol codecs and the engine.
//!
//! ```text
//!  listener (cap) ─► connection ([tls] ─► hyper auto: h1 | h2; timeouts) ─► router ─► faces::*
//!                                                                               └► metrics
//!     body::frames_in (request DATA) ─► protocol decoders ─► engine
//!     engine ─► protocol encoders ─► body::frames_out (bounded channel ─► DATA)
//! ```
//!
//! Modules:
//! - `listener`: bind, accept loop (admission against the connection cap), graceful shutdown.
//! - `connection`: per-socket TLS handshake, HTTP setup (windows, stream limits, HTTP/2
//!   pings), header-read and idle timeouts, health-only connections, HEAD without a body,
//!   HTTP/1.1 upgrades (an upgraded socket keeps its slot until its task ends).
//! - `limits`: the connection limits (timeouts, cap, health headroom) and their defaults.
//! - `tls`: certificate chain and key from PEM files, rustls (ring) with ALPN h2/http/1.1.
//! - `push_quota`: push queries per connection (a slot held while a push query runs).
//! - `face_port`: a face's own extra port (`--kalamdb-listen`, …): that face's routes and
//!   the health check, every other path the face's own 404.
//! - `router`: request → face (console, REST proxy, DeltaStream, Roe, Foundry, ksqlDB),
//!   through the auth gate.
//! - `auth`: the one principal model and the one place that decides who may do what
//!   (Basic credentials, bearer tokens, allowed roles, task visibility).
//! - `services`: what handlers share (the engine facade, the auth gate, the task registry).
//! - `tasks`: the statement/task registry (ids, states, retained paged results, expiry).
//! - `faces`: one folder per API face with its routes and handlers: `ksqldb`
//!   (`inserts_stream`, `query_stream`, `query`, `print`, `close_query`, `ksql`, `info`,
//!   `query_progress`), `rest_proxy` (`topics`), `deltastream` (`statements`,
//!   `respond`, `sources`), `roe` (`query`, `tables`), `foundry` (`call`, `streaming_execute`,
//!   `execute`, `executions`, `metadata`),
//!   `kalamdb` (`sql`, `auth`, topics, `ws` and `live` for `/v1/ws`), `console` (the web
//!   console's embedded assets, from `assets/console/`).
//! - `durable_file`: small state files of the data directory, replaced whole and durably.
//! - `metrics`: Prometheus metrics at `GET /metrics` (families, handles the data path
//!   bumps, the scrape).
//! - `response`: JSON, error and streaming responses every face builds.
//! - `query_string`: a URI's path segments and query values, percent-decoded.
//! - `body`: request reading with limits; streaming response bodies.
//!
//! Non-goals: client certificates and certificate reloading (restart to rotate).

pub mod auth;
pub mod body;
pub mod connection;
pub mod durable_file;
pub mod face_port;
pub mod faces;
pub mod limits;
pub mod listener;
pub mod metrics;
pub mod push_quota;
pub mod query_string;
pub mod response;
pub mod router;
pub mod services;
pub mod tasks;
pub mod tls;

pub use face_port::Face;
pub use limits::ConnectionLimits;
pub use listener::{Server, ServerOptions};
pub use metrics::Metrics;
pub use tls::{TlsConfig, TlsError};
