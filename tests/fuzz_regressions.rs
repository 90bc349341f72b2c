//! Replays inputs through the invariants the fuzz targets check (`fuzz/src/checks.rs`), in a
//! normal `cargo test` and without a nightly toolchain: every input a fuzz run once crashed
//! on (`fuzz/regressions/<target>/`), so it stays fixed, and the seed corpus
//! (`fuzz/corpus/<target>/`), so the checks themselves keep passing on meaningful input.

#[path = "../fuzz/src/checks.rs"]
mod checks;
#[path = "../fuzz/src/kalamdb_checks.rs"]
mod kalamdb_checks;
#[path = "../fuzz/src/record_checks.rs"]
mod record_checks;

use std::path::Path;

/// A target's name and the function that checks one input.
type Target = (&'static str, fn(&[u8]));

const TARGETS: [Target; 11] = [
    ("sql_parse", checks::sql_parse),
    ("sql_expression", checks::sql_expression),
    ("sql_type", checks::sql_type),
    ("sql_variables", checks::sql_variables),
    ("line_splitter", checks::line_splitter),
    ("request_bodies", checks::request_bodies),
    ("row_decoder", record_checks::row_decoder),
    ("key_formats", record_checks::key_formats),
    ("log_reader", record_checks::log_reader),
    ("kalamdb_topics", kalamdb_checks::kalamdb_topics),
    ("kalamdb_live", kalamdb_checks::kalamdb_live),
];

/// Runs every file under `fuzz/<kind>/<target>/` through its target's checks; returns how
/// many ran. A failure names the file.
fn replay(kind: &str) -> usize {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fuzz")
        .join(kind);
    let mut ran = 0;
    for (target, check) in TARGETS {
        let Ok(entries) = std::fs::read_dir(root.join(target)) else {
            continue;
        };
        let mut paths: Vec<_> = entries
            .map(|e| e.expect("readable directory entry").path())
            .collect();
        paths.sort();
        for path in paths {
            let data = std::fs::read(&path).expect("readable input");
            if std::panic::catch_unwind(|| check(&data)).is_err() {
                panic!("{target} fails on {}", path.display());
            }
            ran += 1;
        }
    }
    ran
}

#[test]
fn kept_crash_inputs_stay_fixed() {
    assert!(replay("regressions") > 0, "the kept inputs are checked in");
}

#[test]
fn seed_corpus_passes_the_fuzz_checks() {
    assert!(replay("corpus") > 0, "the seed corpus is checked in");
}
