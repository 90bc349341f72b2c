//! The data directory's layout, and the one way a name a client chose becomes a file name.
//!
//! ```text
//!  <data dir>/catalog.journal                 the catalog's command log
//!  <data dir>/topics/<topic>/…                 the embedded log (topic names are Kafka-legal)
//!  <data dir>/queries/<escaped query id>.journal  persistent-query checkpoints
//!  <data dir>/state/<escaped query id>.state/     a stateful query's state store
//! ```
//!
//! Stream, table, query and topic names come from clients. Anything that turns such a name
//! into a path goes through [`file_name_for`], which always yields one plain file name:
//! no separator, never `.` or `..`, never hidden, at most [`FILE_NAME_BYTES_MAX`] bytes.
//! So no name can reach outside the data directory (issue 9, finding 1: a quoted stream name
//! `../../tmp/x` used to become a query journal in `/tmp`).

use std::path::{Component, Path, PathBuf};

/// The catalog's command log, directly in the data directory.
pub const CATALOG_JOURNAL_FILE: &str = "catalog.journal";

/// The directory of persistent-query journals.
pub const QUERIES_DIR: &str = "queries";

/// The directory of stateful queries' state stores (`state::StateBackend`).
pub const STATE_DIR: &str = "state";

/// Longest file name [`file_name_for`] returns, extension included.
///
/// Linux and macOS file systems allow 255 bytes per name; 200 leaves room for the temporary
/// suffixes some writers add while replacing a file.
pub const FILE_NAME_BYTES_MAX: usize = 200;

/// Bytes of the escaped name kept before the hash when a name is too long to spell out.
const KEPT_PREFIX_BYTES: usize = 150;

/// A file name for `name` with `extension`: bytes in `[A-Za-z0-9_-]` as they are, every
/// other byte (`.`, `/`, `\`, NUL, spaces, non-ASCII) as `%XX`. Distinct names give distinct
/// file names; a name whose escaped form is too long keeps a prefix and a 64-bit FNV-1a hash
/// of the whole name.
pub fn file_name_for(name: &str, extension: &str) -> String {
    debug_assert!(
        extension.bytes().all(|b| b.is_ascii_alphanumeric()),
        "extensions are chosen by Sluice, not clients"
    );
    let mut escaped = String::with_capacity(name.len());
    for b in name.bytes() {
        if b.is_ascii_alphanumeric() || b == b'_' || b == b'-' {
            escaped.push(char::from(b));
        } else {
            escaped.push_str(&format!("%{b:02X}"));
        }
    }
    // An empty name still needs a visible, non-hidden file name.
    if escaped.is_empty() {
        escaped.push('%');
    }
    let budget = FILE_NAME_BYTES_MAX - extension.len() - 1;
    if escaped.len() > budget {
        // Cut at a boundary outside any `%XX` escape, then make it unique again.
        let mut cut = KEPT_PREFIX_BYTES.min(escaped.len());
        while escaped[..cut].rfind('%').is_some_and(|i| i + 3 > cut) {
            cut -= 1;
        }
        escaped.truncate(cut);
        escaped.push_str(&format!("~{:016x}", fnv1a64(name.as_bytes())));
    }
    let file_name = format!("{escaped}.{extension}");
    assert!(
        is_plain_file_name(&file_name),
        "file_name_for must give one plain file name, got {file_name:?}"
    );
    file_name
}

/// `dir/<file_name_for(name, extension)>`: a path that is always directly inside `dir`.
pub fn child_path(dir: &Path, name: &str, extension: &str) -> PathBuf {
    dir.join(file_name_for(name, extension))
}

/// True when `name` is a single normal path component that is not hidden: what every file
/// Sluice names after a client's choice must be.
pub fn is_plain_file_name(name: &str) -> bool {
    let mut components = Path::new(name).components();
    matches!(components.next(), Some(Component::Normal(_)))
        && components.next().is_none()
        && !name.starts_with('.')
        && !name.contains(['/', '\\', '\0'])
        && name.len() <= FILE_NAME_BYTES_MAX
}

/// FNV-1a, 64 bits: stable across versions and platforms, which file names must be (a
/// restarted server finds a query's journal under the name it gave it before).
fn fnv1a64(bytes: &[u8]) -> u64 {
    const OFFSET_BASIS: u64 = 0xcbf2_9ce4_8422_2325;
    const PRIME: u64 = 0x0000_0100_0000_01b3;
    bytes.iter().fold(OFFSET_BASIS, |hash, &b| {
        (hash ^ u64::from(b)).wrapping_mul(PRIME)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn plain_ids_keep_their_spelling() {
        assert_eq!(file_name_for("CSAS_OUT_3", "journal"), "CSAS_OUT_3.journal");
        assert_eq!(
            file_name_for("INSERTQUERY_0", "journal"),
            "INSERTQUERY_0.journal"
        );
    }

    #[test]
    fn hostile_names_stay_one_file_name() {
        for name in [
            "../../../../tmp/x",
            "/etc/passwd",
            "..",
            ".",
            "",
            "a/b",
            "a\\b",
            "nul\0byte",
            ".hidden",
            "ünïcödé name",
        ] {
            let file = file_name_for(name, "journal");
            assert!(is_plain_file_name(&file), "{name:?} gave {file:?}");
            let path = child_path(Path::new("/data/queries"), name, "journal");
            assert_eq!(path.parent(), Some(Path::new("/data/queries")), "{name:?}");
        }
        assert_eq!(file_name_for("../x", "journal"), "%2E%2E%2Fx.journal");
    }

    #[test]
    fn long_names_are_cut_and_hashed() {
        let long = "x".repeat(10_000);
        let file = file_name_for(&long, "journal");
        assert!(file.len() <= FILE_NAME_BYTES_MAX);
        assert_ne!(file, file_name_for(&format!("{long}y"), "journal"));
        // A cut never splits an escape.
        let dots = ".".repeat(1_000);
        let file = file_name_for(&dots, "journal");
        let stem = file.split('~').next().unwrap();
        assert_eq!(stem.len() % 3, 0, "{stem}");
    }

    proptest! {
        #[test]
        fn every_name_gives_a_plain_file_name(name in any::<String>()) {
            let file = file_name_for(&name, "journal");
            prop_assert!(is_plain_file_name(&file), "{:?} gave {:?}", name, file);
        }

        #[test]
        fn distinct_short_names_give_distinct_file_names(a in "[ -~]{0,40}", b in "[ -~]{0,40}") {
            prop_assume!(a != b);
            prop_assert_ne!(file_name_for(&a, "journal"), file_name_for(&b, "journal"));
        }
    }
}
