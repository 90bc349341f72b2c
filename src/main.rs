//! The `sluice` binary: configuration, tracing, engine, server; runs until a signal.

mod bench;

use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::Context;
use clap::{Parser, Subcommand};
use sluice_engine::FsyncPolicy;
use sluice_engine::{Engine, EngineConfig};
use sluice_server::Server;

mod conformance;
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
    /// Serve the ksqlDB HTTP API (HTTP/1.1 and cleartext HTTP/2 on one port) over an
    /// embedded durable log in the data directory.
    Serve(ServeArgs),
    /// Load a running server (or one it spawns) over HTTP/2 and report throughput, latency
    /// and server cost.
    Bench(bench::BenchArgs),
    /// Replay ksqlDB's QTT/RQTT conformance cases against a running server.
    Conformance(conformance::ConformanceArgs),
    /// An interactive SQL shell on a running server, like ksqlDB's CLI; `-f`/`-e` run
    /// statements and exit.
    Shell(shell::ShellArgs),
}

#[derive(Debug, clap::Args)]
struct ServeArgs {
    /// Address to listen on. Port 0 picks a free port (printed on start).
    #[arg(long, env = "SLUICE_LISTEN", default_value = "127.0.0.1:8088")]
    listen: SocketAddr,

    /// Directory holding the log segments and the catalog journal. Created if missing.
    #[arg(long, env = "SLUICE_DATA_DIR", default_value = "./sluice-data")]
    data_dir: PathBuf,

    /// When the log fsyncs: `always` (an ack means the row is on disk; group-committed),
    /// `interval:<ms>` (fsync at most every that many ms; a crash may lose that window of acked
    /// rows), or `never` (benchmarks only).
    #[arg(long, env = "SLUICE_FSYNC", default_value = "always", value_parser = parse_fsync)]
    fsync: FsyncPolicy,
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

fn main() -> anyhow::Result<std::process::ExitCode> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    match cli.command {
        Command::Serve(args) => serve(args).map(|()| std::process::ExitCode::SUCCESS),
        Command::Bench(args) => bench::run(args).map(|()| std::process::ExitCode::SUCCESS),
        Command::Conformance(args) => conformance::run(args),
        Command::Shell(args) => shell::run(args),
    }
}

fn serve(args: ServeArgs) -> anyhow::Result<()> {
    let engine = Engine::open(EngineConfig {
        data_dir: args.data_dir.clone(),
        fsync: args.fsync,
    })
    .with_context(|| format!("opening data directory {}", args.data_dir.display()))?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    runtime.block_on(async move {
        let server = Server::bind(args.listen, engine)
            .await
            .with_context(|| format!("binding {}", args.listen))?;
        let addr = server.local_addr()?;
        // Tests and scripts read this line to learn the port when listening on port 0.
        println!("sluice listening on http://{addr}");
        tracing::info!(%addr, data_dir = %args.data_dir.display(), fsync = ?args.fsync, "serving");
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
