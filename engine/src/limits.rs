//! Limits on what one request may ask of the engine. Each is a named constant with its unit
//! last and says why it has its value; the error that enforces it names it.
//!
//! Log, segment and queue limits live beside the code they bound (`log`, `exec`); these
//! are the ones a client's statements run into.

/// Longest identifier (stream, table, column, query or variable name), in characters.
///
/// Kafka refuses topic names longer than 249 characters, and a source's name becomes its
/// topic's name unless `KAFKA_TOPIC` says otherwise, so no longer name is useful. Without a
/// bound, a 1 MB stream name repeated by `SHOW STREAMS` turned a 26 KB request into a
/// response of over 1 GB (issue 9, finding 2).
pub const IDENTIFIER_CHARS_MAX: usize = 249;

/// Most statements in one `/ksql` request.
///
/// Scripts of a few hundred statements are common (migrations); ten thousand is not. Every
/// statement is validated in a sandbox before any runs, so each costs work up front.
pub const STATEMENTS_PER_REQUEST_MAX: usize = 1_000;

/// Largest `/ksql` response, in bytes, as the statements' entities would render.
///
/// Statements such as `SHOW STREAMS` or `DESCRIBE EXTENDED` repeat whole catalog listings;
/// a request is refused before anything runs when its answer would be larger than this.
/// 16 MiB holds `DESCRIBE EXTENDED` of thousands of sources.
pub const KSQL_RESPONSE_BYTES_MAX: usize = 16 * 1024 * 1024;

/// Longest SQL text parsed and planned on the async worker threads; longer requests are
/// parsed on the blocking pool.
///
/// Parsing is linear but not free (a 1 MiB statement list takes tens of milliseconds), and
/// the async workers also move every client's acks and rows: a statement this short parses
/// in microseconds, cheaper than a hop to another thread.
pub const INLINE_PARSE_BYTES_MAX: usize = 4 * 1024;

/// Requests longer than [`INLINE_PARSE_BYTES_MAX`] parsed and planned at once; more wait
/// (asynchronously, holding no thread) for a turn.
///
/// Each takes a core for up to tens of milliseconds (a 1 MiB request at the 100,000-node
/// expression limit), and without a bound a burst of them could take every core from the
/// async workers that move acks and rows (issue 9, finding 5). Two keeps large requests
/// moving on small machines.
pub const LARGE_PARSES_MAX: usize = 2;

/// Concurrent push queries per node (ksqlDB's `ksql.max.push.queries` defaults to 100).
///
/// Sluice's are cheap while idle, ~9 KiB of RSS each (`sluice bench --idle-queries`), so the
/// bound is about their cost when the stream they read is written: every one of them is
/// woken, reads and encodes each commit (~6 µs of CPU per query per commit).
pub const PUSH_QUERIES_MAX: usize = 10_000;

/// Most partitions, over all topics, one node serves ([`EngineLimits`] overrides it).
///
/// A partition costs no thread and no file descriptor of its own (writers are a fixed pool,
/// files are opened on demand within a budget), only memory — a few KiB idle — and, when it
/// is written, its share of the writer pool. Issue 11 asks for 10,000 partitions on one node;
/// twice that leaves room for sinks of persistent queries while still stopping a loop of
/// `CREATE STREAM … partitions=256` long before memory runs out (issue 9, finding 3). Kafka
/// gives a similar order of magnitude per broker.
pub const PARTITIONS_PER_NODE_MAX: u32 = 20_000;

/// Most streams and tables in the catalog.
///
/// Sources that share a topic cost no partition, so the partition limit alone does not stop
/// a loop of `CREATE STREAM s_<n> WITH (kafka_topic='t')`; every source is kept in memory,
/// replayed from the command log at start and listed by `SHOW STREAMS`. ksqlDB deployments
/// run tens to a few thousand; ten thousand leaves room while bounding start-up and listings.
pub const SOURCES_MAX: usize = 10_000;

/// Most persistent queries (CSAS, CTAS, `INSERT INTO … SELECT`) a node runs.
///
/// Each one is a task woken by every commit of its source, a checkpoint journal with an open
/// file, and its sink's appends. ksqlDB runs a Kafka Streams application per query and is
/// advised to stay in the tens to hundreds per server; a thousand keeps a runaway script from
/// exhausting file descriptors or starving ingest.
pub const PERSISTENT_QUERIES_MAX: usize = 1_000;

/// Most custom types (`CREATE TYPE`) in the catalog.
///
/// Each is kept in memory, copied into every request's parser and listed by `SHOW TYPES`;
/// schemas use tens. A thousand bounds a loop of `CREATE TYPE` long before it costs.
pub const CUSTOM_TYPES_MAX: usize = 1_000;

/// The node-wide limits an operator may change (`sluice serve --sources-max` and friends);
/// each defaults to its constant above, which says why it has that value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EngineLimits {
    /// [`SOURCES_MAX`].
    pub sources_max: usize,
    /// [`PERSISTENT_QUERIES_MAX`].
    pub persistent_queries_max: usize,
    /// [`PUSH_QUERIES_MAX`].
    pub push_queries_max: usize,
    /// [`PARTITIONS_PER_NODE_MAX`] (the embedded log's; a Kafka cluster has its own).
    pub partitions_per_node_max: u32,
}

impl Default for EngineLimits {
    fn default() -> Self {
        EngineLimits {
            sources_max: SOURCES_MAX,
            persistent_queries_max: PERSISTENT_QUERIES_MAX,
            push_queries_max: PUSH_QUERIES_MAX,
            partitions_per_node_max: PARTITIONS_PER_NODE_MAX,
        }
    }
}

/// Most rows one [`crate::Engine::change_rows`] (a face's UPDATE or DELETE) changes: it
/// reads every matching row into memory before it writes any, so a statement over a larger
/// part of a table is refused, nothing written, rather than held.
pub const ROW_CHANGES_MAX: usize = 100_000;

/// Most groups a pull query over an aggregate (where a face allows one) answers: its groups
/// are held in memory until the aggregate has read everything, so a larger answer is
/// refused rather than held.
pub const PULL_GROUPS_MAX: usize = 100_000;
