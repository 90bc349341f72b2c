//! `sluice shell`, driven as a person would: the real binary in a pseudo-terminal, against
//! a real server on 127.0.0.1:0, typing statements and reading the screen. Also `-f` and
//! `-e` with their exit statuses.

mod support;

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use bytes::Bytes;
use rexpect::session::{spawn_with_options, Options, PtySession};
use serde_json::Value as Json;
use support::{Client, LineReader, Proto, TestServer, WAIT};
use tokio::runtime::Runtime;

const PROMPT: &str = "sluice> ";
const CONTINUATION_PROMPT: &str = "     -> ";

/// A shell in a pseudo-terminal: what is typed goes to its terminal, what it draws is read
/// back with the terminal's escape codes removed.
struct Shell {
    pty: PtySession,
}

impl Shell {
    /// Starts `sluice shell <url>` in `dir`, with its history in `dir/history`.
    fn start(url: &str, dir: &Path) -> Shell {
        let mut command = Command::new(env!("CARGO_BIN_EXE_sluice"));
        command
            .args(["shell", url, "--history-file"])
            .arg(dir.join("history"))
            .current_dir(dir)
            .env("TERM", "xterm")
            .env("RUST_LOG", "warn");
        let options = Options::new()
            .timeout_ms(Some(WAIT.as_millis() as u64))
            .strip_ansi_escape_codes(true);
        let pty = spawn_with_options(command, options).expect("sluice shell starts in a pty");
        let mut shell = Shell { pty };
        shell.expect(PROMPT);
        shell
    }

    /// Types `text` and presses Enter.
    fn line(&mut self, text: &str) {
        self.pty.send(text).expect("type");
        self.pty.send("\r").expect("press Enter");
        self.pty.flush().expect("flush");
    }

    fn keys(&mut self, keys: &str) {
        self.pty.send(keys).expect("type");
        self.pty.flush().expect("flush");
    }

    /// Reads the screen until `needle` shows; returns what came before it.
    fn expect(&mut self, needle: &str) -> String {
        self.pty
            .exp_string(needle)
            .unwrap_or_else(|e| panic!("waiting for {needle:?}: {e}"))
    }

    /// Types a statement and returns everything it printed up to the next prompt.
    fn run(&mut self, statement: &str) -> String {
        self.line(statement);
        // The first prompt match is the echo of the typed line itself.
        self.expect(statement.lines().last().unwrap_or_default());
        self.expect(PROMPT)
    }

    fn ctrl_c(&mut self) {
        self.pty.send_control('c').expect("Ctrl-C");
    }

    /// Waits for the shell to exit and returns whether it exited with status 0.
    fn exit_status_ok(mut self) -> bool {
        self.pty.exp_eof().expect("the shell exits");
        matches!(
            self.pty.process().wait().expect("reap"),
            rexpect::process::WaitStatus::Exited(_, 0)
        )
    }
}

fn runtime() -> Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime")
}

/// Ids of the push queries the server lists in SHOW QUERIES.
fn push_queries(rt: &Runtime, server: &TestServer) -> Vec<String> {
    let body = rt.block_on(server.ksql_ok("SHOW QUERIES;"));
    body[0]["queries"]
        .as_array()
        .expect("queries")
        .iter()
        .filter(|q| q["queryType"] == "PUSH")
        .map(|q| q["id"].as_str().expect("id").to_string())
        .collect()
}

/// One row through `/inserts-stream`, as another producer would send it; waits for its ack.
async fn insert(server: &TestServer, target: &str, row: Json) {
    let mut client = Client::connect(server.addr, Proto::H2).await;
    let (mut tx, resp) = client.open("POST", "/inserts-stream", None).await;
    let body = format!("{{\"target\":\"{target}\"}}\n{row}\n");
    tx.send_data(Bytes::from(body)).await.expect("send row");
    drop(tx);
    let mut acks = LineReader::new(support::response(resp).await.into_body());
    let ack = acks.next_line().await.expect("an ack");
    assert_eq!(ack, r#"{"status":"ok","seq":0}"#);
}

#[test]
fn a_person_creates_inserts_describes_queries_and_stops_a_push_query() {
    let rt = runtime();
    let server = rt.block_on(TestServer::start());
    let url = format!("http://{}", server.addr);
    let dir = tempfile::tempdir().expect("temp dir");
    let mut shell = Shell::start(&url, dir.path());

    // A statement over two lines runs when its `;` is typed.
    shell.line("CREATE STREAM riders (id STRING KEY, name STRING, n INT)");
    shell.expect(CONTINUATION_PROMPT);
    let out = shell.run("  WITH (kafka_topic='riders', value_format='JSON', partitions=1);");
    assert!(out.contains(" Message"), "{out}");
    assert!(out.contains(" Stream created"), "{out}");

    shell.run("INSERT INTO riders (id, name, n) VALUES ('u1', 'alice', 1);");
    shell.run("INSERT INTO riders (id, name, n) VALUES ('u2', 'bob', 2);");

    let out = shell.run("SHOW STREAMS;");
    assert!(
        out.contains(" Stream Name | Kafka Topic | Key Format | Value Format | Windowed"),
        "{out}"
    );
    assert!(
        out.contains(" RIDERS      | riders      | KAFKA      | JSON         | false"),
        "{out}"
    );

    let out = shell.run("DESCRIBE riders;");
    assert!(out.contains("Name                 : RIDERS"), "{out}");
    assert!(out.contains(" ID    | VARCHAR(STRING)  (key)"), "{out}");
    assert!(out.contains(" NAME  | VARCHAR(STRING)"), "{out}");
    assert!(out.contains(" N     | INTEGER"), "{out}");

    // Variables are the shell's, sent as sessionVariables; their names ignore case.
    shell.run("DEFINE who = 'u2';");
    let out = shell.run("SHOW VARIABLES;");
    assert!(out.contains(" Variable Name | Value"), "{out}");
    assert!(out.contains(" who           | u2"), "{out}");
    let out = shell.run("SELECT name, n FROM riders WHERE id = '${WHO}';");
    assert!(out.contains("|NAME|N|"), "{out}");
    assert!(out.contains("|bob |2|"), "{out}");
    assert!(!out.contains("alice"), "{out}");
    assert!(out.contains("Query terminated"), "{out}");

    // A push query from the beginning, and a row another producer sends meanwhile.
    let out = shell.run("SET 'auto.offset.reset' = 'earliest';");
    assert!(
        out.contains("Successfully changed local property 'auto.offset.reset' to 'earliest'"),
        "{out}"
    );
    shell.line("SELECT id, name FROM riders EMIT CHANGES;");
    shell.expect("Press CTRL-C to interrupt");
    shell.expect("|ID ");
    shell.expect("|u1 ");
    shell.expect("|u2 ");
    let running = push_queries(&rt, &server);
    assert_eq!(running.len(), 1, "the shell's push query runs: {running:?}");
    rt.block_on(insert(
        &server,
        "riders",
        serde_json::json!({"id": "u3", "name": "carol", "n": 3}),
    ));
    shell.expect("|u3 ");
    shell.expect("|carol ");
    // Ctrl-C ends the query on the server (/close-query), and the prompt comes back.
    shell.ctrl_c();
    shell.expect("Query terminated");
    shell.expect(PROMPT);
    let deadline = std::time::Instant::now() + WAIT;
    while !push_queries(&rt, &server).is_empty() {
        assert!(
            std::time::Instant::now() < deadline,
            "the push query is still listed after Ctrl-C"
        );
        std::thread::sleep(Duration::from_millis(20));
    }

    // A push query with LIMIT ends by itself.
    let out = shell.run("SELECT name FROM riders EMIT CHANGES LIMIT 2;");
    assert!(out.contains("|alice "), "{out}");
    assert!(out.contains("|bob "), "{out}");
    assert!(!out.contains("carol"), "{out}");
    assert!(out.contains("Query terminated"), "{out}");

    // Errors show ksqlDB's message, and the session goes on.
    let out = shell.run("SELECT * FROM nowhere;");
    assert!(out.contains("NOWHERE does not exist."), "{out}");
    let out = shell.run("UNSET 'never.set';");
    assert!(
        out.contains(
            "Cannot unset local property 'never.set' which was never set in the first place"
        ),
        "{out}"
    );

    // RUN SCRIPT runs a file's statements, which may use the session's variables.
    let script = dir.path().join("more.sql");
    std::fs::write(
        &script,
        "-- a second stream\nCREATE STREAM archive (id STRING KEY, n INT)\n  \
         WITH (kafka_topic='archive', value_format='JSON', partitions=1);\n\
         INSERT INTO archive (id, n) VALUES ('${who}', 7);\n",
    )
    .expect("write script");
    // Typed lines stay shorter than the terminal, so their echo is never re-wrapped; a
    // relative path is the shell's working directory's.
    let out = shell.run("RUN SCRIPT 'more.sql';");
    assert!(out.contains(" Stream created"), "{out}");
    let out = shell.run("SELECT * FROM archive;");
    assert!(out.contains("|u2|7|"), "{out}");

    shell.line("EXIT");
    assert!(shell.exit_status_ok(), "EXIT leaves with status 0");
    rt.block_on(server.stop());
}

#[test]
fn history_is_kept_between_sessions_and_ctrl_c_drops_a_half_typed_statement() {
    let rt = runtime();
    let server = rt.block_on(TestServer::start());
    let url = format!("http://{}", server.addr);
    let dir = tempfile::tempdir().expect("temp dir");
    let history = dir.path().join("history");

    let mut shell = Shell::start(&url, dir.path());
    // Half a statement, then Ctrl-C: it is forgotten, so the next one parses alone.
    shell.line("SHOW");
    shell.expect(CONTINUATION_PROMPT);
    shell.ctrl_c();
    shell.expect(PROMPT);
    let out = shell.run("SHOW TOPICS;");
    assert!(
        out.contains(" Kafka Topic | Partitions | Partition Replicas"),
        "{out}"
    );
    // Ctrl-D leaves.
    shell.keys("\x04");
    shell.expect("Exiting Sluice.");
    assert!(shell.exit_status_ok(), "Ctrl-D leaves with status 0");
    let saved = std::fs::read_to_string(&history).expect("history file");
    assert!(saved.contains("SHOW TOPICS;"), "{saved}");

    // A new session: Up recalls the last statement, Enter runs it again.
    let mut shell = Shell::start(&url, dir.path());
    shell.keys("\x1b[A");
    shell.expect("SHOW TOPICS;");
    shell.keys("\r");
    shell.expect(" Kafka Topic | Partitions | Partition Replicas");
    shell.expect(PROMPT);
    shell.line("quit");
    assert!(shell.exit_status_ok(), "QUIT leaves with status 0");
    rt.block_on(server.stop());
}

/// `sluice shell -f/-e`: output on stdout, the first error on stderr and exit status 1.
fn shell_batch(args: &[&str]) -> (bool, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_sluice"))
        .arg("shell")
        .args(args)
        .env("RUST_LOG", "warn")
        .output()
        .expect("runs sluice shell");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn scripts_run_with_f_and_e_and_stop_at_the_first_error() {
    let rt = runtime();
    let server = rt.block_on(TestServer::start());
    let url = format!("http://{}", server.addr);
    let dir = tempfile::tempdir().expect("temp dir");

    let script = dir.path().join("setup.sql");
    std::fs::write(
        &script,
        "DEFINE topic = 'trips';\n\
         CREATE STREAM trips (id STRING KEY, km DOUBLE)\n  \
           WITH (kafka_topic='${topic}', value_format='JSON', partitions=2);\n\
         INSERT INTO trips (id, km) VALUES ('t1', 1.5);\n\
         INSERT INTO trips (id, km) VALUES ('t2', 20.25);\n\
         SET 'auto.offset.reset' = 'earliest';\n\
         SELECT id, km FROM trips EMIT CHANGES LIMIT 2;\n\
         SHOW STREAMS",
    )
    .expect("write script");
    let script = script.display().to_string();
    let (ok, stdout, stderr) = rt.block_on(async {
        let args = ["-f", script.as_str(), url.as_str()];
        let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
        tokio::time::timeout(
            WAIT,
            tokio::task::spawn_blocking(move || {
                shell_batch(&args.iter().map(String::as_str).collect::<Vec<_>>())
            }),
        )
        .await
        .expect("-f finishes in time")
        .expect("join")
    });
    assert!(ok, "stdout: {stdout}\nstderr: {stderr}");
    assert!(stderr.is_empty(), "{stderr}");
    assert!(stdout.contains(" Stream created"), "{stdout}");
    assert!(stdout.contains("|t1 "), "{stdout}");
    assert!(stdout.contains("|20.25 "), "{stdout}");
    assert!(stdout.contains("Query terminated"), "{stdout}");
    assert!(
        stdout.contains(" TRIPS       | trips       | KAFKA      | JSON         | false"),
        "the last statement runs without its ';': {stdout}"
    );
    assert!(!stdout.contains("Press CTRL-C"), "{stdout}");

    let (ok, stdout, stderr) = shell_batch(&["-e", "SHOW TOPICS; DESCRIBE trips;", &url]);
    assert!(ok, "{stderr}");
    assert!(
        stdout.contains(" trips       | 2          | 1 1"),
        "{stdout}"
    );
    assert!(stdout.contains(" KM    | DOUBLE"), "{stdout}");

    // The first error stops the run: what came before ran, what came after did not.
    let (ok, stdout, stderr) = shell_batch(&[
        "-e",
        "SHOW STREAMS; SELECT * FROM nothing; SHOW TOPICS;",
        &url,
    ]);
    assert!(!ok, "an error exits non-zero");
    assert!(stdout.contains(" TRIPS "), "{stdout}");
    assert!(!stdout.contains("Partition Replicas"), "{stdout}");
    assert_eq!(stderr.trim(), "NOTHING does not exist.");
    // A malformed shell command fails after what came before it ran.
    let (ok, stdout, stderr) = shell_batch(&["-e", "SHOW TOPICS; SET x = 1; SHOW STREAMS;", &url]);
    assert!(!ok, "a malformed command exits non-zero");
    assert!(stdout.contains("Partition Replicas"), "{stdout}");
    assert!(!stdout.contains(" TRIPS       |"), "{stdout}");
    assert!(
        stderr.starts_with("Syntax: SET '<property>' = '<value>';"),
        "{stderr}"
    );
    // Consecutive /ksql statements go in one request, which the server validates whole
    // before running any (as with ksqlDB's CLI): nothing of it runs.
    let (ok, stdout, stderr) = shell_batch(&["-e", "SHOW STREAMS; DESCRIBE nothing;", &url]);
    assert!(!ok, "an error exits non-zero");
    assert!(!stdout.contains(" TRIPS "), "{stdout}");
    assert_eq!(
        stderr.trim(),
        "Could not find STREAM/TABLE 'NOTHING' in the Metastore"
    );

    let (ok, _, stderr) = shell_batch(&["-e", "SHOW STREAMS;", "http://127.0.0.1:1"]);
    assert!(!ok, "an unreachable server exits non-zero");
    assert!(stderr.contains("unreachable"), "{stderr}");

    // Statements piped in run as a script: no prompt, and the status tells.
    let mut piped = Command::new(env!("CARGO_BIN_EXE_sluice"))
        .args(["shell", &url])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("runs sluice shell");
    std::io::Write::write_all(
        &mut piped.stdin.take().expect("stdin"),
        b"SHOW STREAMS;\nSELECT * FROM nothing;\n",
    )
    .expect("pipe statements");
    let out = piped.wait_with_output().expect("sluice shell ends");
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    assert!(!out.status.success(), "{stdout}");
    assert!(stdout.contains(" TRIPS "), "{stdout}");
    assert!(!stdout.contains(PROMPT), "{stdout}");
    assert_eq!(stderr.trim(), "NOTHING does not exist.");

    let missing = dir.path().join("missing.sql").display().to_string();
    let (ok, _, stderr) = shell_batch(&["-f", &missing, &url]);
    assert!(!ok, "a missing script exits non-zero");
    assert!(stderr.contains("missing.sql"), "{stderr}");
    rt.block_on(server.stop());
}
