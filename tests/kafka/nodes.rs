//! Several `sluice serve --log kafka` nodes of one service id on one cluster: the catalog
//! shared through the command topic, and what one node does seen by the others.

use super::*;

/// A `sluice serve` child that is SIGKILLed when dropped, so a failing test leaves no
/// server behind (holding the test's output pipe open).
struct Node(Option<support::child::ChildServer>);

impl Node {
    fn addr(&self) -> std::net::SocketAddr {
        self.0.as_ref().expect("running").addr
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        if let Some(server) = self.0.take() {
            server.kill();
        }
    }
}

/// `sluice serve --log kafka` as one node of service `service_id`, over `dir`.
fn kafka_node(broker: &kafka::Broker, dir: &std::path::Path, service_id: &str) -> Node {
    Node(Some(support::child::ChildServer::start_with(
        dir,
        &[
            "--log",
            "kafka",
            "--kafka-bootstrap",
            &broker.bootstrap,
            "--service-id",
            service_id,
            "--kafka-config",
            "linger.ms=1",
        ],
    )))
}

/// Runs `sql` on the node and returns the response body, asserting 200.
async fn node_ksql(client: &mut support::Client, sql: &str) -> String {
    let (status, body) = client.ksql(sql).await;
    assert_eq!(status, http::StatusCode::OK, "{sql}: {body}");
    body.to_string()
}

/// Inserts rows through `/inserts-stream` until the node knows `target` (its follower
/// applied the CREATE another node ran), at most `WAIT`.
async fn insert_when_known(client: &mut support::Client, target: &str, rows: &str) -> String {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let (status, body) = client
            .post(
                "/inserts-stream",
                &format!("{{\"target\":\"{target}\"}}\n{rows}"),
            )
            .await;
        let body = String::from_utf8_lossy(&body).into_owned();
        if status == http::StatusCode::OK {
            return body;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{target} never became known: {status} {body}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_nodes_share_the_catalog_through_the_command_topic() {
    let Some(broker) = kafka::shared() else {
        return;
    };
    let (dir_a, dir_b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let node_a = kafka_node(broker, dir_a.path(), "nodes_");
    let node_b = kafka_node(broker, dir_b.path(), "nodes_");
    let mut a = support::Client::connect(node_a.addr(), support::Proto::H2).await;
    let mut b = support::Client::connect(node_b.addr(), support::Proto::H2).await;

    // Created through A: B lists and describes it.
    node_ksql(
        &mut a,
        "CREATE STREAM nodes_s (id INT KEY, v STRING) \
         WITH (kafka_topic='e2e-nodes', value_format='JSON', partitions=2);",
    )
    .await;
    let streams = node_ksql(&mut b, "SHOW STREAMS;").await;
    assert!(streams.contains("\"NODES_S\""), "{streams}");
    assert!(streams.contains("e2e-nodes"), "{streams}");
    let described = node_ksql(&mut b, "DESCRIBE nodes_s;").await;
    assert!(described.contains("\"V\""), "{described}");
    // The command topic is the service's own: SHOW TOPICS leaves it out, as ksqlDB does.
    let topics = node_ksql(&mut b, "SHOW TOPICS;").await;
    assert!(!topics.contains("_command_topic"), "{topics}");
    assert!(topics.contains("e2e-nodes"), "{topics}");

    // Rows inserted through A reach a push query on B.
    let (mut tx, response) = b.open("POST", "/query-stream", None).await;
    tx.send_data(Bytes::from_static(
        br#"{"sql":"SELECT id, v FROM nodes_s EMIT CHANGES LIMIT 3;","properties":{}}"#,
    ))
    .await
    .unwrap();
    drop(tx);
    let mut lines = LineReader::new(support::response(response).await.into_body());
    let header = lines.next_line().await.expect("header");
    assert!(header.contains("\"queryId\""), "{header}");
    let acks = insert_when_known(
        &mut a,
        "NODES_S",
        "{\"ID\":1,\"V\":\"one\"}\n{\"ID\":2,\"V\":\"two\"}\n{\"ID\":3,\"V\":\"three\"}\n",
    )
    .await;
    assert_eq!(acks.lines().count(), 3, "{acks}");
    let mut rows = Vec::new();
    for _ in 0..3 {
        let line = tokio::time::timeout(WAIT, lines.next_line())
            .await
            .expect("a row within WAIT")
            .expect("a row");
        rows.push(line);
    }
    rows.sort();
    assert_eq!(rows, ["[1,\"one\"]", "[2,\"two\"]", "[3,\"three\"]"]);

    // Created through B, known to A without A running a statement: its follower applied it.
    node_ksql(
        &mut b,
        "CREATE STREAM nodes_t (id INT KEY, v STRING) \
         WITH (kafka_topic='e2e-nodes-t', value_format='JSON', partitions=1);",
    )
    .await;
    let acks = insert_when_known(&mut a, "NODES_T", "{\"ID\":9,\"V\":\"nine\"}\n").await;
    assert_eq!(acks, "{\"status\":\"ok\",\"seq\":0}\n");

    // Dropped through B: A sees it gone.
    node_ksql(&mut b, "DROP STREAM nodes_s;").await;
    let streams = node_ksql(&mut a, "SHOW STREAMS;").await;
    assert!(!streams.contains("\"NODES_S\""), "{streams}");
    assert!(streams.contains("\"NODES_T\""), "{streams}");
    let (status, body) = a.ksql("DESCRIBE nodes_s;").await;
    assert_eq!(status, http::StatusCode::BAD_REQUEST, "{body}");

    // The same name created on both nodes at once: the command topic orders them, exactly
    // one wins, and both nodes agree on its columns.
    // Each on a topic of its own, so only the names collide.
    let create = |column: &'static str| {
        format!(
            "CREATE STREAM nodes_race (id INT KEY, {column} STRING) \
             WITH (kafka_topic='e2e-nodes-race-{column}', value_format='JSON', partitions=1);"
        )
    };
    let (sql_a, sql_b) = (create("from_a"), create("from_b"));
    let ((status_a, _), (status_b, _)) = tokio::join!(a.ksql(&sql_a), b.ksql(&sql_b));
    assert!(
        [status_a, status_b]
            .iter()
            .filter(|s| **s == http::StatusCode::OK)
            .count()
            == 1,
        "exactly one CREATE wins: {status_a} {status_b}"
    );
    let on_a = node_ksql(&mut a, "DESCRIBE nodes_race;").await;
    let on_b = node_ksql(&mut b, "DESCRIBE nodes_race;").await;
    let winner = if on_a.contains("FROM_A") {
        "FROM_A"
    } else {
        "FROM_B"
    };
    assert!(
        on_a.contains(winner) && on_b.contains(winner),
        "{on_a}\n{on_b}"
    );

    // A restarted node replays the command topic.
    drop(node_a);
    let node_a = kafka_node(broker, dir_a.path(), "nodes_");
    let mut a = support::Client::connect(node_a.addr(), support::Proto::H2).await;
    let streams = node_ksql(&mut a, "SHOW STREAMS;").await;
    assert!(
        streams.contains("\"NODES_T\"") && !streams.contains("\"NODES_S\""),
        "{streams}"
    );
    drop(node_a);
    drop(node_b);
}

/// Polls `GET path` on the node until it answers `want`, at most `WAIT`; returns the body.
async fn get_until(client: &mut support::Client, path: &str, want: http::StatusCode) -> String {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let (status, body) = client.request("GET", path, None, b"").await;
        let body = String::from_utf8_lossy(&body).into_owned();
        if status == want {
            return body;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "GET {path} never answered {want}: {status} {body}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Runs `sql` on the node until its response body satisfies `done`, at most `WAIT`.
async fn ksql_until(
    client: &mut support::Client,
    sql: &str,
    done: impl Fn(&str) -> bool,
) -> String {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let body = node_ksql(client, sql).await;
        if done(&body) {
            return body;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{sql} never gave the expected answer: {body}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn drop_with_delete_topic_on_one_node_is_seen_by_the_other() {
    let Some(broker) = kafka::shared() else {
        return;
    };
    let (dir_a, dir_b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let node_a = kafka_node(broker, dir_a.path(), "drops_");
    let node_b = kafka_node(broker, dir_b.path(), "drops_");
    let mut a = support::Client::connect(node_a.addr(), support::Proto::H2).await;
    let mut b = support::Client::connect(node_b.addr(), support::Proto::H2).await;

    node_ksql(
        &mut a,
        "CREATE STREAM drops_s (id INT KEY, v STRING) \
         WITH (kafka_topic='e2e-drops', value_format='JSON', partitions=2);",
    )
    .await;
    let acks = insert_when_known(
        &mut a,
        "DROPS_S",
        "{\"ID\":1,\"V\":\"one\"}\n{\"ID\":2,\"V\":\"two\"}\n",
    )
    .await;
    assert_eq!(acks.lines().count(), 2, "{acks}");

    // B uses the topic: a push query from the start, and its raw records.
    ksql_until(&mut b, "SHOW STREAMS;", |s| s.contains("\"DROPS_S\"")).await;
    let (mut tx, response) = b.open("POST", "/query-stream", None).await;
    tx.send_data(Bytes::from_static(
        br#"{"sql":"SELECT id, v FROM drops_s EMIT CHANGES;","properties":{"auto.offset.reset":"earliest"}}"#,
    ))
    .await
    .unwrap();
    drop(tx);
    let mut lines = LineReader::new(support::response(response).await.into_body());
    let header = lines.next_line().await.expect("header");
    assert!(header.contains("\"queryId\""), "{header}");
    let mut rows = Vec::new();
    for _ in 0..2 {
        let line = tokio::time::timeout(WAIT, lines.next_line())
            .await
            .expect("a row within WAIT")
            .expect("a row");
        rows.push(line);
    }
    rows.sort();
    assert_eq!(rows, ["[1,\"one\"]", "[2,\"two\"]"]);
    let described = get_until(&mut b, "/topics/e2e-drops", http::StatusCode::OK).await;
    assert!(described.contains("\"partition\":1"), "{described}");

    // Dropped with its topic through A.
    node_ksql(&mut a, "DROP STREAM drops_s DELETE TOPIC;").await;

    // B: the source, the topic and the push query over it are gone.
    ksql_until(&mut b, "SHOW STREAMS;", |s| !s.contains("\"DROPS_S\"")).await;
    let ended = tokio::time::timeout(WAIT, async {
        while let Some(line) = lines.next_line().await {
            assert!(!line.starts_with('['), "a row after the drop: {line}");
        }
    })
    .await;
    assert!(ended.is_ok(), "B's push query did not end after the drop");
    get_until(&mut b, "/topics/e2e-drops", http::StatusCode::NOT_FOUND).await;
    let topics = node_ksql(&mut b, "SHOW TOPICS;").await;
    assert!(!topics.contains("e2e-drops"), "{topics}");

    // The name and the topic are free again, on B as on A: a new stream over a new,
    // one-partition topic of the same name holds only the new row, read on both nodes.
    node_ksql(
        &mut b,
        "CREATE STREAM drops_s (id INT KEY, w INT) \
         WITH (kafka_topic='e2e-drops', value_format='JSON', partitions=1);",
    )
    .await;
    let acks = insert_when_known(&mut b, "DROPS_S", "{\"ID\":3,\"W\":3}\n").await;
    assert_eq!(acks, "{\"status\":\"ok\",\"seq\":0}\n");
    for client in [&mut a, &mut b] {
        let described = get_until(client, "/topics/e2e-drops", http::StatusCode::OK).await;
        assert!(
            described
                .contains("\"partitions\":[{\"partition\":0,\"startOffset\":0,\"endOffset\":1}]"),
            "{described}"
        );
        let records = get_until(
            client,
            "/topics/e2e-drops/partitions/0/records?offset=0",
            http::StatusCode::OK,
        )
        .await;
        assert_eq!(records.matches("\"offset\":").count(), 1, "{records}");
    }
    let streams = ksql_until(&mut a, "DESCRIBE drops_s;", |s| s.contains("\"W\"")).await;
    assert!(!streams.contains("\"V\""), "{streams}");
    drop(node_a);
    drop(node_b);
}

/// The id of the query a CREATE … AS SELECT response started.
pub(crate) fn created_query_id(body: &str) -> String {
    let value: serde_json::Value = serde_json::from_str(body).expect("json");
    value[0]["commandStatus"]["queryId"]
        .as_str()
        .unwrap_or_else(|| panic!("no queryId in {body}"))
        .to_owned()
}

/// Whether the node runs query `id` and has caught up with its sources.
async fn runs_caught_up(client: &mut support::Client, id: &str) -> bool {
    let (status, body) = client
        .request("GET", &format!("/queries/{id}/progress"), None, b"")
        .await;
    status == http::StatusCode::OK && String::from_utf8_lossy(&body).contains("\"caughtUp\":true")
}

/// The value of every record of `topic` (two partitions) as JSON, read until `n` arrived.
fn sink_values(
    bootstrap: &str,
    topic: &str,
    n: usize,
) -> Vec<(Option<Vec<u8>>, serde_json::Value)> {
    plain_consume(bootstrap, topic, 2, n)
        .into_iter()
        .map(|(key, value, _, _)| {
            let value = value.expect("no tombstones in this sink");
            (key, serde_json::from_slice(&value).expect("a JSON value"))
        })
        .collect()
}

/// Inserts rows `range` (`ID` = i % 7, `V` = i) through `client`, all acked.
async fn insert_range(client: &mut support::Client, range: std::ops::Range<u64>) {
    let mut body = String::from("{\"target\":\"FO_SRC\"}\n");
    for i in range.clone() {
        body.push_str(&format!("{{\"ID\":{},\"V\":{i}}}\n", i % 7));
    }
    let (status, acks) = client.post("/inserts-stream", &body).await;
    let acks = String::from_utf8_lossy(&acks);
    assert_eq!(status, http::StatusCode::OK, "{acks}");
    assert_eq!(
        acks.matches("\"status\":\"ok\"").count(),
        range.count(),
        "{acks}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn persistent_queries_move_to_the_surviving_node_with_no_output_lost_or_repeated() {
    let Some(broker) = kafka::shared() else {
        return;
    };
    let _alone = BROKER_LOAD.write().await;
    let (dir_a, dir_b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let mut nodes = [
        Some(kafka_node(broker, dir_a.path(), "failover_")),
        Some(kafka_node(broker, dir_b.path(), "failover_")),
    ];
    let addr = |nodes: &[Option<Node>; 2], i: usize| nodes[i].as_ref().expect("running").addr();
    let mut a = support::Client::connect(addr(&nodes, 0), support::Proto::H2).await;
    node_ksql(
        &mut a,
        "CREATE STREAM fo_src (id BIGINT KEY, v BIGINT) \
         WITH (kafka_topic='e2e-fo-src', value_format='JSON', partitions=2);",
    )
    .await;
    // A stateless query and a stateful one, both reading from the first row on.
    let projected = created_query_id(
        &node_ksql(
            &mut a,
            "CREATE STREAM fo_out WITH (kafka_topic='e2e-fo-out', partitions=2) AS \
             SELECT id, v, v * 2 AS w FROM fo_src EMIT CHANGES;",
        )
        .await,
    );
    let counted = created_query_id(
        &node_ksql(
            &mut a,
            "CREATE TABLE fo_counts WITH (kafka_topic='e2e-fo-counts', partitions=2) AS \
             SELECT id, COUNT(*) AS n, SUM(v) AS total FROM fo_src GROUP BY id EMIT CHANGES;",
        )
        .await,
    );
    insert_range(&mut a, 0..300).await;
    sink_values(&broker.bootstrap, "e2e-fo-out", 300);

    // The node running the stateful query (each query runs on exactly one node).
    let mut clients = [
        a,
        support::Client::connect(addr(&nodes, 1), support::Proto::H2).await,
    ];
    let deadline = tokio::time::Instant::now() + WAIT;
    let victim = loop {
        let mut runners = Vec::new();
        for (i, client) in clients.iter_mut().enumerate() {
            if runs_caught_up(client, &counted).await {
                runners.push(i);
            }
        }
        if let [one] = runners[..] {
            break one;
        }
        assert!(runners.len() < 2, "both nodes run {counted}");
        assert!(
            tokio::time::Instant::now() < deadline,
            "no node caught up with {counted}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let survivor = 1 - victim;

    // A pull query answers the same on both nodes: the node running the query reads its
    // store, the other the table's topic.
    let expected_rows: Vec<u64> = (0..300).filter(|i| i % 7 == 3).collect();
    let expected = format!(
        "[3,{},{}]",
        expected_rows.len(),
        expected_rows.iter().sum::<u64>()
    );
    for client in clients.iter_mut() {
        let (status, body) = client
            .post(
                "/query-stream",
                r#"{"sql":"SELECT id, n, total FROM fo_counts WHERE id = 3;","properties":{}}"#,
            )
            .await;
        let body = String::from_utf8_lossy(&body).into_owned();
        assert_eq!(status, http::StatusCode::OK, "{body}");
        let rows: Vec<&str> = body.lines().skip(1).collect();
        assert_eq!(rows, [expected.as_str()], "{body}");
    }

    // SIGKILL it while rows keep coming through the survivor; its queries resume there.
    let mut writer = support::Client::connect(addr(&nodes, survivor), support::Proto::H2).await;
    let ingest = tokio::spawn(async move {
        for chunk in 0..10u64 {
            insert_range(&mut writer, 300 + chunk * 100..400 + chunk * 100).await;
        }
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    nodes[victim]
        .take()
        .expect("running")
        .0
        .take()
        .expect("running")
        .kill();
    let killed = std::time::Instant::now();
    ingest.await.expect("the survivor acked every row");
    let total = 1300u64;

    let mut survivor_client =
        support::Client::connect(addr(&nodes, survivor), support::Proto::H2).await;
    for id in [&projected, &counted] {
        until_caught_up(&mut survivor_client, id, Duration::from_secs(90)).await;
    }
    eprintln!(
        "the survivor caught up {:?} after the SIGKILL",
        killed.elapsed()
    );

    // Every input row once in the stream sink.
    let out = sink_values(&broker.bootstrap, "e2e-fo-out", total as usize);
    let mut seen: Vec<u64> = out
        .iter()
        .map(|(_, v)| v["V"].as_u64().expect("V"))
        .collect();
    seen.sort_unstable();
    assert_eq!(
        seen,
        (0..total).collect::<Vec<_>>(),
        "lost or repeated stream outputs"
    );
    assert!(out
        .iter()
        .all(|(_, v)| v["W"].as_u64() == Some(2 * v["V"].as_u64().unwrap())));

    // One table update per input row, and each key's last update is a clean run's.
    assert_counts(&broker.bootstrap, total);
    // Nothing beyond those: a repeated batch would show as extra records.
    tokio::time::sleep(Duration::from_secs(2)).await;
    for topic in ["e2e-fo-out", "e2e-fo-counts"] {
        assert_eq!(
            stored_records(&broker.bootstrap, topic, 2),
            total,
            "{topic}"
        );
    }

    // Every source row so far is deleted (as retention does in time), and a node with no
    // state of its own takes over from the survivor: it can get the counts only from the
    // query's changelog topic, and counts new rows on top of them. (A node that rebuilt the
    // state from the source would find its first 1,300 rows gone.)
    until_caught_up(&mut survivor_client, &counted, WAIT).await;
    let changelog = format!("_confluent-ksql-failover_query_{counted}-state-changelog");
    assert!(
        stored_records(&broker.bootstrap, &changelog, 1) > 0,
        "{changelog} holds the state's commits"
    );
    delete_every_record(&broker.bootstrap, "e2e-fo-src", 2).await;
    let dir_c = tempfile::tempdir().unwrap();
    let fresh = kafka_node(broker, dir_c.path(), "failover_");
    nodes[survivor]
        .take()
        .expect("running")
        .0
        .take()
        .expect("running")
        .kill();
    let mut c = support::Client::connect(fresh.addr(), support::Proto::H2).await;
    until_caught_up(&mut c, &counted, Duration::from_secs(90)).await;
    let (_, metrics) = c.request("GET", "/metrics", None, b"").await;
    let restored = String::from_utf8_lossy(&metrics)
        .lines()
        .find_map(|l| l.strip_prefix("sluice_state_restored_records_total "))
        .and_then(|v| v.trim().parse::<u64>().ok());
    // At least each of the 7 groups' accumulators and table rows.
    assert!(
        restored.is_some_and(|n| n >= 14),
        "the fresh node restored from the changelog: {restored:?}"
    );
    insert_range(&mut c, total..total + 100).await;
    until_caught_up(&mut c, &counted, WAIT).await;
    assert_counts(&broker.bootstrap, total + 100);
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(
        stored_records(&broker.bootstrap, "e2e-fo-counts", 2),
        total + 100,
        "one update per row, none repeated"
    );

    // TERMINATE removes the query's changelog topic with its state.
    node_ksql(&mut c, &format!("TERMINATE {counted};")).await;
    let deadline = tokio::time::Instant::now() + WAIT;
    while topic_exists(&broker.bootstrap, &changelog) {
        assert!(
            tokio::time::Instant::now() < deadline,
            "{changelog} outlived its query"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Whether the cluster's metadata shows `topic`.
fn topic_exists(bootstrap: &str, topic: &str) -> bool {
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set("allow.auto.create.topics", "false")
        .create()
        .expect("consumer");
    let metadata = consumer
        .fetch_metadata(None, Duration::from_secs(10))
        .expect("metadata");
    metadata.topics().iter().any(|t| t.name() == topic)
}

/// The last update of each of the 7 keys in `e2e-fo-counts` counts and sums rows
/// `0..total` (`ID` = i % 7, `V` = i), reading the sink until its `total` updates arrived.
fn assert_counts(bootstrap: &str, total: u64) {
    let counts = sink_values(bootstrap, "e2e-fo-counts", total as usize);
    let mut last: std::collections::BTreeMap<Vec<u8>, serde_json::Value> = Default::default();
    for (key, value) in &counts {
        last.insert(key.clone().expect("keyed"), value.clone());
    }
    assert_eq!(last.len(), 7, "{last:?}");
    for (key, value) in &last {
        // A BIGINT key in the KAFKA format: eight bytes, big-endian.
        let id = u64::from_be_bytes(key.as_slice().try_into().expect("an 8-byte key"));
        let rows: Vec<u64> = (0..total).filter(|i| i % 7 == id).collect();
        assert_eq!(
            value["N"].as_u64(),
            Some(rows.len() as u64),
            "key {id}: {value}"
        );
        assert_eq!(
            value["TOTAL"].as_u64(),
            Some(rows.iter().sum::<u64>()),
            "key {id}: {value}"
        );
    }
}

/// Waits until the node behind `client` runs query `id` and has caught up with its source.
async fn until_caught_up(client: &mut support::Client, id: &str, within: Duration) {
    let deadline = tokio::time::Instant::now() + within;
    while !runs_caught_up(client, id).await {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the node never took {id} over"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Deletes every record of `topic`'s `partitions` (Kafka's DeleteRecords to the end), as
/// retention would in time.
async fn delete_every_record(bootstrap: &str, topic: &str, partitions: u32) {
    let admin: rdkafka::admin::AdminClient<rdkafka::client::DefaultClientContext> =
        ClientConfig::new()
            .set("bootstrap.servers", bootstrap)
            .create()
            .expect("admin client");
    let mut offsets = TopicPartitionList::new();
    for p in 0..partitions {
        offsets
            .add_partition_offset(topic, p as i32, rdkafka::Offset::End)
            .unwrap();
    }
    let deleted = admin
        .delete_records(&offsets, &rdkafka::admin::AdminOptions::new())
        .await
        .expect("DeleteRecords");
    for element in deleted.elements() {
        element.error().expect("every partition's records deleted");
    }
}

/// Committed records in `topic`, as a read_committed consumer reads them to the end
/// (offsets overcount: each transaction leaves a marker).
fn stored_records(bootstrap: &str, topic: &str, partitions: u32) -> u64 {
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set("group.id", "plain-test-consumer")
        .set("enable.auto.commit", "false")
        .set("isolation.level", "read_committed")
        .set("enable.partition.eof", "true")
        .create()
        .expect("consumer");
    let mut assignment = TopicPartitionList::new();
    for p in 0..partitions {
        assignment
            .add_partition_offset(topic, p as i32, rdkafka::Offset::Beginning)
            .unwrap();
    }
    consumer.assign(&assignment).expect("assign");
    let deadline = std::time::Instant::now() + WAIT;
    let (mut records, mut ended) = (0u64, std::collections::BTreeSet::new());
    while ended.len() < partitions as usize {
        assert!(
            std::time::Instant::now() < deadline,
            "{topic} not read to its end"
        );
        match consumer.poll(Duration::from_millis(100)) {
            None => {}
            Some(Ok(_)) => records += 1,
            Some(Err(rdkafka::error::KafkaError::PartitionEOF(p))) => {
                ended.insert(p);
            }
            Some(Err(e)) => panic!("consume: {e}"),
        }
    }
    records
}
