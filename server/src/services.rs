//! What every request handler may use: the engine (through its facade) and the auth gate.

use std::sync::Arc;

use sluice_engine::Engine;

use crate::auth::Auth;

/// The shared state behind every connection.
#[derive(Debug)]
pub struct Services {
    pub engine: Arc<Engine>,
    pub auth: Arc<Auth>,
}
