//! A restarted engine's replayed queries are visible from the moment it starts.

use std::collections::HashMap;

use crate::api::{Engine, EngineConfig};
use crate::log::FsyncPolicy;

fn config(dir: &std::path::Path) -> EngineConfig {
    EngineConfig {
        data_dir: dir.to_path_buf(),
        fsync: FsyncPolicy::Always,
        limits: Default::default(),
    }
}

/// SHOW QUERIES lists a replayed query from the catalog at once; its progress must exist
/// as soon as `start` returns (not caught up while it recovers), or a client polling it
/// right after a restart is told it does not exist.
#[test]
fn replayed_queries_have_a_progress_as_soon_as_the_engine_starts() {
    let dir = tempfile::tempdir().expect("temp dir");
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let none = HashMap::new();
    let id = rt.block_on(async {
        let engine = Engine::open(config(dir.path())).expect("engine opens");
        engine.start();
        engine
            .execute(
                "CREATE STREAM s (k STRING KEY, v BIGINT) WITH (kafka_topic='s', partitions=1, value_format='json'); \
                 CREATE TABLE t AS SELECT k, COUNT(*) AS n FROM s GROUP BY k;",
                &none,
                &none,
            )
            .await
            .expect("created");
        let ids: Vec<String> = engine
            .persistent_query_stats()
            .into_iter()
            .map(|s| s.query_id)
            .collect();
        assert_eq!(ids.len(), 1, "{ids:?}");
        ids[0].clone()
    });
    rt.block_on(async {
        let engine = Engine::open(config(dir.path())).expect("engine reopens");
        engine.start();
        // No await between: the recovery task has not run yet on this one thread.
        let progress = engine.query_progress(&id).expect("the replayed query is there");
        assert!(!progress.caught_up, "not caught up before it has recovered");
    });
}
