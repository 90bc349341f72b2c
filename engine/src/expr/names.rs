//! Default names for unaliased select expressions (ksqlDB's `AstSanitizer` and
//! `ColumnNames.columnAliasGenerator`).
//!
//! A column reference keeps its name; `a->b` takes the field name `B`, suffixed `_1`, `_2`…
//! when that name is taken; anything else is `KSQL_COL_<n>`, where `n` counts generated
//! names only (from 0) and skips numbers already used by source columns named
//! `KSQL_COL_<n>`. So `SELECT A, LEN(B), C + 1` names its columns `A, KSQL_COL_0,
//! KSQL_COL_1`.

use std::collections::{HashMap, HashSet};

use crate::sql::ast::Expr;

const GENERATED_PREFIX: &str = "KSQL_COL";

/// ksqlDB's default name for an unaliased select expression, given `index`: how many
/// `KSQL_COL_<n>` names were generated before it in this select list. Use
/// [`ColumnAliasGenerator`] to get the numbering (and struct-field de-duplication) right
/// for a whole select list.
pub fn default_column_name(expr: &Expr, index: usize) -> String {
    match expr {
        Expr::Column { name, .. } => name.clone(),
        Expr::Dereference { field, .. } => field.clone(),
        _ => format!("{GENERATED_PREFIX}_{index}"),
    }
}

/// Generates unique default names for one select list, seeded with the source columns.
#[derive(Debug, Clone)]
pub struct ColumnAliasGenerator {
    /// Per base name (`KSQL_COL`, or a field name without `_<n>`), the numbers in use.
    used: HashMap<String, HashSet<u64>>,
    /// Per base name, the next number to try.
    next: HashMap<String, u64>,
}

impl ColumnAliasGenerator {
    /// `source_columns` are the names of every column of the sources in the query.
    pub fn new<'a>(source_columns: impl IntoIterator<Item = &'a str>) -> ColumnAliasGenerator {
        let mut used: HashMap<String, HashSet<u64>> = HashMap::new();
        for name in source_columns {
            let (base, n) = split_number(name);
            used.entry(base.to_string()).or_default().insert(n);
        }
        ColumnAliasGenerator {
            used,
            next: HashMap::new(),
        }
    }

    /// The name ksqlDB gives `expr` when it has no alias.
    pub fn alias_for(&mut self, expr: &Expr) -> String {
        match expr {
            Expr::Column { name, .. } => name.clone(),
            Expr::Dereference { field, .. } => {
                let (base, _) = split_number(field);
                let base = base.to_string();
                self.next_for(&base, true)
            }
            _ => self.next_for(GENERATED_PREFIX, false),
        }
    }

    /// `AliasGenerator.next`: the first unused number; number 0 is written without a
    /// suffix except for `KSQL_COL`.
    fn next_for(&mut self, base: &str, drop_zero: bool) -> String {
        let used = self.used.get(base);
        let next = self.next.entry(base.to_string()).or_insert(0);
        let mut n = *next;
        while used.is_some_and(|u| u.contains(&n)) {
            n += 1;
        }
        *next = n + 1;
        if n == 0 && drop_zero {
            base.to_string()
        } else {
            format!("{base}_{n}")
        }
    }
}

/// Splits `NAME_12` into (`NAME`, 12); a name without a numeric suffix is number 0.
fn split_number(name: &str) -> (&str, u64) {
    if let Some((base, digits)) = name.rsplit_once('_') {
        if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) {
            if let Ok(n) = digits.parse() {
                return (base, n);
            }
        }
    }
    (name, 0)
}
