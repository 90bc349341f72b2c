//! The API faces, each a folder with its routes, its handlers and (in `protocol`) its wire
//! shapes and error mapping. The router asks them in this order:
//!
//! - `console`: the web console, for browsers at `/` and `/console/*`.
//! - `rest_proxy`: raw topics in Confluent REST Proxy v2 shapes, `/topics…`.
//! - `deltastream`: DeltaStream's REST API v2, `/v2/…` (statements, polling, paging).
//! - `roe`: Roe AI's database query tasks, `/v1/database/…` and `/v1/tables/…`.
//! - `foundry`: Foundry's query functions over `streamingExecute` (SSE), `/api/v2/…`.
//! - `kalamdb`: KalamDB's SQL API and health, `/v1/api/…`, `/health`.
//! - `ksqldb`: ksqlDB's HTTP API, every other path (and its 404s).

pub mod console;
pub mod deltastream;
pub mod foundry;
pub mod kalamdb;
pub mod ksqldb;
pub mod rest_proxy;
pub mod roe;
