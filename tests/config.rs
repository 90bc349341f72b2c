//! `sluice serve` settings from a TOML file, environment variables and flags, in rising
//! precedence; `--print-config`; a server started from a file alone.

use std::io::{BufRead, BufReader};
use std::process::{Command, Output, Stdio};

fn sluice() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_sluice"));
    // The test's own environment must not leak settings in.
    for (key, _) in std::env::vars_os() {
        if key.to_string_lossy().starts_with("SLUICE_") {
            command.env_remove(key);
        }
    }
    command.env("RUST_LOG", "warn");
    command
}

fn run(command: &mut Command) -> (Output, String, String) {
    let output = command.output().expect("sluice runs");
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    (output, stdout, stderr)
}

/// The `key = value  # source` line of `--print-config` for `key`.
fn line<'a>(printed: &'a str, key: &str) -> &'a str {
    printed
        .lines()
        .find(|l| l.starts_with(&format!("{key} = ")))
        .unwrap_or_else(|| panic!("no {key} in:\n{printed}"))
}

#[test]
fn flags_beat_variables_beat_the_file_beats_defaults() {
    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join("sluice.toml");
    std::fs::write(
        &file,
        "listen = '127.0.0.1:9999'\n\
         fsync = 'never'\n\
         idle-timeout-ms = 5000\n\
         connections-max = 77\n\
         [kafka-config]\n\
         'security.protocol' = 'SASL_SSL'\n\
         'sasl.password' = 'hunter2'\n",
    )
    .expect("write config");
    let (output, printed, stderr) = run(sluice()
        .args([
            "serve",
            "--print-config",
            "--idle-timeout-ms",
            "42",
            "--config",
        ])
        .arg(&file)
        .env("SLUICE_FSYNC", "interval:7")
        .env("SLUICE_CONNECTIONS_MAX", "88"));
    assert!(output.status.success(), "{stderr}");
    assert_eq!(
        line(&printed, "listen"),
        "listen = \"127.0.0.1:9999\"  # file"
    );
    assert_eq!(
        line(&printed, "fsync"),
        "fsync = \"interval:7\"  # SLUICE_FSYNC"
    );
    assert_eq!(
        line(&printed, "connections-max"),
        "connections-max = 88  # SLUICE_CONNECTIONS_MAX"
    );
    assert_eq!(
        line(&printed, "idle-timeout-ms"),
        "idle-timeout-ms = 42  # --idle-timeout-ms"
    );
    assert_eq!(
        line(&printed, "data-dir"),
        "data-dir = \"./sluice-data\"  # default"
    );
    assert_eq!(
        line(&printed, "kafka-config"),
        "kafka-config = [\"sasl.password=<redacted>\", \"security.protocol=SASL_SSL\"]  # file"
    );
    assert!(!printed.contains("hunter2"));

    // What it printed is a file `--config` reads back to the same values.
    let reprinted = dir.path().join("printed.toml");
    std::fs::write(
        &reprinted,
        printed.replace("sasl.password=<redacted>", "sasl.password=x"),
    )
    .expect("write");
    let (output, again, stderr) = run(sluice()
        .args(["serve", "--print-config", "--config"])
        .arg(&reprinted));
    assert!(output.status.success(), "{stderr}");
    assert_eq!(line(&again, "fsync"), "fsync = \"interval:7\"  # file");
    assert_eq!(
        line(&again, "idle-timeout-ms"),
        "idle-timeout-ms = 42  # file"
    );
}

#[test]
fn bad_files_are_refused_with_the_setting_named() {
    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join("bad.toml");

    std::fs::write(&file, "listn = '127.0.0.1:1'\n").expect("write");
    let (output, _, stderr) = run(sluice().args(["serve", "--config"]).arg(&file));
    assert!(!output.status.success());
    assert!(stderr.contains("unknown setting `listn`"), "{stderr}");

    std::fs::write(&file, "fsync = 'sometimes'\n").expect("write");
    let (output, _, stderr) = run(sluice().args(["serve", "--config"]).arg(&file));
    assert!(!output.status.success());
    assert!(
        stderr.contains("--fsync") && stderr.contains("sometimes"),
        "{stderr}"
    );

    std::fs::write(&file, "listen = [\n").expect("write");
    let (output, _, stderr) = run(sluice().args(["serve", "--config"]).arg(&file));
    assert!(!output.status.success());
    assert!(stderr.contains("not valid TOML"), "{stderr}");

    let (output, _, stderr) = run(sluice().args(["serve", "--config", "/nonexistent/sluice.toml"]));
    assert!(!output.status.success());
    assert!(stderr.contains("/nonexistent/sluice.toml"), "{stderr}");
}

#[test]
fn a_server_runs_from_a_file_alone() {
    let dir = tempfile::tempdir().expect("temp dir");
    let data = dir.path().join("data");
    let file = dir.path().join("sluice.toml");
    std::fs::write(
        &file,
        format!(
            "listen = '127.0.0.1:0'\ndata-dir = {}\n",
            toml_string(&data.to_string_lossy())
        ),
    )
    .expect("write");
    let mut child = sluice()
        .arg("serve")
        .env("SLUICE_CONFIG", &file)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn");
    let stdout = child.stdout.take().expect("stdout");
    let mut first = String::new();
    BufReader::new(stdout).read_line(&mut first).expect("read");
    let _ = child.kill();
    let _ = child.wait();
    assert!(
        first.starts_with("sluice listening on http://127.0.0.1:"),
        "{first}"
    );
    assert!(data.join("catalog.journal").exists() || data.is_dir());
}

fn toml_string(s: &str) -> String {
    format!("'{s}'")
}
