//! A topic's configs as the broker holds them: what `LogStore::create_topic_with` asked for.

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
