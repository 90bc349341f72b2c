//! Queries through the facade: push and pull queries streaming result rows, and PRINT
//! streaming raw records; closing them from any connection.

use std::collections::HashMap;
use std::sync::Arc;

use crate::error::{EngineError, ErrorCode, Result};
use crate::exec::result_rows::ResultRows;
use crate::limits::INLINE_PARSE_BYTES_MAX;
use crate::log::StoredRecord;
use crate::plan::transient::{plan_query, QueryKind, QueryPlan, QueryProperties, Toggle};
use crate::query::group_fold::GroupFold;
use crate::query::materialized;
use crate::query::persistent::TableRows;
use crate::query::print::{looks_like_print, plan_print, PrintStream};
use crate::query::transient::{EndReason, QueryStream};
use crate::runtime::Runtime;
use crate::sql::ast::SourceKind;
use crate::types::SqlType;

use super::engine::Engine;

/// A query to start: its SQL, the request's properties and session variables.
#[derive(Debug, Clone, Copy)]
pub struct QueryRequest<'a> {
    pub sql: &'a str,
    pub properties: &'a HashMap<String, String>,
    pub session_variables: &'a HashMap<String, String>,
}

/// What a started query streams.
pub enum QueryOutput {
    /// Rows of a push or pull query.
    Rows(QueryHandle),
    /// Raw records of PRINT.
    Print(PrintHandle),
}

/// A query's kind and result columns, as [`Engine::describe_query`] plans them.
#[derive(Debug, Clone, PartialEq)]
pub struct QueryShape {
    pub kind: QueryKind,
    pub column_names: Vec<String>,
    pub column_types: Vec<SqlType>,
}

/// A running push or pull query. Dropping it ends the query (and frees its registration).
pub struct QueryHandle {
    /// Boxed: a query's decode and encode state is large, and handles move around.
    stream: Box<QueryStream>,
    /// A pull query over an aggregate: its changes folded into one row per group.
    groups: Option<GroupFold>,
}

impl QueryHandle {
    pub fn id(&self) -> &str {
        &self.stream.plan().id
    }

    pub fn kind(&self) -> QueryKind {
        self.stream.plan().kind
    }

    /// The statement as ksqlDB echoes it.
    pub fn sql(&self) -> &str {
        &self.stream.plan().sql
    }

    /// The result's columns (a pull aggregate's hidden group key left out).
    fn shown(&self) -> usize {
        match &self.groups {
            Some(g) => g.visible(),
            None => self.stream.plan().column_names.len(),
        }
    }

    pub fn column_names(&self) -> &[String] {
        &self.stream.plan().column_names[..self.shown()]
    }

    pub fn column_types(&self) -> &[SqlType] {
        &self.stream.plan().column_types[..self.shown()]
    }

    /// Per column, whether it is a key column of the table a pull query reads (ksqlDB marks
    /// those `KEY` in a `/query` header).
    pub fn key_columns(&self) -> &[bool] {
        &self.stream.plan().key_columns[..self.shown()]
    }

    /// A pull query over a table: it reads the table's current rows, and ksqlDB's `/query`
    /// answer has `KEY` markers and no final message.
    pub fn is_table_pull(&self) -> bool {
        let plan = self.stream.plan();
        plan.kind == QueryKind::Pull && plan.source.kind == SourceKind::Table
    }

    /// The source the query reads.
    pub(crate) fn source(&self) -> &Arc<crate::catalog::Source> {
        &self.stream.plan().source
    }

    /// The source records the query has read so far, and their key and value bytes.
    pub fn scanned(&self) -> (u64, u64) {
        self.stream.scanned()
    }

    /// The stream or table the query reads.
    pub fn source_name(&self) -> &str {
        &self.stream.plan().source.name
    }

    /// The oldest timestamp (ms since the epoch) of the source records the last
    /// `next_rows` read, if it read any: how far behind the rows it returned may be.
    pub fn oldest_record_ms(&self) -> Option<i64> {
        self.stream.oldest_record_ms()
    }

    /// An empty batch of this query's width (no room reserved: a query that never gets a
    /// row holds no buffer).
    pub fn new_rows(&self) -> ResultRows {
        ResultRows::new(self.column_names().len(), 0)
    }

    /// Waits for result rows and appends up to `max_rows` of them to `out`. `Some(reason)`
    /// once the query has ended (rows may still have been added).
    pub async fn next_rows(
        &mut self,
        out: &mut ResultRows,
        max_rows: usize,
    ) -> Result<Option<EndReason>> {
        match &mut self.groups {
            Some(groups) => groups.next_rows(&mut self.stream, out, max_rows).await,
            None => self.stream.next_rows(out, max_rows).await,
        }
    }
}

/// A running PRINT.
pub struct PrintHandle {
    stream: PrintStream,
}

impl PrintHandle {
    /// The statement as written, for error bodies.
    pub fn sql(&self) -> &str {
        &self.stream.plan().sql
    }

    /// Waits for records and appends up to `max_records` of them to `out`. `Some(reason)`
    /// once PRINT has ended (its LIMIT, or the topic was deleted).
    pub async fn next_records(
        &mut self,
        out: &mut Vec<StoredRecord>,
        max_records: usize,
    ) -> Result<Option<EndReason>> {
        self.stream.next_records(out, max_records).await
    }
}

impl Engine {
    /// Starts a query (`SELECT …` or `PRINT …`). A push query counts against the node's
    /// push-query limit while its handle lives. Planning a large statement runs off the
    /// async threads.
    pub async fn start_query(&self, request: QueryRequest<'_>) -> Result<QueryOutput> {
        let rt = &self.rt;
        if looks_like_print(request.sql) {
            if let Some(plan) = plan_print(request.sql, request.session_variables)? {
                return Ok(QueryOutput::Print(PrintHandle {
                    stream: PrintStream::start(rt.log.as_ref(), plan)?,
                }));
            }
        }
        let props = QueryProperties::from_map(request.properties)?;
        let table_from_topic = props.pull_table_from_topic == Toggle::Enabled;
        let mut plan = if request.sql.len() <= INLINE_PARSE_BYTES_MAX {
            plan(rt, request.sql, request.session_variables, &props)?
        } else {
            let (rt, sql, vars, props) = (
                Arc::clone(rt),
                request.sql.to_string(),
                request.session_variables.clone(),
                props.clone(),
            );
            self.off_the_workers("query planner", move || plan(&rt, &sql, &vars, &props))
                .await??
        };
        if plan.kind == QueryKind::Push && rt.queries.len() >= rt.limits.push_queries_max {
            return Err(EngineError::new(
                ErrorCode::PushQueryLimit,
                "Maximum number of push queries exceeded",
            ));
        }
        let stream = if plan.kind == QueryKind::Pull && plan.source.kind == SourceKind::Table {
            // A pull query reads a table's current rows, not its changelog.
            let catalog = rt.catalog();
            let topic = rt.log.topic(&plan.source.topic).ok_or_else(|| {
                EngineError::not_found(format!("Topic '{}' does not exist", plan.source.topic))
            })?;
            let rows = match rt.persistent.table_store(&catalog, &plan.source.name)? {
                Some(TableRows::Store(store)) => match &plan.lookup {
                    Some(keys) => materialized::from_store_keys(
                        &store,
                        topic.partition_count(),
                        &plan.source,
                        keys,
                    )?,
                    None => materialized::from_store(&store, topic.partition_count())?,
                },
                readable => {
                    let from_topic = matches!(readable, Some(TableRows::Topic))
                        || plan.source.read_only
                        || table_from_topic;
                    if !from_topic {
                        return Err(materialized::not_queryable(&plan.source.name));
                    }
                    let read = rt
                        .table_views
                        .rows(&plan.source, &topic, plan.lookup.as_deref())
                        .await?;
                    if plan.filter_in_lookup && !read.exact_lookup {
                        // Every row came: the rows need the WHERE after all.
                        plan = plan_query(
                            catalog.as_ref(),
                            request.sql,
                            request.session_variables,
                            &props,
                            rt.clock.now_ms(),
                        )?;
                    }
                    read.cursors
                }
            };
            QueryStream::start_materialized(
                rt.log.as_ref(),
                &rt.queries,
                &rt.shared_batches,
                plan,
                rows,
            )?
        } else {
            QueryStream::start(rt.log.as_ref(), &rt.queries, &rt.shared_batches, plan)?
        };
        let groups = stream
            .plan()
            .pull_groups
            .map(|g| GroupFold::new(g, stream.plan().column_names.len()));
        Ok(QueryOutput::Rows(QueryHandle {
            stream: Box::new(stream),
            groups,
        }))
    }

    /// What `request` would answer without running it: its kind and its result's columns
    /// (a face describing a saved query, e.g. Foundry's query metadata). Plans only; a
    /// PRINT has no columns and is refused.
    pub fn describe_query(&self, request: QueryRequest<'_>) -> Result<QueryShape> {
        if looks_like_print(request.sql) {
            return Err(EngineError::unsupported("a PRINT has no result columns"));
        }
        let props = QueryProperties::from_map(request.properties)?;
        let plan = plan(&self.rt, request.sql, request.session_variables, &props)?;
        let shown = plan.column_names.len() - plan.pull_groups.map_or(0, |g| g.hidden);
        Ok(QueryShape {
            kind: plan.kind,
            column_names: plan.column_names[..shown].to_vec(),
            column_types: plan.column_types[..shown].to_vec(),
        })
    }

    /// Ends push query `id` (`/close-query`), whichever connection runs it; false if no
    /// such query runs.
    pub fn close_query(&self, id: &str) -> bool {
        self.rt.queries.cancel(id)
    }

    /// Ends every push query (the server is shutting down): their responses end cleanly.
    pub fn close_all_queries(&self) {
        for q in self.rt.queries.list() {
            self.rt.queries.cancel(&q.id);
        }
    }

    /// Push queries running now.
    pub fn push_query_count(&self) -> usize {
        self.rt.queries.len()
    }

    /// Result rows push queries have copied from identical queries since the start.
    pub fn shared_rows_taken(&self) -> u64 {
        self.rt.shared_batches.rows_taken()
    }

    /// Pull queries planned from the kept plan of an earlier statement of the same shape
    /// (a key lookup with other keys) since the start.
    pub fn pull_plans_reused(&self) -> u64 {
        self.rt.pull_plans.hits()
    }

    /// Bytes of the rows kept for tables read from their topic (`query::table_view`).
    pub fn table_views_bytes(&self) -> usize {
        self.rt.table_views.held_bytes()
    }

    /// Records push queries have taken decoded from another query on the same source
    /// (different plans) since the start.
    pub fn shared_records_decoded(&self) -> u64 {
        self.rt.shared_batches.decodes().records_taken()
    }

    /// Decoded records push queries' groups hold for members that have not read them yet.
    pub fn shared_records_held(&self) -> usize {
        self.rt.shared_batches.decodes().records_held()
    }
}

fn plan(
    rt: &Runtime,
    sql: &str,
    session_variables: &HashMap<String, String>,
    props: &QueryProperties,
) -> Result<QueryPlan> {
    rt.pull_plans.plan(
        &rt.catalog(),
        sql,
        session_variables,
        props,
        rt.clock.now_ms(),
    )
}
