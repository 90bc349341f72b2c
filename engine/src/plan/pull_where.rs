//! What ksqlDB checks in the WHERE clause of a pull query over a table, beyond its types:
//! key literals that can never match (`IN (NULL)`, a STRING for an INTEGER key), and, when
//! `ksql.query.pull.table.scan.enabled` is false, that the query is a key lookup (or, with
//! range scans on, a range over a STRING key) rather than a scan. The texts are ksqlDB's
//! (`WhereInfo`, `KeyConstraint`, `QueryFilterNode` in its pull query planner; RQTT
//! `pull-queries-*.json`).
//!
//! ```text
//!  WHERE ─► disjuncts (OR) ─► conjuncts (AND) ─► per conjunct:
//!    key = literal / key IN (literals)  → key bound
//!    key <,<=,>,>= literal               → range bound (range scans, STRING keys only)
//!    no key column                       → a filter on the rows found
//!    key inside an expression, key vs a column → refused
//! ```

use crate::catalog::Source;
use crate::error::{EngineError, Result};
use crate::sql::ast::{BinaryOp, Expr, Literal};
use crate::types::{Column, ColumnKind, SqlType, Value};

/// What the request allows a pull query to do.
#[derive(Debug, Clone, Copy)]
pub(crate) struct PullScans {
    pub(crate) table_scan: bool,
    pub(crate) range_scan: bool,
}

fn err(message: impl Into<String>) -> EngineError {
    EngineError::statement(message.into())
}

/// The source key column `expr` names directly, if any.
fn key_column<'a>(source: &'a Source, expr: &Expr) -> Option<&'a Column> {
    match expr {
        Expr::Column { name, .. } => source
            .schema
            .find(name)
            .map(|(_, c)| c)
            .filter(|c| c.kind == ColumnKind::Key),
        _ => None,
    }
}

/// Whether `expr` reads any column at all.
fn has_column(expr: &Expr) -> bool {
    let mut found = false;
    walk(expr, &mut |e| found |= matches!(e, Expr::Column { .. }));
    found
}

fn has_key_column(source: &Source, expr: &Expr) -> bool {
    let mut found = false;
    walk(expr, &mut |e| found |= key_column(source, e).is_some());
    found
}

fn walk<'a>(expr: &'a Expr, f: &mut dyn FnMut(&'a Expr)) {
    f(expr);
    match expr {
        Expr::Unary { expr, .. } | Expr::IsNull { expr, .. } | Expr::Cast { expr, .. } => {
            walk(expr, f)
        }
        Expr::Binary { left, right, .. } | Expr::IsDistinctFrom { left, right, .. } => {
            walk(left, f);
            walk(right, f);
        }
        Expr::Between {
            expr, low, high, ..
        } => {
            walk(expr, f);
            walk(low, f);
            walk(high, f);
        }
        Expr::InList { expr, list, .. } => {
            walk(expr, f);
            list.iter().for_each(|e| walk(e, f));
        }
        Expr::Like { expr, pattern, .. } => {
            walk(expr, f);
            walk(pattern, f);
        }
        Expr::Function { args, .. } => args.iter().for_each(|e| walk(e, f)),
        Expr::Subscript { base, index } => {
            walk(base, f);
            walk(index, f);
        }
        Expr::Dereference { base, .. } => walk(base, f),
        Expr::Case {
            operand,
            whens,
            else_result,
        } => {
            if let Some(o) = operand {
                walk(o, f);
            }
            for (w, t) in whens {
                walk(w, f);
                walk(t, f);
            }
            if let Some(e) = else_result {
                walk(e, f);
            }
        }
        Expr::Array(items) => items.iter().for_each(|e| walk(e, f)),
        Expr::Map(entries) => entries.iter().for_each(|(k, v)| {
            walk(k, f);
            walk(v, f);
        }),
        Expr::Struct(fields) => fields.iter().for_each(|(_, e)| walk(e, f)),
        Expr::Lambda { body, .. } => walk(body, f),
        Expr::Column { .. } | Expr::Literal(_) | Expr::Star => {}
    }
}

fn split<'a>(expr: &'a Expr, op: BinaryOp, out: &mut Vec<&'a Expr>) {
    match expr {
        Expr::Binary { op: o, left, right } if *o == op => {
            split(left, op, out);
            split(right, op, out);
        }
        other => out.push(other),
    }
}

fn key_text(c: &Column) -> String {
    format!("`{}` {} KEY", c.name, c.ty)
}

/// A literal that can never equal a key of type `ty`: ksqlDB converts key literals to the
/// key's type up front and refuses those it cannot convert.
fn check_key_literal(key: &Column, literal: &Expr) -> Result<()> {
    match literal {
        Expr::Literal(Literal::Null) => Err(err(format!(
            "Primary key columns can not be NULL: ({} = null)",
            key.name
        ))),
        Expr::Literal(Literal::String(s)) if key.ty != SqlType::String => {
            Err(err(format!(
                "'{s}' can not be converted to the type of the key column: {} {} KEY",
                key.name, key.ty
            )))
        }
        _ => Ok(()),
    }
}

/// Checks a pull query's WHERE over table `source`.
pub(crate) fn check(source: &Source, where_clause: Option<&Expr>, scans: PullScans) -> Result<()> {
    let keys: Vec<&Column> = source.schema.keys().collect();
    // Key literals that can never match are refused whatever the scan settings.
    if let Some(w) = where_clause {
        let mut in_lists = Vec::new();
        walk(w, &mut |e| {
            if let Expr::InList {
                expr,
                list,
                negated: false,
            } = e
            {
                in_lists.push((&**expr, list));
            }
        });
        for (expr, list) in in_lists {
            if let Some(key) = key_column(source, expr) {
                for item in list {
                    check_key_literal(key, item)?;
                }
            }
        }
    }
    if scans.table_scan {
        return Ok(());
    }
    let Some(w) = where_clause else {
        return Err(err("Query requires table scan to be enabled"));
    };
    let mut disjuncts = Vec::new();
    split(w, BinaryOp::Or, &mut disjuncts);
    for disjunct in disjuncts {
        let mut conjuncts = Vec::new();
        split(disjunct, BinaryOp::And, &mut conjuncts);
        // Per key column: how many conditions, and whether all are `=`/IN.
        let mut bound: Vec<(usize, bool)> = vec![(0, true); keys.len()];
        let mut range_on_non_string = false;
        for c in &conjuncts {
            match c {
                Expr::Binary { op, left, right } if is_comparison(*op) => {
                    let (key, other) = match (key_column(source, left), key_column(source, right))
                    {
                        (Some(k), _) => (Some(k), &**right),
                        (None, Some(k)) => (Some(k), &**left),
                        (None, None) => (None, &**right),
                    };
                    let Some(key) = key else {
                        if has_key_column(source, left) || has_key_column(source, right) {
                            return Err(err("A comparison must directly reference a key column."));
                        }
                        continue;
                    };
                    if has_column(other) {
                        return Err(err(
                            "A comparison must be between a key column and a resolvable expression.",
                        ));
                    }
                    let i = keys
                        .iter()
                        .position(|k| k.name == key.name)
                        .expect("a key column of the source");
                    bound[i].0 += 1;
                    if *op != BinaryOp::Eq {
                        if *op == BinaryOp::NotEq || !scans.range_scan {
                            return Err(err(format!(
                                "Bound on key columns '[{}]' must currently be '='. ",
                                key_text(key)
                            )));
                        }
                        if source.window.is_some() {
                            // ksqlDB serves key ranges from non-windowed stores only: over a
                            // windowed table a key range is a table scan.
                            return Err(err("Query requires table scan to be enabled"));
                        }
                        bound[i].1 = false;
                        range_on_non_string |= key.ty != SqlType::String;
                    }
                }
                Expr::InList {
                    expr,
                    negated: false,
                    ..
                } => {
                    if let Some(key) = key_column(source, expr) {
                        let i = keys
                            .iter()
                            .position(|k| k.name == key.name)
                            .expect("a key column of the source");
                        bound[i].0 += 1;
                    }
                }
                Expr::Like { expr, pattern, .. } if !has_column(expr) && !has_column(pattern) => {
                    return Err(err("Like condition must be between strings"));
                }
                _ => {}
            }
        }
        if bound.iter().any(|(n, _)| *n > 1) {
            return Err(err(
                "A comparison condition on the key column cannot be combined with other comparisons such as an IN predicate",
            ));
        }
        if bound.iter().all(|(n, _)| *n == 0) {
            if keys.len() > 1 && conjuncts.iter().any(|c| has_key_column(source, c)) {
                return Err(err(
                    "Multi-column sources must specify every key in the WHERE clause.",
                ));
            }
            return Err(err(format!(
                "WHERE clause missing key column for disjunct: {disjunct}"
            )));
        }
        if bound.iter().any(|(n, _)| *n == 0) {
            return Err(err(
                "Multi-column sources must specify every key in the WHERE clause.",
            ));
        }
        let ranged = bound.iter().any(|(_, eq)| !eq);
        if ranged && (keys.len() > 1 || range_on_non_string) {
            return Err(err("Query requires table scan to be enabled"));
        }
    }
    Ok(())
}

/// The key tuples a pull query's WHERE pins every key column to (`k = literal`,
/// `k IN (literals)` in one conjunction), for point lookups; `None` when it is not such a
/// lookup (the query scans, with the WHERE as a filter either way).
pub(crate) fn lookup_keys(source: &Source, where_clause: Option<&Expr>) -> Option<Vec<Vec<Value>>> {
    let keys: Vec<&Column> = source.schema.keys().collect();
    if keys.is_empty() {
        return None;
    }
    let mut conjuncts = Vec::new();
    split(where_clause?, BinaryOp::And, &mut conjuncts);
    let mut per_key: Vec<Option<Vec<Value>>> = vec![None; keys.len()];
    for c in conjuncts {
        let Some((key, literals)) = key_binding(source, c) else {
            continue;
        };
        let i = keys.iter().position(|k| k.name == key.name)?;
        if per_key[i].is_some() {
            // Two conditions on one key: leave it to the filter.
            return None;
        }
        let values = literals
            .into_iter()
            .map(|e| literal_as(e, &key.ty))
            .collect::<Option<Vec<_>>>()?;
        per_key[i] = Some(values);
    }
    key_tuples(per_key.into_iter().collect::<Option<Vec<_>>>()?)
}

/// The key column a conjunct binds and the expressions it binds it to: `k = e` (or
/// `e = k`, `e` naming no key column) and `k IN (e, …)`.
fn key_binding<'a, 'e>(source: &'a Source, conjunct: &'e Expr) -> Option<(&'a Column, Vec<&'e Expr>)> {
    match conjunct {
        Expr::Binary {
            op: BinaryOp::Eq,
            left,
            right,
        } => match (key_column(source, left), key_column(source, right)) {
            (Some(k), None) => Some((k, vec![&**right])),
            (None, Some(k)) => Some((k, vec![&**left])),
            _ => None,
        },
        Expr::InList {
            expr,
            list,
            negated: false,
        } => Some((key_column(source, expr)?, list.iter().collect())),
        _ => None,
    }
}

/// Every combination of one value per key column (`per_key` in key order), the first key
/// varying slowest; `None` beyond [`LOOKUP_KEYS_MAX`] tuples.
pub(crate) fn key_tuples(per_key: Vec<Vec<Value>>) -> Option<Vec<Vec<Value>>> {
    let mut tuples: Vec<Vec<Value>> = vec![Vec::new()];
    for values in per_key {
        tuples = tuples
            .into_iter()
            .flat_map(|t| {
                values.iter().map(move |v| {
                    let mut t = t.clone();
                    t.push(v.clone());
                    t
                })
            })
            .collect();
        if tuples.len() > LOOKUP_KEYS_MAX {
            return None;
        }
    }
    Some(tuples)
}

/// Most key tuples a pull query looks up one by one; beyond it a scan is cheaper.
pub const LOOKUP_KEYS_MAX: usize = 10_000;

/// A WHERE that is nothing but key bindings, each key column once (`k = literal`,
/// `k IN (literals)`, joined by AND): per literal in source order, the index of the key
/// column it binds and the literal. `None` for any other WHERE, where the rows a lookup
/// finds still need the WHERE as a filter.
pub(crate) fn exact_key_bindings<'a>(
    source: &Source,
    where_clause: &'a Expr,
) -> Option<Vec<(usize, &'a Literal)>> {
    let keys: Vec<&Column> = source.schema.keys().collect();
    let mut conjuncts = Vec::new();
    split(where_clause, BinaryOp::And, &mut conjuncts);
    let mut bound = vec![false; keys.len()];
    let mut out = Vec::new();
    for c in conjuncts {
        let (key, literals) = key_binding(source, c)?;
        let i = keys.iter().position(|k| k.name == key.name)?;
        if std::mem::replace(&mut bound[i], true) {
            return None;
        }
        for e in literals {
            let Expr::Literal(lit) = e else {
                return None;
            };
            out.push((i, lit));
        }
    }
    bound.iter().all(|b| *b).then_some(out)
}

/// A literal as a value of key type `ty`, when it is one exactly (no lossy conversion).
fn literal_as(expr: &Expr, ty: &SqlType) -> Option<Value> {
    let Expr::Literal(lit) = expr else {
        return None;
    };
    literal_value_as(lit, ty)
}

/// [`literal_as`] for a literal on its own.
pub(crate) fn literal_value_as(lit: &Literal, ty: &SqlType) -> Option<Value> {
    match (lit, ty) {
        (Literal::String(s), SqlType::String) => Some(Value::String(s.clone())),
        (Literal::Boolean(b), SqlType::Boolean) => Some(Value::Boolean(*b)),
        (Literal::Integer(i), SqlType::Integer) => i32::try_from(*i).ok().map(Value::Integer),
        (Literal::Integer(i), SqlType::BigInt) => Some(Value::BigInt(*i)),
        _ => None,
    }
}

fn is_comparison(op: BinaryOp) -> bool {
    matches!(
        op,
        BinaryOp::Eq
            | BinaryOp::NotEq
            | BinaryOp::Lt
            | BinaryOp::LtEq
            | BinaryOp::Gt
            | BinaryOp::GtEq
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sql::ast::{SelectItem, Statement};
    use crate::statements::create::{plan_create, PersistenceConfig};

    fn table(ddl: &str) -> Source {
        let parsed = crate::sql::parse(ddl).unwrap().remove(0);
        let Statement::CreateSource(create) = parsed.statement else {
            panic!("not a CREATE");
        };
        plan_create(&create, &parsed.text, &PersistenceConfig::default())
            .unwrap()
            .source
    }

    fn where_of(sql: &str) -> Expr {
        let parsed = crate::sql::parse(sql).unwrap().remove(0);
        let Statement::Query(q) = parsed.statement else {
            panic!("not a query");
        };
        assert!(matches!(q.select[0], SelectItem::Wildcard));
        q.where_clause.expect("a WHERE")
    }

    fn outcome(source: &Source, sql: &str, table_scan: bool) -> std::result::Result<(), String> {
        let w = where_of(sql);
        let scans = PullScans {
            table_scan,
            range_scan: true,
        };
        check(source, Some(&w), scans).map_err(|e| e.to_string())
    }

    #[test]
    fn lookups_pass_and_scans_are_refused_when_disabled() {
        let t = table("CREATE TABLE T (ID STRING PRIMARY KEY, V INT) WITH (kafka_topic='t', value_format='JSON');");
        let ok = |sql| assert_eq!(outcome(&t, sql, false), Ok(()), "{sql}");
        ok("SELECT * FROM T WHERE ID = 'a';");
        ok("SELECT * FROM T WHERE ID IN ('a', 'b') AND V > 1;");
        ok("SELECT * FROM T WHERE ID < 'b';");
        let refused = |sql, want: &str| {
            let got = outcome(&t, sql, false).unwrap_err();
            assert!(got.starts_with(want), "{sql}: {got}");
        };
        refused("SELECT * FROM T WHERE V = 1;", "WHERE clause missing key column for disjunct: (V = 1)");
        refused("SELECT * FROM T WHERE ID != 'a';", "Bound on key columns '[`ID` STRING KEY]' must currently be '='.");
        refused("SELECT * FROM T WHERE ID = V;", "A comparison must be between a key column and a resolvable expression.");
        refused("SELECT * FROM T WHERE ID >= 'a' AND ID <= 'c';", "A comparison condition on the key column cannot be combined");
        assert_eq!(outcome(&t, "SELECT * FROM T WHERE V = 1;", true), Ok(()));
    }

    #[test]
    fn key_lookups_are_every_key_pinned_to_literals() {
        let t = table("CREATE TABLE T (A STRING PRIMARY KEY, B BIGINT PRIMARY KEY, V INT) WITH (kafka_topic='t', format='JSON');");
        let keys = |sql| lookup_keys(&t, Some(&where_of(sql)));
        assert_eq!(
            keys("SELECT * FROM T WHERE A IN ('x', 'y') AND B = 2 AND V > 0;"),
            Some(vec![
                vec![Value::String("x".into()), Value::BigInt(2)],
                vec![Value::String("y".into()), Value::BigInt(2)],
            ])
        );
        assert_eq!(keys("SELECT * FROM T WHERE A = 'x';"), None, "B is free: a scan");
        assert_eq!(keys("SELECT * FROM T WHERE A = 'x' OR B = 2;"), None);
        assert_eq!(keys("SELECT * FROM T WHERE A = 'x' AND B = 'no';"), None);
    }

    #[test]
    fn impossible_key_literals_are_refused_even_with_scans() {
        let t = table("CREATE TABLE T (ID INT PRIMARY KEY, V INT) WITH (kafka_topic='t', value_format='JSON');");
        assert_eq!(
            outcome(&t, "SELECT * FROM T WHERE ID IN ('10', 8);", true).unwrap_err(),
            "'10' can not be converted to the type of the key column: ID INTEGER KEY"
        );
        assert_eq!(
            outcome(&t, "SELECT * FROM T WHERE ID IN (NULL);", true).unwrap_err(),
            "Primary key columns can not be NULL: (ID = null)"
        );
    }
}
