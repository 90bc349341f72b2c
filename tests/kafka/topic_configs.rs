//! A topic's configs as the broker holds them (what `LogStore::create_topic_with` asked
//! for), and its records deleted through the broker (`LogStore::delete_records`).

use sluice_engine::api::storage::TopicConfig;

use super::*;

/// A topic's configs reach the broker: `retention.ms` as given, a table's topic compacted
/// (as ksqlDB creates it), and a topic created without either keeps the broker's defaults.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn topic_configs_reach_the_broker() {
    use rdkafka::admin::{AdminClient, AdminOptions, ResourceSpecifier};
    use rdkafka::client::DefaultClientContext;
    let Some(broker) = kafka::shared() else {
        return;
    };
    let _shared = BROKER_LOAD.read().await;
    let log = open_log(broker);
    let retained = TopicConfig {
        retention_ms: Some(3_600_000),
        compacted: false,
    };
    let compacted = TopicConfig {
        retention_ms: None,
        compacted: true,
    };
    log.create_topic_with("contract-retained", 1, retained)
        .expect("create");
    log.create_topic_with("contract-compacted", 1, compacted)
        .expect("create");
    log.create_topic("contract-defaults", 1).expect("create");
    let admin: AdminClient<DefaultClientContext> = ClientConfig::new()
        .set("bootstrap.servers", &broker.bootstrap)
        .create()
        .expect("admin client");
    let described = admin
        .describe_configs(
            [
                &ResourceSpecifier::Topic("contract-retained"),
                &ResourceSpecifier::Topic("contract-compacted"),
                &ResourceSpecifier::Topic("contract-defaults"),
            ],
            &AdminOptions::new().request_timeout(Some(WAIT)),
        )
        .await
        .expect("describe configs");
    let configs: Vec<(String, String)> = described
        .into_iter()
        .map(|r| {
            let resource = r.expect("a topic's configs");
            let get = |name: &str| {
                resource
                    .get(name)
                    .and_then(|e| e.value.clone())
                    .unwrap_or_default()
            };
            (get("retention.ms"), get("cleanup.policy"))
        })
        .collect();
    assert_eq!(configs[0], ("3600000".to_string(), "delete".to_string()));
    assert_eq!(configs[1].1, "compact");
    assert_eq!(configs[2].1, "delete", "the broker's default policy");
    assert_ne!(configs[2].0, "3600000");
}

/// `delete_records` moves every partition's start to its end on the broker (Kafka's
/// `DeleteRecords`): a reader from the earliest offset gets only records appended after,
/// at the offsets that follow, and another node sees the same start.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delete_records_moves_the_start_to_the_end() {
    let Some(broker) = kafka::shared() else {
        return;
    };
    let _shared = BROKER_LOAD.read().await;
    let log = open_log(broker);
    let topic = log.create_topic("contract-cleared", 2).expect("create");
    append(topic.as_ref(), 0, records(0..5)).await;
    append(topic.as_ref(), 1, records(0..2)).await;
    log.delete_records("contract-cleared")
        .expect("delete records");
    assert_eq!(topic.start_offset(PartitionId(0)), Offset(5));
    assert_eq!(topic.start_offset(PartitionId(1)), Offset(2));
    append(topic.as_ref(), 0, records(5..7)).await;
    let read = read_from(topic.as_ref(), 0, StartPosition::Earliest, 2).await;
    assert_records(&read, 0, 5..7);
    let other = open_log(broker);
    let seen = other.topic("contract-cleared").expect("the topic");
    seen.refresh_ends().expect("ends");
    assert_eq!(seen.start_offset(PartitionId(1)), Offset(2));
    let missing = log
        .delete_records("contract-nope")
        .expect_err("no such topic");
    assert_eq!(missing.code(), ErrorCode::NotFound);
}
