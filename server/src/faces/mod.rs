//! The API faces, each a folder with its routes, its handlers and (in `protocol`) its wire
//! shapes and error mapping. The router asks them in this order:
//!
//! - `console`: the web console, for browsers at `/` and `/console/*`.
//! - `rest_proxy`: raw topics in Confluent REST Proxy v2 shapes, `/topics…`.
//! - `deltastream`: DeltaStream's REST API v2, `/v2/…` (statements, polling, paging).
//! - `ksqldb`: ksqlDB's HTTP API, every other path (and its 404s).
//!
//! KalamDB (`/v1/…`), Foundry and Roe each become a folder here and a line in `router`.

pub mod console;
pub mod deltastream;
pub mod ksqldb;
pub mod rest_proxy;
