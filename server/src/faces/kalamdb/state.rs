//! What the KalamDB face keeps beside the engine: its namespaces. The engine's catalog is
//! flat; a KalamDB table `ns.t` is the source `` `ns.t` `` (see the protocol's `dialect`),
//! and the namespace itself is a name this face remembers, in a file of the data directory
//! ([`NAMESPACES_FILE`]) written before a namespace statement answers: a namespace a client
//! was told exists still exists after a restart.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// Most namespaces the face keeps: KalamDB has no documented cap; this bounds the set a
/// client can grow while staying far above any real deployment's count.
pub const NAMESPACES_MAX: usize = 10_000;

/// The file in the data directory that holds the namespaces (a JSON array of names).
pub const NAMESPACES_FILE: &str = "kalamdb-namespaces.json";

/// The face's state, shared by every request.
#[derive(Debug, Default)]
pub struct KalamState {
    namespaces: Mutex<BTreeSet<String>>,
    /// Where the namespaces are kept; `None` keeps them in memory only (tests).
    file: Option<PathBuf>,
}

/// Why a namespace statement failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NamespaceError {
    Exists(String),
    NotFound(String),
    TooMany,
    /// The namespaces could not be written down; nothing changed.
    Storage(String),
}

impl std::fmt::Display for NamespaceError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            NamespaceError::Exists(n) => write!(f, "Namespace '{n}' already exists"),
            NamespaceError::NotFound(n) => write!(f, "Namespace '{n}' does not exist"),
            NamespaceError::TooMany => write!(f, "at most {NAMESPACES_MAX} namespaces may exist"),
            NamespaceError::Storage(e) => write!(f, "could not save the namespaces: {e}"),
        }
    }
}

impl KalamState {
    /// The state kept in `file` (none yet is an empty set); `None` keeps it in memory.
    pub fn open(file: Option<PathBuf>) -> std::io::Result<KalamState> {
        let namespaces = match &file {
            None => BTreeSet::new(),
            Some(path) => read_namespaces(path)?,
        };
        Ok(KalamState {
            namespaces: Mutex::new(namespaces),
            file,
        })
    }

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
        let mut changed = set.clone();
        changed.insert(name.to_string());
        self.save(&changed)?;
        *set = changed;
        Ok(())
    }

    pub fn drop_namespace(&self, name: &str, if_exists: bool) -> Result<(), NamespaceError> {
        let mut set = self
            .namespaces
            .lock()
            .expect("namespace set lock is never poisoned");
        if !set.contains(name) {
            return match if_exists {
                true => Ok(()),
                false => Err(NamespaceError::NotFound(name.into())),
            };
        }
        let mut changed = set.clone();
        changed.remove(name);
        self.save(&changed)?;
        *set = changed;
        Ok(())
    }

    /// Writes `namespaces` down before they take effect.
    fn save(&self, namespaces: &BTreeSet<String>) -> Result<(), NamespaceError> {
        let Some(file) = &self.file else {
            return Ok(());
        };
        let json =
            serde_json::to_vec(namespaces).map_err(|e| NamespaceError::Storage(e.to_string()))?;
        crate::durable_file::replace(file, &json, crate::durable_file::Access::Default)
            .map_err(|e| NamespaceError::Storage(e.to_string()))
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

/// The namespaces a namespaces file holds; a missing file holds none.
fn read_namespaces(file: &Path) -> std::io::Result<BTreeSet<String>> {
    let bytes = match std::fs::read(file) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(BTreeSet::new()),
        Err(e) => return Err(e),
    };
    let bad = |reason: String| {
        std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!("{}: {reason}", file.display()),
        )
    };
    let names: BTreeSet<String> = serde_json::from_slice(&bytes).map_err(|e| bad(e.to_string()))?;
    if names.len() > NAMESPACES_MAX {
        return Err(bad(format!("more than {NAMESPACES_MAX} namespaces")));
    }
    Ok(names)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn namespaces_are_kept_across_a_reopen() {
        let dir = tempfile::tempdir().expect("dir");
        let file = dir.path().join(NAMESPACES_FILE);
        let state = KalamState::open(Some(file.clone())).expect("opens without a file");
        state.create_namespace("app", false).expect("app");
        state.create_namespace("tmp", false).expect("tmp");
        state.drop_namespace("tmp", false).expect("drop");
        drop(state);
        let reopened = KalamState::open(Some(file.clone())).expect("reopens");
        assert_eq!(reopened.namespaces(), ["app"]);
        assert_eq!(
            reopened.create_namespace("app", false),
            Err(NamespaceError::Exists("app".into()))
        );
        std::fs::write(&file, b"{").expect("damage it");
        assert!(
            KalamState::open(Some(file)).is_err(),
            "a damaged file is an error"
        );
    }
}
