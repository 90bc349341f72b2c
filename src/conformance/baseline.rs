//! The committed baseline: names of the cases that pass, one per line, sorted. CI fails when
//! a baselined case stops passing; cases that start passing are reported so the file can be
//! regenerated with `--write-baseline`.

use std::collections::BTreeSet;
use std::path::Path;

use super::report::{CaseResult, Verdict};

pub fn read(path: &Path) -> Result<BTreeSet<String>, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("reading baseline {}: {e}", path.display()))?;
    // Case names are compared exactly: some end in a space ("… - reorder "), so lines are
    // not trimmed; only a CR from a CRLF checkout is dropped.
    Ok(text
        .lines()
        .map(|l| l.strip_suffix('\r').unwrap_or(l))
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .map(str::to_string)
        .collect())
}

pub fn write(path: &Path, results: &[CaseResult]) -> Result<(), String> {
    let passing: BTreeSet<&str> = results
        .iter()
        .filter(|r| r.verdict == Verdict::Pass)
        .map(|r| r.name.as_str())
        .collect();
    let mut text = String::new();
    for name in passing {
        text.push_str(name);
        text.push('\n');
    }
    std::fs::write(path, text).map_err(|e| format!("writing baseline {}: {e}", path.display()))
}

/// What changed against the baseline.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Drift {
    /// Baselined cases that did not pass this time (regressions).
    pub regressed: Vec<String>,
    /// Passing cases the baseline does not list yet.
    pub newly_passing: Vec<String>,
}

pub fn compare(baseline: &BTreeSet<String>, results: &[CaseResult]) -> Drift {
    let mut drift = Drift::default();
    let mut seen = BTreeSet::new();
    for r in results {
        seen.insert(r.name.as_str());
        match (baseline.contains(&r.name), r.verdict == Verdict::Pass) {
            (true, false) => drift.regressed.push(r.name.clone()),
            (false, true) => drift.newly_passing.push(r.name.clone()),
            _ => {}
        }
    }
    // A baselined case that vanished from the directory also stopped passing.
    drift.regressed.extend(
        baseline
            .iter()
            .filter(|n| !seen.contains(n.as_str()))
            .cloned(),
    );
    drift
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_with_trailing_spaces_survive_a_round_trip() {
        let dir = std::env::temp_dir().join(format!("baseline-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        let path = dir.join("b.txt");
        let results = vec![
            result("reorder ", Verdict::Pass),
            result("plain", Verdict::Pass),
        ];
        write(&path, &results).expect("write");
        let read_back = read(&path).expect("read");
        assert!(read_back.contains("reorder "), "{read_back:?}");
        assert!(compare(&read_back, &results).regressed.is_empty());
        std::fs::remove_dir_all(&dir).expect("cleanup");
    }

    fn result(name: &str, verdict: Verdict) -> CaseResult {
        CaseResult {
            name: name.into(),
            file: "f".into(),
            categories: vec![],
            stateless: false,
            verdict,
            reason: String::new(),
            elapsed_ms: 0,
        }
    }

    #[test]
    fn regressions_and_new_passes() {
        let baseline: BTreeSet<String> = ["a", "b", "gone"].iter().map(|s| s.to_string()).collect();
        let results = [
            result("a", Verdict::Pass),
            result("b", Verdict::Fail),
            result("c", Verdict::Pass),
        ];
        let d = compare(&baseline, &results);
        assert_eq!(d.regressed, vec!["b".to_string(), "gone".to_string()]);
        assert_eq!(d.newly_passing, vec!["c".to_string()]);
    }
}
