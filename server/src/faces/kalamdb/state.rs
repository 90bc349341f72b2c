//! What the KalamDB face keeps beside the engine: its namespaces. The engine's catalog is
//! flat; a KalamDB table `ns.t` is the source `` `ns.t` `` (see the protocol's `dialect`),
//! and the namespace itself is a name this face remembers.

use std::collections::BTreeSet;
use std::sync::Mutex;

/// Most namespaces the face keeps: KalamDB has no documented cap; this bounds the set a
/// client can grow while staying far above any real deployment's count.
pub const NAMESPACES_MAX: usize = 10_000;

/// The face's state, shared by every request.
#[derive(Debug, Default)]
pub struct KalamState {
    namespaces: Mutex<BTreeSet<String>>,
}

/// Why a namespace statement failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NamespaceError {
    Exists(String),
    NotFound(String),
    TooMany,
}

impl std::fmt::Display for NamespaceError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            NamespaceError::Exists(n) => write!(f, "Namespace '{n}' already exists"),
            NamespaceError::NotFound(n) => write!(f, "Namespace '{n}' does not exist"),
            NamespaceError::TooMany => write!(f, "at most {NAMESPACES_MAX} namespaces may exist"),
        }
    }
}

impl KalamState {
    pub fn create_namespace(&self, name: &str, if_not_exists: bool) -> Result<(), NamespaceError> {
        let mut set = self
            .namespaces
            .lock()
            .expect("namespace set lock is never poisoned");
        if set.contains(name) {
            return if if_not_exists {
                Ok(())
            } else {
                Err(NamespaceError::Exists(name.into()))
            };
        }
        if set.len() >= NAMESPACES_MAX {
            return Err(NamespaceError::TooMany);
        }
        set.insert(name.to_string());
        Ok(())
    }

    pub fn drop_namespace(&self, name: &str, if_exists: bool) -> Result<(), NamespaceError> {
        let mut set = self
            .namespaces
            .lock()
            .expect("namespace set lock is never poisoned");
        if set.remove(name) || if_exists {
            Ok(())
        } else {
            Err(NamespaceError::NotFound(name.into()))
        }
    }

    pub fn namespaces(&self) -> Vec<String> {
        let set = self
            .namespaces
            .lock()
            .expect("namespace set lock is never poisoned");
        set.iter().cloned().collect()
    }

    pub fn has_namespace(&self, name: &str) -> bool {
        let set = self
            .namespaces
            .lock()
            .expect("namespace set lock is never poisoned");
        set.contains(name)
    }
}
