//! Planning GROUP BY: which select items are the new key, which aggregate calls the query
//! makes, and how the projection and HAVING read the aggregate's output row.
//!
//! ```text
//!  SELECT k_expr AS K, f(x), SUM(y) + 1 FROM s GROUP BY k_expr HAVING COUNT(*) > 1
//!    group by:  [k_expr]                       → output slots 0..k
//!    calls:     [SUM(y), COUNT(*)]             → output slots k..k+n
//!    rewritten: K := $KEY0, f(x) := error (x is not grouped), SUM(y)+1 := $AGG0 + 1,
//!               HAVING $AGG1 > 1
//! ```
//!
//! ksqlDB's rules (its `AggregateAnalyzer` and KLIP-24, QTT `group-by.json`): every GROUP BY
//! expression must appear in the projection, where it names a key column (in GROUP BY order);
//! other items may use grouped expressions (whole, or inside larger expressions) and
//! aggregate calls, nothing else of the source row.

use std::collections::BTreeSet;

use crate::catalog::Source;
use crate::error::{EngineError, Result};
use crate::exec::aggregate::{is_aggregate, AggregateCall, EmitMode, Udaf, UdafConfig, WindowSpec};
use crate::exec::project::Projection;
use crate::expr::{compile, ColumnAliasGenerator, ColumnResolver, CompiledExpr};
use crate::sql::ast::{Emit, Expr, Query, SelectItem, SourceKind};
use crate::types::SqlType;

use super::select::SelectedColumn;

/// Prefix of the names the rewrite gives grouped expressions and aggregate calls; `$` can
/// never start a column name the parser accepts unquoted, and the resolver below is the
/// only one that knows them.
const KEY_PREFIX: &str = "$KEY";
const AGG_PREFIX: &str = "$AGG";
/// The windowed aggregate's WINDOWSTART and WINDOWEND, after the aggregate results.
const WINDOW_START: &str = "$WINDOWSTART";
const WINDOW_END: &str = "$WINDOWEND";

/// Who runs the aggregation: the rules on keys differ.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum AggregateMode<'a> {
    /// CTAS: GROUP BY is required and every grouped expression must be projected (it
    /// becomes a key column of the sink called `sink`).
    Persistent { sink: &'a str },
    /// A push query: results are rows, so keys need not be projected, and without GROUP BY
    /// every row falls in one group.
    Push,
}

/// What an aggregation reads: one source, or the rows of a join.
pub(crate) struct AggregateInput<'a> {
    /// A table's rows are changes (each aggregate's undo); a stream's are facts.
    pub(crate) kind: SourceKind,
    pub(crate) resolver: &'a dyn ColumnResolver,
    /// What `*` stands for, in order.
    pub(crate) star: Vec<Expr>,
    /// Column names a generated alias must not take.
    pub(crate) taken: Vec<String>,
    /// The name of an unaliased select item, where the input names it (a join prefixes a
    /// column several sources have); otherwise the alias generator's.
    pub(crate) item_name: &'a dyn Fn(&Expr) -> Option<String>,
}

impl<'a> AggregateInput<'a> {
    /// One source's columns, resolved by `resolver`.
    pub(crate) fn source(source: &Source, resolver: &'a dyn ColumnResolver) -> AggregateInput<'a> {
        AggregateInput {
            kind: source.kind,
            resolver,
            star: source
                .schema
                .columns
                .iter()
                .map(|c| Expr::Column {
                    qualifier: None,
                    name: c.name.clone(),
                })
                .collect(),
            taken: source.schema.columns.iter().map(|c| c.name.clone()).collect(),
            item_name: &|_| None,
        }
    }
}

/// An aggregation, planned up to the sink (whose key format the caller decides).
pub(crate) struct PlannedAggregate {
    pub(crate) group_by: Vec<CompiledExpr>,
    pub(crate) calls: Vec<AggregateCall>,
    pub(crate) having: Option<CompiledExpr>,
    /// Key columns in GROUP BY order, projecting the output row's key slots.
    pub(crate) keys: Vec<SelectedColumn>,
    /// Value columns in select order, over the output row.
    pub(crate) values: Vec<SelectedColumn>,
    /// Every select item in select order, over the output row (a push query's columns).
    pub(crate) all: Vec<SelectedColumn>,
    /// WINDOW, planned.
    pub(crate) window: Option<WindowSpec>,
}

/// Whether the query aggregates: GROUP BY, HAVING or an aggregate call in the select list.
pub(crate) fn is_aggregation(query: &Query) -> bool {
    !query.group_by.is_empty()
        || query.having.is_some()
        || query.select.iter().any(|item| match item {
            SelectItem::Expr { expr, .. } => contains_aggregate(expr),
            _ => false,
        })
}

fn contains_aggregate(expr: &Expr) -> bool {
    let mut found = false;
    visit(expr, &mut |e| {
        if let Expr::Function { name, .. } = e {
            found |= is_aggregate(name);
        }
    });
    found
}

/// Calls `f` on `expr` and every expression inside it.
fn visit(expr: &Expr, f: &mut dyn FnMut(&Expr)) {
    f(expr);
    let mut children = Vec::new();
    child_refs(expr, &mut children);
    for c in children {
        visit(c, f);
    }
}

fn child_refs<'a>(expr: &'a Expr, out: &mut Vec<&'a Expr>) {
    match expr {
        Expr::Column { .. } | Expr::Literal(_) | Expr::Star => {}
        Expr::Unary { expr, .. } | Expr::IsNull { expr, .. } | Expr::Cast { expr, .. } => {
            out.push(expr)
        }
        Expr::Binary { left, right, .. } | Expr::IsDistinctFrom { left, right, .. } => {
            out.push(left);
            out.push(right);
        }
        Expr::Between {
            expr, low, high, ..
        } => out.extend([&**expr, low, high]),
        Expr::InList { expr, list, .. } => {
            out.push(expr);
            out.extend(list);
        }
        Expr::Like { expr, pattern, .. } => out.extend([&**expr, pattern]),
        Expr::Case {
            operand,
            whens,
            else_result,
        } => {
            out.extend(operand.as_deref());
            for (w, t) in whens {
                out.push(w);
                out.push(t);
            }
            out.extend(else_result.as_deref());
        }
        Expr::Function { args, .. } => out.extend(args),
        Expr::Subscript { base, index } => out.extend([&**base, index]),
        Expr::Dereference { base, .. } => out.push(base),
        Expr::Array(items) => out.extend(items),
        Expr::Map(entries) => {
            for (k, v) in entries {
                out.push(k);
                out.push(v);
            }
        }
        Expr::Struct(fields) => out.extend(fields.iter().map(|(_, e)| e)),
        Expr::Lambda { body, .. } => out.push(body),
    }
}

/// Rebuilds `expr` bottom-up-first: `f` may replace a node (and its subtree) outright.
fn rewrite(expr: &Expr, f: &mut dyn FnMut(&Expr) -> Result<Option<Expr>>) -> Result<Expr> {
    if let Some(replaced) = f(expr)? {
        return Ok(replaced);
    }
    Ok(match expr {
        Expr::Column { .. } | Expr::Literal(_) | Expr::Star => expr.clone(),
        Expr::Unary { op, expr } => Expr::Unary {
            op: *op,
            expr: bx(expr, f)?,
        },
        Expr::IsNull { expr, negated } => Expr::IsNull {
            expr: bx(expr, f)?,
            negated: *negated,
        },
        Expr::Cast { expr, ty } => Expr::Cast {
            expr: bx(expr, f)?,
            ty: ty.clone(),
        },
        Expr::Binary { op, left, right } => Expr::Binary {
            op: *op,
            left: bx(left, f)?,
            right: bx(right, f)?,
        },
        Expr::IsDistinctFrom {
            left,
            right,
            negated,
        } => Expr::IsDistinctFrom {
            left: bx(left, f)?,
            right: bx(right, f)?,
            negated: *negated,
        },
        Expr::Between {
            expr,
            low,
            high,
            negated,
        } => Expr::Between {
            expr: bx(expr, f)?,
            low: bx(low, f)?,
            high: bx(high, f)?,
            negated: *negated,
        },
        Expr::InList {
            expr,
            list,
            negated,
        } => Expr::InList {
            expr: bx(expr, f)?,
            list: list.iter().map(|e| rewrite(e, f)).collect::<Result<_>>()?,
            negated: *negated,
        },
        Expr::Like {
            expr,
            pattern,
            escape,
            negated,
        } => Expr::Like {
            expr: bx(expr, f)?,
            pattern: bx(pattern, f)?,
            escape: *escape,
            negated: *negated,
        },
        Expr::Case {
            operand,
            whens,
            else_result,
        } => Expr::Case {
            operand: operand.as_deref().map(|e| bx(e, f)).transpose()?,
            whens: whens
                .iter()
                .map(|(w, t)| Ok((rewrite(w, f)?, rewrite(t, f)?)))
                .collect::<Result<_>>()?,
            else_result: else_result.as_deref().map(|e| bx(e, f)).transpose()?,
        },
        Expr::Function { name, args } => Expr::Function {
            name: name.clone(),
            args: args.iter().map(|e| rewrite(e, f)).collect::<Result<_>>()?,
        },
        Expr::Subscript { base, index } => Expr::Subscript {
            base: bx(base, f)?,
            index: bx(index, f)?,
        },
        Expr::Dereference { base, field } => Expr::Dereference {
            base: bx(base, f)?,
            field: field.clone(),
        },
        Expr::Array(items) => Expr::Array(items.iter().map(|e| rewrite(e, f)).collect::<Result<_>>()?),
        Expr::Map(entries) => Expr::Map(
            entries
                .iter()
                .map(|(k, v)| Ok((rewrite(k, f)?, rewrite(v, f)?)))
                .collect::<Result<_>>()?,
        ),
        Expr::Struct(fields) => Expr::Struct(
            fields
                .iter()
                .map(|(n, e)| Ok((n.clone(), rewrite(e, f)?)))
                .collect::<Result<_>>()?,
        ),
        Expr::Lambda { params, body } => Expr::Lambda {
            params: params.clone(),
            body: bx(body, f)?,
        },
    })
}

fn bx(e: &Expr, f: &mut dyn FnMut(&Expr) -> Result<Option<Expr>>) -> Result<Box<Expr>> {
    Ok(Box::new(rewrite(e, f)?))
}

/// Resolves the rewritten names to the aggregate's output row.
struct OutputResolver<'a> {
    key_types: &'a [SqlType],
    call_types: &'a [SqlType],
    windowed: bool,
}

impl ColumnResolver for OutputResolver<'_> {
    fn resolve(&self, qualifier: Option<&str>, name: &str) -> Option<(usize, SqlType)> {
        if qualifier.is_some() {
            return None;
        }
        if let Some(i) = name.strip_prefix(KEY_PREFIX) {
            let i: usize = i.parse().ok()?;
            return self.key_types.get(i).map(|t| (i, t.clone()));
        }
        let bounds = self.key_types.len() + self.call_types.len();
        match name {
            WINDOW_START if self.windowed => return Some((bounds, SqlType::BigInt)),
            WINDOW_END if self.windowed => return Some((bounds + 1, SqlType::BigInt)),
            _ => {}
        }
        let j: usize = name.strip_prefix(AGG_PREFIX)?.parse().ok()?;
        self.call_types
            .get(j)
            .map(|t| (self.key_types.len() + j, t.clone()))
    }
}

/// The rewritten name of grouped expression or call `i`; `usize::MAX` names `prefix` alone.
fn synthetic(prefix: &str, i: usize) -> Expr {
    Expr::Column {
        qualifier: None,
        name: if i == usize::MAX {
            prefix.to_string()
        } else {
            format!("{prefix}{i}")
        },
    }
}

/// The planner's state while it walks the select list and HAVING.
struct Binder<'a> {
    resolver: &'a dyn ColumnResolver,
    group_by: &'a [Expr],
    /// Slot of each GROUP BY expression that is a plain column.
    group_slots: Vec<Option<usize>>,
    call_exprs: Vec<Expr>,
    calls: Vec<AggregateCall>,
    config: UdafConfig,
    /// WINDOWSTART and WINDOWEND name the output row's window bounds.
    windowed: bool,
}

impl Binder<'_> {
    fn slot_of(&self, expr: &Expr) -> Option<usize> {
        match expr {
            Expr::Column { qualifier, name } => self
                .resolver
                .resolve(qualifier.as_deref(), name)
                .map(|(i, _)| i),
            _ => None,
        }
    }

    /// The GROUP BY expression `expr` is, if any.
    fn group_index(&self, expr: &Expr) -> Option<usize> {
        let slot = self.slot_of(expr);
        self.group_by.iter().enumerate().find_map(|(i, g)| {
            let same = match (slot, self.group_slots[i]) {
                (Some(a), Some(b)) => a == b,
                _ => g == expr,
            };
            same.then_some(i)
        })
    }

    /// The index of the aggregate call `expr` (planned once per distinct call).
    fn call_index(&mut self, name: &str, args: &[Expr], expr: &Expr) -> Result<usize> {
        if let Some(i) = self.call_exprs.iter().position(|e| e == expr) {
            return Ok(i);
        }
        for a in args {
            if contains_aggregate(a) {
                return Err(EngineError::statement(format!(
                    "Aggregate functions can not be nested: {expr}"
                )));
            }
        }
        let star = matches!(args, [] | [Expr::Star]);
        let args: &[Expr] = if star { &[] } else { args };
        let mut types = Vec::with_capacity(args.len());
        let mut constants = Vec::with_capacity(args.len());
        let mut compiled = Vec::with_capacity(args.len());
        for a in args {
            let c = compile(a, self.resolver)?;
            types.push(c.sql_type().clone());
            constants.push(if c.is_constant() { c.eval(&[]).ok() } else { None });
            compiled.push(c);
        }
        let udaf = Udaf::resolve(name, &types, &constants, star, self.config)?;
        compiled.truncate(udaf.row_args());
        self.call_exprs.push(expr.clone());
        self.calls.push(AggregateCall {
            udaf,
            args: compiled,
        });
        Ok(self.calls.len() - 1)
    }

    /// `expr` with grouped expressions and aggregate calls replaced by output slots.
    fn bind(&mut self, expr: &Expr) -> Result<Expr> {
        rewrite(expr, &mut |e| {
            if let (true, Expr::Column { name, .. }) = (self.windowed, e) {
                match name.as_str() {
                    "WINDOWSTART" => return Ok(Some(synthetic(WINDOW_START, usize::MAX))),
                    "WINDOWEND" => return Ok(Some(synthetic(WINDOW_END, usize::MAX))),
                    _ => {}
                }
            }
            if let Some(i) = self.group_index(e) {
                return Ok(Some(synthetic(KEY_PREFIX, i)));
            }
            if let Expr::Function { name, args } = e {
                if is_aggregate(name) {
                    let j = self.call_index(name, args, e)?;
                    return Ok(Some(synthetic(AGG_PREFIX, j)));
                }
            }
            Ok(None)
        })
    }
}

/// Source columns a rewritten expression still reads: what is neither grouped nor
/// aggregated (lambda parameters excepted).
fn ungrouped_columns(expr: &Expr) -> BTreeSet<String> {
    let mut lambda_params = BTreeSet::new();
    visit(expr, &mut |e| {
        if let Expr::Lambda { params, .. } = e {
            lambda_params.extend(params.iter().cloned());
        }
    });
    let mut out = BTreeSet::new();
    visit(expr, &mut |e| {
        if let Expr::Column { qualifier, name } = e {
            if !name.starts_with('$') && !lambda_params.contains(name) {
                out.insert(match qualifier {
                    Some(q) => format!("{q}.{name}"),
                    None => name.clone(),
                });
            }
        }
    });
    out
}

pub(crate) fn plan_aggregate(
    query: &Query,
    input: &AggregateInput<'_>,
    mode: AggregateMode<'_>,
    config: UdafConfig,
) -> Result<PlannedAggregate> {
    let window = match &query.window {
        // ksqlDB's analyzer: suppression needs windows that close.
        None if query.emit == Some(Emit::Final) => {
            return Err(EngineError::statement(
                "EMIT FINAL is only supported for windowed aggregations.",
            ))
        }
        None => None,
        Some(w) => {
            if input.kind == SourceKind::Table {
                // ksqlDB's `AggregateNode`: windows apply to streams only.
                return Err(EngineError::statement(
                    "Windowing not supported for table aggregations.",
                ));
            }
            let emit = match query.emit {
                Some(Emit::Final) => EmitMode::Final,
                _ => EmitMode::Changes,
            };
            Some(WindowSpec::plan(w, emit)?)
        }
    };
    if query.group_by.is_empty() && mode != AggregateMode::Push {
        return Err(EngineError::statement(
            "Use of aggregate function requires a GROUP BY clause.",
        ));
    }
    let resolver = input.resolver;
    let group_by = query
        .group_by
        .iter()
        .map(|g| compile(g, resolver))
        .collect::<Result<Vec<_>>>()?;
    let mut binder = Binder {
        resolver,
        group_by: &query.group_by,
        group_slots: Vec::new(),
        call_exprs: Vec::new(),
        calls: Vec::new(),
        config,
        windowed: window.is_some(),
    };
    binder.group_slots = query.group_by.iter().map(|g| binder.slot_of(g)).collect();

    // The select list as (expression, alias), `*` expanded to the source's columns.
    let mut items: Vec<(Expr, Option<String>)> = Vec::new();
    for item in &query.select {
        match item {
            SelectItem::Wildcard | SelectItem::QualifiedWildcard(_) => {
                items.extend(input.star.iter().map(|e| (e.clone(), None)));
            }
            SelectItem::StructAll(_) => {
                return Err(EngineError::unsupported(
                    "STRUCT->* is not supported with GROUP BY yet",
                ))
            }
            SelectItem::Expr { expr, alias } => items.push((expr.clone(), alias.clone())),
        }
    }
    let mut aliases = ColumnAliasGenerator::new(input.taken.iter().map(String::as_str));
    let names: Vec<String> = items
        .iter()
        .map(|(e, a)| {
            a.clone()
                .or_else(|| (input.item_name)(e))
                .unwrap_or_else(|| aliases.alias_for(e))
        })
        .collect();

    let mut bound = Vec::with_capacity(items.len());
    let mut ungrouped = BTreeSet::new();
    for (expr, _) in &items {
        let b = binder.bind(expr)?;
        ungrouped.extend(ungrouped_columns(&b));
        bound.push(b);
    }
    if !ungrouped.is_empty() {
        let list: Vec<String> = ungrouped.into_iter().collect();
        return Err(EngineError::statement(format!(
            "Non-aggregate SELECT expression(s) not part of GROUP BY: {}\nEither add the column to the GROUP BY or remove it from the SELECT.",
            list.join(", ")
        )));
    }
    let having = match &query.having {
        None => None,
        Some(h) => {
            let mut bound = None;
            visit(h, &mut |e| {
                if let Expr::Column { name, .. } = e {
                    if name == "WINDOWSTART" || name == "WINDOWEND" {
                        bound.get_or_insert_with(|| name.clone());
                    }
                }
            });
            if let Some(bound) = bound {
                return Err(EngineError::statement(format!(
                    "Window bounds column {bound} can only be used in the SELECT clause of windowed aggregations and can not be passed to aggregate functions."
                )));
            }
            let b = binder.bind(h)?;
            let missing = ungrouped_columns(&b);
            if !missing.is_empty() {
                let list: Vec<String> = missing.into_iter().collect();
                return Err(EngineError::statement(format!(
                    "Non-aggregate HAVING expression not part of GROUP BY: {}",
                    list.join(", ")
                )));
            }
            Some(b)
        }
    };
    if binder.calls.is_empty() && query.having.is_none() {
        // ksqlDB accepts a GROUP BY without aggregates only with some aggregate somewhere.
        return Err(EngineError::statement(
            "GROUP BY requires aggregate functions in either the SELECT or HAVING clause.",
        ));
    }
    let key_types: Vec<SqlType> = group_by.iter().map(|g| g.sql_type().clone()).collect();
    let call_types: Vec<SqlType> = binder
        .calls
        .iter()
        .map(|c| c.udaf.result_type().clone())
        .collect();
    let output = OutputResolver {
        key_types: &key_types,
        call_types: &call_types,
        windowed: window.is_some(),
    };
    let having = match having {
        None => None,
        Some(h) => {
            let c = compile(&h, &output)?;
            if *c.sql_type() != SqlType::Boolean {
                return Err(EngineError::statement(format!(
                    "Type error in HAVING expression: Should evaluate to boolean but is {} instead.",
                    c.sql_type()
                )));
            }
            Some(c)
        }
    };

    // Key columns: the first select item that is each GROUP BY expression, in GROUP BY order.
    let mut key_items: Vec<Option<usize>> = vec![None; query.group_by.len()];
    for (n, b) in bound.iter().enumerate() {
        if let Expr::Column { qualifier: None, name } = b {
            if let Some(i) = name.strip_prefix(KEY_PREFIX).and_then(|i| i.parse::<usize>().ok()) {
                if key_items[i].is_none() {
                    key_items[i] = Some(n);
                }
            }
        }
    }
    let missing: Vec<String> = key_items
        .iter()
        .zip(&query.group_by)
        .filter(|(k, _)| k.is_none())
        .map(|(_, g)| g.to_string())
        .collect();
    if let (false, AggregateMode::Persistent { sink: sink_name }) = (missing.is_empty(), mode) {
        let (what, list) = match missing.as_slice() {
            [one] => ("grouping expression".to_string(), one.clone()),
            _ => ("grouping expressions".to_string(), missing.join(" and ")),
        };
        return Err(EngineError::statement(format!(
            "Key missing from projection (ie, SELECT).\nThe query used to build `{sink_name}` must include the {what} {list} in its projection (eg, SELECT {}...).",
            missing.join(", ")
        )));
    }
    let mut all = Vec::with_capacity(bound.len());
    for (n, b) in bound.iter().enumerate() {
        let compiled = compile(b, &output)?;
        all.push(SelectedColumn {
            name: names[n].clone(),
            ty: compiled.sql_type().clone(),
            projection: match output.resolve_plain(b) {
                Some(slot) => Projection::Column(slot),
                None => Projection::Expr(compiled),
            },
            expr: Some(items[n].0.clone()),
            slot: None,
            from_wildcard: false,
        });
    }
    let key_positions: Vec<usize> = key_items.into_iter().flatten().collect();
    let mut keys = Vec::with_capacity(key_positions.len());
    for (i, &n) in key_positions.iter().enumerate() {
        keys.push(SelectedColumn {
            name: names[n].clone(),
            ty: key_types[i].clone(),
            projection: Projection::Column(i),
            expr: Some(items[n].0.clone()),
            slot: None,
            from_wildcard: false,
        });
    }
    let mut values = Vec::new();
    for (n, b) in bound.iter().enumerate() {
        if key_positions.contains(&n) {
            continue;
        }
        let compiled = compile(b, &output)?;
        let projection = match output.resolve_plain(b) {
            Some(slot) => Projection::Column(slot),
            None => Projection::Expr(compiled.clone()),
        };
        values.push(SelectedColumn {
            name: names[n].clone(),
            ty: compiled.sql_type().clone(),
            projection,
            expr: Some(items[n].0.clone()),
            slot: None,
            from_wildcard: false,
        });
    }
    Ok(PlannedAggregate {
        group_by,
        calls: binder.calls,
        having,
        keys,
        values,
        all,
        window,
    })
}

impl OutputResolver<'_> {
    /// The output slot a rewritten expression copies, when it is a plain slot reference.
    fn resolve_plain(&self, expr: &Expr) -> Option<usize> {
        match expr {
            Expr::Column { qualifier, name } => {
                self.resolve(qualifier.as_deref(), name).map(|(i, _)| i)
            }
            _ => None,
        }
    }
}
