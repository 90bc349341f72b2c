//! The interactive loop: a prompt with line editing and history (rustyline), lines gathered
//! until a statement ends with its `;`, then run.

use std::path::PathBuf;

use rustyline::error::ReadlineError;
use rustyline::{Config, DefaultEditor};
use serde_json::Value as Json;
use tokio::runtime::Runtime;

use super::command::runs_without_terminator;
use super::session::{Flow, Session};
use super::splitter;

const PROMPT: &str = "sluice> ";
/// Shown while a statement is still open (no `;` yet, or an open quote or comment).
const CONTINUATION_PROMPT: &str = "     -> ";

/// History entries kept in memory and in the history file; older ones drop off.
const HISTORY_ENTRIES_MAX: usize = 1_000;

/// Runs the prompt until EXIT, QUIT or Ctrl-D.
pub(crate) fn run(
    runtime: &Runtime,
    session: &mut Session,
    history: Option<PathBuf>,
) -> anyhow::Result<()> {
    let config = Config::builder()
        .max_history_size(HISTORY_ENTRIES_MAX)?
        .auto_add_history(false)
        .build();
    let mut editor = DefaultEditor::with_config(config)?;
    if let Some(path) = &history {
        // No file yet is the normal first run.
        let _ = editor.load_history(path);
    }
    runtime.block_on(welcome(session));

    let mut pending = String::new();
    loop {
        let prompt = if pending.is_empty() {
            PROMPT
        } else {
            CONTINUATION_PROMPT
        };
        let line = match editor.readline(prompt) {
            Ok(line) => line,
            Err(ReadlineError::Interrupted) => {
                // Ctrl-C at the prompt drops what was typed of the statement.
                pending.clear();
                continue;
            }
            Err(ReadlineError::Eof) => {
                session.console.print("Exiting Sluice.\n")?;
                break;
            }
            Err(e) => return Err(e.into()),
        };
        let statements: Vec<String>;
        if pending.is_empty() && runs_without_terminator(&line) {
            statements = vec![line.trim().to_string()];
            pending.clear();
        } else {
            if !pending.is_empty() {
                pending.push('\n');
            }
            pending.push_str(&line);
            let split = splitter::split(&pending);
            statements = split.statements.iter().map(|s| s.to_string()).collect();
            let rest = split.rest.to_string();
            if statements.is_empty() {
                if splitter::is_blank(&pending) {
                    pending.clear();
                }
                continue;
            }
            pending = if splitter::is_blank(&rest) {
                String::new()
            } else {
                rest
            };
        }
        remember(&mut editor, &statements.join(" "), history.as_ref());
        if let Some((columns, _)) = editor.dimensions() {
            session.console.width = usize::from(columns);
        }
        let statements: Vec<&str> = statements.iter().map(String::as_str).collect();
        match runtime.block_on(session.run_statements(&statements)) {
            Ok(Flow::Continue) => {}
            Ok(Flow::Exit) => break,
            Err(e) => session.console.error(&format!("{e:#}")),
        }
    }
    Ok(())
}

/// Adds a statement to the history and appends it to the history file at once, so a
/// session that is killed keeps what it ran.
fn remember(editor: &mut DefaultEditor, entry: &str, file: Option<&PathBuf>) {
    if editor.add_history_entry(entry).unwrap_or(false) {
        if let Some(path) = file {
            if let Err(e) = editor.append_history(path) {
                tracing::debug!(error = %e, path = %path.display(), "history not saved");
            }
        }
    }
}

/// ksqlDB's CLI greets with the server's version and status; so does this shell. An
/// unreachable server is reported, and each statement tries it again.
async fn welcome(session: &mut Session) {
    let version = env!("CARGO_PKG_VERSION");
    let url = session.server.url().to_string();
    let server = match session.server.get("/info").await {
        Ok((status, body)) if status.is_success() => {
            let info: Json = serde_json::from_slice(&body).unwrap_or_default();
            let info = &info["KsqlServerInfo"];
            format!(
                "Server v{} located at {url}\nServer Status: {}",
                info["version"].as_str().unwrap_or("<unknown>"),
                info["serverStatus"].as_str().unwrap_or("<unknown>")
            )
        }
        Ok((status, _)) => format!("Server located at {url} answered {status} to GET /info"),
        Err(e) => format!(
            "Remote server at {url} looks to be unreachable ({}); each statement tries again.",
            e.root_cause()
        ),
    };
    let text = format!(
        "Sluice shell v{version}\n{server}\n\n\
         Type HELP for how things work; end statements with ';'. EXIT or Ctrl-D quits.\n\n"
    );
    // A closed stdout shows on the first statement's output.
    let _ = session.console.print(&text);
}
