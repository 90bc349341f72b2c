//! # sluice-server
//!
//! The only crate that touches sockets. It accepts connections, speaks HTTP/1.1 and
//! cleartext HTTP/2 on one port, routes requests, and runs each endpoint's data path
//! between the protocol codecs and the engine.
//!
//! ```text
//!  listener ─► connection (hyper auto: h1 | h2c) ─► router ─► endpoint::*
//!     body::frames_in (request DATA) ─► protocol decoders ─► engine
//!     engine ─► protocol encoders ─► body::frames_out (bounded channel ─► DATA)
//! ```
//!
//! Modules:
//! - `listener`: bind, accept loop, graceful shutdown.
//! - `connection`: per-socket HTTP setup (windows, stream limits).
//! - `router`: method + path → endpoint.
//! - `body`: request reading with limits; streaming response bodies.
//! - `endpoint`: `inserts_stream`, `query_stream`, `query` (the old `/query`), `print`,
//!   `close_query`, `ksql`, `info`, `topics` (raw records, REST Proxy v2 shapes),
//!   `console` (the web console's embedded assets, from `assets/console/`).
//!
//! Non-goals: TLS (put a proxy in front), authentication (a later face).

pub mod body;
pub mod connection;
pub mod endpoint;
pub mod listener;
pub mod router;

pub use listener::Server;
