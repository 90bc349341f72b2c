//! Statements about persistent queries: `CREATE STREAM|TABLE … AS SELECT`,
//! `INSERT INTO … SELECT`, `TERMINATE <id>`, `TERMINATE ALL` and `EXPLAIN <id>`.
//!
//! A created query is journaled in the catalog journal as its statement text preceded by a
//! `--@query_id <ID>` line, so a restart recreates it under the same id and it resumes from
//! its own journal (`exec::persistent::checkpoint`). TERMINATE is journaled as itself.

use std::sync::Arc;

use crate::catalog::PersistentQuery;
use crate::runtime::Runtime;
use crate::error::{EngineError, Result};
use crate::log::StartPosition;
use crate::plan::persistent::{plan_persistent, SinkSpec};
use crate::plan::transient::QueryProperties;
use crate::query::persistent::{PersistentKind, PersistentPlan};
use crate::sql::ast::{CreateAsSelect, ExplainTarget, Properties, Query, SourceKind};

use super::create::PersistenceConfig;
use super::journal_entry::{format_entry, with_owner};
use super::outcome::{Outcome, QueryDescription};
use super::{check_count, Mode, Sandbox};

/// The `n` of a query id `…_<n>`.
fn query_number(id: &str) -> Option<u64> {
    id.rsplit('_').next()?.parse().ok()
}

/// A query whose sink topic is one of its source topics reads every record it writes and
/// writes it again, without end, until the disk is full (issue 9, finding 6; ksqlDB#1258).
/// Refused when the statement is run; a query already journaled is still replayed, so a
/// data directory written before this check keeps opening.
fn refuse_feedback_loop(plan: &PersistentPlan) -> Result<()> {
    if plan.source.topic != plan.sink.topic {
        return Ok(());
    }
    let message = if plan.source.name == plan.sink.name {
        format!(
            "Cannot insert into {} from itself: the query would read every row it writes, \
             without end.",
            plan.sink.name
        )
    } else {
        format!(
            "Cannot write {} to topic '{}': it is the topic of the query's source {}, so the \
             query would read every row it writes, without end.",
            plan.sink.name, plan.sink.topic, plan.source.name
        )
    };
    Err(EngineError::statement(message))
}

impl Runtime {
    pub(super) fn create_as_select(
        &self,
        sandbox: &mut Sandbox,
        create: &CreateAsSelect,
        text: &str,
        mode: Mode,
    ) -> Result<Outcome> {
        let kind = match create.kind {
            SourceKind::Stream => PersistentKind::CreateStreamAs,
            SourceKind::Table => PersistentKind::CreateTableAs,
        };
        let kind_word = crate::catalog::source::kind_word(create.kind);
        let command_id = format!("{kind_word}/`{}`/create", create.name);
        if let Some(existing) = sandbox.state.source(&create.name) {
            let message = format!(
                "Cannot add {kind_word} '{}': A {} with the same name already exists",
                create.name,
                existing.kind_word()
            );
            if create.if_not_exists {
                return Ok(self.command_outcome(&command_id, message, mode));
            }
            if create.or_replace {
                return Err(EngineError::unsupported(
                    "CREATE OR REPLACE of a persistent query is not supported yet",
                ));
            }
            return Err(EngineError::conflict(message));
        }
        if mode != Mode::Replay {
            check_count(
                "streams and tables",
                sandbox.state.sources.len(),
                self.limits.sources_max,
            )?;
        }
        let config = PersistenceConfig::from_props(&sandbox.props)?;
        let sink = SinkSpec {
            kind,
            name: &create.name,
            properties: &create.properties,
            existing: None,
            config: &config,
        };
        let plan = self.plan(sandbox, sink, &create.query, text)?;
        if mode != Mode::Replay {
            refuse_feedback_loop(&plan)?;
            self.check_topic(sandbox, &plan.sink, Some(plan.sink_partitions))?;
        }
        // The sink is registered only once its query is: a CSAS that fails to start (its
        // topic or journal could not be created) leaves no sink behind (issue 9, finding 10).
        let sink = Arc::clone(&plan.sink);
        let outcome = self.register_query(sandbox, plan, command_id, mode)?;
        sandbox.state.sources.insert(sink.name.clone(), sink);
        Ok(outcome)
    }

    pub(super) fn insert_into_select(
        &self,
        sandbox: &mut Sandbox,
        target: &str,
        properties: &Properties,
        query: &Query,
        text: &str,
        mode: Mode,
    ) -> Result<Outcome> {
        let existing = sandbox.state.source(target).cloned().ok_or_else(|| {
            EngineError::statement(format!(
                "Cannot insert into an unknown stream/table: {target}"
            ))
        })?;
        if existing.kind == SourceKind::Table {
            return Err(EngineError::statement(format!(
                "INSERT INTO can only be used to insert into a stream. {target} is a table."
            )));
        }
        if existing.read_only {
            return Err(EngineError::statement(format!(
                "Cannot insert into read-only stream: {target}"
            )));
        }
        let sink = SinkSpec {
            kind: PersistentKind::InsertInto,
            name: target,
            properties,
            existing: Some(&existing),
            config: &PersistenceConfig::default(),
        };
        let plan = self.plan(sandbox, sink, query, text)?;
        if mode != Mode::Replay {
            refuse_feedback_loop(&plan)?;
        }
        let command_id = format!("stream/{target}/create");
        self.register_query(sandbox, plan, command_id, mode)
    }

    fn plan(
        &self,
        sandbox: &Sandbox,
        sink: SinkSpec<'_>,
        query: &Query,
        text: &str,
    ) -> Result<PersistentPlan> {
        let partitions = |topic: &str| match sandbox.planned_topics.get(topic) {
            Some(planned) => *planned,
            None => self.log.topic(topic).map(|t| t.partition_count()),
        };
        if crate::plan::join::is_join(query) {
            return crate::plan::join::plan_join_persistent(
                &sandbox.state,
                sink,
                query,
                text,
                partitions,
            );
        }
        plan_persistent(&sandbox.state, sink, query, text, partitions)
    }

    /// Gives the planned query its id, registers it in the sandbox and, when applying,
    /// creates its sink topic and journal, journals it and starts it.
    fn register_query(
        &self,
        sandbox: &mut Sandbox,
        plan: PersistentPlan,
        command_id: String,
        mode: Mode,
    ) -> Result<Outcome> {
        if mode != Mode::Replay {
            let running = sandbox.state.persistent.len();
            check_count(
                "persistent queries",
                running,
                self.limits.persistent_queries_max,
            )?;
        }
        let kind = plan.kind;
        let sink_name = plan.sink.name.clone();
        // ksqlDB numbers a query with the sequence number of the command that created it.
        let (id, command_seq) = match mode {
            Mode::Validate => {
                let n = self.command_seq.load(std::sync::atomic::Ordering::SeqCst);
                (kind.query_id(&sink_name, n), 0)
            }
            Mode::Apply => {
                let n = self.next_command_seq();
                (kind.query_id(&sink_name, n), n)
            }
            Mode::Replay => {
                let n = self.next_command_seq();
                let id = sandbox
                    .replay_query_id
                    .clone()
                    .unwrap_or_else(|| kind.query_id(&sink_name, n));
                (id, n)
            }
        };
        let query = Arc::new(PersistentQuery {
            id: id.clone(),
            plan: Arc::new(plan),
        });
        if mode == Mode::Apply {
            self.apply_query(sandbox, &query)?;
        }
        if mode == Mode::Replay {
            let owner = sandbox.replay_owner.as_deref();
            if owner.is_some() && owner != self.commands.node_id() {
                sandbox.foreign_queries.insert(id.clone());
            }
        }
        let message = format!("Created query with ID {id}");
        if mode != Mode::Validate {
            self.record_command_status(&command_id, &message, Some(&id));
        }
        sandbox.state.persistent.insert(id.clone(), query);
        Ok(Outcome::CommandStatus {
            command_id,
            message,
            query_id: Some(id),
            command_seq,
        })
    }

    fn apply_query(&self, sandbox: &Sandbox, query: &Arc<PersistentQuery>) -> Result<()> {
        let plan = &query.plan;
        if self.log.topic(&plan.sink.topic).is_none() {
            self.log
                .create_topic_with(&plan.sink.topic, plan.sink_partitions, plan.sink_topic)?;
        }
        let props = QueryProperties::from_map(&sandbox.props)?;
        // ksql.streams.auto.offset.reset defaults to latest for persistent queries too.
        let start = match props.auto_offset_reset_earliest {
            Some(true) => StartPosition::Earliest,
            _ => StartPosition::Latest,
        };
        // The query's journal (with its start) first, then the catalog entry: a crash in
        // between leaves an orphan journal that the next query with this id replaces.
        let (journal, resume) = self
            .persistent
            .create_journal(self.log.as_ref(), query, start)?;
        let mut entry = format_entry(Some(&query.id), &sandbox.props, &plan.statement_text);
        if let Some(node) = self.commands.node_id() {
            entry = with_owner(node, entry);
        }
        self.journal_append(entry.as_bytes())?;
        self.persistent
            .launch(Arc::clone(&self.log), Arc::clone(query), journal, resume);
        Ok(())
    }

    pub(super) fn terminate_persistent(
        &self,
        sandbox: &mut Sandbox,
        id: &str,
        mode: Mode,
    ) -> Result<Outcome> {
        if mode == Mode::Apply {
            // Back-quoted: an id built from a quoted sink name (`CSAS_foo-too_1`) is not a
            // plain identifier, and a command that does not parse would stop every replay.
            let quoted = format!("`{}`", id.replace('`', "``"));
            self.journal_append(format!("TERMINATE {quoted};").as_bytes())?;
            self.persistent.terminate(id);
        }
        sandbox.state.persistent.remove(id);
        if mode == Mode::Replay {
            return Ok(Outcome::Nothing);
        }
        Ok(self.command_outcome(
            &format!("terminate/{id}/execute"),
            "Query terminated.".into(),
            mode,
        ))
    }

    pub(super) fn terminate_all_persistent(&self, sandbox: &mut Sandbox, mode: Mode) -> Result<()> {
        if sandbox.state.persistent.is_empty() {
            return Ok(());
        }
        if mode == Mode::Apply {
            self.journal_append(b"TERMINATE ALL;")?;
            for id in sandbox.state.persistent.keys() {
                self.persistent.terminate(id);
            }
        }
        sandbox.state.persistent.clear();
        Ok(())
    }

    pub(super) fn explain(&self, sandbox: &Sandbox, target: &ExplainTarget) -> Result<Outcome> {
        let ExplainTarget::Query(id) = target else {
            return Err(EngineError::unsupported(
                "EXPLAIN of a statement is not supported yet; EXPLAIN a query id",
            ));
        };
        let query = sandbox
            .state
            .persistent
            .values()
            .find(|q| q.id.eq_ignore_ascii_case(id))
            .cloned()
            .ok_or_else(|| EngineError::not_found(format!("Query with id:{id} does not exist")))?;
        let state = self.persistent.state(&query.id).name();
        Ok(Outcome::QueryDescription(Box::new(describe_query(
            &query, state,
        ))))
    }

    /// After replaying the catalog journal: hand the replayed queries this node runs to
    /// the registry (they start with the server) and keep new query ids above every
    /// replayed one.
    pub(super) fn after_replay(&self, sandbox: &Sandbox) {
        self.keep_query_ids_above(&sandbox.state);
        self.persistent.set_pending(
            sandbox
                .state
                .persistent
                .values()
                .filter(|q| self.persistent.leased() || !sandbox.foreign_queries.contains(&q.id))
                .cloned()
                .collect(),
        );
    }

    /// Keeps the ids of queries created from now on above every id in `state`.
    pub(super) fn keep_query_ids_above(&self, state: &crate::catalog::CatalogState) {
        let max = state
            .persistent
            .keys()
            .filter_map(|id| query_number(id))
            .max();
        if let Some(max) = max {
            self.command_seq
                .fetch_max(max + 1, std::sync::atomic::Ordering::SeqCst);
        }
    }
}

/// EXPLAIN's view of a query: its schema, sources, sinks and a text plan.
pub fn describe_query(query: &PersistentQuery, state: &str) -> QueryDescription {
    let plan = &query.plan;
    let mut topology = format!(
        "Topologies:\n   Sub-topology: 0\n    Source: KSTREAM-SOURCE-0000000000 (topics: [{}])\n",
        plan.source.topic
    );
    if plan.logical.has_filter() {
        topology.push_str("    Processor: WHERE-FILTER\n");
    }
    topology.push_str("    Processor: PROJECT\n");
    topology.push_str(&format!(
        "    Sink: KSTREAM-SINK-0000000003 (topic: {})\n",
        plan.sink.topic
    ));
    let execution_plan = format!(
        " > [ SINK ] | Schema: {} | Logger: {}.{}\n\t\t > [ PROJECT ] | Schema: {} | Logger: {}.Project\n\t\t\t\t > [ SOURCE ] | Schema: {} | Logger: {}.KsqlTopic.Source\n",
        plan.sink.schema.to_schema_text(true),
        query.id,
        plan.sink.name,
        plan.sink.schema.to_schema_text(true),
        query.id,
        plan.source.schema.to_schema_text(true),
        query.id,
    );
    QueryDescription {
        id: query.id.clone(),
        statement_text: plan.statement_text.clone(),
        fields: plan.sink.schema.columns.clone(),
        sources: vec![plan.source.name.clone()],
        sinks: vec![plan.sink.name.clone()],
        sink_topics: vec![plan.sink.topic.clone()],
        topology,
        execution_plan,
        state: state.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_numbers() {
        assert_eq!(query_number("CSAS_MY_SINK_12"), Some(12));
        assert_eq!(query_number("INSERTQUERY_0"), Some(0));
    }
}
