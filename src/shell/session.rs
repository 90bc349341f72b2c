//! One shell session: the server, the properties (`SET`) and variables (`DEFINE`) it sends
//! with every statement, and the dispatch of each statement to the server or the shell.
//!
//! Consecutive `/ksql` statements go in one request, as ksqlDB's CLI sends them, so the
//! server validates them together; queries, PRINT and shell commands run on their own.

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::{anyhow, bail, Context};
use http::StatusCode;
use serde_json::{json, Map, Value as Json};

use super::command::Command;
use super::console::Console;
use super::query::{self, QueryKind};
use super::render;
use super::server::Server;
use super::splitter;

/// Statements sent in one `/ksql` request at most; a long script goes in several. Well under
/// the 1,000 a Sluice server accepts in one request, so a script never meets that limit.
const KSQL_BATCH_STATEMENTS_MAX: usize = 100;

/// How deep `RUN SCRIPT` may nest (a script running a script…), so a script that runs
/// itself stops with an error instead of recursing forever.
const SCRIPT_DEPTH_MAX: usize = 16;

/// The largest script `RUN SCRIPT` or `-f` reads; SQL scripts are far smaller, and the whole
/// file is held in memory.
pub(crate) const SCRIPT_BYTES_MAX: u64 = 16 * 1024 * 1024;

/// What the session should do after a statement.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Flow {
    Continue,
    /// `EXIT` or `QUIT`.
    Exit,
}

pub(crate) struct Session {
    pub server: Server,
    pub console: Console,
    /// `SET` properties, sent as `streamsProperties` (`/ksql`) and `properties`
    /// (`/query-stream`).
    properties: BTreeMap<String, String>,
    /// `DEFINE`d variables by upper-cased name (ksqlDB's variables are case-insensitive),
    /// each with the name as first defined and its value.
    variables: BTreeMap<String, (String, String)>,
    script_depth: usize,
}

impl Session {
    pub(crate) fn new(server: Server, console: Console) -> Session {
        Session {
            server,
            console,
            properties: BTreeMap::new(),
            variables: BTreeMap::new(),
            script_depth: 0,
        }
    }

    /// Runs complete statements in order and stops at the first that fails; its error (not
    /// yet shown) is returned.
    pub(crate) async fn run_statements(&mut self, statements: &[&str]) -> anyhow::Result<Flow> {
        let mut batch: Vec<&str> = Vec::new();
        for statement in statements {
            let command = Command::parse(statement);
            if command.as_ref().is_ok_and(Command::is_ksql) {
                batch.push(statement);
                if batch.len() == KSQL_BATCH_STATEMENTS_MAX {
                    self.ksql(&std::mem::take(&mut batch)).await?;
                }
                continue;
            }
            // What came before runs first, even when this statement turns out malformed.
            if !batch.is_empty() {
                self.ksql(&std::mem::take(&mut batch)).await?;
            }
            let command = command.map_err(|usage| anyhow!(usage.0))?;
            if self.run_command(statement, command).await? == Flow::Exit {
                return Ok(Flow::Exit);
            }
        }
        if !batch.is_empty() {
            self.ksql(&batch).await?;
        }
        Ok(Flow::Continue)
    }

    /// Runs every statement in a script's text; a last statement without its `;` runs too.
    pub(crate) async fn run_script_text(&mut self, text: &str) -> anyhow::Result<Flow> {
        let split = splitter::split(text);
        let mut statements = split.statements;
        if !splitter::is_blank(split.rest) {
            statements.push(split.rest.trim());
        }
        self.run_statements(&statements).await
    }

    async fn run_command(&mut self, statement: &str, command: Command) -> anyhow::Result<Flow> {
        match command {
            Command::PushQuery => self.query(statement, QueryKind::Push).await?,
            Command::PullQuery => self.query(statement, QueryKind::Pull).await?,
            Command::Print => self.query(statement, QueryKind::Print).await?,
            Command::Set { property, value } => self.set(property, value)?,
            Command::Unset { property } => self.unset(&property)?,
            Command::Define { name, value } => {
                let value = self.substitute(&value);
                let key = name.to_ascii_uppercase();
                let name = self.variables.get(&key).map_or(name, |(n, _)| n.clone());
                self.variables.insert(key, (name, value));
            }
            Command::Undefine { name } => {
                if self.variables.remove(&name.to_ascii_uppercase()).is_none() {
                    // A warning, not an error, as in ksqlDB.
                    self.console.print(&format!(
                        "Cannot undefine variable '{name}' which was never defined.\n"
                    ))?;
                }
            }
            Command::ShowVariables => {
                let rows = self
                    .variables
                    .values()
                    .map(|(name, value)| vec![name.clone(), value.clone()])
                    .collect();
                let table =
                    render::entity_table(&["Variable Name", "Value"], rows, self.console.width);
                self.console.print(&format!("\n{table}"))?;
            }
            Command::RunScript { path } => {
                let path = self.substitute(&path);
                return self.run_script(Path::new(&path)).await;
            }
            Command::Help => self.console.print(HELP)?,
            Command::Exit => return Ok(Flow::Exit),
            Command::Ksql => self.ksql(&[statement]).await?,
        }
        Ok(Flow::Continue)
    }

    /// `RUN SCRIPT`: the file's statements, as if typed here (they may `SET` and `DEFINE`
    /// for the rest of the session, as ksqlDB's CLI lets them).
    async fn run_script(&mut self, path: &Path) -> anyhow::Result<Flow> {
        if self.script_depth >= SCRIPT_DEPTH_MAX {
            bail!("RUN SCRIPT nests more than {SCRIPT_DEPTH_MAX} deep; does a script run itself?");
        }
        let text = read_script(path)?;
        self.script_depth += 1;
        let result = Box::pin(self.run_script_text(&text)).await;
        self.script_depth -= 1;
        result
    }

    fn set(&mut self, property: String, value: String) -> anyhow::Result<()> {
        let (property, value) = (self.substitute(&property), self.substitute(&value));
        let message = match self.properties.insert(property.clone(), value.clone()) {
            Some(prior) => format!(
                "Successfully changed local property '{property}' from '{prior}' to '{value}'.\n"
            ),
            None => format!(
                "Successfully changed local property '{property}' to '{value}'. \
                 Use the UNSET command to revert your change.\n"
            ),
        };
        self.console.print(&message)?;
        Ok(())
    }

    fn unset(&mut self, property: &str) -> anyhow::Result<()> {
        let property = self.substitute(property);
        let prior = self.properties.remove(&property).ok_or_else(|| {
            anyhow!(
                "Cannot unset local property '{property}' which was never set in the first place"
            )
        })?;
        self.console.print(&format!(
            "Successfully unset local property '{property}' (value was '{prior}').\n"
        ))?;
        Ok(())
    }

    /// Sends `/ksql` statements in one request and shows the entities that come back.
    async fn ksql(&mut self, statements: &[&str]) -> anyhow::Result<()> {
        let text = statements.join("\n");
        let request = json!({
            "ksql": text,
            "streamsProperties": self.properties_json(),
            "sessionVariables": self.variables_json(&text),
        });
        let (status, body) = interruptible(self.server.post("/ksql", &request)).await?;
        let parsed: Option<Json> = serde_json::from_slice(&body).ok();
        if status != StatusCode::OK {
            // A statement_error lists what ran before the failure; show it first.
            if let Some(entities) = parsed
                .as_ref()
                .and_then(|p| p["entities"].as_array())
                .filter(|e| !e.is_empty())
            {
                self.console
                    .print(&render::entities(entities, self.console.width))?;
            }
            return Err(query::server_error(status, &body));
        }
        let entities = parsed.as_ref().and_then(Json::as_array).with_context(|| {
            format!(
                "the server's answer is not a list of entities: {}",
                String::from_utf8_lossy(&body)
            )
        })?;
        // A command the server accepted but could not carry out reports ERROR in its status.
        if let Some(failed) = entities
            .iter()
            .find(|e| e["commandStatus"]["status"].as_str() == Some("ERROR"))
        {
            let message = render::cell(&failed["commandStatus"]["message"]);
            return Err(anyhow!(message));
        }
        self.console
            .print(&render::entities(entities, self.console.width))?;
        Ok(())
    }

    async fn query(&mut self, statement: &str, kind: QueryKind) -> anyhow::Result<()> {
        let request = json!({
            "sql": statement,
            "properties": self.properties_json(),
            "sessionVariables": self.variables_json(statement),
        });
        query::run(&mut self.server, &mut self.console, kind, request).await
    }

    fn properties_json(&self) -> Map<String, Json> {
        self.properties
            .iter()
            .map(|(k, v)| (k.clone(), Json::String(v.clone())))
            .collect()
    }

    /// The variables for a request: each as defined, and also under every other spelling
    /// `text` uses for it (`${Name}` for `name`), so the server's substitution finds it
    /// whatever the case, as ksqlDB's case-insensitive variables promise.
    fn variables_json(&self, text: &str) -> Map<String, Json> {
        let mut map: Map<String, Json> = self
            .variables
            .values()
            .map(|(name, value)| (name.clone(), Json::String(value.clone())))
            .collect();
        for name in variable_references(text) {
            if let Some((_, value)) = self.variables.get(&name.to_ascii_uppercase()) {
                map.insert(name, Json::String(value.clone()));
            }
        }
        map
    }

    /// Replaces the `${name}` of defined variables in a shell command's argument (the server
    /// does it for what it runs).
    fn substitute(&self, text: &str) -> String {
        let mut out = text.to_string();
        for name in variable_references(text) {
            if let Some((_, value)) = self.variables.get(&name.to_ascii_uppercase()) {
                out = out.replace(&format!("${{{name}}}"), value);
            }
        }
        out
    }
}

/// Each `${name}` written in `text` (in code or inside quotes), by its name as written.
fn variable_references(text: &str) -> Vec<String> {
    let mut names = Vec::new();
    let mut rest = text;
    while let Some(at) = rest.find("${") {
        let after = &rest[at + 2..];
        let end = after
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(after.len());
        if after[end..].starts_with('}') && end > 0 {
            names.push(after[..end].to_string());
        }
        rest = &after[end..];
    }
    names
}

/// Reads a script, refusing one too large to be SQL.
pub(crate) fn read_script(path: &Path) -> anyhow::Result<String> {
    let shown = path.display();
    let size = std::fs::metadata(path)
        .with_context(|| format!("cannot read script {shown}"))?
        .len();
    if size > SCRIPT_BYTES_MAX {
        bail!("script {shown} is {size} bytes; the limit is {SCRIPT_BYTES_MAX}");
    }
    std::fs::read_to_string(path).with_context(|| format!("cannot read script {shown}"))
}

/// Waits for a server call unless Ctrl-C comes first; the call is then abandoned (the server
/// may still carry it out, as with any client that hangs up).
async fn interruptible<T>(
    call: impl std::future::Future<Output = anyhow::Result<T>>,
) -> anyhow::Result<T> {
    tokio::select! {
        result = call => result,
        _ = tokio::signal::ctrl_c() => Err(anyhow!("Interrupted; the server may still complete the statement.")),
    }
}

const HELP: &str = "
Statements end with ';' and may span lines; they run when the ';' is typed.

Sent to the server:
  CREATE STREAM | TABLE ...;  DROP ...;  INSERT INTO ... VALUES (...);
  SHOW | LIST STREAMS | TABLES | TOPICS | QUERIES | PROPERTIES;
  DESCRIBE [EXTENDED] <name>;  EXPLAIN <query id>;  TERMINATE <query id>;
  SELECT ... EMIT CHANGES [LIMIT n];  push query: rows print as they arrive,
                                      until LIMIT or Ctrl-C (which ends it on the server)
  SELECT ... ;                        pull query: the rows stored now, as a table
  PRINT '<topic>' [FROM BEGINNING] [LIMIT n];

Kept by the shell:
  SET '<property>' = '<value>';  sent with every later statement
  UNSET '<property>';
  DEFINE <name> = '<value>';     ${name} in later statements is replaced by the value
  UNDEFINE <name>;
  SHOW VARIABLES;
  RUN SCRIPT '<file.sql>';       runs the file's statements as if typed here
  HELP                           this text
  EXIT | QUIT | Ctrl-D           leaves the shell

Keys: Up/Down walk the history (kept between sessions); Ctrl-C clears the line.
";

#[cfg(test)]
mod tests {
    use super::*;
    use crate::shell::console::Mode;

    fn session() -> Session {
        Session::new(
            Server::new("http://127.0.0.1:1").expect("valid URL"),
            Console::new(Mode::Script),
        )
    }

    #[test]
    fn variables_are_case_insensitive_and_sent_under_each_spelling() {
        let mut s = session();
        s.variables
            .insert("FORMAT".into(), ("format".into(), "JSON".into()));
        let vars = s.variables_json("CREATE ... value_format='${FORMAT}', x=${Format}, ${other}");
        assert_eq!(vars.get("format"), Some(&json!("JSON")));
        assert_eq!(vars.get("FORMAT"), Some(&json!("JSON")));
        assert_eq!(vars.get("Format"), Some(&json!("JSON")));
        assert_eq!(vars.get("other"), None);
        assert_eq!(
            s.substitute("'${FORMAT}.sql' ${nope}"),
            "'JSON.sql' ${nope}"
        );
    }

    #[test]
    fn variable_references_need_braces_and_a_name() {
        assert_eq!(
            variable_references("${a} $b ${} ${c d} ${x_1}"),
            vec!["a".to_string(), "x_1".to_string()]
        );
    }

    #[test]
    fn help_mentions_every_shell_command() {
        for word in [
            "SET",
            "UNSET",
            "DEFINE",
            "UNDEFINE",
            "RUN SCRIPT",
            "EXIT",
            "QUIT",
        ] {
            assert!(HELP.contains(word), "{word}");
        }
    }

    #[tokio::test]
    async fn shell_commands_fail_with_ksqldb_messages() {
        let mut s = session();
        let e = s
            .run_statements(&["UNSET 'x';"])
            .await
            .expect_err("never set");
        assert_eq!(
            e.to_string(),
            "Cannot unset local property 'x' which was never set in the first place"
        );
        let e = s
            .run_statements(&["SET x = 1;"])
            .await
            .expect_err("malformed");
        assert!(e.to_string().starts_with("Syntax: SET"), "{e}");
        let e = s
            .run_statements(&["RUN SCRIPT '/nonexistent/script.sql';"])
            .await
            .expect_err("missing file");
        assert!(e.to_string().contains("/nonexistent/script.sql"), "{e}");
        assert_eq!(
            s.run_statements(&["SET 'a' = 'b';", "EXIT;", "UNSET 'zzz';"])
                .await
                .expect("EXIT stops before the failing UNSET"),
            Flow::Exit
        );
        assert_eq!(s.properties_json().get("a"), Some(&json!("b")));
    }

    #[tokio::test]
    async fn a_script_that_runs_itself_stops() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("loop.sql");
        std::fs::write(&path, format!("RUN SCRIPT '{}';", path.display())).expect("write");
        let mut s = session();
        let e = s
            .run_statements(&[&format!("RUN SCRIPT '{}';", path.display())])
            .await
            .expect_err("recursion is bounded");
        assert!(e.to_string().contains("nests more than"), "{e}");
        assert_eq!(s.script_depth, 0);
    }
}
