//! The API faces, each a folder with its routes, its handlers and (in `protocol`) its wire
//! shapes and error mapping. The router asks them in this order:
//!
//! - `console`: the web console, for browsers at `/` and `/console/*`.
//! - `rest_proxy`: raw topics in Confluent REST Proxy v2 shapes, `/topics…`.
//! - `ksqldb`: ksqlDB's HTTP API, every other path (and its 404s).
//!
//! DeltaStream (`/v2/…`), KalamDB (`/v1/…`), Foundry and Roe each become a folder here and a
//! line in `router`.

pub mod console;
pub mod ksqldb;
pub mod rest_proxy;
