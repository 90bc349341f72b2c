//! Large, pathological statements cannot stall other clients (issue 9, finding 5: a
//! 120,000-term OR chain took 8.7 s to parse on the async workers, and three such requests
//! stalled `/healthcheck` for 18 s). Parsing is linear and bounded, and large requests are
//! parsed off the async workers, a few at a time.

mod support;

use std::time::{Duration, Instant};

use http::StatusCode;
use sluice_engine::limits::{INLINE_PARSE_BYTES_MAX, LARGE_PARSES_MAX};
use sluice_protocol::limits::REQUEST_BODY_BYTES_MAX;
use support::TestServer;

/// Slowest `/healthcheck` answer allowed while the pathological requests run. It answers in
/// microseconds when the workers are free; seconds of slack keep a loaded CI machine (and
/// debug builds) from failing the test, while the stall it guards against lasted 18 s.
const HEALTHCHECK_LATENCY_MAX: Duration = Duration::from_secs(5);

/// Clients sending pathological statements at once: more than the large-parse turns, so
/// some wait for a turn while the health checks run.
const HEAVY_CLIENTS: usize = LARGE_PARSES_MAX + 3;

/// An OR chain as long as a request body allows: the shape of the 120,000 terms.
fn or_chain() -> String {
    const TERM: &str = "A = 1 OR ";
    let terms = (REQUEST_BODY_BYTES_MAX - 200) / TERM.len();
    format!(
        "SELECT * FROM S WHERE {}A = 1 EMIT CHANGES;",
        TERM.repeat(terms)
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pathological_statements_do_not_stall_health_checks() {
    let server = TestServer::start().await;
    server
        .ksql_ok("CREATE STREAM S (A INTEGER) WITH (kafka_topic='s', value_format='JSON', partitions=1);")
        .await;
    let sql = or_chain();
    assert!(sql.len() > INLINE_PARSE_BYTES_MAX);

    let mut clients = Vec::new();
    for _ in 0..HEAVY_CLIENTS {
        clients.push(server.h2().await);
    }
    let heavy: Vec<_> = clients
        .into_iter()
        .map(|mut client| {
            let sql = sql.clone();
            tokio::spawn(async move {
                let mut answers = Vec::new();
                for _ in 0..3 {
                    answers.push(client.ksql(&sql).await);
                }
                answers
            })
        })
        .collect();

    let mut health = server.h1().await;
    let mut slowest = Duration::ZERO;
    let mut checks_during = 0;
    while !heavy.iter().all(|h| h.is_finished()) {
        let started = Instant::now();
        let (status, _) = health.request("GET", "/healthcheck", None, b"").await;
        slowest = slowest.max(started.elapsed());
        assert_eq!(status, StatusCode::OK);
        checks_during += 1;
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    eprintln!("slowest /healthcheck of {checks_during} while parsing: {slowest:?}");
    assert!(
        checks_during > 0,
        "no health check ran while the statements were parsed"
    );
    assert!(
        slowest < HEALTHCHECK_LATENCY_MAX,
        "/healthcheck took {slowest:?} while large statements were parsed"
    );

    // Each pathological request got its own clear error, not a timeout or a crash.
    for client in heavy {
        for (status, body) in client.await.expect("a heavy client finishes") {
            assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
            assert_eq!(body["@type"], "statement_error", "{body}");
            let message = body["message"].as_str().expect("an error message");
            assert!(message.contains("maximum of"), "{message}");
        }
    }
    server.stop().await;
}
