//! The `sluice` binary: configuration, tracing, engine, server; runs until a signal.

mod bench;
mod nexmark;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use clap::{CommandFactory, Parser, Subcommand};
use sluice_engine::limits::{self as engine_limits, EngineLimits};
use sluice_engine::{parse_kafka_setting, FsyncPolicy, KafkaConfig};
use sluice_engine::{Engine, EngineConfig};
use sluice_protocol::foundry::functions::FunctionRegistry;
use sluice_server::auth::{Auth, AuthConfig};
use sluice_server::limits;
use sluice_server::{ConnectionLimits, Face, Server, ServerOptions, TlsConfig};

mod config;
mod conformance;
mod load;
mod shell;

/// Sluice: an HTTP/2 streaming ingest-and-query engine, wire-compatible with ksqlDB.
#[derive(Debug, Parser)]
#[command(name = "sluice", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Serve the ksqlDB HTTP API (HTTP/1.1 and HTTP/2 on one port, cleartext or TLS) over
    /// an embedded durable log in the data directory.
    // Boxed: the settings are the largest variant by far, and are parsed once.
    Serve(Box<ServeArgs>),
    /// Load a running server (or one it spawns) over HTTP/2 and report throughput, latency
    /// and server cost.
    Bench(bench::BenchArgs),
    /// Replay ksqlDB's QTT/RQTT conformance cases against a running server.
    Conformance(conformance::ConformanceArgs),
    /// An interactive SQL shell on a running server, like ksqlDB's CLI; `-f`/`-e` run
    /// statements and exit.
    Shell(shell::ShellArgs),
    /// Bulk-load an NDJSON or CSV file into a stream through `/inserts-stream`, with a
    /// progress bar and the rows/s acked.
    Load(load::LoadArgs),
    /// Run a Nexmark query (q0–q4, q8, q11, q13–q17, q20–q22) fed by the Nexmark generator over HTTP/2 and report
    /// events/s sustained, e2e latency and server CPU per event.
    Nexmark(nexmark::NexmarkArgs),
}

/// Every `serve` setting, documented once: each field's doc comment is its `--help`, its
/// line in `docs/configuration.md`, and (by its long name) its key in a `--config` file.
#[derive(Debug, clap::Args)]
struct ServeArgs {
    /// A TOML file of settings (keys are these flags' names); flags and `SLUICE_*` variables
    /// override it.
    #[arg(long, env = "SLUICE_CONFIG", value_name = "FILE")]
    config: Option<PathBuf>,

    /// Print the effective settings (as a `--config` file, each with its source) and exit.
    #[arg(long)]
    print_config: bool,

    /// Address to listen on. Port 0 picks a free port (printed on start).
    #[arg(long, env = "SLUICE_LISTEN", default_value = "127.0.0.1:8088")]
    listen: SocketAddr,

    /// Also serve KalamDB's API (only it, and `/healthcheck`) on this address, for clients
    /// that expect KalamDB's own port (8080; 2900 in KalamDB 0.8). Same engine, auth,
    /// limits and TLS as `--listen`, which keeps serving every face. Port 0 picks one.
    #[arg(long, env = "SLUICE_KALAMDB_LISTEN", value_name = "ADDR")]
    kalamdb_listen: Option<SocketAddr>,

    /// Also serve DeltaStream's API (`/v2/…` only, and `/healthcheck`) on this address, as
    /// `--kalamdb-listen` does for KalamDB.
    #[arg(long, env = "SLUICE_DELTASTREAM_LISTEN", value_name = "ADDR")]
    deltastream_listen: Option<SocketAddr>,

    /// Also serve Foundry's API (`/api/v2/…` only, and `/healthcheck`) on this address, as
    /// `--kalamdb-listen` does for KalamDB.
    #[arg(long, env = "SLUICE_FOUNDRY_LISTEN", value_name = "ADDR")]
    foundry_listen: Option<SocketAddr>,

    /// Also serve Roe's API (`/v1/database/…`, `/v1/tables/…` only, and `/healthcheck`) on
    /// this address, as `--kalamdb-listen` does for KalamDB.
    #[arg(long, env = "SLUICE_ROE_LISTEN", value_name = "ADDR")]
    roe_listen: Option<SocketAddr>,

    /// Directory holding the log segments and the catalog journal. Created if missing.
    #[arg(long, env = "SLUICE_DATA_DIR", default_value = "./sluice-data")]
    data_dir: PathBuf,

    /// When the log fsyncs: `always` (an ack means the row is on disk; group-committed),
    /// `interval:<ms>` (fsync at most every that many ms; a crash may lose that window of acked
    /// rows), or `never` (benchmarks only).
    #[arg(long, env = "SLUICE_FSYNC", default_value = "always", value_parser = parse_fsync)]
    fsync: FsyncPolicy,

    /// PEM file with the TLS certificate chain, leaf first. With `--tls-key` the port speaks
    /// only TLS (ALPN `h2` and `http/1.1`); without both it speaks cleartext.
    #[arg(long, env = "SLUICE_TLS_CERT", requires = "tls_key")]
    tls_cert: Option<PathBuf>,

    /// PEM file with the TLS private key (PKCS#8, PKCS#1 or SEC1) of `--tls-cert`.
    #[arg(long, env = "SLUICE_TLS_KEY", requires = "tls_cert")]
    tls_key: Option<PathBuf>,

    /// Connections served at once; at the cap a few more are kept for `/healthcheck` and
    /// `/info` (`--health-connections-reserved`) and the rest are closed on accept. Lowered
    /// to fit half the open-file limit.
    #[arg(long, env = "SLUICE_CONNECTIONS_MAX", default_value_t = limits::CONNECTIONS_MAX as u64,
          value_parser = clap::value_parser!(u64).range(1..))]
    connections_max: u64,

    /// Extra connections, past `--connections-max`, that serve only `/healthcheck` and `/info`.
    #[arg(long, env = "SLUICE_HEALTH_CONNECTIONS_RESERVED",
          default_value_t = limits::HEALTH_CONNECTIONS_RESERVED as u64)]
    health_connections_reserved: u64,

    /// Milliseconds a connection may stay open with no request in flight (HTTP/1.1
    /// keep-alive, HTTP/2 with no open stream). Push queries and uploads are never idle.
    #[arg(long, env = "SLUICE_IDLE_TIMEOUT_MS", default_value_t = limits::IDLE_TIMEOUT_MS,
          value_parser = clap::value_parser!(u64).range(1..))]
    idle_timeout_ms: u64,

    /// Milliseconds an HTTP/1.1 client may take from the first byte of a request head to
    /// its end (slow or trickled headers are cut).
    #[arg(long, env = "SLUICE_HEADER_READ_TIMEOUT_MS", default_value_t = limits::HEADER_READ_TIMEOUT_MS,
          value_parser = clap::value_parser!(u64).range(1..))]
    header_read_timeout_ms: u64,

    /// Milliseconds a TLS handshake may take after the connection is accepted.
    #[arg(long, env = "SLUICE_TLS_HANDSHAKE_TIMEOUT_MS", default_value_t = limits::TLS_HANDSHAKE_TIMEOUT_MS,
          value_parser = clap::value_parser!(u64).range(1..))]
    tls_handshake_timeout_ms: u64,

    /// Streams and tables the catalog may hold; a `CREATE` past it is refused.
    #[arg(long, env = "SLUICE_SOURCES_MAX", default_value_t = engine_limits::SOURCES_MAX as u64,
          value_parser = clap::value_parser!(u64).range(1..))]
    sources_max: u64,

    /// Persistent queries (CSAS, CTAS, INSERT INTO … SELECT) the node runs; more are refused.
    #[arg(long, env = "SLUICE_PERSISTENT_QUERIES_MAX",
          default_value_t = engine_limits::PERSISTENT_QUERIES_MAX as u64,
          value_parser = clap::value_parser!(u64).range(1..))]
    persistent_queries_max: u64,

    /// Push queries the node runs at once, over all connections; more are refused.
    #[arg(long, env = "SLUICE_PUSH_QUERIES_MAX", default_value_t = engine_limits::PUSH_QUERIES_MAX as u64,
          value_parser = clap::value_parser!(u64).range(1..))]
    push_queries_max: u64,

    /// Push queries one connection may run at once (so one client cannot take them all).
    #[arg(long, env = "SLUICE_PUSH_QUERIES_PER_CONNECTION_MAX",
          default_value_t = sluice_server::push_quota::PUSH_QUERIES_PER_CONNECTION_MAX as u64,
          value_parser = clap::value_parser!(u64).range(1..))]
    push_queries_per_connection_max: u64,

    /// Partitions, over all topics, the embedded log serves; a `CREATE` that would pass it
    /// is refused.
    #[arg(long, env = "SLUICE_PARTITIONS_MAX", default_value_t = engine_limits::PARTITIONS_PER_NODE_MAX,
          value_parser = clap::value_parser!(u32).range(1..))]
    partitions_max: u32,

    /// Where streams' topics live: `embedded` (the data directory) or `kafka` (a cluster;
    /// needs --kafka-bootstrap). With `kafka`, the catalog lives in the service's command
    /// topic and persistent queries' checkpoints in its checkpoint topic; the data
    /// directory keeps the node's id and the state stores of the queries it runs.
    #[arg(long, env = "SLUICE_LOG", value_enum, default_value = "embedded")]
    log: LogBackend,

    /// Kafka bootstrap servers, `HOST:PORT[,HOST:PORT...]` (with --log kafka).
    #[arg(long, env = "SLUICE_KAFKA_BOOTSTRAP")]
    kafka_bootstrap: Option<String>,

    /// ksqlDB's `ksql.service.id`: servers sharing it share a Kafka cluster's queries.
    #[arg(long, env = "SLUICE_SERVICE_ID", default_value = sluice_engine::DEFAULT_SERVICE_ID)]
    service_id: String,

    /// A librdkafka setting for every Kafka client, `key=value` (repeatable), e.g.
    /// `security.protocol=SASL_SSL`. Settings the log's guarantees rest on (acks,
    /// idempotence, isolation) are refused.
    #[arg(long = "kafka-config", value_name = "KEY=VALUE", value_parser = parse_kafka_setting)]
    kafka_config: Vec<(String, String)>,

    /// Turns on HTTP Basic authentication, as ksqlDB's `authentication.method=BASIC`: a file
    /// of `name: password[,role ...]` lines (Jetty's property-file format). ksqlDB's API,
    /// the console and the REST proxy then answer 401 without valid credentials.
    #[arg(long, env = "SLUICE_AUTH_BASIC_FILE")]
    auth_basic_file: Option<PathBuf>,

    /// Bearer API tokens for the DeltaStream, Roe and Foundry faces: a file of
    /// `name: token[,role ...]` lines. Setting either auth file turns authentication on for
    /// every face.
    #[arg(long, env = "SLUICE_AUTH_TOKENS_FILE")]
    auth_tokens_file: Option<PathBuf>,
    /// The HS256 secret (a file of at least 32 bytes) the KalamDB face signs its login
    /// JWTs with. Setting it turns authentication on for every face.
    #[arg(long, env = "SLUICE_AUTH_JWT_SECRET_FILE")]
    auth_jwt_secret_file: Option<PathBuf>,

    /// Roles allowed to use the server once authentication is on (ksqlDB's
    /// `authentication.roles`), comma-separated; unset or `**` admits every authenticated
    /// principal, others get 403.
    #[arg(long, env = "SLUICE_AUTH_ROLES", value_delimiter = ',')]
    auth_roles: Vec<String>,

    /// Milliseconds a statement request (DeltaStream's `POST /v2/statements`, Foundry's
    /// `executeAsync`) waits for its result before answering 202 "still running" (Foundry:
    /// `submitted`); the client then polls for it. 0 answers that at once, always.
    #[arg(long, env = "SLUICE_STATEMENT_WAIT_MS",
          default_value_t = sluice_server::tasks::STATEMENT_WAIT_MS)]
    statement_wait_ms: u64,

    /// Foundry query functions served by the Functions API (`streamingExecute`, `execute`,
    /// `executeAsync`, metadata): a JSON file, an array of
    /// `{"apiName", "version", "sql", "parameters": {"name": "integer|long|double|string|…"}}`
    /// whose SQL names parameters as `${name}`.
    #[arg(long, env = "SLUICE_FOUNDRY_FUNCTIONS")]
    foundry_functions: Option<PathBuf>,

    /// Milliseconds a KalamDB consumer keeps a consumed range before it is redelivered to
    /// its group unless acked (KalamDB's `topics.visibility_timeout_secs`, 10 s).
    #[arg(long, env = "SLUICE_KALAMDB_VISIBILITY_TIMEOUT_MS",
          default_value_t = sluice_server::faces::kalamdb::consumer_groups::VISIBILITY_TIMEOUT_MS_DEFAULT)]
    kalamdb_visibility_timeout_ms: u64,
}

impl ServeArgs {
    /// The per-face ports asked for, each with its face.
    fn face_listens(&self) -> Vec<(Face, SocketAddr)> {
        [
            (Face::KalamDb, self.kalamdb_listen),
            (Face::DeltaStream, self.deltastream_listen),
            (Face::Foundry, self.foundry_listen),
            (Face::Roe, self.roe_listen),
        ]
        .into_iter()
        .filter_map(|(face, addr)| Some((face, addr?)))
        .collect()
    }

    fn connection_limits(&self) -> ConnectionLimits {
        ConnectionLimits {
            header_read_timeout: Duration::from_millis(self.header_read_timeout_ms),
            idle_timeout: Duration::from_millis(self.idle_timeout_ms),
            tls_handshake_timeout: Duration::from_millis(self.tls_handshake_timeout_ms),
            connections_max: usize::try_from(self.connections_max).unwrap_or(usize::MAX),
            health_connections_reserved: usize::try_from(self.health_connections_reserved)
                .unwrap_or(usize::MAX),
            push_queries_per_connection_max: usize::try_from(self.push_queries_per_connection_max)
                .unwrap_or(usize::MAX),
            ..ConnectionLimits::default()
        }
    }

    fn engine_limits(&self) -> EngineLimits {
        let size = |n: u64| usize::try_from(n).unwrap_or(usize::MAX);
        EngineLimits {
            sources_max: size(self.sources_max),
            persistent_queries_max: size(self.persistent_queries_max),
            push_queries_max: size(self.push_queries_max),
            partitions_per_node_max: self.partitions_max,
        }
    }
}

/// Where the log lives.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum LogBackend {
    Embedded,
    Kafka,
}

fn parse_fsync(s: &str) -> Result<FsyncPolicy, String> {
    match s {
        "always" => Ok(FsyncPolicy::Always),
        "never" => Ok(FsyncPolicy::Never),
        other => other
            .strip_prefix("interval:")
            .and_then(|ms| ms.parse::<u64>().ok())
            .filter(|ms| *ms > 0)
            .map(FsyncPolicy::IntervalMs)
            .ok_or_else(|| format!("expected always, never or interval:<ms>, got {other:?}")),
    }
}

/// mimalloc rather than the system allocator: request paths that allocate per call (pull
/// queries, statements) spend a third of their CPU in glibc malloc (numbers in Cargo.toml).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> anyhow::Result<std::process::ExitCode> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();
    let parsed = config::parse::<Cli>(std::env::args_os().collect())?;
    match parsed.cli.command {
        Command::Serve(args) if args.print_config => {
            let serve = parsed.serve.expect("serve matches are kept for serve");
            print!(
                "{}",
                config::print_config(&Cli::command(), &serve, &parsed.sources)
            );
            Ok(std::process::ExitCode::SUCCESS)
        }
        Command::Serve(args) => serve(*args).map(|()| std::process::ExitCode::SUCCESS),
        Command::Bench(args) => bench::run(args).map(|()| std::process::ExitCode::SUCCESS),
        Command::Conformance(args) => conformance::run(args),
        Command::Shell(args) => shell::run(args),
        Command::Load(args) => load::run(args),
        Command::Nexmark(args) => nexmark::run(args).map(|()| std::process::ExitCode::SUCCESS),
    }
}

fn serve(args: ServeArgs) -> anyhow::Result<()> {
    // Certificate problems are found before the data directory is touched.
    let tls = match (&args.tls_cert, &args.tls_key) {
        (Some(cert), Some(key)) => Some(TlsConfig::from_pem_files(cert, key)?),
        _ => None,
    };
    let auth = Auth::load(&AuthConfig {
        basic_credentials: args.auth_basic_file.clone(),
        bearer_tokens: args.auth_tokens_file.clone(),
        roles: args.auth_roles.clone(),
        realm: None,
        jwt_secret: args.auth_jwt_secret_file.clone(),
        users_file: Some(args.data_dir.join(sluice_server::auth::USERS_FILE)),
    })
    .context("loading the authentication files")?;
    let options = ServerOptions {
        limits: args.connection_limits(),
        tls,
        auth: Arc::new(auth),
        statement_wait: Duration::from_millis(args.statement_wait_ms),
        functions: Arc::new(match &args.foundry_functions {
            None => FunctionRegistry::default(),
            Some(path) => {
                let text =
                    std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
                FunctionRegistry::parse(&text)
                    .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?
            }
        }),
        face_listens: args.face_listens(),
        kalamdb_namespaces_file: Some(
            args.data_dir
                .join(sluice_server::faces::kalamdb::NAMESPACES_FILE),
        ),
        kalamdb_topics: sluice_server::faces::kalamdb::TopicOptions {
            offsets_file: Some(
                args.data_dir
                    .join(sluice_server::faces::kalamdb::consumer_groups::OFFSETS_FILE),
            ),
            visibility_timeout: Duration::from_millis(args.kalamdb_visibility_timeout_ms),
        },
    };
    let config = EngineConfig {
        data_dir: args.data_dir.clone(),
        fsync: args.fsync,
        limits: args.engine_limits(),
    };
    let engine = match args.log {
        LogBackend::Embedded => Engine::open(config)
            .with_context(|| format!("opening data directory {}", args.data_dir.display()))?,
        LogBackend::Kafka => {
            let bootstrap = args.kafka_bootstrap.clone().context(
                "--log kafka needs --kafka-bootstrap HOST:PORT (or SLUICE_KAFKA_BOOTSTRAP)",
            )?;
            let kafka = KafkaConfig {
                bootstrap: bootstrap.clone(),
                service_id: args.service_id.clone(),
                settings: args.kafka_config.clone(),
            };
            tracing::info!(data_dir = %args.data_dir.display(),
                "Kafka log: the catalog is in the command topic; the data directory keeps \
                 the node id and persistent queries' checkpoints");
            Engine::open_on_kafka(config, kafka)
                .with_context(|| format!("opening the engine on Kafka at {bootstrap}"))?
        }
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    runtime.block_on(async move {
        let server = Server::bind_with(args.listen, engine, options)
            .await
            .with_context(|| format!("binding {}", args.listen))?;
        let addr = server.local_addr()?;
        let scheme = if server.is_tls() { "https" } else { "http" };
        // Tests and scripts read this line to learn the port when listening on port 0.
        println!("sluice listening on {scheme}://{addr}");
        for (face, face_addr) in server.face_addrs()? {
            println!("sluice {face} listening on {scheme}://{face_addr}");
        }
        tracing::info!(%addr, data_dir = %args.data_dir.display(), fsync = ?args.fsync,
            log = ?args.log, limits = ?server.limits(), "serving");
        server.run(shutdown_signal()).await;
        anyhow::Ok(())
    })
}

async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(t) => t,
                Err(_) => {
                    let _ = ctrl_c.await;
                    return;
                }
            };
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = ctrl_c.await;
}

#[cfg(test)]
mod tests {
    use super::*;

    /// docs/configuration.md is rendered from the flags; `SLUICE_BLESS=1` rewrites it.
    #[test]
    fn configuration_doc_matches_the_flags() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/configuration.md");
        let rendered = config::reference_doc(&Cli::command());
        if std::env::var_os("SLUICE_BLESS").is_some() {
            std::fs::write(&path, &rendered).expect("write docs/configuration.md");
        }
        let current = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(
            current == rendered,
            "docs/configuration.md differs from the flags in src/main.rs: \
             run `SLUICE_BLESS=1 cargo test --bin sluice config` and commit it"
        );
    }

    #[test]
    fn the_cli_is_well_formed() {
        Cli::command().debug_assert();
    }
}
