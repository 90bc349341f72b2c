//! `/ksql` statement execution: validate every statement in a sandbox, then apply them.
//!
//! ksqlDB validates a whole request against a sandboxed copy of its metastore before it
//! runs anything, so a request whose last statement is invalid changes nothing
//! (ksqldb-api.md §6). We do the same: `Mode::Validate` runs each statement against a
//! cloned `CatalogState` with no side effects, then `Mode::Apply` runs them for real.
//!
//! Modules: `create` (CREATE STREAM/TABLE), `describe` (SHOW/LIST/DESCRIBE),
//! `insert_values` (INSERT INTO … VALUES), `persistent` (CREATE … AS SELECT, INSERT INTO
//! … SELECT, TERMINATE and EXPLAIN of persistent queries), `journal_entry` (catalog journal
//! entries and the directive lines replay needs), `outcome` (results, wire-neutral).

pub mod create;
pub mod describe;
pub mod insert_values;
mod journal_entry;
pub mod outcome;
pub mod persistent;
mod types;

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use crate::catalog::{CatalogState, Source};
use crate::runtime::Runtime;
use crate::error::{EngineError, ErrorCode, Result};
use crate::limits::KSQL_RESPONSE_BYTES_MAX;
use crate::sql::ast::{SourceKind, Statement, TerminateTarget};
use crate::sql::{self, ParsedStatement};

pub use outcome::{
    Outcome, QueryDescription, QuerySummary, QueryType, SourceDetail, StatementResult,
};

/// A failed `/ksql` request: the error, the statement it belongs to, and the results of
/// the statements that had already been applied (ksqlDB's `statement_error.entities`).
#[derive(Debug)]
pub struct KsqlError {
    pub error: EngineError,
    pub statement_text: String,
    pub entities: Vec<StatementResult>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mode {
    Validate,
    Apply,
    /// Rebuilding the catalog from the journal at start: catalog changes only, no topic
    /// effects (topics are recovered from the log itself).
    Replay,
}

/// What running a statement synchronously left to do.
enum Step {
    Done(Outcome),
    /// An INSERT VALUES row, validated, waiting to be appended.
    Insert(Arc<Source>, insert_values::PlannedRow),
}

/// Topics as the sandbox sees them: the log's, plus ones earlier statements would create.
pub(crate) struct Sandbox {
    state: CatalogState,
    planned_topics: BTreeMap<String, Option<u32>>,
    /// The request's `streamsProperties`, updated by SET/UNSET for later statements.
    props: HashMap<String, String>,
    /// While replaying: the query id the journal recorded for the entry being replayed.
    replay_query_id: Option<String>,
    /// While replaying: the node that wrote the entry, when the command log names one.
    replay_owner: Option<String>,
    /// Replayed persistent queries another node owns (runs).
    foreign_queries: std::collections::BTreeSet<String>,
}

impl Sandbox {
    fn new(state: CatalogState, props: &HashMap<String, String>) -> Sandbox {
        Sandbox {
            state,
            planned_topics: BTreeMap::new(),
            props: props.clone(),
            replay_query_id: None,
            replay_owner: None,
            foreign_queries: std::collections::BTreeSet::new(),
        }
    }
}

/// The `statementText` of a statement's error. ksqlDB masks the values of INSERT VALUES
/// there (they may be sensitive): names back-quoted as resolved, one `'[value]'` per
/// value (rqtt-format.md §5). Other statements are reported as written.
/// Refuses one more of something the node holds `current` of, at most `max`
/// (named in `crate::limits`), so the client learns which limit it met.
pub(super) fn check_count(what: &str, current: usize, max: usize) -> Result<()> {
    if current < max {
        return Ok(());
    }
    Err(EngineError::resource_exhausted(format!(
        "Cannot add more {what}: this node already has {current}, its limit."
    )))
}

fn error_statement_text(parsed: &ParsedStatement) -> String {
    let Statement::InsertValues {
        target,
        columns,
        values,
    } = &parsed.statement
    else {
        return parsed.text.clone();
    };
    let quote = |name: &str| format!("`{}`", name.replace('`', "``"));
    let column_list = match columns {
        Some(cols) => {
            let names: Vec<String> = cols.iter().map(|c| quote(c)).collect();
            format!(" ({})", names.join(", "))
        }
        None => String::new(),
    };
    let masked = vec!["'[value]'"; values.len()].join(", ");
    format!(
        "INSERT INTO {}{column_list} VALUES ({masked});",
        quote(target)
    )
}

impl Runtime {
    /// Runs a `/ksql` request's parsed statements with its `streamsProperties` (e.g.
    /// `auto.offset.reset` for the persistent queries it creates): validates all of them in
    /// a sandbox, then applies them. SET in the request overrides the properties for the
    /// statements after it, as in ksqlDB.
    pub(crate) async fn execute_statements(
        &self,
        statements: Vec<ParsedStatement>,
        properties: &HashMap<String, String>,
    ) -> std::result::Result<Vec<StatementResult>, KsqlError> {
        let _serial = self.ddl.lock().await;
        let fail_first = |error| KsqlError {
            error,
            statement_text: statements
                .first()
                .map(error_statement_text)
                .unwrap_or_default(),
            entities: Vec::new(),
        };
        // A request that may append takes the command log's writer turn first (other nodes
        // cannot append meanwhile), then every request applies what other nodes appended
        // before it, so it is validated against the catalog in the command log's order.
        // Both can wait on the network (Kafka: a transactional producer's fencing, reading
        // the command topic to its end), so they run on the blocking pool, never on the
        // async workers that move other clients' acks and rows.
        let _turn = if statements.iter().any(|s| may_append(&s.statement)) {
            Some(WriteTurn::begin(self).await.map_err(fail_first)?)
        } else {
            None
        };
        let commands = Arc::clone(&self.commands);
        let foreign = off_the_workers(move || commands.catch_up())
            .await
            .map_err(fail_first)?;
        if !foreign.is_empty() {
            self.apply_followed(&foreign);
        }
        let mut sandbox = Sandbox::new((*self.catalog()).clone(), properties);
        let mut response_bytes = 0usize;
        for parsed in &statements {
            let fail = |error| KsqlError {
                error,
                statement_text: error_statement_text(parsed),
                entities: Vec::new(),
            };
            let outcome = self
                .run(&mut sandbox, parsed, Mode::Validate)
                .await
                .map_err(fail)?;
            response_bytes += parsed.text.len() + outcome.wire_bytes_estimate();
            if response_bytes > KSQL_RESPONSE_BYTES_MAX {
                return Err(fail(EngineError::resource_exhausted(format!(
                    "The response to this request would be larger than \
                     {KSQL_RESPONSE_BYTES_MAX} bytes; send fewer statements per request"
                ))));
            }
        }
        let mut live = Sandbox::new((*self.catalog()).clone(), properties);
        let mut results = Vec::with_capacity(statements.len());
        for parsed in &statements {
            match self.run(&mut live, parsed, Mode::Apply).await {
                Ok(Outcome::Nothing) => {}
                Ok(outcome) => results.push(StatementResult {
                    statement_text: parsed.text.clone(),
                    outcome,
                }),
                Err(error) => {
                    // Statements before the failing one were applied; keep their effects.
                    // Each statement changes the catalog only once nothing can fail any
                    // more, so the failing one left no trace.
                    self.set_catalog(live.state);
                    return Err(KsqlError {
                        error,
                        statement_text: error_statement_text(parsed),
                        entities: results,
                    });
                }
            }
        }
        self.set_catalog(live.state);
        Ok(results)
    }

    /// Rebuilds the catalog from journal entries (each a statement text that was applied).
    pub(crate) fn replay(&self, entries: &[Vec<u8>]) -> Result<()> {
        let mut sandbox = Sandbox::new(CatalogState::default(), &HashMap::new());
        for entry in entries {
            self.replay_entry(&mut sandbox, entry)?;
        }
        self.after_replay(&sandbox);
        self.set_catalog(sandbox.state);
        Ok(())
    }

    fn replay_entry(&self, sandbox: &mut Sandbox, entry: &[u8]) -> Result<()> {
        let text = std::str::from_utf8(entry)
            .map_err(|_| EngineError::corrupt("catalog journal entry is not UTF-8"))?;
        let entry = journal_entry::JournalEntry::parse(text);
        sandbox.replay_query_id = entry.query_id.map(str::to_string);
        sandbox.replay_owner = entry.owner.map(str::to_string);
        sandbox.props = entry.properties;
        for parsed in sql::parse_with_types(entry.text, sandbox.state.types.clone())? {
            self.run_sync(sandbox, &parsed, Mode::Replay)?;
        }
        Ok(())
    }

    /// Applies commands other nodes appended to the command log, in its order, as replay
    /// does. A command that fails here failed on every node (they all apply the same
    /// commands to the same catalog), so it is skipped with a warning. Persistent queries
    /// created elsewhere join the catalog, and run here if this node holds their lease
    /// (with leases; else they run on the node that created them); a TERMINATE stops the
    /// query if it runs here.
    pub(crate) fn apply_followed(&self, entries: &[Vec<u8>]) {
        let before = self.catalog();
        let mut sandbox = Sandbox::new((*before).clone(), &HashMap::new());
        for entry in entries {
            let kept = sandbox.state.clone();
            if let Err(error) = self.replay_entry(&mut sandbox, entry) {
                tracing::warn!(%error, command = %String::from_utf8_lossy(entry),
                    "a command from another node failed here too; skipped");
                sandbox.state = kept;
            }
        }
        for id in before.persistent.keys() {
            if !sandbox.state.persistent.contains_key(id) {
                self.persistent.terminate(id);
            }
        }
        // Queries another node created run where their lease is, maybe here.
        for (id, query) in &sandbox.state.persistent {
            if !before.persistent.contains_key(id) {
                self.persistent.adopt(Arc::clone(query));
            }
        }
        self.keep_query_ids_above(&sandbox.state);
        tracing::debug!(commands = entries.len(), "applied commands from other nodes");
        self.set_catalog(sandbox.state);
    }

    /// Runs one statement; only an applied INSERT needs to wait (for durability).
    async fn run(
        &self,
        sandbox: &mut Sandbox,
        parsed: &ParsedStatement,
        mode: Mode,
    ) -> Result<Outcome> {
        match self.run_sync(sandbox, parsed, mode)? {
            Step::Done(outcome) => Ok(outcome),
            Step::Insert(source, row) => {
                if mode == Mode::Apply {
                    insert_values::append(self, &source, row).await?;
                }
                Ok(Outcome::Nothing)
            }
        }
    }

    fn run_sync(
        &self,
        sandbox: &mut Sandbox,
        parsed: &ParsedStatement,
        mode: Mode,
    ) -> Result<Step> {
        let text = parsed.text.as_str();
        let outcome = match &parsed.statement {
            Statement::CreateSource(create) => self.create_source(sandbox, create, text, mode),
            Statement::CreateAsSelect(create) => self.create_as_select(sandbox, create, text, mode),
            Statement::InsertIntoSelect {
                target,
                properties,
                query,
            } => self.insert_into_select(sandbox, target, properties, query, text, mode),
            Statement::Explain { target } => self.explain(sandbox, target),
            Statement::DropSource {
                kind,
                name,
                if_exists,
                delete_topic,
            } => self.drop_source(sandbox, *kind, name, *if_exists, *delete_topic, mode),
            Statement::InsertValues {
                target,
                columns,
                values,
            } => {
                let source = insert_target(&sandbox.state, target)?;
                let row = insert_values::plan(self, &source, columns.as_deref(), values)?;
                return Ok(Step::Insert(source, row));
            }
            Statement::ListSources { kind, extended } => Ok(describe::list_sources(
                self,
                &sandbox.state,
                *kind,
                *extended,
            )),
            Statement::DescribeSources { kind, .. } => {
                Ok(describe::list_sources(self, &sandbox.state, *kind, true))
            }
            Statement::ListTopics { .. } => Ok(describe::list_topics(self)),
            Statement::ListQueries { .. } => Ok(describe::list_queries(self, &sandbox.state)),
            Statement::ListProperties => Ok(describe::list_properties()),
            Statement::Describe { name, extended } => {
                describe::describe(self, &sandbox.state, name, *extended)
            }
            Statement::Terminate { target } => self.terminate(sandbox, target, mode),
            Statement::CreateType {
                name,
                ty,
                if_not_exists,
            } => self.create_type(sandbox, name, ty, *if_not_exists, mode),
            Statement::DropType { name, if_exists } => {
                self.drop_type(sandbox, name, *if_exists, mode)
            }
            Statement::ListTypes => Ok(types::list_types(&sandbox.state)),
            Statement::SetProperty { name, value } => {
                sandbox.props.insert(name.clone(), value.clone());
                Ok(Outcome::Nothing)
            }
            Statement::UnsetProperty { name } => {
                sandbox.props.remove(name);
                Ok(Outcome::Nothing)
            }
            Statement::DefineVariable { .. } | Statement::UndefineVariable { .. } => {
                Ok(Outcome::Nothing)
            }
            Statement::Query(_) | Statement::Print { .. } => Err(EngineError::new(
                ErrorCode::QueryOnStatementEndpoint,
                QUERY_ON_KSQL_ENDPOINT,
            )),
            _ => Err(EngineError::unsupported(format!(
                "Statement not supported yet: {text}"
            ))),
        };
        outcome.map(Step::Done)
    }

    fn create_source(
        &self,
        sandbox: &mut Sandbox,
        create: &crate::sql::ast::CreateSource,
        text: &str,
        mode: Mode,
    ) -> Result<Outcome> {
        let config = create::PersistenceConfig::from_props(&sandbox.props)?;
        let plan = create::plan_create(create, text, &config)?;
        let source = plan.source;
        let kind_word = source.kind_word();
        let command_id = format!("{kind_word}/`{}`/create", source.name);
        if let Some(existing) = sandbox.state.source(&source.name) {
            if create.if_not_exists {
                return Ok(self.command_outcome(
                    &command_id,
                    format!(
                        "Cannot add {kind_word} '{}': A {} with the same name already exists",
                        source.name,
                        existing.kind_word()
                    ),
                    mode,
                ));
            }
            if !create.or_replace {
                return Err(EngineError::conflict(format!(
                    "Cannot add {kind_word} '{}': A {} with the same name already exists",
                    source.name,
                    existing.kind_word()
                )));
            }
        }
        if mode != Mode::Replay {
            if !sandbox.state.sources.contains_key(&source.name) {
                check_count(
                    "streams and tables",
                    sandbox.state.sources.len(),
                    self.limits.sources_max,
                )?;
            }
            self.check_topic(sandbox, &source, plan.partitions)?;
        }
        if mode == Mode::Apply {
            if self.log.topic(&source.topic).is_none() {
                let partitions = plan.partitions.unwrap_or(1);
                self.log
                    .create_topic_with(&source.topic, partitions, plan.topic)?;
            }
            let entry = journal_entry::format_entry(None, &sandbox.props, text);
            self.journal_append(entry.as_bytes())?;
        }
        let message = match source.kind {
            SourceKind::Stream => "Stream created",
            SourceKind::Table => "Table created",
        };
        sandbox
            .state
            .sources
            .insert(source.name.clone(), Arc::new(source));
        Ok(self.command_outcome(&command_id, message.to_string(), mode))
    }

    /// ksqlDB requires PARTITIONS to create a missing topic, and refuses a PARTITIONS that
    /// disagrees with an existing topic.
    pub(crate) fn check_topic(
        &self,
        sandbox: &mut Sandbox,
        source: &Source,
        partitions: Option<u32>,
    ) -> Result<()> {
        let existing = match sandbox.planned_topics.get(&source.topic) {
            Some(planned) => *planned,
            None => self
                .log
                .topic(&source.topic)
                .map(|t| Some(t.partition_count()))
                .unwrap_or(None),
        };
        match (existing, partitions) {
            (Some(have), Some(want)) if have != want => Err(EngineError::statement(format!(
                "A Kafka topic with the name '{}' already exists, with different partition/replica configuration than required. KSQL expects {want} partitions (topic has {have}), 1 replication factor (topic has 1).",
                source.topic
            ))),
            (Some(_), _) => Ok(()),
            (None, Some(want)) => {
                sandbox.planned_topics.insert(source.topic.clone(), Some(want));
                Ok(())
            }
            (None, None) => Err(EngineError::statement(format!(
                "Topic '{}' does not exist. If you want to create a new topic for the {} please re-run the statement providing the required 'PARTITIONS' configuration in the WITH clause (and optionally 'REPLICAS'). For example: CREATE {} {} (ID INT KEY, VALUE STRING) WITH (KAFKA_TOPIC='{}', PARTITIONS=2, REPLICAS=1, FORMAT='JSON');",
                source.topic,
                source.kind_word(),
                source.kind_name(),
                source.name,
                source.topic
            ))),
        }
    }

    fn drop_source(
        &self,
        sandbox: &mut Sandbox,
        kind: SourceKind,
        name: &str,
        if_exists: bool,
        delete_topic: bool,
        mode: Mode,
    ) -> Result<Outcome> {
        let command_id = format!("{}/{name}/drop", create::kind_word_of(kind));
        let Some(source) = sandbox.state.source(name).cloned() else {
            if if_exists {
                return Ok(self.command_outcome(
                    &command_id,
                    format!("Source {name} does not exist."),
                    mode,
                ));
            }
            return Err(EngineError::not_found(format!(
                "Source {name} does not exist."
            )));
        };
        if source.kind != kind {
            return Err(EngineError::statement(format!(
                "Incompatible data source type is {}, but statement was DROP {}",
                source.kind_name(),
                match kind {
                    SourceKind::Stream => "STREAM",
                    SourceKind::Table => "TABLE",
                }
            )));
        }
        let (readers, writers) = sandbox.state.queries_using(name);
        if !readers.is_empty() || !writers.is_empty() {
            return Err(EngineError::statement(format!(
                "Cannot drop {name}.\nThe following queries read from this source: [{}].\nThe following queries write into this source: [{}].\nYou need to terminate them before dropping {name}.",
                readers.join(", "),
                writers.join(", ")
            )));
        }
        if mode == Mode::Apply {
            // DELETE TOPIC is kept in the command so other nodes sharing the log let go of
            // the topic this node deletes (replay never deletes anything itself).
            let text = format!(
                "DROP {} `{name}`{};",
                source.kind_name(),
                if delete_topic { " DELETE TOPIC" } else { "" }
            );
            self.journal_append(text.as_bytes())?;
            if delete_topic && self.log.topic(&source.topic).is_some() {
                self.log.delete_topic(&source.topic)?;
            }
        }
        if mode == Mode::Replay && delete_topic {
            self.log.forget_deleted_topic(&source.topic);
        }
        sandbox.state.sources.remove(name);
        if delete_topic {
            sandbox.planned_topics.remove(&source.topic);
        }
        Ok(self.command_outcome(
            &command_id,
            format!("Source `{name}` (topic: {}) was dropped.", source.topic),
            mode,
        ))
    }

    fn terminate(
        &self,
        sandbox: &mut Sandbox,
        target: &TerminateTarget,
        mode: Mode,
    ) -> Result<Outcome> {
        match target {
            TerminateTarget::Query(id) => {
                if let Some(q) = sandbox
                    .state
                    .persistent
                    .values()
                    .find(|q| q.id.eq_ignore_ascii_case(id))
                    .cloned()
                {
                    return self.terminate_persistent(sandbox, &q.id, mode);
                }
                if mode == Mode::Replay {
                    return Ok(Outcome::Nothing);
                }
                // Unquoted ids arrive upper-cased from the parser; ids are matched ignoring case.
                let found = self
                    .queries
                    .list()
                    .into_iter()
                    .find(|q| q.id.eq_ignore_ascii_case(id))
                    .ok_or_else(|| EngineError::not_found(format!("Unknown queryId: {id}")))?;
                let was_terminated = mode != Mode::Apply || self.queries.cancel(&found.id);
                Ok(Outcome::TerminateQuery {
                    query_id: found.id.clone(),
                    was_terminated,
                })
            }
            TerminateTarget::All => {
                self.terminate_all_persistent(sandbox, mode)?;
                if mode == Mode::Apply {
                    for q in self.queries.list() {
                        self.queries.cancel(&q.id);
                    }
                }
                Ok(self.command_outcome("terminate/ALL/execute", "Query terminated.".into(), mode))
            }
        }
    }

    pub(crate) fn command_outcome(&self, command_id: &str, message: String, mode: Mode) -> Outcome {
        let command_seq = if mode == Mode::Validate {
            0
        } else {
            self.record_command_status(command_id, &message, None);
            self.next_command_seq()
        };
        Outcome::CommandStatus {
            command_id: command_id.to_string(),
            message,
            query_id: None,
            command_seq,
        }
    }
}

/// Whether running `statement` may append to the command log (and so needs the writer's
/// turn). Reads, SET and INSERT VALUES never do.
fn may_append(statement: &Statement) -> bool {
    matches!(
        statement,
        Statement::CreateSource(_)
            | Statement::CreateAsSelect(_)
            | Statement::InsertIntoSelect { .. }
            | Statement::DropSource { .. }
            | Statement::Terminate { .. }
            | Statement::CreateType { .. }
            | Statement::DropType { .. }
    )
}

/// The command log's writer turn, held for one request; ends when dropped.
struct WriteTurn<'a> {
    runtime: &'a Runtime,
}

impl<'a> WriteTurn<'a> {
    async fn begin(runtime: &'a Runtime) -> Result<WriteTurn<'a>> {
        let commands = Arc::clone(&runtime.commands);
        off_the_workers(move || commands.begin_writes()).await?;
        Ok(WriteTurn { runtime })
    }
}

/// Runs a command-log call that may block on I/O on the blocking pool.
async fn off_the_workers<T: Send + 'static>(
    work: impl FnOnce() -> Result<T> + Send + 'static,
) -> Result<T> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|e| EngineError::internal(format!("a command log call failed: {e}")))?
}

impl Drop for WriteTurn<'_> {
    fn drop(&mut self) {
        self.runtime.commands.end_writes();
    }
}

/// The text ksqlDB answers when a query is sent to `/ksql` (error code 40002).
pub const QUERY_ON_KSQL_ENDPOINT: &str = "The following statement types should be issued to the websocket endpoint '/query':\n\t* PRINT\n\t* SELECT";

/// Splits, substitutes `${var}` and parses a request's statements.
pub(crate) fn parse_request(
    sql_text: &str,
    session_variables: &HashMap<String, String>,
    types: sql::TypeRegistry,
) -> std::result::Result<Vec<ParsedStatement>, KsqlError> {
    let fail = |error: EngineError| KsqlError {
        error,
        statement_text: sql_text.trim().to_string(),
        entities: Vec::new(),
    };
    let substituted = if sql_text.contains("${") {
        sql::substitute_variables(sql_text, session_variables).map_err(fail)?
    } else {
        sql_text.to_string()
    };
    let statements = sql::parse_with_types(&substituted, types).map_err(fail)?;
    if statements.is_empty() {
        return Err(fail(EngineError::statement(
            "Expected at least one statement",
        )));
    }
    Ok(statements)
}

/// Looks up an INSERT target the way ksqlDB reports a missing one.
pub fn insert_target(state: &CatalogState, name: &str) -> Result<Arc<Source>> {
    let source = state.source(name).ok_or_else(|| {
        EngineError::statement(format!(
            "Cannot insert values into an unknown stream/table: {name}"
        ))
    })?;
    if source.read_only {
        return Err(EngineError::statement(format!(
            "Cannot insert values into read-only {}: {name}",
            source.kind_word()
        )));
    }
    Ok(Arc::clone(source))
}
