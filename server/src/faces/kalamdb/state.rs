//! What the KalamDB face keeps beside the engine: its namespaces, its tables' kinds (which
//! tables are USER tables, `user_scope`) and their column defaults. The engine's catalog is flat; a KalamDB table `ns.t` is the source `` `ns.t` ``
//! (see the protocol's `dialect`), the namespace itself is a name this face remembers, and
//! a column `DEFAULT` is a value the face adds to inserts (`column_defaults`). Both are kept
//! in a file of the data directory ([`NAMESPACES_FILE`]) written before the statement
//! answers: what a client was told exists still exists after a restart.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Mutex;

use serde::{Deserialize, Serialize};
use sluice_protocol::kalamdb::column_defaults::ColumnDefault;
use sluice_protocol::kalamdb::dialect::TableKind;
use sluice_protocol::kalamdb::shared_access::AccessLevel;
use sluice_protocol::kalamdb::user_scope::PerUserTable;

/// Most namespaces the face keeps: KalamDB has no documented cap; this bounds the set a
/// client can grow while staying far above any real deployment's count.
pub const NAMESPACES_MAX: usize = 10_000;

/// Most tables with column defaults the face keeps (a bound like [`NAMESPACES_MAX`]).
pub const TABLES_WITH_DEFAULTS_MAX: usize = 100_000;

/// Most tables whose kind the face keeps (a bound like [`NAMESPACES_MAX`]).
pub const TABLES_WITH_KINDS_MAX: usize = 100_000;

/// The file in the data directory that holds the namespaces and the column defaults.
pub const NAMESPACES_FILE: &str = "kalamdb-namespaces.json";

/// Where `SNOWFLAKE_ID()` counts its milliseconds from (2024-01-01T00:00:00Z), so its 41
/// bits of time last until 2093.
pub const SNOWFLAKE_EPOCH_MS: i64 = 1_704_067_200_000;

/// Bits of a snowflake id below its milliseconds (a sequence within one millisecond).
const SNOWFLAKE_SEQUENCE_BITS: u32 = 22;

/// The face's state, shared by every request.
#[derive(Debug, Default)]
pub struct KalamState {
    saved: Mutex<Saved>,
    /// Where `saved` is kept; `None` keeps it in memory only (tests).
    file: Option<PathBuf>,
    /// The last `SNOWFLAKE_ID()` handed out: ids only grow.
    last_snowflake: AtomicI64,
}

/// A table's TTL in milliseconds (the dialect bounds `TTL_SECONDS` far below overflow).
fn ttl_ms(saved: &Saved, table: &str) -> Option<i64> {
    let seconds = *saved.ttl_seconds.get(table)?;
    Some(i64::try_from(seconds.saturating_mul(1000)).unwrap_or(i64::MAX))
}

/// What the file holds.
#[derive(Debug, Default, Clone, Serialize, Deserialize)]
struct Saved {
    namespaces: BTreeSet<String>,
    /// By table (engine name).
    #[serde(default)]
    defaults: BTreeMap<String, Vec<ColumnDefault>>,
    /// By table (engine name). Tables made before kinds were kept have none: they are read
    /// as everyone's, as they always were.
    #[serde(default)]
    kinds: BTreeMap<String, TableKind>,
    /// By SHARED table (engine name): its access level when not KalamDB's default.
    #[serde(default)]
    access: BTreeMap<String, AccessLevel>,
    /// By STREAM table (engine name): its `TTL_SECONDS`, if it named one.
    #[serde(default)]
    ttl_seconds: BTreeMap<String, u64>,
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
    /// The state kept in `file` (none yet is an empty state); `None` keeps it in memory.
    pub fn open(file: Option<PathBuf>) -> std::io::Result<KalamState> {
        let saved = match &file {
            None => Saved::default(),
            Some(path) => read_saved(path)?,
        };
        Ok(KalamState {
            saved: Mutex::new(saved),
            file,
            last_snowflake: AtomicI64::new(0),
        })
    }

    pub fn create_namespace(&self, name: &str, if_not_exists: bool) -> Result<(), NamespaceError> {
        let mut saved = self.lock();
        if saved.namespaces.contains(name) {
            return if if_not_exists {
                Ok(())
            } else {
                Err(NamespaceError::Exists(name.into()))
            };
        }
        if saved.namespaces.len() >= NAMESPACES_MAX {
            return Err(NamespaceError::TooMany);
        }
        let mut changed = saved.clone();
        changed.namespaces.insert(name.to_string());
        self.save(&changed)?;
        *saved = changed;
        Ok(())
    }

    pub fn drop_namespace(&self, name: &str, if_exists: bool) -> Result<(), NamespaceError> {
        let mut saved = self.lock();
        if !saved.namespaces.contains(name) {
            return match if_exists {
                true => Ok(()),
                false => Err(NamespaceError::NotFound(name.into())),
            };
        }
        let mut changed = saved.clone();
        changed.namespaces.remove(name);
        self.save(&changed)?;
        *saved = changed;
        Ok(())
    }

    pub fn namespaces(&self) -> Vec<String> {
        self.lock().namespaces.iter().cloned().collect()
    }

    pub fn has_namespace(&self, name: &str) -> bool {
        self.lock().namespaces.contains(name)
    }

    /// Records table `table`'s column defaults (none forgets earlier ones: a table made
    /// again under a name gets its new definition's).
    pub fn set_defaults(
        &self,
        table: &str,
        defaults: Vec<ColumnDefault>,
    ) -> Result<(), NamespaceError> {
        let mut saved = self.lock();
        if defaults.is_empty() && !saved.defaults.contains_key(table) {
            return Ok(());
        }
        if !defaults.is_empty()
            && !saved.defaults.contains_key(table)
            && saved.defaults.len() >= TABLES_WITH_DEFAULTS_MAX
        {
            return Err(NamespaceError::TooMany);
        }
        let mut changed = saved.clone();
        match defaults.is_empty() {
            true => changed.defaults.remove(table),
            false => changed.defaults.insert(table.to_string(), defaults),
        };
        self.save(&changed)?;
        *saved = changed;
        Ok(())
    }

    /// Records that table `table` is of `kind`. A per-user (USER or STREAM) table stays one
    /// until it is dropped ([`KalamState::forget_table`]): `CREATE TABLE IF NOT EXISTS` of
    /// the same name with another type must not open its rows to everyone.
    pub fn note_table_kind(&self, table: &str, kind: TableKind) -> Result<(), NamespaceError> {
        let mut saved = self.lock();
        match saved.kinds.get(table) {
            Some(&known) if known == kind || known.is_per_user() => return Ok(()),
            None if saved.kinds.len() >= TABLES_WITH_KINDS_MAX => {
                return Err(NamespaceError::TooMany)
            }
            _ => {}
        }
        let mut changed = saved.clone();
        changed.kinds.insert(table.to_string(), kind);
        self.save(&changed)?;
        *saved = changed;
        Ok(())
    }

    /// Forgets what the face kept of table `table` (its kind and defaults): it was dropped.
    pub fn forget_table(&self, table: &str) -> Result<(), NamespaceError> {
        self.forget(table, true)
    }

    /// Forgets table `table`'s kind only: the create that noted it failed.
    pub fn forget_kind(&self, table: &str) -> Result<(), NamespaceError> {
        self.forget(table, false)
    }

    fn forget(&self, table: &str, defaults_too: bool) -> Result<(), NamespaceError> {
        let mut saved = self.lock();
        let has_defaults = defaults_too && saved.defaults.contains_key(table);
        if !saved.kinds.contains_key(table)
            && !has_defaults
            && !saved.ttl_seconds.contains_key(table)
        {
            return Ok(());
        }
        let mut changed = saved.clone();
        changed.kinds.remove(table);
        changed.access.remove(table);
        changed.ttl_seconds.remove(table);
        if defaults_too {
            changed.defaults.remove(table);
        }
        self.save(&changed)?;
        *saved = changed;
        Ok(())
    }

    /// Table `table`'s kind, if the face made it.
    pub fn table_kind(&self, table: &str) -> Option<TableKind> {
        self.lock().kinds.get(table).copied()
    }

    /// Records SHARED table `table`'s access level.
    pub fn set_access_level(&self, table: &str, level: AccessLevel) -> Result<(), NamespaceError> {
        let mut saved = self.lock();
        let mut changed = saved.clone();
        if level == AccessLevel::default() {
            changed.access.remove(table);
        } else {
            changed.access.insert(table.to_string(), level);
        }
        if changed.access == saved.access {
            return Ok(());
        }
        self.save(&changed)?;
        *saved = changed;
        Ok(())
    }

    /// Table `table`'s access level if it is a SHARED table the face made.
    pub fn access_level(&self, table: &str) -> Option<AccessLevel> {
        let saved = self.lock();
        (saved.kinds.get(table) == Some(&TableKind::Shared))
            .then(|| saved.access.get(table).copied().unwrap_or_default())
    }

    /// True when `table` is a USER or STREAM table: each user sees only their own rows.
    pub fn is_user_table(&self, table: &str) -> bool {
        self.table_kind(table).is_some_and(TableKind::is_per_user)
    }

    /// What limits reads of `table` at `now_ms` if it is a USER or STREAM table: its owner,
    /// and for a STREAM table with a TTL, the rows it still shows.
    pub fn per_user_table(&self, table: &str, now_ms: i64) -> Option<PerUserTable> {
        let saved = self.lock();
        if !saved.kinds.get(table).is_some_and(|k| k.is_per_user()) {
            return None;
        }
        let visible_since_ms = ttl_ms(&saved, table).map(|ttl| now_ms.saturating_sub(ttl));
        Some(PerUserTable { visible_since_ms })
    }

    /// STREAM table `table`'s `TTL_SECONDS` in milliseconds, if it named one.
    pub fn ttl_ms(&self, table: &str) -> Option<i64> {
        ttl_ms(&self.lock(), table)
    }

    /// Records STREAM table `table`'s `TTL_SECONDS` (`None`: its rows stay).
    pub fn set_ttl(&self, table: &str, ttl_seconds: Option<u64>) -> Result<(), NamespaceError> {
        let mut saved = self.lock();
        if saved.ttl_seconds.get(table).copied() == ttl_seconds {
            return Ok(());
        }
        let mut changed = saved.clone();
        match ttl_seconds {
            Some(ttl) => changed.ttl_seconds.insert(table.to_string(), ttl),
            None => changed.ttl_seconds.remove(table),
        };
        self.save(&changed)?;
        *saved = changed;
        Ok(())
    }

    /// Table `table`'s column defaults, if it has any.
    pub fn defaults(&self, table: &str) -> Option<Vec<ColumnDefault>> {
        self.lock().defaults.get(table).cloned()
    }

    /// A new `SNOWFLAKE_ID()` at `now_ms`: milliseconds since [`SNOWFLAKE_EPOCH_MS`] above
    /// a sequence, greater than every id this process handed out before.
    pub fn next_snowflake(&self, now_ms: i64) -> i64 {
        let at = now_ms.saturating_sub(SNOWFLAKE_EPOCH_MS).max(0) << SNOWFLAKE_SEQUENCE_BITS;
        let mut last = self.last_snowflake.load(Ordering::Relaxed);
        loop {
            let next = at.max(last + 1);
            match self.last_snowflake.compare_exchange_weak(
                last,
                next,
                Ordering::Relaxed,
                Ordering::Relaxed,
            ) {
                Ok(_) => return next,
                Err(seen) => last = seen,
            }
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Saved> {
        self.saved.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Writes `saved` down before it takes effect.
    fn save(&self, saved: &Saved) -> Result<(), NamespaceError> {
        let Some(file) = &self.file else {
            return Ok(());
        };
        let json = serde_json::to_vec(saved).map_err(|e| NamespaceError::Storage(e.to_string()))?;
        crate::durable_file::replace(file, &json, crate::durable_file::Access::Default)
            .map_err(|e| NamespaceError::Storage(e.to_string()))
    }
}

/// What a state file holds; a missing file holds nothing.
fn read_saved(file: &Path) -> std::io::Result<Saved> {
    let bytes = match std::fs::read(file) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Saved::default()),
        Err(e) => return Err(e),
    };
    let bad = |reason: String| {
        std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!("{}: {reason}", file.display()),
        )
    };
    let saved: Saved = serde_json::from_slice(&bytes).map_err(|e| bad(e.to_string()))?;
    if saved.namespaces.len() > NAMESPACES_MAX || saved.defaults.len() > TABLES_WITH_DEFAULTS_MAX {
        return Err(bad("more namespaces or tables than the face keeps".into()));
    }
    Ok(saved)
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
        let default = ColumnDefault {
            column: "ID".into(),
            ty: "BIGINT".into(),
            value: sluice_protocol::kalamdb::column_defaults::DefaultValue::SnowflakeId,
        };
        state
            .set_defaults("app.t", vec![default.clone()])
            .expect("defaults");
        state
            .set_defaults("app.u", vec![default.clone()])
            .expect("defaults");
        state.set_defaults("app.u", Vec::new()).expect("forgotten");
        drop(state);
        let reopened = KalamState::open(Some(file.clone())).expect("reopens");
        assert_eq!(reopened.namespaces(), ["app"]);
        assert_eq!(reopened.defaults("app.t"), Some(vec![default]));
        assert_eq!(reopened.defaults("app.u"), None);
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

    #[test]
    fn a_user_table_stays_one_until_dropped_and_across_a_reopen() {
        let dir = tempfile::tempdir().expect("dir");
        let file = dir.path().join(NAMESPACES_FILE);
        let state = KalamState::open(Some(file.clone())).expect("opens");
        state
            .note_table_kind("app.notes", TableKind::User)
            .expect("user");
        state
            .note_table_kind("app.config", TableKind::Shared)
            .expect("shared");
        // CREATE TABLE IF NOT EXISTS with another type does not open a USER table's rows.
        state
            .note_table_kind("app.notes", TableKind::Shared)
            .expect("kept");
        drop(state);
        let reopened = KalamState::open(Some(file)).expect("reopens");
        assert!(reopened.is_user_table("app.notes"));
        assert!(!reopened.is_user_table("app.config"));
        assert_eq!(reopened.table_kind("app.config"), Some(TableKind::Shared));
        reopened.forget_table("app.notes").expect("dropped");
        assert_eq!(reopened.table_kind("app.notes"), None);
        reopened
            .note_table_kind("app.notes", TableKind::Shared)
            .expect("made again");
        assert!(!reopened.is_user_table("app.notes"));
    }
}
