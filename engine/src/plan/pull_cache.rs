//! Planned key lookups, reused: a pull query over a table that only pins its key columns to
//! literals (`SELECT … FROM t WHERE ID = 7;`) is planned once per statement shape, and
//! later statements of the same shape take that plan with their own keys.
//!
//! ```text
//!  SQL ─► shape (tokens, literals out) ─► cache hit, same catalog and properties?
//!          │ yes: literals ─► key values (each as the key column's type) ─► the plan's clone
//!          │      with those keys to look up
//!          └ no:  parse ─► plan ─► a lookup of keys bound by exactly these literals?
//!                                  yes: keep the plan (without its WHERE filter) for the shape
//! ```
//!
//! Why it is sound: a shape fixes every token but the string and integer literals, and the
//! parser's tree depends on token kinds only, so a statement of a cached shape plans to the
//! cached plan with other key values. A plan is kept only when its WHERE is nothing but
//! those key bindings (`pull_where::exact_key_bindings`) and the bindings' literals are the
//! shape's literals one for one, in order: the lookup then finds exactly the rows the WHERE
//! would keep, so the kept plan needs no filter. A literal that does not convert to its key
//! column's type exactly (a string for a BIGINT key, an INT key's value out of range) is
//! planned the long way, which reports what ksqlDB reports. Plans belong to one catalog
//! snapshot (any DDL makes a new one) and one set of request properties. A plan from here
//! says so (`QueryPlan::filter_in_lookup`): rows read any other way than by key lookup (a
//! table read from its topic) need the query planned again, with its filter.
//!
//! Planning was 13% of the server's CPU per key lookup (parse, scope, compile, select
//! list; benches/README.md, "Pull queries"); a hit costs the lexer and a clone of shared
//! parts.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use crate::catalog::CatalogState;
use crate::error::Result;
use crate::sql::ast::{Literal, SourceKind, Statement};
use crate::sql::shape::{statement_shape, ShapeLiteral, StatementShape};
use crate::sql::{self};
use crate::types::{SqlType, Value};

use super::logical::LogicalPlan;
use super::pull_where::{exact_key_bindings, key_tuples, literal_value_as};
use super::transient::{plan_statement, QueryKind, QueryPlan, QueryProperties};

/// Statement shapes kept. Applications send a handful of lookup shapes; the bound keeps a
/// client that sends endless distinct shapes from growing the cache (one is evicted).
pub const PULL_PLAN_CACHE_ENTRIES_MAX: usize = 1_024;

/// Longest statement whose plan is kept: a key lookup is short, and the signature a shape
/// is kept under is about as long as its statement.
pub const PULL_PLAN_CACHE_STATEMENT_BYTES_MAX: usize = 4 * 1024;

/// The plans of key lookups by statement shape.
#[derive(Default)]
pub(crate) struct PullPlanCache {
    entries: Mutex<HashMap<Vec<u8>, Arc<LookupTemplate>>>,
    hits: AtomicU64,
}

/// A key lookup's plan, for any keys.
struct LookupTemplate {
    /// The snapshot the plan was made against: held, so no later snapshot can share its
    /// address, and compared by address.
    catalog: Arc<CatalogState>,
    props: QueryProperties,
    /// The plan without its WHERE filter and without keys.
    plan: QueryPlan,
    /// Per literal of the shape, in order: the key column (index among the key columns) it
    /// binds.
    literal_keys: Vec<usize>,
    /// The key columns' types, in key order.
    key_types: Vec<SqlType>,
}

impl PullPlanCache {
    /// Plans `sql` against `catalog`, from a kept plan when one fits.
    pub(crate) fn plan(
        &self,
        catalog: &Arc<CatalogState>,
        sql: &str,
        session_variables: &HashMap<String, String>,
        props: &QueryProperties,
        now_ms: i64,
    ) -> Result<QueryPlan> {
        let shape = match sql.len() <= PULL_PLAN_CACHE_STATEMENT_BYTES_MAX {
            true => statement_shape(sql),
            false => None,
        };
        let Some(shape) = shape else {
            return super::transient::plan_query(
                catalog.as_ref(),
                sql,
                session_variables,
                props,
                now_ms,
            );
        };
        if let Some(plan) = self.hit(catalog, &shape, props, now_ms) {
            self.hits.fetch_add(1, Ordering::Relaxed);
            return Ok(plan);
        }
        // No variables here (a shape has none), so the session's do not matter.
        let parsed = sql::parse_one(sql, session_variables, &catalog.types)?;
        let plan = plan_statement(
            catalog.as_ref(),
            &parsed.statement,
            parsed.text,
            props,
            now_ms,
        )?;
        if let Some(template) = template(catalog, &parsed.statement, &plan, &shape, props) {
            self.keep(shape.signature, template);
        }
        Ok(plan)
    }

    /// Statements planned from a kept plan since the start.
    pub(crate) fn hits(&self) -> u64 {
        self.hits.load(Ordering::Relaxed)
    }

    fn entries(&self) -> std::sync::MutexGuard<'_, HashMap<Vec<u8>, Arc<LookupTemplate>>> {
        // The map is left whole by every operation under the lock: a panic elsewhere while
        // it was held leaves nothing half-done.
        self.entries.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn hit(
        &self,
        catalog: &Arc<CatalogState>,
        shape: &StatementShape,
        props: &QueryProperties,
        now_ms: i64,
    ) -> Option<QueryPlan> {
        let template = Arc::clone(self.entries().get(&shape.signature)?);
        if !Arc::ptr_eq(&template.catalog, catalog)
            || template.props != *props
            || template.literal_keys.len() != shape.literals.len()
        {
            return None;
        }
        let mut per_key: Vec<Vec<Value>> = vec![Vec::new(); template.key_types.len()];
        for (literal, &key) in shape.literals.iter().zip(&template.literal_keys) {
            let literal = match literal {
                ShapeLiteral::String(s) => Literal::String(s.clone()),
                ShapeLiteral::Integer(_) => Literal::Integer(literal.integer()?),
            };
            per_key[key].push(literal_value_as(&literal, &template.key_types[key])?);
        }
        let mut plan = template.plan.clone();
        plan.lookup = Some(key_tuples(per_key)?);
        plan.sql = shape.text.clone();
        plan.id = format!("query_{now_ms}");
        plan.filter_in_lookup = true;
        Some(plan)
    }

    fn keep(&self, signature: Vec<u8>, template: LookupTemplate) {
        let mut entries = self.entries();
        if entries.len() >= PULL_PLAN_CACHE_ENTRIES_MAX && !entries.contains_key(&signature) {
            let victim = entries.keys().next().cloned();
            if let Some(victim) = victim {
                entries.remove(&victim);
            }
        }
        entries.insert(signature, Arc::new(template));
    }
}

/// `plan` as a template for its shape, when it is a key lookup bound by exactly the
/// shape's literals.
fn template(
    catalog: &Arc<CatalogState>,
    statement: &Statement,
    plan: &QueryPlan,
    shape: &StatementShape,
    props: &QueryProperties,
) -> Option<LookupTemplate> {
    if plan.kind != QueryKind::Pull
        || plan.source.kind != SourceKind::Table
        || plan.source.window.is_some()
        || plan.pull_groups.is_some()
        || plan.lookup.is_none()
    {
        return None;
    }
    let Statement::Query(query) = statement else {
        return None;
    };
    if query.limit.is_some() {
        return None;
    }
    let bindings = exact_key_bindings(&plan.source, query.where_clause.as_ref()?)?;
    if bindings.len() != shape.literals.len() {
        return None;
    }
    for ((_, literal), taken) in bindings.iter().zip(&shape.literals) {
        let same = match (literal, taken) {
            (Literal::String(a), ShapeLiteral::String(b)) => a == b,
            (Literal::Integer(a), ShapeLiteral::Integer(_)) => Some(*a) == taken.integer(),
            _ => false,
        };
        if !same {
            return None;
        }
    }
    let mut kept = plan.clone();
    kept.lookup = None;
    kept.logical = Arc::new(without_filter(LogicalPlan::clone(&plan.logical))?);
    Some(LookupTemplate {
        catalog: Arc::clone(catalog),
        props: props.clone(),
        plan: kept,
        literal_keys: bindings.iter().map(|(key, _)| *key).collect(),
        key_types: plan.source.schema.keys().map(|c| c.ty.clone()).collect(),
    })
}

/// A pull query's plan (`Project ─ Filter ─ Scan`) without its filter; `None` for any other
/// shape of plan.
fn without_filter(plan: LogicalPlan) -> Option<LogicalPlan> {
    let LogicalPlan::Project {
        input,
        columns,
        tombstone_key,
    } = plan
    else {
        return None;
    };
    let LogicalPlan::Filter { input: scan, .. } = *input else {
        return None;
    };
    matches!(*scan, LogicalPlan::Scan(_)).then_some(LogicalPlan::Project {
        input: scan,
        columns,
        tombstone_key,
    })
}

#[cfg(test)]
mod tests {
    use super::super::transient::{plan_query, Toggle};
    use super::*;
    use proptest::prelude::*;

    const DDL: &str = "
        CREATE TABLE BIG (ID BIGINT PRIMARY KEY, V STRING) WITH (kafka_topic='big', value_format='JSON');
        CREATE TABLE SMALL (ID INT PRIMARY KEY, V STRING) WITH (kafka_topic='small', value_format='JSON');
        CREATE TABLE NAMED (NAME STRING PRIMARY KEY, V INT) WITH (kafka_topic='named', value_format='JSON');
        CREATE TABLE PAIR (A INT PRIMARY KEY, B STRING PRIMARY KEY, V INT) WITH (kafka_topic='pair', value_format='JSON', key_format='JSON');
        CREATE STREAM S (ID BIGINT KEY, V STRING) WITH (kafka_topic='s', value_format='JSON');";

    fn catalog(ddl: &str) -> Arc<CatalogState> {
        Arc::new(super::super::test_catalog(ddl))
    }

    fn props() -> QueryProperties {
        QueryProperties::default()
    }

    fn no_vars() -> HashMap<String, String> {
        HashMap::new()
    }

    /// What a plan answers with, its WHERE filter left out: a kept plan has none.
    fn outline(plan: &QueryPlan) -> String {
        let logical = match &*plan.logical {
            LogicalPlan::Project { input, .. } if matches!(**input, LogicalPlan::Filter { .. }) => {
                without_filter(LogicalPlan::clone(&plan.logical)).expect("a lookup's plan")
            }
            other => other.clone(),
        };
        format!(
            "{:?} {:?} {} {:?} {:?} {:?} {:?} {:?}",
            plan.kind,
            plan.lookup,
            plan.sql,
            plan.column_names,
            plan.column_types,
            plan.key_columns,
            plan.pull_groups,
            logical
        )
    }

    /// Plans `sql` through `cache` and the long way; both must agree. True if the cache
    /// answered from a kept plan.
    fn plan_both(cache: &PullPlanCache, catalog: &Arc<CatalogState>, sql: &str) -> bool {
        let before = cache.hits();
        let cached = cache.plan(catalog, sql, &no_vars(), &props(), 1);
        let fresh = plan_query(catalog.as_ref(), sql, &no_vars(), &props(), 1);
        match (cached, fresh) {
            (Ok(c), Ok(f)) => assert_eq!(outline(&c), outline(&f), "{sql}"),
            (Err(c), Err(f)) => assert_eq!(c.to_string(), f.to_string(), "{sql}"),
            (c, f) => panic!("{sql}: cached {:?}, fresh {:?}", c.err(), f.err()),
        }
        cache.hits() > before
    }

    #[test]
    fn key_lookups_of_one_shape_share_a_plan() {
        let cache = PullPlanCache::default();
        let catalog = catalog(DDL);
        assert!(!plan_both(&cache, &catalog, "SELECT * FROM BIG WHERE ID = 1;"));
        assert!(plan_both(&cache, &catalog, "SELECT * FROM BIG WHERE ID = 2;"));
        assert!(plan_both(&cache, &catalog, "SELECT  *  FROM BIG WHERE ID = 3;"));
        // A minus sign is a token of its own: negative keys are a shape of their own.
        assert!(!plan_both(&cache, &catalog, "SELECT * FROM BIG WHERE ID = -77;"));
        assert!(plan_both(&cache, &catalog, "SELECT * FROM BIG WHERE ID = -9223372036854775808;"));
        assert!(!plan_both(&cache, &catalog, "SELECT V, NAME FROM NAMED WHERE NAME IN ('a', 'b');"));
        assert!(plan_both(&cache, &catalog, "SELECT V, NAME FROM NAMED WHERE NAME IN ('it''s', '');"));
        assert!(!plan_both(&cache, &catalog, "SELECT * FROM PAIR WHERE B = 'x' AND A IN (1, 2);"));
        assert!(plan_both(&cache, &catalog, "SELECT * FROM PAIR WHERE B = 'y' AND A IN (3, 4);"));
        assert!(!plan_both(&cache, &catalog, "SELECT * FROM SMALL WHERE 5 = ID;"));
        assert!(plan_both(&cache, &catalog, "SELECT * FROM SMALL WHERE 6 = ID;"));
        assert_eq!(cache.hits(), 6);
    }

    #[test]
    fn values_a_key_cannot_take_are_planned_the_long_way() {
        let cache = PullPlanCache::default();
        let catalog = catalog(DDL);
        assert!(!plan_both(&cache, &catalog, "SELECT * FROM SMALL WHERE ID = 1;"));
        // Beyond INT: not a lookup (ksqlDB's answer is a scan's).
        assert!(!plan_both(&cache, &catalog, "SELECT * FROM SMALL WHERE ID = 3000000000;"));
        // Beyond BIGINT: the parser's error.
        assert!(!plan_both(&cache, &catalog, "SELECT * FROM SMALL WHERE ID = 99999999999999999999;"));
        assert!(plan_both(&cache, &catalog, "SELECT * FROM SMALL WHERE ID = 2147483647;"));
        assert!(!plan_both(&cache, &catalog, "SELECT * FROM SMALL WHERE ID = -2147483648;"));
        assert!(!plan_both(&cache, &catalog, "SELECT * FROM SMALL WHERE ID = -2147483649;"));
        assert!(plan_both(&cache, &catalog, "SELECT * FROM SMALL WHERE ID = -1;"));
    }

    #[test]
    fn only_pure_key_lookups_are_kept() {
        let cache = PullPlanCache::default();
        let catalog = catalog(DDL);
        for sql in [
            // A filter beside the keys, a LIMIT, a literal in the SELECT list.
            "SELECT * FROM BIG WHERE ID = 1 AND V = 'a';",
            "SELECT * FROM BIG WHERE ID = 1 LIMIT 1;",
            "SELECT ID, 'x' AS X FROM BIG WHERE ID = 1;",
            // A key bound twice, a scan, a stream, an expression around the key.
            "SELECT * FROM BIG WHERE ID = 1 AND ID = 2;",
            "SELECT * FROM BIG WHERE ID > 1;",
            "SELECT * FROM S WHERE ID = 1;",
            "SELECT * FROM BIG WHERE ID = 1 + 1;",
            "SELECT * FROM BIG WHERE ID = 1 OR ID = 2;",
            // Only one of two keys: an error.
            "SELECT * FROM PAIR WHERE A = 1;",
        ] {
            assert!(!plan_both(&cache, &catalog, sql), "{sql}");
            assert!(!plan_both(&cache, &catalog, sql), "{sql} again");
        }
        assert!(cache.entries().is_empty());
    }

    #[test]
    fn a_new_catalog_or_other_properties_plan_again() {
        let cache = PullPlanCache::default();
        let first = catalog(DDL);
        let sql = "SELECT * FROM BIG WHERE ID = 1;";
        assert!(!plan_both(&cache, &first, sql));
        assert!(plan_both(&cache, &first, sql));
        // The same table made again with a STRING key: the kept plan is not for it.
        let second = catalog(&DDL.replace("ID BIGINT PRIMARY KEY, V STRING) WITH (kafka_topic='big'", "ID STRING PRIMARY KEY, V STRING) WITH (kafka_topic='big'"));
        assert!(!plan_both(&cache, &second, sql));
        let other = QueryProperties {
            pull_table_scan: Toggle::Disabled,
            ..props()
        };
        let hits = cache.hits();
        cache.plan(&first, sql, &no_vars(), &other, 1).expect("plans");
        assert_eq!(cache.hits(), hits, "other properties, another plan");
    }

    #[test]
    fn the_cache_keeps_at_most_its_bound() {
        let cache = PullPlanCache::default();
        let catalog = catalog(DDL);
        for i in 0..PULL_PLAN_CACHE_ENTRIES_MAX + 10 {
            let sql = format!("SELECT * FROM BIG AS A{i} WHERE ID = 1;");
            cache.plan(&catalog, &sql, &no_vars(), &props(), 1).expect("plans");
        }
        assert_eq!(cache.entries().len(), PULL_PLAN_CACHE_ENTRIES_MAX);
    }

    fn quoted(s: &str) -> String {
        format!("'{}'", s.replace('\'', "''"))
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        /// Whatever the keys, a kept plan answers as planning the statement does.
        #[test]
        fn kept_plans_agree_with_planning(
            ints in proptest::collection::vec(any::<i64>(), 1..4),
            names in proptest::collection::vec(".{0,8}", 1..4),
            small in any::<i64>(),
        ) {
            let cache = PullPlanCache::default();
            let catalog = catalog(DDL);
            let int_list: Vec<String> = ints.iter().map(i64::to_string).collect();
            let name_list: Vec<String> = names.iter().map(|n| quoted(n)).collect();
            for round in 0..2 {
                let _ = round;
                plan_both(&cache, &catalog, &format!("SELECT * FROM BIG WHERE ID IN ({});", int_list.join(", ")));
                plan_both(&cache, &catalog, &format!("SELECT * FROM SMALL WHERE ID = {small};"));
                plan_both(&cache, &catalog, &format!("SELECT NAME FROM NAMED WHERE NAME = {};", name_list[0]));
                plan_both(&cache, &catalog, &format!(
                    "SELECT * FROM PAIR WHERE A = {} AND B IN ({});",
                    ints[0].clamp(i32::MIN.into(), i32::MAX.into()),
                    name_list.join(",")
                ));
            }
        }
    }
}
