//! Where FILE cells' bytes are kept: stored from the `file:<name>` parts of a multipart
//! `/v1/api/sql` before the INSERT that names them runs (`sql`), read back by the download
//! route (`files`).
//!
//! ```text
//!  <files dir>/<ns.table>/<owner>/<sub>/<id>        the bytes
//!  <files dir>/<ns.table>/<owner>/<sub>/<id>.json   name, mime, size, sha256
//! ```
//!
//! `<owner>` is `u-` and the hex of the user's name for a USER table (each user's files
//! apart, as KalamDB keeps a table's files per user), `shared` otherwise. Nothing a client
//! sends becomes a path part unchecked: the table is a namespace and a table name of
//! `[a-z0-9_]` (lower-cased), the owner is hex, and `<sub>` and `<id>` are made here and
//! checked on the way back in (`protocol::kalamdb::files`). Both files are written with
//! `durable_file::replace` (fsync, rename) before the INSERT runs, so a row never names a
//! file a crash lost; a failed INSERT removes what it stored.

use std::path::{Path, PathBuf};

use ring::digest::{digest, SHA256};
use serde::{Deserialize, Serialize};
use sluice_protocol::kalamdb::files::{subfolder_for, FileRef, Upload};

use crate::durable_file::{replace, Access};

/// The directory of the data directory that holds uploaded files.
pub const FILES_DIR: &str = "kalamdb-files";

/// A stored file's metadata (its `.json` beside the bytes).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Meta {
    pub name: String,
    pub mime: String,
    pub size: u64,
    pub sha256: String,
}

/// Where uploaded files live; `None` keeps none (a server without a data directory).
#[derive(Debug, Default)]
pub struct FileStore {
    root: Option<PathBuf>,
}

impl FileStore {
    pub fn new(root: Option<PathBuf>) -> FileStore {
        FileStore { root }
    }

    /// The folder of `table`'s files for `owner` (a USER table's row owner), if the table's
    /// name can be a path part.
    fn folder(&self, table: &str, owner: Option<&str>) -> std::io::Result<PathBuf> {
        let owner = match owner {
            Some(user) => format!("u-{}", hex(user.as_bytes())),
            None => "shared".to_string(),
        };
        Ok(self.table_folder(table)?.join(owner))
    }

    /// The folder of all of `table`'s files, if the table's name can be a path part.
    fn table_folder(&self, table: &str) -> std::io::Result<PathBuf> {
        let root = self.root.as_ref().ok_or_else(|| {
            std::io::Error::other("this server keeps no files (it has no data directory)")
        })?;
        let safe = |s: &str| {
            !s.is_empty()
                && s.bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
        };
        let valid = matches!(table.split_once('.'), Some((ns, t)) if safe(ns) && safe(t));
        if !valid {
            return Err(std::io::Error::other(format!(
                "files can be kept only for tables named ns.table in [a-z0-9_]; not '{table}'"
            )));
        }
        Ok(root.join(table))
    }

    /// Removes every file of `table` (it was dropped). A table whose name cannot be a path
    /// part has none; one without files is fine.
    pub fn remove_table(&self, table: &str) -> std::io::Result<()> {
        let Ok(dir) = self.table_folder(table) else {
            return Ok(());
        };
        match std::fs::remove_dir_all(&dir) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e),
            _ => Ok(()),
        }
    }

    /// Stores `upload` as file `id` of `table` (for `owner`'s row of a USER table), durably,
    /// and answers its cell and the paths written.
    pub fn store(
        &self,
        table: &str,
        owner: Option<&str>,
        upload: &Upload<'_>,
        id: i64,
        now_ms: i64,
    ) -> std::io::Result<(FileRef, [PathBuf; 2])> {
        let sub = subfolder_for(now_ms);
        let dir = self.folder(table, owner)?.join(&sub);
        let file = FileRef {
            id: id.to_string(),
            sub,
            name: upload.filename.clone(),
            size: upload.bytes.len() as u64,
            mime: upload.mime.clone(),
            sha256: hex(digest(&SHA256, upload.bytes).as_ref()),
        };
        let bytes_path = dir.join(&file.id);
        let meta_path = dir.join(format!("{}.json", file.id));
        replace(&bytes_path, upload.bytes, Access::Default)?;
        let meta = Meta {
            name: file.name.clone(),
            mime: file.mime.clone(),
            size: file.size,
            sha256: file.sha256.clone(),
        };
        let meta_json = serde_json::to_vec(&meta).map_err(std::io::Error::other)?;
        replace(&meta_path, &meta_json, Access::Default)?;
        Ok((file, [bytes_path, meta_path]))
    }

    /// Removes files a failed INSERT stored (best effort: an orphan costs only space).
    pub fn remove(paths: &[PathBuf]) {
        for p in paths {
            if let Err(e) = std::fs::remove_file(p) {
                tracing::warn!(path = %p.display(), error = %e, "an unused upload was not removed");
            }
        }
    }

    /// File `id` in subfolder `sub` of `table` (for `owner`), if there is one.
    pub fn load(
        &self,
        table: &str,
        owner: Option<&str>,
        sub: &str,
        id: &str,
    ) -> std::io::Result<Option<(Meta, Vec<u8>)>> {
        let dir = self.folder(table, owner)?.join(sub);
        let read = |p: &Path| match std::fs::read(p) {
            Ok(b) => Ok(Some(b)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e),
        };
        let (Some(meta), Some(bytes)) =
            (read(&dir.join(format!("{id}.json")))?, read(&dir.join(id))?)
        else {
            return Ok(None);
        };
        let meta: Meta = serde_json::from_slice(&meta).map_err(std::io::Error::other)?;
        Ok(Some((meta, bytes)))
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_are_kept_per_owner_and_names_never_leave_the_directory() {
        let dir = tempfile::tempdir().expect("dir");
        let store = FileStore::new(Some(dir.path().to_path_buf()));
        let upload = Upload {
            name: "c".into(),
            filename: "c.pdf".into(),
            mime: "application/pdf".into(),
            bytes: b"%PDF-1.7",
        };
        let (file, paths) = store
            .store("app.docs", Some("alice"), &upload, 42, 1_700_000_000_000)
            .expect("stored");
        assert!(paths.iter().all(|p| p.starts_with(dir.path())));
        assert_eq!(file.size, 8);
        assert_eq!(file.sha256.len(), 64);
        let (meta, bytes) = store
            .load("app.docs", Some("alice"), &file.sub, "42")
            .expect("read")
            .expect("there");
        assert_eq!(
            (meta.mime.as_str(), bytes.as_slice()),
            ("application/pdf", &b"%PDF-1.7"[..])
        );
        assert!(store
            .load("app.docs", Some("bob"), &file.sub, "42")
            .expect("read")
            .is_none());
        assert!(store
            .load("app.docs", None, &file.sub, "42")
            .expect("read")
            .is_none());
        for bad in ["../x", "app", "app.do/cs", "APP.docs", "app.", ".docs"] {
            assert!(store.store(bad, None, &upload, 1, 0).is_err(), "{bad}");
        }
        FileStore::remove(&paths);
        assert!(store
            .load("app.docs", Some("alice"), &file.sub, "42")
            .expect("read")
            .is_none());
    }

    #[test]
    fn a_dropped_tables_files_go_and_only_its_own() {
        let dir = tempfile::tempdir().expect("dir");
        let store = FileStore::new(Some(dir.path().to_path_buf()));
        let upload = Upload {
            name: "c".into(),
            filename: "c.txt".into(),
            mime: "text/plain".into(),
            bytes: b"hello",
        };
        let mut kept = Vec::new();
        for (table, owner) in [
            ("app.docs", Some("alice")),
            ("app.docs", None),
            ("app.docs2", None),
        ] {
            let (file, _) = store.store(table, owner, &upload, 7, 0).expect("stored");
            kept.push((table, owner, file.sub));
        }
        store.remove_table("app.docs").expect("removed");
        for (table, owner, sub) in &kept {
            let there = store.load(table, *owner, sub, "7").expect("read").is_some();
            assert_eq!(there, *table == "app.docs2", "{table} {owner:?}");
        }
        // Again, and a name that is no table's folder: nothing to do, nothing outside.
        store.remove_table("app.docs").expect("nothing left");
        store.remove_table("../etc").expect("not a table name");
        assert!(dir.path().join("app.docs2").exists());
    }
}
