//! `sluice load FILE --stream S` against a real server: NDJSON and CSV files arrive as rows
//! a push query reads back; a refused row stops the load with its row number.

mod support;

use std::process::Command;

use support::TestServer;

/// Runs `sluice load` (a child process) against `server`; returns status, stdout, stderr.
async fn load(server: &TestServer, file: &std::path::Path, stream: &str) -> (bool, String, String) {
    let mut command = Command::new(env!("CARGO_BIN_EXE_sluice"));
    command
        .args(["load", "--quiet", "--stream", stream, "--server"])
        .arg(format!("http://{}", server.addr))
        .arg(file)
        .env_remove("SLUICE_URL");
    let output = tokio::time::timeout(
        support::WAIT,
        tokio::task::spawn_blocking(move || command.output()),
    )
    .await
    .expect("load ends in time")
    .expect("join")
    .expect("sluice runs");
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

/// The rows a query returns from the start of its stream, as `/query-stream` returns them.
async fn rows(server: &TestServer, sql: &str) -> Vec<serde_json::Value> {
    let body = serde_json::json!({
        "sql": sql,
        "properties": {"auto.offset.reset": "earliest"}
    })
    .to_string();
    let (status, bytes) = server.h2().await.post("/query-stream", &body).await;
    assert_eq!(status, http::StatusCode::OK);
    String::from_utf8_lossy(&bytes)
        .lines()
        .skip(1) // the header
        .map(|l| serde_json::from_str(l).expect("row is JSON"))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ndjson_and_csv_files_become_rows() {
    let server = TestServer::start().await;
    server
        .ksql_ok(
            "CREATE STREAM people (id BIGINT KEY, name STRING, score DECIMAL(6,2), ok BOOLEAN, tags ARRAY<STRING>)
             WITH (kafka_topic='people', value_format='JSON', partitions=2);",
        )
        .await;
    let dir = tempfile::tempdir().expect("temp dir");

    let ndjson = dir.path().join("people.ndjson");
    let mut text = String::new();
    for i in 0..1000 {
        text.push_str(&format!(
            "{{\"id\":{i},\"name\":\"n{i}\",\"score\":1.5,\"ok\":true,\"tags\":[\"a\"]}}\n"
        ));
    }
    text.push('\n'); // a trailing blank line is not a row
    std::fs::write(&ndjson, text).expect("write");
    let (ok, stdout, stderr) = load(&server, &ndjson, "people").await;
    assert!(ok, "{stderr}");
    assert!(
        stdout.starts_with("loaded 1000 rows into people in "),
        "{stdout}"
    );
    assert!(stdout.contains(" rows/s)"), "{stdout}");

    let csv = dir.path().join("people.csv");
    std::fs::write(
        &csv,
        "ID,name,Score,ok,tags\n\
         2000,\"Smith, Jo\",1234.56,TRUE,\"[\"\"x\"\",\"\"y\"\"]\"\n\
         2001,,0.10,false,\n",
    )
    .expect("write");
    let (ok, stdout, stderr) = load(&server, &csv, "people").await;
    assert!(ok, "{stderr}");
    assert!(stdout.starts_with("loaded 2 rows into people"), "{stdout}");

    let found = rows(
        &server,
        "SELECT id, name, score, ok, tags FROM people WHERE id >= 2000 EMIT CHANGES LIMIT 2;",
    )
    .await;
    let mut found: Vec<String> = found.iter().map(|r| r.to_string()).collect();
    found.sort();
    assert_eq!(
        found,
        [
            "[2000,\"Smith, Jo\",1234.56,true,[\"x\",\"y\"]]",
            // The test reads numbers as doubles: DECIMAL(6,2)'s 0.10 prints as 0.1 here.
            "[2001,null,0.1,false,null]",
        ]
    );
    let all = rows(&server, "SELECT id FROM people EMIT CHANGES LIMIT 1002;").await;
    assert_eq!(all.len(), 1002);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_row_stops_the_load_with_its_number() {
    let server = TestServer::start().await;
    server
        .ksql_ok(
            "CREATE STREAM s (v INT) WITH (kafka_topic='s', value_format='JSON', partitions=1);",
        )
        .await;
    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join("rows.ndjson");
    std::fs::write(
        &file,
        "{\"v\":1}\n{\"v\":2}\n{\"v\":\"three\"}\n{\"v\":4}\n",
    )
    .expect("write");
    let (ok, stdout, stderr) = load(&server, &file, "s").await;
    assert!(!ok);
    assert!(stdout.starts_with("loaded 2 rows into s"), "{stdout}");
    assert!(stderr.contains("row 3 was refused"), "{stderr}");

    // A CSV field that cannot be its column's type is caught before it is sent.
    let csv = dir.path().join("rows.csv");
    std::fs::write(&csv, "v\n5\nfive\n").expect("write");
    let (ok, _, stderr) = load(&server, &csv, "s").await;
    assert!(!ok);
    assert!(
        stderr.contains("CSV row 2, column V: \"five\" is not a number"),
        "{stderr}"
    );

    // No such stream: DESCRIBE's error for CSV, the insert's for NDJSON.
    let (ok, _, stderr) = load(&server, &csv, "nope").await;
    assert!(!ok);
    assert!(
        stderr.contains("NOPE") || stderr.contains("nope"),
        "{stderr}"
    );
    let (ok, _, stderr) = load(&server, &file, "nope").await;
    assert!(!ok);
    assert!(
        stderr.contains("nope") || stderr.contains("NOPE"),
        "{stderr}"
    );
    server.stop().await;
}
