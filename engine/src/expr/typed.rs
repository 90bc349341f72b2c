//! A compiled subexpression with its type, and the two things done to one after compiling
//! it: converting it to another type, and folding it when it reads no row.

use super::cast;
use super::eval::Node;
use crate::error::EngineError;
use crate::types::SqlType;

/// A compiled subexpression and its type; `None` is the type of an untyped `NULL` literal.
pub(crate) struct Typed {
    pub node: Node,
    pub ty: Option<SqlType>,
}

/// Converts a compiled value to `to`: no-op when equal, a cast otherwise. An untyped NULL
/// becomes a typed NULL.
pub(crate) fn coerce(t: Typed, to: &SqlType) -> Result<Node, EngineError> {
    let Some(from) = &t.ty else {
        return Ok(t.node);
    };
    if from == to {
        return Ok(t.node);
    }
    let plan = cast::plan(from, to)?;
    Ok(fold(Typed {
        node: Node::Cast {
            plan,
            expr: Box::new(t.node),
        },
        ty: Some(to.clone()),
    })
    .node)
}

/// Evaluates row-independent subtrees once. A subtree that fails (e.g. `1/0`) is left in
/// place so the error surfaces per row, where ksqlDB reports it.
pub(crate) fn fold(t: Typed) -> Typed {
    if matches!(t.node, Node::Literal(_)) || !t.node.is_constant() {
        return t;
    }
    match t.node.eval(&[]) {
        Ok(v) => Typed {
            node: Node::Literal(v.into_owned()),
            ty: t.ty,
        },
        Err(_) => t,
    }
}
