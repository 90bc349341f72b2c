//! Per-case lines and the summary by source file and by category, as text or JSON lines.

use std::collections::BTreeMap;

use super::json::Json;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Pass,
    Fail,
    /// The server cannot run the case by design (see `skip_reason`).
    Skip,
}

#[derive(Debug, Clone)]
pub struct CaseResult {
    pub name: String,
    /// ksqlDB source file stem (`cast`, `push-queries`).
    pub file: String,
    pub categories: Vec<String>,
    /// In the stateless subset (`Case::in_stateless_subset`), which gets its own total.
    pub stateless: bool,
    pub verdict: Verdict,
    /// One line: why it failed or was skipped; empty on a pass.
    pub reason: String,
    pub elapsed_ms: u128,
}

pub fn case_line(r: &CaseResult) -> String {
    let tag = match r.verdict {
        Verdict::Pass => "PASS",
        Verdict::Fail => "FAIL",
        Verdict::Skip => "SKIP",
    };
    /// Cases slower than this show their time, to spot what slows the run.
    const SLOW_CASE_MS: u128 = 2_000;
    let mut line = format!("{tag} {}", r.name);
    if !r.reason.is_empty() {
        line.push_str(" — ");
        line.push_str(&r.reason);
    }
    if r.elapsed_ms > SLOW_CASE_MS {
        line.push_str(&format!(" ({} ms)", r.elapsed_ms));
    }
    line
}

pub fn case_json(r: &CaseResult) -> String {
    Json::Obj(vec![
        ("name".into(), Json::Str(r.name.clone())),
        ("file".into(), Json::Str(r.file.clone())),
        ("passed".into(), Json::Bool(r.verdict == Verdict::Pass)),
        ("skipped".into(), Json::Bool(r.verdict == Verdict::Skip)),
        ("reason".into(), Json::Str(r.reason.clone())),
    ])
    .to_text()
}

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Counts {
    pub passed: usize,
    pub failed: usize,
    pub skipped: usize,
}

impl Counts {
    fn add(&mut self, v: Verdict) {
        match v {
            Verdict::Pass => self.passed += 1,
            Verdict::Fail => self.failed += 1,
            Verdict::Skip => self.skipped += 1,
        }
    }

    pub fn total(&self) -> usize {
        self.passed + self.failed + self.skipped
    }

    /// Pass rate over the cases that ran (skips excluded).
    fn rate(&self) -> String {
        let ran = self.passed + self.failed;
        if ran == 0 {
            "-".into()
        } else {
            format!("{:.1}%", 100.0 * self.passed as f64 / ran as f64)
        }
    }
}

pub fn totals(results: &[CaseResult]) -> Counts {
    totals_where(results, |_| true)
}

fn totals_where(results: &[CaseResult], keep: impl Fn(&CaseResult) -> bool) -> Counts {
    let mut c = Counts::default();
    for r in results.iter().filter(|r| keep(r)) {
        c.add(r.verdict);
    }
    c
}

/// Totals over the stateless subset.
pub fn stateless_totals(results: &[CaseResult]) -> Counts {
    totals_where(results, |r| r.stateless)
}

/// The totals object, with the stateless subset's counts nested under `stateless_subset`.
pub fn summary_json(results: &[CaseResult]) -> String {
    let counts = |c: Counts| {
        let n = |v: usize| Json::Num(v.to_string());
        vec![
            ("total".into(), n(c.total())),
            ("passed".into(), n(c.passed)),
            ("failed".into(), n(c.failed)),
            ("skipped".into(), n(c.skipped)),
        ]
    };
    let mut fields = counts(totals(results));
    fields.push((
        "stateless_subset".into(),
        Json::Obj(counts(stateless_totals(results))),
    ));
    Json::Obj(fields).to_text()
}

/// The human summary: one table by source file, one by category (a case counts once in
/// each of its categories), then the totals and the stateless subset's pass rate.
pub fn summary_text(results: &[CaseResult], elapsed_s: f64) -> String {
    let mut by_file: BTreeMap<&str, Counts> = BTreeMap::new();
    let mut by_category: BTreeMap<&str, Counts> = BTreeMap::new();
    for r in results {
        by_file.entry(&r.file).or_default().add(r.verdict);
        for c in &r.categories {
            by_category.entry(c).or_default().add(r.verdict);
        }
    }
    let mut out = String::new();
    for (title, table) in [("source file", &by_file), ("category", &by_category)] {
        out.push_str(&format!(
            "\n{title:<48} {:>6} {:>6} {:>6} {:>7}\n",
            "pass", "fail", "skip", "rate"
        ));
        for (k, c) in table {
            out.push_str(&format!(
                "{k:<48} {:>6} {:>6} {:>6} {:>7}\n",
                c.passed,
                c.failed,
                c.skipped,
                c.rate()
            ));
        }
    }
    let c = totals(results);
    out.push_str(&format!(
        "\ntotal {}: {} passed, {} failed, {} skipped ({} of cases run) in {elapsed_s:.1} s\n",
        c.total(),
        c.passed,
        c.failed,
        c.skipped,
        c.rate()
    ));
    let s = stateless_totals(results);
    out.push_str(&format!(
        "stateless subset: {}/{} run ({})\n",
        s.passed,
        s.passed + s.failed,
        s.rate()
    ));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn result(stateless: bool, verdict: Verdict) -> CaseResult {
        CaseResult {
            name: "n".into(),
            file: "f".into(),
            categories: vec![],
            stateless,
            verdict,
            reason: String::new(),
            elapsed_ms: 0,
        }
    }

    #[test]
    fn the_stateless_subset_has_its_own_total() {
        let results = [
            result(true, Verdict::Pass),
            result(true, Verdict::Fail),
            result(true, Verdict::Skip),
            result(false, Verdict::Pass),
        ];
        assert!(summary_text(&results, 1.0).ends_with("stateless subset: 1/2 run (50.0%)\n"));
        assert_eq!(
            summary_json(&results),
            r#"{"total":4,"passed":2,"failed":1,"skipped":1,"stateless_subset":{"total":3,"passed":1,"failed":1,"skipped":1}}"#
        );
        assert!(summary_text(&results[3..], 1.0).ends_with("stateless subset: 0/0 run (-)\n"));
    }
}
