//! Where the shell's output goes: results to stdout, errors to stdout when a person is
//! typing (so they read in order on the screen) and to stderr when a script runs (so
//! callers can tell them apart).

use std::io::{self, Write};

/// How the shell was started.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mode {
    /// A person at the prompt: errors are shown and the session goes on.
    Interactive,
    /// `-f` or `-e`: the first error ends the run with a non-zero status.
    Script,
}

pub(crate) struct Console {
    pub mode: Mode,
    /// Terminal columns, for streamed rows and wide tables.
    pub width: usize,
}

/// Columns assumed when the terminal's width is unknown (ksqlDB's CLI does the same).
pub(crate) const DEFAULT_WIDTH_CHARS: usize = 80;

impl Console {
    pub(crate) fn new(mode: Mode) -> Console {
        // Without a terminal to ask, honour the shell convention.
        let width = std::env::var("COLUMNS")
            .ok()
            .and_then(|c| c.parse().ok())
            .filter(|&c: &usize| c > 0)
            .unwrap_or(DEFAULT_WIDTH_CHARS);
        Console { mode, width }
    }

    /// Writes and flushes at once: rows of a push query must show as they arrive. Fails when
    /// stdout is gone (a closed pipe), which ends whatever was printing.
    pub(crate) fn print(&mut self, text: &str) -> io::Result<()> {
        let mut out = io::stdout().lock();
        out.write_all(text.as_bytes())?;
        out.flush()
    }

    /// Shows an error message as ksqlDB's CLI does: its text alone, on its own line.
    pub(crate) fn error(&mut self, message: &str) {
        let line = format!("{}\n", message.trim_end());
        // Nothing sensible is left to do if even the error cannot be written.
        let _ = match self.mode {
            Mode::Interactive => self.print(&line),
            Mode::Script => {
                let _ = io::stdout().flush();
                io::stderr().write_all(line.as_bytes())
            }
        };
    }
}
