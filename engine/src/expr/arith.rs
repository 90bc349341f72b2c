//! `+ - * /  %` and unary minus over already type-checked operands.
//!
//! The compiler decides the result kind once (ksqlDB's `Operator.resultType`); here each
//! operand is read in that kind's representation. INTEGER and BIGINT wrap on overflow and
//! fail on a zero divisor, as Java's `int`/`long` do; DOUBLE follows IEEE 754; DECIMAL is
//! exact (see `decimal`).

use super::decimal::{self, DecType};
use crate::error::EngineError;
use crate::types::{Decimal, Value};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ArithOp {
    Add,
    Sub,
    Mul,
    Div,
    Mod,
}

/// The representation an arithmetic node computes in, fixed at compile time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ArithKind {
    Integer,
    BigInt,
    Double,
    Decimal(DecType),
    /// `STRING + STRING` concatenates (`Operator.ADD.resultType`).
    Concat,
}

/// Java's `ArithmeticException` text for an integer divided by zero.
fn int_division_by_zero() -> EngineError {
    EngineError::bad_request("/ by zero")
}

fn operand_mismatch(kind: ArithKind, v: &Value) -> EngineError {
    EngineError::internal(format!("{kind:?} arithmetic got operand {v:?}"))
}

/// Applies `op` to two non-null operands.
pub(crate) fn apply(
    op: ArithOp,
    kind: ArithKind,
    a: &Value,
    b: &Value,
) -> Result<Value, EngineError> {
    match kind {
        ArithKind::Integer => match (a, b) {
            (Value::Integer(x), Value::Integer(y)) => int(op, *x, *y).map(Value::Integer),
            _ => Err(operand_mismatch(
                kind,
                if matches!(a, Value::Integer(_)) { b } else { a },
            )),
        },
        ArithKind::BigInt => {
            let x = as_i64(a).ok_or_else(|| operand_mismatch(kind, a))?;
            let y = as_i64(b).ok_or_else(|| operand_mismatch(kind, b))?;
            bigint(op, x, y).map(Value::BigInt)
        }
        ArithKind::Double => {
            let x = as_f64(a).ok_or_else(|| operand_mismatch(kind, a))?;
            let y = as_f64(b).ok_or_else(|| operand_mismatch(kind, b))?;
            Ok(Value::Double(double(op, x, y)))
        }
        ArithKind::Decimal(ty) => {
            let x = as_decimal(a).ok_or_else(|| operand_mismatch(kind, a))?;
            let y = as_decimal(b).ok_or_else(|| operand_mismatch(kind, b))?;
            dec(op, x, y, ty).map(Value::Decimal)
        }
        ArithKind::Concat => match (a, b) {
            (Value::String(x), Value::String(y)) => {
                let mut s = String::with_capacity(x.len() + y.len());
                s.push_str(x);
                s.push_str(y);
                Ok(Value::String(s))
            }
            _ => Err(operand_mismatch(kind, a)),
        },
    }
}

fn int(op: ArithOp, x: i32, y: i32) -> Result<i32, EngineError> {
    Ok(match op {
        ArithOp::Add => x.wrapping_add(y),
        ArithOp::Sub => x.wrapping_sub(y),
        ArithOp::Mul => x.wrapping_mul(y),
        ArithOp::Div if y == 0 => return Err(int_division_by_zero()),
        ArithOp::Div => x.wrapping_div(y),
        ArithOp::Mod if y == 0 => return Err(int_division_by_zero()),
        ArithOp::Mod => x.wrapping_rem(y),
    })
}

fn bigint(op: ArithOp, x: i64, y: i64) -> Result<i64, EngineError> {
    Ok(match op {
        ArithOp::Add => x.wrapping_add(y),
        ArithOp::Sub => x.wrapping_sub(y),
        ArithOp::Mul => x.wrapping_mul(y),
        ArithOp::Div if y == 0 => return Err(int_division_by_zero()),
        ArithOp::Div => x.wrapping_div(y),
        ArithOp::Mod if y == 0 => return Err(int_division_by_zero()),
        ArithOp::Mod => x.wrapping_rem(y),
    })
}

/// Rust's `%` on floats is C's `fmod`, which is Java's `%` too.
fn double(op: ArithOp, x: f64, y: f64) -> f64 {
    match op {
        ArithOp::Add => x + y,
        ArithOp::Sub => x - y,
        ArithOp::Mul => x * y,
        ArithOp::Div => x / y,
        ArithOp::Mod => x % y,
    }
}

fn dec(op: ArithOp, x: Decimal, y: Decimal, ty: DecType) -> Result<Decimal, EngineError> {
    match op {
        ArithOp::Add => decimal::add(x, y, ty),
        ArithOp::Sub => decimal::sub(x, y, ty),
        ArithOp::Mul => decimal::mul(x, y, ty),
        ArithOp::Div => decimal::div(x, y, ty),
        ArithOp::Mod => decimal::rem(x, y, ty),
    }
}

/// Unary minus; integers wrap (`-Integer.MIN_VALUE` is itself in Java).
pub(crate) fn negate(v: &Value) -> Result<Value, EngineError> {
    Ok(match v {
        Value::Integer(i) => Value::Integer(i.wrapping_neg()),
        Value::BigInt(i) => Value::BigInt(i.wrapping_neg()),
        Value::Double(d) => Value::Double(-d),
        Value::Decimal(d) => Value::Decimal(Decimal::new(-d.unscaled, d.scale)),
        other => {
            return Err(EngineError::internal(format!(
                "unary minus on non-number {other:?}"
            )))
        }
    })
}

pub(crate) fn as_i64(v: &Value) -> Option<i64> {
    match v {
        Value::Integer(i) => Some(i64::from(*i)),
        Value::BigInt(i) => Some(*i),
        _ => None,
    }
}

pub(crate) fn as_f64(v: &Value) -> Option<f64> {
    match v {
        Value::Integer(i) => Some(f64::from(*i)),
        Value::BigInt(i) => Some(*i as f64),
        Value::Double(d) => Some(*d),
        Value::Decimal(d) => Some(decimal::to_f64(*d)),
        _ => None,
    }
}

pub(crate) fn as_decimal(v: &Value) -> Option<Decimal> {
    match v {
        Value::Integer(i) => Some(Decimal::new(i128::from(*i), 0)),
        Value::BigInt(i) => Some(Decimal::new(i128::from(*i), 0)),
        Value::Decimal(d) => Some(*d),
        _ => None,
    }
}
