//! ksqlDB's built-in aggregate functions: how each starts, takes a row (`add`), gives one
//! back when a table row changes (`undo`, for the functions ksqlDB can aggregate tables
//! with), and what it shows (`result`).
//!
//! An accumulator is a [`Value`], so every function's state goes through one codec into the
//! state store. Result types, null rules and limits are ksqlDB 0.28's, as its QTT cases pin
//! them down (`*-udaf.json`, `collect-*.json`, `topk-*.json`, `histogram.json`, `attr.json`):
//! - COUNT(x) counts non-null `x`; `COUNT(*)`, `COUNT()` and `COUNT(<literal>)` count rows.
//! - SUM starts at 0 of its type (INT wraps like a Java int), ignores nulls.
//! - AVG is a DOUBLE over the non-null values, 0.0 before any.
//! - MIN/MAX, TOPK, TOPKDISTINCT, HISTOGRAM, COUNT_DISTINCT, CORRELATION ignore nulls;
//!   COLLECT_LIST keeps them; ATTR counts NULL as one more distinct value.
//! - COUNT_DISTINCT is exact for a group's first 512 distinct values, then a HyperLogLog
//!   estimate in bounded state, as ksqlDB's is an estimate (`distinct`).
//! - EARLIEST/LATEST_BY_OFFSET ignore nulls unless told not to; the `n` forms give arrays.
//! - STDDEV_SAMP gives the sample *variance* in ksqlDB 0.28 (its QTT case
//!   `standarddeviation.json` expects it); STDDEV_SAMPLE the sample deviation.

mod distinct;

use std::cmp::Ordering;

use crate::error::{EngineError, Result};
use crate::expr::compare::{equals, order};
use crate::expr::decimal::{self, DecType};
use crate::types::{SqlType, StructField, Value};

/// COLLECT_LIST / COLLECT_SET / HISTOGRAM entries kept per group by default
/// (`ksql.functions.collect_list.limit` and friends default to 1000 in ksqlDB).
pub const COLLECTION_ENTRIES_DEFAULT: usize = 1000;

/// Largest `n` / `k` accepted by the `n` forms of EARLIEST/LATEST_BY_OFFSET and by TOPK: each
/// group keeps that many values, so the bound keeps one group's state small.
pub const TOP_N_MAX: usize = 1000;

#[derive(Debug, Clone, PartialEq)]
enum Kind {
    /// `star`: count rows, not non-null values.
    Count { star: bool },
    CountDistinct,
    Sum,
    /// SUM_LIST(array): the sum of each array's non-null elements.
    SumList,
    Avg,
    Min,
    Max,
    CollectList { limit: usize },
    CollectSet { limit: usize },
    ByOffset {
        latest: bool,
        /// `None`: the single-value form.
        n: Option<usize>,
        ignore_nulls: bool,
    },
    /// TOPK / TOPKDISTINCT; `extra` columns ride along in a struct with the sort column.
    TopK { k: usize, distinct: bool, extra: usize },
    Histogram { limit: usize },
    Variance { kind: VarianceKind },
    Correlation,
    Attr,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum VarianceKind {
    /// ksqlDB 0.28's STDDEV_SAMP: the sample variance.
    StddevSampAsVariance,
    StddevSample,
    StddevPop,
    VarSamp,
    VarPop,
}

/// One resolved aggregate call: its function, with its constant parameters bound.
#[derive(Debug, Clone, PartialEq)]
pub struct Udaf {
    /// The function's name, upper case (for messages).
    name: String,
    kind: Kind,
    /// How many leading arguments are evaluated per row (the rest were constants).
    row_args: usize,
    result: SqlType,
}

/// Names of ksqlDB's built-in aggregate functions, upper case.
const NAMES: &[&str] = &[
    "COUNT",
    "COUNT_DISTINCT",
    "SUM",
    "SUM_LIST",
    "AVG",
    "MIN",
    "MAX",
    "COLLECT_LIST",
    "COLLECT_SET",
    "EARLIEST_BY_OFFSET",
    "LATEST_BY_OFFSET",
    "TOPK",
    "TOPKDISTINCT",
    "HISTOGRAM",
    "STDDEV_SAMP",
    "STDDEV_SAMPLE",
    "STDDEV_POP",
    "VAR_SAMP",
    "VAR_POP",
    "CORRELATION",
    "ATTR",
];

/// Whether `name` (any case) is an aggregate function.
pub fn is_aggregate(name: &str) -> bool {
    NAMES.iter().any(|n| n.eq_ignore_ascii_case(name))
}

/// How many of a call's arguments are evaluated per row; the rest must be literals.
pub fn row_arg_count(name: &str, args: usize) -> usize {
    match name.to_ascii_uppercase().as_str() {
        "CORRELATION" => args.min(2),
        "TOPK" | "TOPKDISTINCT" => args.saturating_sub(1).max(1).min(args),
        "COUNT" => args.min(1),
        _ => args.min(1),
    }
}

/// Options the request's properties set (`ksql.functions.*.limit`).
#[derive(Debug, Clone, Copy)]
pub struct UdafConfig {
    pub collect_list_limit: usize,
    pub collect_set_limit: usize,
}

impl Default for UdafConfig {
    fn default() -> Self {
        UdafConfig {
            collect_list_limit: COLLECTION_ENTRIES_DEFAULT,
            collect_set_limit: COLLECTION_ENTRIES_DEFAULT,
        }
    }
}

fn bad_args(name: &str, types: &[SqlType]) -> EngineError {
    let list: Vec<String> = types.iter().map(ToString::to_string).collect();
    EngineError::statement(format!(
        "Function '{name}' does not accept parameters ({}).",
        list.join(", ")
    ))
}

fn numeric(ty: &SqlType) -> bool {
    matches!(
        ty,
        SqlType::Integer | SqlType::BigInt | SqlType::Double | SqlType::Decimal { .. }
    )
}

fn comparable(ty: &SqlType) -> bool {
    !matches!(ty, SqlType::Array(_) | SqlType::Map(..) | SqlType::Struct(_))
}

fn const_usize(name: &str, v: Option<&Value>) -> Result<usize> {
    let n = match v {
        Some(Value::Integer(i)) => i64::from(*i),
        Some(Value::BigInt(i)) => *i,
        _ => {
            return Err(EngineError::statement(format!(
                "Function '{name}' expects an integer literal parameter."
            )))
        }
    };
    if n <= 0 || n as usize > TOP_N_MAX {
        return Err(EngineError::statement(format!(
            "{name} parameter must be between 1 and {TOP_N_MAX}, got {n}."
        )));
    }
    Ok(n as usize)
}

fn const_bool(name: &str, v: Option<&Value>) -> Result<bool> {
    match v {
        Some(Value::Boolean(b)) => Ok(*b),
        _ => Err(EngineError::statement(format!(
            "Function '{name}' expects a boolean literal parameter."
        ))),
    }
}

impl Udaf {
    /// Resolves `name` over arguments of `types`; `constants` holds each argument's literal
    /// value where it is one. `count_star`: the call was `COUNT(*)` or `COUNT()`.
    pub fn resolve(
        name: &str,
        types: &[SqlType],
        constants: &[Option<Value>],
        count_star: bool,
        config: UdafConfig,
    ) -> Result<Udaf> {
        let upper = name.to_ascii_uppercase();
        let row_args = if count_star {
            0
        } else {
            row_arg_count(&upper, types.len())
        };
        let bad = || bad_args(&upper, types);
        let first = types.first();
        let (kind, result) = match upper.as_str() {
            "COUNT" => {
                if types.len() > 1 {
                    return Err(bad());
                }
                // COUNT(1) counts rows: a non-null literal is never null.
                let star = count_star || constants.first().is_some_and(|c| c.as_ref().is_some_and(|v| !v.is_null()));
                (Kind::Count { star }, SqlType::BigInt)
            }
            "COUNT_DISTINCT" => match types {
                [_] => (Kind::CountDistinct, SqlType::BigInt),
                _ => return Err(bad()),
            },
            "SUM" => match types {
                [t] if numeric(t) => (Kind::Sum, t.clone()),
                _ => return Err(bad()),
            },
            "SUM_LIST" => match types {
                [SqlType::Array(t)] if numeric(t) && !matches!(**t, SqlType::Decimal { .. }) => {
                    (Kind::SumList, (**t).clone())
                }
                _ => return Err(bad()),
            },
            "AVG" => match types {
                [t] if numeric(t) => (Kind::Avg, SqlType::Double),
                _ => return Err(bad()),
            },
            "MIN" | "MAX" => match types {
                [t] if comparable(t) && *t != SqlType::Boolean => {
                    let kind = if upper == "MIN" { Kind::Min } else { Kind::Max };
                    (kind, t.clone())
                }
                _ => return Err(bad()),
            },
            "COLLECT_LIST" => match types {
                [t] => (
                    Kind::CollectList {
                        limit: config.collect_list_limit,
                    },
                    SqlType::Array(Box::new(t.clone())),
                ),
                _ => return Err(bad()),
            },
            "COLLECT_SET" => match types {
                [t] => (
                    Kind::CollectSet {
                        limit: config.collect_set_limit,
                    },
                    SqlType::Array(Box::new(t.clone())),
                ),
                _ => return Err(bad()),
            },
            "EARLIEST_BY_OFFSET" | "LATEST_BY_OFFSET" => {
                let latest = upper == "LATEST_BY_OFFSET";
                let t = first.ok_or_else(bad)?.clone();
                let (n, ignore_nulls) = match &types[1..] {
                    [] => (None, true),
                    [SqlType::Boolean] => (None, const_bool(&upper, constants[1].as_ref())?),
                    [SqlType::Integer | SqlType::BigInt] => {
                        (Some(const_usize(&upper, constants[1].as_ref())?), true)
                    }
                    [SqlType::Integer | SqlType::BigInt, SqlType::Boolean] => (
                        Some(const_usize(&upper, constants[1].as_ref())?),
                        const_bool(&upper, constants[2].as_ref())?,
                    ),
                    _ => return Err(bad()),
                };
                let result = match n {
                    Some(_) => SqlType::Array(Box::new(t)),
                    None => t,
                };
                (
                    Kind::ByOffset {
                        latest,
                        n,
                        ignore_nulls,
                    },
                    result,
                )
            }
            "TOPK" | "TOPKDISTINCT" => {
                let distinct = upper == "TOPKDISTINCT";
                if types.len() < 2 || (distinct && types.len() != 2) {
                    return Err(bad());
                }
                let sort = &types[0];
                if !comparable(sort) || *sort == SqlType::Boolean {
                    return Err(bad());
                }
                let k = const_usize(&upper, constants[types.len() - 1].as_ref())?;
                let extra = types.len() - 2;
                let element = if extra == 0 {
                    sort.clone()
                } else {
                    let mut fields = vec![StructField {
                        name: "sort_col".into(),
                        ty: sort.clone(),
                    }];
                    for (i, t) in types[1..types.len() - 1].iter().enumerate() {
                        fields.push(StructField {
                            name: format!("col{i}"),
                            ty: t.clone(),
                        });
                    }
                    SqlType::Struct(fields)
                };
                (
                    Kind::TopK { k, distinct, extra },
                    SqlType::Array(Box::new(element)),
                )
            }
            "HISTOGRAM" => match types {
                [SqlType::String] => (
                    Kind::Histogram {
                        limit: COLLECTION_ENTRIES_DEFAULT,
                    },
                    SqlType::Map(Box::new(SqlType::String), Box::new(SqlType::BigInt)),
                ),
                _ => return Err(bad()),
            },
            "STDDEV_SAMP" | "STDDEV_SAMPLE" | "STDDEV_POP" | "VAR_SAMP" | "VAR_POP" => {
                let kind = match upper.as_str() {
                    "STDDEV_SAMP" => VarianceKind::StddevSampAsVariance,
                    "STDDEV_SAMPLE" => VarianceKind::StddevSample,
                    "STDDEV_POP" => VarianceKind::StddevPop,
                    "VAR_SAMP" => VarianceKind::VarSamp,
                    _ => VarianceKind::VarPop,
                };
                match types {
                    [t] if numeric(t) => (Kind::Variance { kind }, SqlType::Double),
                    _ => return Err(bad()),
                }
            }
            "CORRELATION" => match types {
                [x, y] if numeric(x) && numeric(y) => (Kind::Correlation, SqlType::Double),
                _ => return Err(bad()),
            },
            "ATTR" => match types {
                [t] => (Kind::Attr, t.clone()),
                _ => return Err(bad()),
            },
            _ => {
                return Err(EngineError::statement(format!(
                    "Can't find any functions with the name '{upper}'"
                )))
            }
        };
        // Constant parameters beyond the row arguments must be literals.
        if constants[row_args.min(constants.len())..]
            .iter()
            .any(Option::is_none)
        {
            return Err(EngineError::statement(format!(
                "Function '{upper}' expects literal parameters after its column argument."
            )));
        }
        Ok(Udaf {
            name: upper,
            kind,
            row_args,
            result,
        })
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn row_args(&self) -> usize {
        self.row_args
    }

    pub fn result_type(&self) -> &SqlType {
        &self.result
    }

    /// Whether ksqlDB can aggregate a table with it (it implements `TableUdaf`).
    pub fn undoable(&self) -> bool {
        matches!(
            self.kind,
            Kind::Count { .. }
                | Kind::Sum
                | Kind::SumList
                | Kind::Avg
                | Kind::CollectList { .. }
                | Kind::CollectSet { .. }
                | Kind::Histogram { .. }
                | Kind::Variance { .. }
                | Kind::Correlation
                | Kind::Attr
        )
    }

    /// The accumulator of a group that has seen no rows.
    pub fn init(&self) -> Value {
        match &self.kind {
            Kind::Count { .. } => Value::BigInt(0),
            Kind::Sum | Kind::SumList => zero(&self.result),
            Kind::Avg => Value::Array(vec![Value::Double(0.0), Value::BigInt(0)]),
            Kind::Min | Kind::Max => Value::Null,
            Kind::CountDistinct => distinct::init(),
            Kind::CollectList { .. } | Kind::CollectSet { .. } | Kind::TopK { .. } => {
                Value::Array(Vec::new())
            }
            Kind::ByOffset { n: None, .. } => Value::Array(vec![Value::Boolean(false), Value::Null]),
            Kind::ByOffset { n: Some(_), .. } => Value::Array(Vec::new()),
            Kind::Histogram { .. } | Kind::Attr => Value::Map(Vec::new()),
            Kind::Variance { .. } => {
                Value::Array(vec![Value::BigInt(0), Value::Double(0.0), Value::Double(0.0)])
            }
            Kind::Correlation => Value::Array(vec![Value::Double(0.0); 6]),
        }
    }

    /// Adds one row's arguments (`args.len() == row_args`) to `acc`.
    pub fn add(&self, acc: &mut Value, args: &[Value]) -> Result<()> {
        let x = args.first().unwrap_or(&Value::Null);
        match &self.kind {
            Kind::Count { star } => {
                if *star || !x.is_null() {
                    bump(acc, 1);
                }
            }
            Kind::CountDistinct => {
                if !x.is_null() {
                    distinct::add(acc, x);
                }
            }
            Kind::Sum => {
                if !x.is_null() {
                    *acc = plus(acc, x, &self.result, false)?;
                }
            }
            Kind::SumList => {
                if let Value::Array(xs) = x {
                    for v in xs.iter().filter(|v| !v.is_null()) {
                        *acc = plus(acc, v, &self.result, false)?;
                    }
                }
            }
            Kind::Avg => {
                if let Some(f) = to_f64(x) {
                    let parts = items(acc);
                    parts[0] = Value::Double(as_double(&parts[0]) + f);
                    bump(&mut parts[1], 1);
                }
            }
            Kind::Min | Kind::Max => {
                if !x.is_null() {
                    let want = if self.kind == Kind::Min {
                        Ordering::Less
                    } else {
                        Ordering::Greater
                    };
                    if acc.is_null() || order(x, acc) == Some(want) {
                        *acc = x.clone();
                    }
                }
            }
            Kind::CollectList { limit } => {
                let list = items(acc);
                if list.len() < *limit {
                    list.push(x.clone());
                }
            }
            Kind::CollectSet { limit } => {
                let set = items(acc);
                if set.len() < *limit && !set.iter().any(|v| same(v, x)) {
                    set.push(x.clone());
                }
            }
            Kind::ByOffset {
                latest,
                n,
                ignore_nulls,
            } => {
                if x.is_null() && *ignore_nulls {
                    return Ok(());
                }
                let slots = items(acc);
                match n {
                    None => {
                        let seen = matches!(slots[0], Value::Boolean(true));
                        if *latest || !seen {
                            slots[0] = Value::Boolean(true);
                            slots[1] = x.clone();
                        }
                    }
                    Some(n) => {
                        if *latest {
                            slots.push(x.clone());
                            if slots.len() > *n {
                                slots.remove(0);
                            }
                        } else if slots.len() < *n {
                            slots.push(x.clone());
                        }
                    }
                }
            }
            Kind::TopK { k, distinct, extra } => {
                if x.is_null() {
                    return Ok(());
                }
                let entry = if *extra == 0 {
                    x.clone()
                } else {
                    let mut fields = vec![("sort_col".to_string(), x.clone())];
                    for (i, v) in args[1..].iter().enumerate() {
                        fields.push((format!("col{i}"), v.clone()));
                    }
                    Value::Struct(fields)
                };
                let sort_of = |v: &Value| -> Value {
                    match v {
                        Value::Struct(f) if *extra > 0 => f[0].1.clone(),
                        other => other.clone(),
                    }
                };
                let list = items(acc);
                if *distinct && list.iter().any(|v| equals(v, x)) {
                    return Ok(());
                }
                // After every value not smaller: equal values keep their arrival order.
                let at = list
                    .iter()
                    .position(|v| order(&sort_of(v), x) == Some(Ordering::Less))
                    .unwrap_or(list.len());
                if at < *k {
                    list.insert(at, entry);
                    list.truncate(*k);
                }
            }
            Kind::Histogram { limit } => {
                if !x.is_null() {
                    let map = entries(acc);
                    match map.iter().position(|(k, _)| equals(k, x)) {
                        Some(at) => bump(&mut map[at].1, 1),
                        None if map.len() < *limit => map.push((x.clone(), Value::BigInt(1))),
                        None => {}
                    }
                }
            }
            Kind::Variance { .. } => {
                if let Some(f) = to_f64(x) {
                    welford(acc, f, 1.0);
                }
            }
            Kind::Correlation => {
                let y = args.get(1).unwrap_or(&Value::Null);
                if let (Some(a), Some(b)) = (to_f64(x), to_f64(y)) {
                    correlation_step(acc, a, b, 1.0);
                }
            }
            Kind::Attr => {
                let map = entries(acc);
                match map.iter_mut().find(|(k, _)| same(k, x)) {
                    Some((_, count)) => bump(count, 1),
                    None => map.push((x.clone(), Value::BigInt(1))),
                }
            }
        }
        Ok(())
    }

    /// Takes back one row's arguments that an earlier `add` added (a table row that changed
    /// or was deleted). Only for [`Udaf::undoable`] functions.
    pub fn undo(&self, acc: &mut Value, args: &[Value]) -> Result<()> {
        let x = args.first().unwrap_or(&Value::Null);
        match &self.kind {
            Kind::Count { star } => {
                if *star || !x.is_null() {
                    bump(acc, -1);
                }
            }
            Kind::Sum => {
                if !x.is_null() {
                    *acc = plus(acc, x, &self.result, true)?;
                }
            }
            Kind::SumList => {
                if let Value::Array(xs) = x {
                    for v in xs.iter().filter(|v| !v.is_null()) {
                        *acc = plus(acc, v, &self.result, true)?;
                    }
                }
            }
            Kind::Avg => {
                if let Some(f) = to_f64(x) {
                    let parts = items(acc);
                    parts[0] = Value::Double(as_double(&parts[0]) - f);
                    bump(&mut parts[1], -1);
                }
            }
            Kind::CollectList { .. } | Kind::CollectSet { .. } => {
                let list = items(acc);
                if let Some(at) = list.iter().position(|v| same(v, x)) {
                    list.remove(at);
                }
            }
            Kind::Histogram { .. } | Kind::Attr => {
                if x.is_null() && matches!(self.kind, Kind::Histogram { .. }) {
                    return Ok(());
                }
                let map = entries(acc);
                if let Some(at) = map.iter().position(|(k, _)| same(k, x)) {
                    bump(&mut map[at].1, -1);
                    if matches!(map[at].1, Value::BigInt(n) if n <= 0) {
                        map.remove(at);
                    }
                }
            }
            Kind::Variance { .. } => {
                if let Some(f) = to_f64(x) {
                    welford(acc, f, -1.0);
                }
            }
            Kind::Correlation => {
                let y = args.get(1).unwrap_or(&Value::Null);
                if let (Some(a), Some(b)) = (to_f64(x), to_f64(y)) {
                    correlation_step(acc, a, b, -1.0);
                }
            }
            Kind::CountDistinct
            | Kind::Min
            | Kind::Max
            | Kind::ByOffset { .. }
            | Kind::TopK { .. } => {
                return Err(EngineError::internal(
                    "undo of an aggregate function that has none",
                ))
            }
        }
        Ok(())
    }

    /// Folds `other` (the accumulator of an earlier session window) into `acc`, as ksqlDB's
    /// UDAF `merge` does when a record bridges two session windows. `acc` holds the older
    /// session when both are merged in time order, so "latest" prefers `other`.
    pub fn merge(&self, acc: &mut Value, other: &Value) -> Result<()> {
        match &self.kind {
            Kind::Count { .. } => bump(acc, as_count(other)),
            Kind::Sum | Kind::SumList => {
                if !other.is_null() {
                    *acc = plus(acc, other, &self.result, false)?;
                }
            }
            Kind::Avg => {
                if let Value::Array(o) = other {
                    if o.len() == 2 {
                        let parts = items(acc);
                        if parts.len() != 2 {
                            *parts = vec![Value::Double(0.0), Value::BigInt(0)];
                        }
                        parts[0] = Value::Double(as_double(&parts[0]) + as_double(&o[0]));
                        bump(&mut parts[1], as_count(&o[1]));
                    }
                }
            }
            Kind::Min | Kind::Max => self.add(acc, std::slice::from_ref(other))?,
            Kind::CountDistinct => distinct::merge(acc, other),
            Kind::CollectSet { .. } | Kind::CollectList { .. } => {
                if let Value::Array(o) = other {
                    for v in o {
                        self.add(acc, std::slice::from_ref(v))?;
                    }
                }
            }
            Kind::ByOffset { latest, n, .. } => {
                let Value::Array(o) = other else {
                    return Ok(());
                };
                match n {
                    None => {
                        let other_seen = matches!(o.first(), Some(Value::Boolean(true)));
                        let seen = matches!(acc, Value::Array(a) if matches!(a.first(), Some(Value::Boolean(true))));
                        if other_seen && (*latest || !seen) {
                            *acc = other.clone();
                        }
                    }
                    Some(n) => {
                        let slots = items(acc);
                        slots.extend(o.iter().cloned());
                        if *latest {
                            let extra = slots.len().saturating_sub(*n);
                            slots.drain(..extra);
                        } else {
                            slots.truncate(*n);
                        }
                    }
                }
            }
            Kind::TopK { k, .. } => {
                let Value::Array(o) = other else {
                    return Ok(());
                };
                let sort_of = |v: &Value| -> Value {
                    match v {
                        Value::Struct(f) => f[0].1.clone(),
                        other => other.clone(),
                    }
                };
                let list = items(acc);
                for entry in o {
                    let x = sort_of(entry);
                    if matches!(self.kind, Kind::TopK { distinct: true, .. })
                        && list.iter().any(|v| equals(&sort_of(v), &x))
                    {
                        continue;
                    }
                    let at = list
                        .iter()
                        .position(|v| order(&sort_of(v), &x) == Some(Ordering::Less))
                        .unwrap_or(list.len());
                    if at < *k {
                        list.insert(at, entry.clone());
                        list.truncate(*k);
                    }
                }
            }
            Kind::Histogram { limit } => {
                if let Value::Map(o) = other {
                    let map = entries(acc);
                    for (key, count) in o {
                        match map.iter().position(|(k2, _)| equals(k2, key)) {
                            Some(at) => bump(&mut map[at].1, as_count(count)),
                            None if map.len() < *limit => map.push((key.clone(), count.clone())),
                            None => {}
                        }
                    }
                }
            }
            Kind::Attr => {
                if let Value::Map(o) = other {
                    let map = entries(acc);
                    for (key, count) in o {
                        match map.iter_mut().find(|(k2, _)| same(k2, key)) {
                            Some((_, c)) => bump(c, as_count(count)),
                            None => map.push((key.clone(), count.clone())),
                        }
                    }
                }
            }
            Kind::Variance { .. } => {
                // Chan et al.'s pairwise combination of two (count, mean, M2) triples.
                let Value::Array(o) = other else {
                    return Ok(());
                };
                if o.len() != 3 {
                    return Ok(());
                }
                let p = items(acc);
                if p.len() != 3 {
                    *p = vec![Value::BigInt(0), Value::Double(0.0), Value::Double(0.0)];
                }
                let (na, ma, m2a) = (as_count(&p[0]) as f64, as_double(&p[1]), as_double(&p[2]));
                let (nb, mb, m2b) = (as_count(&o[0]) as f64, as_double(&o[1]), as_double(&o[2]));
                let n = na + nb;
                if n > 0.0 {
                    let delta = mb - ma;
                    p[0] = Value::BigInt(n as i64);
                    p[1] = Value::Double(ma + delta * nb / n);
                    p[2] = Value::Double(m2a + m2b + delta * delta * na * nb / n);
                }
            }
            Kind::Correlation => {
                let Value::Array(o) = other else {
                    return Ok(());
                };
                let p = items(acc);
                if p.len() != 6 {
                    *p = vec![Value::Double(0.0); 6];
                }
                for (slot, d) in p.iter_mut().zip(o) {
                    *slot = Value::Double(as_double(slot) + as_double(d));
                }
            }
        }
        Ok(())
    }

    /// What the function shows for `acc`.
    pub fn result(&self, acc: &Value) -> Value {
        match &self.kind {
            Kind::Count { .. }
            | Kind::Sum
            | Kind::SumList
            | Kind::Min
            | Kind::Max
            | Kind::CollectList { .. }
            | Kind::CollectSet { .. }
            | Kind::TopK { .. }
            | Kind::Histogram { .. } => acc.clone(),
            Kind::ByOffset { n: None, .. } => match acc {
                Value::Array(slots) if slots.len() == 2 => slots[1].clone(),
                _ => Value::Null,
            },
            Kind::ByOffset { n: Some(_), .. } => acc.clone(),
            Kind::CountDistinct => Value::BigInt(distinct::count(acc)),
            Kind::Avg => match acc {
                Value::Array(p) if p.len() == 2 => match p[1] {
                    Value::BigInt(n) if n > 0 => Value::Double(as_double(&p[0]) / n as f64),
                    _ => Value::Double(0.0),
                },
                _ => Value::Null,
            },
            Kind::Variance { kind } => {
                let (n, m2) = match acc {
                    Value::Array(p) if p.len() == 3 => (as_count(&p[0]) as f64, as_double(&p[2])),
                    _ => return Value::Null,
                };
                let var = |denominator: f64| {
                    if denominator <= 0.0 {
                        0.0
                    } else {
                        (m2 / denominator).max(0.0)
                    }
                };
                Value::Double(match kind {
                    VarianceKind::StddevSampAsVariance | VarianceKind::VarSamp => var(n - 1.0),
                    VarianceKind::StddevSample => var(n - 1.0).sqrt(),
                    VarianceKind::StddevPop => var(n).sqrt(),
                    VarianceKind::VarPop => var(n),
                })
            }
            Kind::Correlation => match acc {
                Value::Array(p) if p.len() == 6 => {
                    let f: Vec<f64> = p.iter().map(as_double).collect();
                    let (n, sx, sy, sxy, sxx, syy) = (f[0], f[1], f[2], f[3], f[4], f[5]);
                    let cov = n * sxy - sx * sy;
                    let denom = ((n * sxx - sx * sx) * (n * syy - sy * sy)).sqrt();
                    Value::Double(cov / denom)
                }
                _ => Value::Null,
            },
            Kind::Attr => match acc {
                Value::Map(m) if m.len() == 1 => m[0].0.clone(),
                _ => Value::Null,
            },
        }
    }
}

fn zero(ty: &SqlType) -> Value {
    match ty {
        SqlType::Integer => Value::Integer(0),
        SqlType::BigInt => Value::BigInt(0),
        SqlType::Decimal { scale, .. } => Value::Decimal(crate::types::Decimal::new(0, *scale)),
        _ => Value::Double(0.0),
    }
}

/// `acc ± x` in the SUM's type: INT and BIGINT wrap like Java's, DECIMAL is exact.
fn plus(acc: &Value, x: &Value, ty: &SqlType, minus: bool) -> Result<Value> {
    let sign = if minus { -1 } else { 1 };
    Ok(match (acc, x) {
        (Value::Integer(a), Value::Integer(b)) => {
            Value::Integer(if minus { a.wrapping_sub(*b) } else { a.wrapping_add(*b) })
        }
        (Value::BigInt(a), _) => {
            let b = match x {
                Value::Integer(i) => i64::from(*i),
                Value::BigInt(i) => *i,
                _ => 0,
            };
            Value::BigInt(if minus { a.wrapping_sub(b) } else { a.wrapping_add(b) })
        }
        (Value::Decimal(a), Value::Decimal(b)) => {
            let t = DecType::of(ty).unwrap_or(DecType::new(38, a.scale));
            if minus {
                Value::Decimal(decimal::sub(*a, *b, t)?)
            } else {
                Value::Decimal(decimal::add(*a, *b, t)?)
            }
        }
        _ => Value::Double(as_double(acc) + f64::from(sign) * to_f64(x).unwrap_or(0.0)),
    })
}

fn to_f64(v: &Value) -> Option<f64> {
    match v {
        Value::Integer(i) => Some(f64::from(*i)),
        Value::BigInt(i) => Some(*i as f64),
        Value::Double(d) => Some(*d),
        Value::Decimal(d) => Some(d.to_f64()),
        _ => None,
    }
}

fn as_double(v: &Value) -> f64 {
    to_f64(v).unwrap_or(0.0)
}

fn as_count(v: &Value) -> i64 {
    match v {
        Value::BigInt(n) => *n,
        _ => 0,
    }
}

/// The elements of an array accumulator (made one if it is not).
fn items(acc: &mut Value) -> &mut Vec<Value> {
    if !matches!(acc, Value::Array(_)) {
        *acc = Value::Array(Vec::new());
    }
    match acc {
        Value::Array(items) => items,
        _ => unreachable!("made an array above"),
    }
}

/// The entries of a map accumulator (made one if it is not).
fn entries(acc: &mut Value) -> &mut Vec<(Value, Value)> {
    if !matches!(acc, Value::Map(_)) {
        *acc = Value::Map(Vec::new());
    }
    match acc {
        Value::Map(entries) => entries,
        _ => unreachable!("made a map above"),
    }
}

fn bump(v: &mut Value, by: i64) {
    *v = Value::BigInt(as_count(v).wrapping_add(by));
}

/// Java `Objects.equals`: NULL equals NULL.
fn same(a: &Value, b: &Value) -> bool {
    match (a.is_null(), b.is_null()) {
        (true, true) => true,
        (false, false) => equals(a, b),
        _ => false,
    }
}

/// Welford's running (count, mean, M2), forwards (`weight` 1) or backwards (-1).
fn welford(acc: &mut Value, x: f64, weight: f64) {
    let p = items(acc);
    if p.len() != 3 {
        *p = vec![Value::BigInt(0), Value::Double(0.0), Value::Double(0.0)];
    }
    let n = as_count(&p[0]) as f64;
    let mean = as_double(&p[1]);
    let m2 = as_double(&p[2]);
    let (n2, mean2, m22) = if weight > 0.0 {
        let n2 = n + 1.0;
        let delta = x - mean;
        let mean2 = mean + delta / n2;
        (n2, mean2, m2 + delta * (x - mean2))
    } else if n <= 1.0 {
        (0.0, 0.0, 0.0)
    } else {
        let n2 = n - 1.0;
        let mean2 = (n * mean - x) / n2;
        (n2, mean2, m2 - (x - mean2) * (x - mean))
    };
    p[0] = Value::BigInt(n2 as i64);
    p[1] = Value::Double(mean2);
    p[2] = Value::Double(m22);
}

/// The sums behind a Pearson correlation: n, Σx, Σy, Σxy, Σx², Σy².
fn correlation_step(acc: &mut Value, x: f64, y: f64, weight: f64) {
    let p = items(acc);
    if p.len() != 6 {
        *p = vec![Value::Double(0.0); 6];
    }
    let add = [1.0, x, y, x * y, x * x, y * y];
    for (slot, d) in p.iter_mut().zip(add) {
        *slot = Value::Double(as_double(slot) + weight * d);
    }
}

#[cfg(test)]
mod tests;
