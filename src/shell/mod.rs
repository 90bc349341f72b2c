//! `sluice shell [URL]`: an interactive SQL shell like ksqlDB's CLI, a client of the ksqlDB
//! HTTP API only (`/ksql`, `/query-stream`, `/close-query`, `/info`), so it works against
//! any Sluice or ksqlDB server that speaks HTTP/2.
//!
//! ```text
//!  repl (rustyline: prompt, history) ─┐
//!  -f FILE / -e "…" ──────────────────┴─► splitter (statements end at a code `;`)
//!    ─► command (shell command, query, or /ksql) ─► session (SET properties, DEFINE vars)
//!    ─► server (one HTTP/2 connection) ─► render (ksqlDB-style tables) ─► console (stdout)
//!                                       └► query (/query-stream rows, Ctrl-C → /close-query)
//! ```
//!
//! Modules: `splitter` (where statements end), `command` (what a statement asks for),
//! `session` (state and dispatch), `query` (push, pull, PRINT), `render` (tables),
//! `server` (URL and connection), `console` (output), `repl` (the prompt).
//!
//! Not goals: ksqlDB CLI's `SPOOL`, `OUTPUT JSON`, `REQUEST-PIPELINING`, TLS and
//! authentication (Sluice serves neither).

mod command;
mod console;
mod query;
mod render;
mod repl;
pub(crate) mod server;
mod session;
mod splitter;

use std::io::{IsTerminal, Read};
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;

use console::{Console, Mode};
use server::Server;
use session::Session;

/// Start an interactive SQL shell on a Sluice (or ksqlDB) server, or run statements from a
/// file (`-f`), the command line (`-e`) or a non-terminal stdin, and exit.
#[derive(Debug, Clone, clap::Args)]
pub struct ShellArgs {
    /// The server, as `http://host:port`.
    #[arg(default_value = "http://127.0.0.1:8088")]
    url: String,

    /// Run the statements in this file, then exit; the first error ends the run with
    /// status 1.
    #[arg(short = 'f', long = "file", conflicts_with = "execute")]
    file: Option<PathBuf>,

    /// Run these statements, then exit; the first error ends the run with status 1.
    #[arg(short = 'e', long = "execute")]
    execute: Option<String>,

    /// Where the interactive history is kept between sessions (default `~/.sluice_history`).
    #[arg(long, env = "SLUICE_SHELL_HISTORY")]
    history_file: Option<PathBuf>,
}

/// Runs the shell; the status is non-zero when a script's statement failed.
pub fn run(args: ShellArgs) -> anyhow::Result<ExitCode> {
    let server = Server::new(&args.url)?;
    // Two threads: the HTTP/2 connection keeps being served while the prompt waits for
    // typing on the main thread.
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .context("starting the async runtime")?;

    let script = match (&args.file, &args.execute) {
        (Some(path), _) => Some(session::read_script(path)?),
        (None, Some(text)) => Some(text.clone()),
        // `sluice shell < setup.sql` is a script too: no prompt, and its status tells.
        (None, None) if !std::io::stdin().is_terminal() => Some(read_stdin()?),
        (None, None) => None,
    };
    let Some(script) = script else {
        let mut session = Session::new(server, Console::new(Mode::Interactive));
        let history = args.history_file.or_else(default_history_file);
        repl::run(&runtime, &mut session, history)?;
        return Ok(ExitCode::SUCCESS);
    };
    let mut session = Session::new(server, Console::new(Mode::Script));
    match runtime.block_on(session.run_script_text(&script)) {
        Ok(_) => Ok(ExitCode::SUCCESS),
        Err(e) => {
            session.console.error(&format!("{e:#}"));
            Ok(ExitCode::FAILURE)
        }
    }
}

/// Statements piped in, bounded like a script file.
fn read_stdin() -> anyhow::Result<String> {
    let mut text = String::new();
    std::io::stdin()
        .lock()
        .take(session::SCRIPT_BYTES_MAX + 1)
        .read_to_string(&mut text)
        .context("reading statements from stdin")?;
    if text.len() as u64 > session::SCRIPT_BYTES_MAX {
        anyhow::bail!(
            "more than {} bytes of statements on stdin",
            session::SCRIPT_BYTES_MAX
        );
    }
    Ok(text)
}

fn default_history_file() -> Option<PathBuf> {
    std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".sluice_history"))
}
