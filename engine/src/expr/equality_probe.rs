//! `E = literal` in a WHERE, where `E` is columns and arithmetic: the shape of the filters
//! that split one stream among many push queries (`WHERE user_id = 'u42'`,
//! `WHERE id % 100 = 7`). Rows can be bucketed by `E`'s value once per batch, and each
//! query with the same `E` reads only its literal's bucket instead of evaluating its
//! filter on every row (`query::shared_decode`).
//!
//! A bucket is a superset of the rows the filter passes, never a subset: rows whose `E`
//! fails to evaluate or has a value that is not a key (a DOUBLE that may equal an
//! integer literal, say) go to every query, whose filter then decides as always. A row
//! whose `E` is NULL goes nowhere: `NULL = x` is never true.

use super::compare::CmpOp;
use super::eval::Node;
use crate::types::Value;

/// A value rows are bucketed by: integers of any width compare as one, strings by bytes
/// (exactly how `=` compares them).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) enum IndexKey {
    Int(i64),
    Str(String),
}

impl IndexKey {
    fn of(value: &Value) -> Option<IndexKey> {
        match value {
            Value::Integer(i) => Some(IndexKey::Int(i64::from(*i))),
            Value::BigInt(i) => Some(IndexKey::Int(*i)),
            Value::String(s) => Some(IndexKey::Str(s.clone())),
            _ => None,
        }
    }
}

/// Where one row goes when rows are bucketed by `E`.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Bucket {
    Key(IndexKey),
    /// To every query: its filter decides (an error, or a value that is not a key).
    Everyone,
    /// To no query: `E` is NULL.
    Nobody,
}

/// One query's `E = literal`.
#[derive(Debug, Clone)]
pub(crate) struct EqualityProbe {
    /// Identifies `E`: equal texts are the same expression over the same row layout.
    pub(crate) expr_key: String,
    expr: Node,
    /// The literal's key: the bucket this query reads.
    pub(crate) key: IndexKey,
}

impl EqualityProbe {
    /// The probe of `predicate`: an `E = literal` that is the whole predicate or one side
    /// of an AND (a row failing it fails the AND, whatever the other side is).
    pub(crate) fn of(predicate: &Node) -> Option<EqualityProbe> {
        match predicate {
            Node::Compare {
                op: CmpOp::Eq,
                left,
                right,
            } => match (&**left, &**right) {
                (e, Node::Literal(v)) | (Node::Literal(v), e) if bucketable(e) => {
                    Some(EqualityProbe {
                        expr_key: format!("{e:?}"),
                        expr: e.clone(),
                        key: IndexKey::of(v)?,
                    })
                }
                _ => None,
            },
            Node::And(l, r) => EqualityProbe::of(l).or_else(|| EqualityProbe::of(r)),
            _ => None,
        }
    }

    /// The bucket of a row (its values in the layout `E` was compiled for).
    pub(crate) fn bucket(&self, row: &[Value]) -> Bucket {
        match self.expr.eval(row) {
            Err(_) => Bucket::Everyone,
            Ok(v) if v.is_null() => Bucket::Nobody,
            Ok(v) => IndexKey::of(&v).map_or(Bucket::Everyone, Bucket::Key),
        }
    }
}

/// Columns, literals and arithmetic: deterministic, and as cheap to bucket by as to test.
fn bucketable(node: &Node) -> bool {
    match node {
        Node::Column(_) => true,
        Node::Literal(_) => false,
        Node::Neg(e) => bucketable(e),
        Node::Arith { left, right, .. } => {
            let operand = |n: &Node| bucketable(n) || matches!(n, Node::Literal(_));
            (bucketable(left) || bucketable(right)) && operand(left) && operand(right)
        }
        _ => false,
    }
}
