//! Replay steps both suites share: reset the server, create topics, produce inputs, wait for
//! persistent queries, read sink topics back and compare them.

use std::collections::BTreeMap;
use std::time::Duration;

use tokio::time::Instant;

use super::case::Record;
use super::client::{HttpClient, ProduceRecord, TopicRecord};
use super::compare;
use super::json::Json;
use super::topic_schema::{self, SourceInfo};

/// Poll interval while waiting for queries to catch up.
const POLL_INTERVAL_MS: u64 = 20;
/// Without a progress endpoint: how long sink end offsets must stay still before the
/// outputs count as complete.
const QUIET_PERIOD_MS: u64 = 300;
/// Passes over the sources when dropping them; dependants must go before what they read.
const DROP_PASSES_MAX: usize = 6;

/// Brings the server back to empty through public endpoints: terminate every persistent
/// query, drop every stream and table with its topic, delete the remaining topics and
/// drop every custom type (ksqlDB's test driver starts each case with a fresh metastore).
pub async fn reset(client: &HttpClient) -> Result<(), String> {
    for entity in client.ksql_ok("SHOW QUERIES;").await? {
        for q in entity.get("queries").map(Json::as_array).unwrap_or(&[]) {
            if let Some(id) = q.field("id").and_then(Json::as_str) {
                // Ids built from quoted sink names (`CSAS_foo-too_1`) need quoting too. A
                // failure here is reported by the drops below, which it would block.
                let id = if id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
                    id.to_string()
                } else {
                    topic_schema::quote_name(id)
                };
                let _ = client.ksql_ok(&format!("TERMINATE {id};")).await;
            }
        }
    }
    let mut last_error = None;
    for _ in 0..DROP_PASSES_MAX {
        let mut left = 0;
        // Tables first: in the corpus, tables are more often built from streams than the
        // other way round. Failures are retried on the next pass.
        for (show, list, kind) in [
            ("SHOW TABLES;", "tables", "TABLE"),
            ("SHOW STREAMS;", "streams", "STREAM"),
        ] {
            for entity in client.ksql_ok(show).await? {
                for s in entity.get(list).map(Json::as_array).unwrap_or(&[]) {
                    let Some(name) = s.field("name").and_then(Json::as_str) else {
                        continue;
                    };
                    left += 1;
                    let sql = format!(
                        "DROP {kind} IF EXISTS {} DELETE TOPIC;",
                        topic_schema::quote_name(name)
                    );
                    if let Err(e) = client.ksql_ok(&sql).await {
                        last_error = Some(e);
                    }
                }
            }
        }
        if left == 0 {
            last_error = None;
            break;
        }
    }
    if let Some(e) = last_error {
        return Err(format!("could not drop every source: {e}"));
    }
    if let Some(topics) = client.list_topics().await? {
        for t in topics.iter().filter(|t| !t.starts_with('_')) {
            client.delete_topic(t).await?;
        }
    }
    for entity in client.ksql_ok("SHOW TYPES;").await? {
        let Some(Json::Obj(types)) = entity.get("types") else {
            continue;
        };
        for (name, _) in types {
            let sql = format!("DROP TYPE IF EXISTS {};", topic_schema::quote_name(name));
            client.ksql_ok(&sql).await?;
        }
    }
    Ok(())
}

/// Creates topics; `Ok(false)` when the server has no topic endpoint (the statements may
/// still create their own topics).
pub async fn create_topics(client: &HttpClient, topics: &[(String, u32)]) -> Result<bool, String> {
    for (name, partitions) in topics {
        if !client.create_topic(name, *partitions).await? {
            return Ok(false);
        }
    }
    Ok(true)
}

/// The first source bound to each topic.
pub fn sources_by_topic(sources: &[SourceInfo]) -> BTreeMap<String, SourceInfo> {
    let mut map = BTreeMap::new();
    for s in sources {
        map.entry(s.topic.clone()).or_insert_with(|| s.clone());
    }
    map
}

/// How input records are placed on partitions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Placement {
    /// All on partition 0, as `TopologyTestDriver` pipes them (QTT).
    PartitionZero,
    /// Kafka's default partitioner over the serialized key (RQTT).
    DefaultPartitioner,
}

/// Produces records in file order, one request per run of records for the same topic.
pub async fn produce(
    client: &HttpClient,
    inputs: &[Record],
    sources: &BTreeMap<String, SourceInfo>,
    placement: Placement,
) -> Result<(), String> {
    let mut i = 0;
    while i < inputs.len() {
        let topic = &inputs[i].topic;
        let mut batch = Vec::new();
        while i < inputs.len() && inputs[i].topic == *topic {
            let r = &inputs[i];
            let source = sources.get(topic);
            let headers = r
                .headers
                .iter()
                .flatten()
                .map(|(k, v)| {
                    let bytes = match v {
                        None => None,
                        Some(b) => Some(
                            base64::Engine::decode(&base64::engine::general_purpose::STANDARD, b)
                                .map_err(|e| format!("header {k}: {e}"))?,
                        ),
                    };
                    Ok((k.clone(), bytes))
                })
                .collect::<Result<Vec<_>, String>>()?;
            batch.push(ProduceRecord {
                key: topic_schema::encode_input_key(source, &r.key)?,
                value: topic_schema::encode_input_value(&r.value),
                partition: (placement == Placement::PartitionZero).then_some(0),
                timestamp: r.timestamp.unwrap_or(0),
                headers,
            });
            i += 1;
        }
        client.produce(topic, &batch).await?;
    }
    Ok(())
}

/// Produces `inputs` as ksqlDB's test driver feeds them: when they go to more than one
/// topic and persistent queries run, each run of records to one topic is produced and
/// then every query is let catch up before the next run, so a query reading several
/// topics (a join) takes records in the file's order, as `TopologyTestDriver` processes
/// each piped record before the next. One topic, or no query: all at once.
pub async fn produce_in_order(
    client: &HttpClient,
    inputs: &[Record],
    sources: &BTreeMap<String, SourceInfo>,
    placement: Placement,
    query_ids: &[String],
    deadline: Instant,
) -> Result<(), String> {
    let first = inputs.first().map(|r| r.topic.as_str());
    let several_topics = inputs.iter().any(|r| Some(r.topic.as_str()) != first);
    if query_ids.is_empty() || !several_topics {
        return produce(client, inputs, sources, placement).await;
    }
    let mut start = 0;
    while start < inputs.len() {
        let topic = &inputs[start].topic;
        let end = inputs[start..]
            .iter()
            .position(|r| r.topic != *topic)
            .map_or(inputs.len(), |n| start + n);
        produce(client, &inputs[start..end], sources, placement).await?;
        settle(client, query_ids, &[], deadline).await?;
        start = end;
    }
    Ok(())
}

/// Waits until every persistent query has consumed everything in its sources. Without the
/// progress endpoint, waits until each expected sink holds at least its expected count and
/// then stays still for a quiet period. Returns at the deadline either way: the comparison
/// then reports what is missing.
pub async fn settle(
    client: &HttpClient,
    query_ids: &[String],
    expected: &[Record],
    deadline: Instant,
) -> Result<(), String> {
    let mut progress_supported = !query_ids.is_empty();
    let mut clean_passes = 0;
    while progress_supported && Instant::now() < deadline {
        let mut all = true;
        for id in query_ids {
            match client.query_caught_up(id).await? {
                Some(true) => {}
                Some(false) => all = false,
                None => {
                    progress_supported = false;
                    break;
                }
            }
        }
        if !progress_supported {
            break;
        }
        // Two clean passes in a row: a query upstream of another may have written its last
        // output after the downstream one was asked.
        clean_passes = if all { clean_passes + 1 } else { 0 };
        if clean_passes >= 2 {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(POLL_INTERVAL_MS)).await;
    }
    if query_ids.is_empty() || Instant::now() >= deadline || client.list_topics().await?.is_none() {
        // Nothing to wait for, no time left, or no way to watch topics.
        return Ok(());
    }
    let mut wanted: BTreeMap<&str, i64> = BTreeMap::new();
    for r in expected {
        *wanted.entry(r.topic.as_str()).or_default() += 1;
    }
    let mut last: Option<Vec<i64>> = None;
    let mut still_since = Instant::now();
    while Instant::now() < deadline {
        let mut totals = Vec::new();
        let mut reached = true;
        for (topic, want) in &wanted {
            let total: i64 = client
                .end_offsets(topic)
                .await?
                .unwrap_or_default()
                .iter()
                .map(|(_, end)| end)
                .sum();
            reached &= total >= *want;
            totals.push(total);
        }
        if last.as_ref() != Some(&totals) {
            last = Some(totals);
            still_since = Instant::now();
        } else if reached && still_since.elapsed() >= Duration::from_millis(QUIET_PERIOD_MS) {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(POLL_INTERVAL_MS)).await;
    }
    Ok(())
}

/// Every record of a topic. Partitions are merged by timestamp, keeping each partition's own
/// order, which is the order a single-threaded topology would have written them in.
pub async fn read_topic(client: &HttpClient, topic: &str) -> Result<Vec<TopicRecord>, String> {
    let Some(partitions) = client.end_offsets(topic).await? else {
        return Ok(Vec::new());
    };
    let mut lists = Vec::new();
    for (p, _) in partitions {
        lists.push(client.read_partition(topic, p).await?);
    }
    let mut heads = vec![0usize; lists.len()];
    let mut out = Vec::new();
    loop {
        let next = (0..lists.len())
            .filter(|&i| heads[i] < lists[i].len())
            .min_by_key(|&i| (lists[i][heads[i]].timestamp, i));
        let Some(i) = next else {
            return Ok(out);
        };
        out.push(lists[i][heads[i]].clone());
        heads[i] += 1;
    }
}

/// Reads every expected sink topic and compares it with the expected records: exact count,
/// in order; key, value, window, timestamp (when given) and headers (when given).
pub async fn check_outputs(
    client: &HttpClient,
    expected: &[Record],
    sources: &BTreeMap<String, SourceInfo>,
    check_zero_timestamps: bool,
) -> Result<(), String> {
    let mut topics: Vec<&str> = Vec::new();
    for r in expected {
        if !topics.contains(&r.topic.as_str()) {
            topics.push(&r.topic);
        }
    }
    for topic in topics {
        let want: Vec<&Record> = expected.iter().filter(|r| r.topic == topic).collect();
        let got = read_topic(client, topic).await?;
        let source = sources.get(topic);
        for (i, (w, g)) in want.iter().zip(&got).enumerate() {
            check_record(w, g, source, check_zero_timestamps)
                .map_err(|e| format!("{topic} record {i}: {e}"))?;
        }
        if want.len() != got.len() {
            return Err(format!(
                "{topic}: expected {} records, got {}",
                want.len(),
                got.len()
            ));
        }
    }
    Ok(())
}

fn check_record(
    want: &Record,
    got: &TopicRecord,
    source: Option<&SourceInfo>,
    check_zero_timestamps: bool,
) -> Result<(), String> {
    let mut key_bytes = got.key.as_deref();
    if let Some(w) = want.window {
        let bytes = key_bytes.ok_or("expected a windowed key, got a null key")?;
        let (inner, window) = topic_schema::split_window(bytes, w.kind)?;
        if window.start_ms != w.start_ms || window.end_ms.is_some_and(|end| end != w.end_ms) {
            return Err(format!(
                "window: expected [{}, {}], got start {} end {:?}",
                w.start_ms, w.end_ms, window.start_ms, window.end_ms
            ));
        }
        key_bytes = Some(inner);
    }
    let key = topic_schema::decode_output_key(source, key_bytes)?;
    let key_ty = source.and_then(|s| match s.key_columns.as_slice() {
        [one] => Some(one.ty.clone()),
        _ => None,
    });
    compare::qtt_value(&want.key, &key, key_ty.as_ref(), "key")?;
    let value = match &got.value {
        None => Json::Null,
        Some(bytes) => {
            let text = String::from_utf8_lossy(bytes);
            Json::parse(&text).map_err(|e| format!("value is not JSON ({e}): {text}"))?
        }
    };
    let value_ty = source.map(|s| match (&value, s.value_columns.as_slice()) {
        // An unwrapped single value (`WRAP_SINGLE_VALUE=false`) is the bare column.
        (v, [one]) if !matches!(v, Json::Obj(_) | Json::Null) => one.ty.clone(),
        _ => s.value_type(),
    });
    compare::qtt_value(&want.value, &value, value_ty.as_ref(), "value")?;
    if let Some(ts) = want.timestamp {
        if (ts != 0 || check_zero_timestamps) && ts != got.timestamp {
            return Err(format!("timestamp: expected {ts}, got {}", got.timestamp));
        }
    }
    if let Some(hs) = &want.headers {
        let actual: Vec<(String, Option<String>)> = got
            .headers
            .iter()
            .map(|(k, v)| {
                (
                    k.clone(),
                    v.as_ref().map(|b| {
                        base64::Engine::encode(&base64::engine::general_purpose::STANDARD, b)
                    }),
                )
            })
            .collect();
        if *hs != actual {
            return Err(format!("headers: expected {hs:?}, got {actual:?}"));
        }
    }
    Ok(())
}
