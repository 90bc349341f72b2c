//! `sluice conformance`: replays ksqlDB's own query-validation cases (QTT) and REST
//! query-validation cases (RQTT) against a running server, through public endpoints only.
//!
//! ```text
//!  DIR/*.json ─► case (parse, detect suite) ─► skip rules
//!        │
//!        ▼ per case, bounded by --case-timeout-ms
//!  steps::reset ─► qtt::run | rqtt::run ─► CaseResult ─► report (text | JSON lines)
//!                                                     └► baseline (check | write)
//! ```
//!
//! Modules: `json` (a JSON tree keeping number text), `case` (the neutral case format),
//! `client` (HTTP/1.1 to the server), `topic_schema` (source bound to a topic, record
//! serde), `steps` (reset, topics, produce, settle, outputs), `compare` (ksqlDB's
//! comparison rules), `proto_schema` (the `.proto` subset of a protobuf query header),
//! `proto_text` (a protobuf row decoded and printed as Java's `TextFormat`), `qtt`, `rqtt`,
//! `report`, `baseline`.
//!
//! Skipped by design, and reported as SKIP rather than FAIL:
//! - `enabled: false` cases;
//! - category `test_only_function`: UDFs that only ksqlDB's test jars define;
//! - value formats other than JSON, key formats other than KAFKA/JSON/NONE/DELIMITED, and anything
//!   that needs Schema Registry (`topics` entries carrying schemas or schema ids).

mod baseline;
mod case;
mod client;
mod compare;
mod json;
mod proto_schema;
mod proto_text;
mod qtt;
mod report;
mod rqtt;
mod steps;
mod topic_schema;

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use tokio::time::Instant;

use case::{Case, Suite};
use client::HttpClient;
use report::{CaseResult, Verdict};

/// Default bound on one case, reset excluded: long enough for a multi-query case, short
/// enough that a hung case costs seconds, not the run.
const CASE_TIMEOUT_MS_DEFAULT: u64 = 10_000;
/// Bound on the reset before each case.
const RESET_TIMEOUT_MS: u64 = 10_000;

#[derive(Debug, clap::Args)]
pub struct ConformanceArgs {
    /// Base URL of the running server, e.g. http://127.0.0.1:8088.
    #[arg(long)]
    server: String,

    /// Directory of case JSON files (QTT or RQTT; detected per case).
    dir: PathBuf,

    /// Print one JSON object per case, then a totals object, instead of text.
    #[arg(long)]
    json: bool,

    /// Fail (exit 1) when a case listed in this file does not pass.
    #[arg(long)]
    baseline: Option<PathBuf>,

    /// Write the names of the passing cases to this file.
    #[arg(long)]
    write_baseline: Option<PathBuf>,

    /// Bound on each case, in milliseconds.
    #[arg(long, default_value_t = CASE_TIMEOUT_MS_DEFAULT)]
    case_timeout_ms: u64,

    /// Only run cases whose name contains this text.
    #[arg(long)]
    filter: Option<String>,

    /// Only run every Nth case file (the 1st, the N+1th, … in name order): a fixed sample
    /// for a backend too slow to run every case on each check. Baselined cases outside the
    /// sample (or the filter) are not checked.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    every: Option<u32>,
}

/// Runs the command; the exit code is 1 when a baselined case regressed.
pub fn run(args: ConformanceArgs) -> anyhow::Result<std::process::ExitCode> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    runtime.block_on(run_async(args))
}

/// A bar on stderr counting cases run, with the passes so far and an ETA: a full run takes
/// minutes. Hidden when stderr is not a terminal (CI logs get only the case lines).
fn progress_bar(cases: usize) -> ProgressBar {
    let bar = ProgressBar::with_draw_target(Some(cases as u64), ProgressDrawTarget::stderr());
    bar.set_style(
        ProgressStyle::with_template("{bar:40} {pos}/{len} cases, {msg} ({elapsed}, eta {eta})")
            .expect("the template is valid"),
    );
    bar
}

async fn run_async(args: ConformanceArgs) -> anyhow::Result<std::process::ExitCode> {
    let paths = case_files(&args.dir)?;
    let client = HttpClient::new(&args.server);
    let started = std::time::Instant::now();
    let mut results = Vec::new();
    let mut path_of = std::collections::HashMap::new();
    // Cases left out by --every or --filter: the baseline is not checked for them.
    let mut left_out = std::collections::BTreeSet::new();
    let every = args.every.unwrap_or(1) as usize;
    let progress = progress_bar(paths.len().div_ceil(every));
    for (i, path) in paths.into_iter().enumerate() {
        if i % every != 0 {
            if let Ok(case) = Case::load(&path) {
                left_out.insert(case.name);
            }
            continue;
        }
        let result = match run_one(&client, &path, &args).await {
            Selection::Run(result) => result,
            Selection::LeftOut(name) => {
                left_out.insert(name);
                continue;
            }
        };
        path_of.insert(result.name.clone(), path);
        // Above the bar, which stays at the bottom of the terminal.
        progress.suspend(|| {
            if args.json {
                println!("{}", report::case_json(&result));
            } else {
                println!("{}", report::case_line(&result));
            }
        });
        results.push(result);
        progress.inc(1);
        let passed = results
            .iter()
            .filter(|r| r.verdict == Verdict::Pass)
            .count();
        progress.set_message(format!("{passed} passed"));
    }
    progress.finish_and_clear();
    if args.json {
        println!("{}", report::summary_json(&results));
    } else {
        print!(
            "{}",
            report::summary_text(&results, started.elapsed().as_secs_f64())
        );
    }
    if let Some(path) = &args.write_baseline {
        baseline::write(path, &results).map_err(anyhow::Error::msg)?;
    }
    let mut code = std::process::ExitCode::SUCCESS;
    if let Some(path) = &args.baseline {
        let mut listed = baseline::read(path).map_err(anyhow::Error::msg)?;
        listed.retain(|name| !left_out.contains(name));
        let mut drift = baseline::compare(&listed, &results);
        drift.regressed = retry_regressions(&client, &args, &path_of, drift.regressed).await;
        for name in &drift.regressed {
            eprintln!("REGRESSION (baselined, not passing): {name}");
        }
        for name in &drift.newly_passing {
            eprintln!("NEW PASS (not baselined yet): {name}");
        }
        if !drift.newly_passing.is_empty() {
            eprintln!(
                "{} passing cases are not in {} yet (regenerate with --write-baseline)",
                drift.newly_passing.len(),
                path.display()
            );
        }
        if !drift.regressed.is_empty() {
            eprintln!("{} baselined cases stopped passing", drift.regressed.len());
            code = std::process::ExitCode::FAILURE;
        }
    }
    Ok(code)
}

/// Runs each baselined case that failed once more, alone. A case that passes on the retry
/// is reported as flaky (a real problem to look at, usually a timing-sensitive wait on a
/// loaded machine) but does not fail the run; one that fails twice is a regression.
async fn retry_regressions(
    client: &HttpClient,
    args: &ConformanceArgs,
    path_of: &std::collections::HashMap<String, PathBuf>,
    regressed: Vec<String>,
) -> Vec<String> {
    let mut still = Vec::new();
    for name in regressed {
        let Some(path) = path_of.get(&name) else {
            still.push(name);
            continue;
        };
        match run_one(client, path, args).await {
            Selection::Run(r) if r.verdict == report::Verdict::Pass => {
                eprintln!("FLAKY (failed, then passed on retry): {name}");
            }
            _ => still.push(name),
        }
    }
    still
}

fn case_files(dir: &Path) -> anyhow::Result<Vec<PathBuf>> {
    let mut paths: Vec<PathBuf> = std::fs::read_dir(dir)
        .with_context(|| format!("reading case directory {}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    paths.sort();
    Ok(paths)
}

/// A case run, or left out by `--filter` (by name).
enum Selection {
    Run(CaseResult),
    LeftOut(String),
}

/// Loads, filters, resets, runs and times one case.
async fn run_one(client: &HttpClient, path: &Path, args: &ConformanceArgs) -> Selection {
    let started = std::time::Instant::now();
    let case = match Case::load(path) {
        Ok(c) => c,
        Err(e) => {
            let name = path
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_default();
            return Selection::Run(CaseResult {
                name,
                file: "unreadable".into(),
                categories: vec![],
                stateless: false,
                verdict: Verdict::Fail,
                reason: format!("cannot read case: {e}"),
                elapsed_ms: 0,
            });
        }
    };
    if args
        .filter
        .as_ref()
        .is_some_and(|f| !case.name.contains(f.as_str()))
    {
        return Selection::LeftOut(case.name);
    }
    let (verdict, reason) = match skip_reason(&case) {
        Some(reason) => (Verdict::Skip, reason),
        None => match run_case(client, &case, Duration::from_millis(args.case_timeout_ms)).await {
            Ok(()) => (Verdict::Pass, String::new()),
            Err(reason) => (Verdict::Fail, reason),
        },
    };
    Selection::Run(CaseResult {
        name: case.name.clone(),
        file: case.file_stem().to_string(),
        categories: case.categories.clone(),
        stateless: case.in_stateless_subset(),
        verdict,
        reason,
        elapsed_ms: started.elapsed().as_millis(),
    })
}

/// Why the server cannot run a case by design, or `None` to run it.
fn skip_reason(case: &Case) -> Option<String> {
    if case.doc.get("enabled").and_then(json::Json::as_bool) == Some(false) {
        return Some("disabled in ksqlDB's suite".into());
    }
    if case.categories.iter().any(|c| c == "test_only_function") {
        return Some("needs a UDF from ksqlDB's test jars".into());
    }
    if let Some(f) = case
        .meta_strings("value_formats")
        .into_iter()
        .find(|f| f != "JSON")
    {
        return Some(format!("value format {f} is not supported"));
    }
    if let Some(f) = case
        .meta_strings("key_formats")
        .into_iter()
        .find(|f| !matches!(f.as_str(), "KAFKA" | "JSON" | "NONE" | "DELIMITED"))
    {
        return Some(format!("key format {f} is not supported"));
    }
    let needs_registry = case
        .doc
        .get("topics")
        .map(json::Json::as_array)
        .unwrap_or(&[])
        .iter()
        .any(|t| {
            [
                "keySchema",
                "valueSchema",
                "keySchemaId",
                "valueSchemaId",
                "schema",
            ]
            .iter()
            .any(|k| t.field(k).is_some())
        });
    if needs_registry {
        return Some("needs Schema Registry".into());
    }
    None
}

/// Resets the server, then replays the case, both bounded.
async fn run_case(client: &HttpClient, case: &Case, timeout: Duration) -> Result<(), String> {
    match tokio::time::timeout(
        Duration::from_millis(RESET_TIMEOUT_MS),
        steps::reset(client),
    )
    .await
    {
        Err(_) => return Err("reset: timed out".into()),
        Ok(Err(e)) => return Err(format!("reset: {e}")),
        Ok(Ok(())) => {}
    }
    let deadline = Instant::now() + timeout;
    let replay = async {
        match case.suite {
            Suite::Qtt => qtt::run(client, case, deadline).await,
            Suite::Rqtt => rqtt::run(client, case, deadline).await,
        }
    };
    match tokio::time::timeout_at(deadline + Duration::from_millis(500), replay).await {
        Err(_) => Err(format!("timed out after {} ms", timeout.as_millis())),
        Ok(r) => r,
    }
}
