//! `sluice conformance` end to end: the binary replays a tiny hand-written case directory
//! (a passing QTT case, a failing RQTT case, a skipped one) against a real in-process
//! server, and reports per-case verdicts, the JSON summary and baseline regressions.

mod support;

use std::path::PathBuf;
use std::process::Command;

use serde_json::{json, Value as Json};
use support::TestServer;

fn cases_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/conformance_cases")
}

/// Runs the runner binary off the async runtime and returns (exit code, stdout lines).
async fn run_runner(server: &TestServer, extra: &[&str]) -> (i32, Vec<String>) {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_sluice"));
    cmd.arg("conformance")
        .arg("--server")
        .arg(format!("http://{}", server.addr))
        .args(extra)
        .arg(cases_dir());
    let out = tokio::task::spawn_blocking(move || cmd.output())
        .await
        .expect("join")
        .expect("runner starts");
    let stdout = String::from_utf8(out.stdout).expect("utf-8");
    (
        out.status.code().unwrap_or(-1),
        stdout.lines().map(str::to_string).collect(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reports_pass_fail_skip_and_the_json_summary() {
    let server = TestServer::start().await;
    let (code, lines) = run_runner(&server, &["--json"]).await;
    assert_eq!(code, 0, "no baseline, so no failing exit: {lines:?}");
    let parsed: Vec<Json> = lines
        .iter()
        .map(|l| serde_json::from_str(l).expect("each line is JSON"))
        .collect();
    let verdict = |name: &str| {
        parsed
            .iter()
            .find(|j| j["name"] == name)
            .unwrap_or_else(|| panic!("{name} reported: {lines:?}"))
            .clone()
    };
    let pass = verdict("tiny - a stream is created with its declared schema");
    assert_eq!(pass["passed"], json!(true), "{pass}");
    assert_eq!(pass["file"], json!("tiny"));
    let fail = verdict("tiny - an expected error that never comes");
    assert_eq!(fail["passed"], json!(false));
    assert_eq!(fail["skipped"], json!(false));
    assert_eq!(
        fail["reason"],
        json!("expected an error, but every statement succeeded")
    );
    let skip = verdict("tiny - a test-jar UDF");
    assert_eq!(skip["skipped"], json!(true));
    assert_eq!(
        parsed.last().expect("summary line"),
        &json!({"total": 3, "passed": 1, "failed": 1, "skipped": 1,
                "stateless_subset": {"total": 2, "passed": 1, "failed": 0, "skipped": 1}})
    );
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_baselined_case_that_fails_fails_the_run() {
    let server = TestServer::start().await;
    let dir = tempfile::tempdir().expect("temp dir");
    let written = dir.path().join("written.txt");
    let (code, _) = run_runner(
        &server,
        &["--write-baseline", written.to_str().expect("utf-8 path")],
    )
    .await;
    assert_eq!(code, 0);
    assert_eq!(
        std::fs::read_to_string(&written).expect("baseline written"),
        "tiny - a stream is created with its declared schema\n"
    );
    let (code, _) = run_runner(
        &server,
        &["--baseline", written.to_str().expect("utf-8 path")],
    )
    .await;
    assert_eq!(code, 0, "the written baseline holds");

    let regressed = dir.path().join("regressed.txt");
    std::fs::write(&regressed, "tiny - an expected error that never comes\n").expect("write");
    let (code, lines) = run_runner(
        &server,
        &["--baseline", regressed.to_str().expect("utf-8 path")],
    )
    .await;
    assert_eq!(code, 1, "{lines:?}");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sample_checks_only_the_baselined_cases_it_runs() {
    let server = TestServer::start().await;
    let dir = tempfile::tempdir().expect("temp dir");
    let baseline = dir.path().join("baseline.txt");
    // Both listed; the second does not pass.
    std::fs::write(
        &baseline,
        "tiny - a stream is created with its declared schema\n\
         tiny - an expected error that never comes\n",
    )
    .expect("write baseline");
    let baseline = baseline.to_str().expect("utf-8 path");

    // Case files in name order: qtt_pass, qtt_skip, rqtt_fail. Every 3rd runs qtt_pass only.
    let (code, lines) =
        run_runner(&server, &["--every", "3", "--json", "--baseline", baseline]).await;
    assert_eq!(code, 0, "the failing case was not in the sample: {lines:?}");
    let summary: Json = serde_json::from_str(lines.last().expect("summary")).expect("JSON");
    assert_eq!(summary["total"], json!(1), "{summary}");
    assert_eq!(summary["passed"], json!(1), "{summary}");

    // Every 2nd runs qtt_pass and rqtt_fail: the baselined failure is caught.
    let (code, lines) = run_runner(&server, &["--every", "2", "--baseline", baseline]).await;
    assert_eq!(code, 1, "{lines:?}");

    // 0 is refused.
    let (code, _) = run_runner(&server, &["--every", "0"]).await;
    assert_eq!(code, 2);
    server.stop().await;
}
