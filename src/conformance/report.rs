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
    let mut c = Counts::default();
    for r in results {
        c.add(r.verdict);
    }
    c
}

pub fn summary_json(results: &[CaseResult]) -> String {
    let c = totals(results);
    let n = |v: usize| Json::Num(v.to_string());
    Json::Obj(vec![
        ("total".into(), n(c.total())),
        ("passed".into(), n(c.passed)),
        ("failed".into(), n(c.failed)),
        ("skipped".into(), n(c.skipped)),
    ])
    .to_text()
}

/// The human summary: one table by source file, one by category (a case counts once in
/// each of its categories), then the totals.
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
    out
}
