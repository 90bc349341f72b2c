//! `Display` for expressions in ksqlDB's formatted style (`(A + 1)`, `A->B`,
//! `CAST(X AS INTEGER)`), used for generated column names and EXPLAIN.
//!
//! Every binary operator and predicate is wrapped in parentheses, as ksqlDB's
//! `ExpressionFormatter` does, so the printed text parses back to the same tree without any
//! precedence reasoning here. Identifiers are back-quoted when they would not survive a
//! re-parse unquoted (lower case, odd characters, reserved words).

use std::fmt::{self, Display, Formatter, Write};

use super::ast::{BinaryOp, Expr, Literal, UnaryOp};
use super::parser::is_reserved;

/// Writes `name` as an identifier, back-quoted when needed.
pub(crate) struct IdentDisplay<'a>(pub(crate) &'a str);

impl Display for IdentDisplay<'_> {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        let name = self.0;
        let plain = name
            .bytes()
            .next()
            .is_some_and(|b| b.is_ascii_uppercase() || b == b'_')
            && name
                .bytes()
                .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_' || b == b'@')
            && !is_reserved(name)
            // Non-reserved, but read as constructors when followed by `[` or `(`.
            && !matches!(name, "ARRAY" | "MAP" | "STRUCT");
        if plain {
            f.write_str(name)
        } else {
            write!(f, "`{}`", name.replace('`', "``"))
        }
    }
}

impl Display for Literal {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match self {
            // ksqlDB's ExpressionFormatter writes `null`; keywords are case-insensitive.
            Literal::Null => f.write_str("null"),
            Literal::Boolean(b) => write!(f, "{b}"),
            Literal::Integer(i) => write!(f, "{i}"),
            Literal::Decimal(text) => f.write_str(text),
            // Always with an exponent, so it reads back as a DOUBLE and not a DECIMAL.
            Literal::Double(v) => write!(f, "{v:E}"),
            Literal::String(s) => write!(f, "'{}'", s.replace('\'', "''")),
        }
    }
}

impl BinaryOp {
    /// The operator as written in SQL.
    pub fn symbol(self) -> &'static str {
        match self {
            BinaryOp::Add => "+",
            BinaryOp::Sub => "-",
            BinaryOp::Mul => "*",
            BinaryOp::Div => "/",
            BinaryOp::Mod => "%",
            BinaryOp::Concat => "||",
            BinaryOp::Eq => "=",
            BinaryOp::NotEq => "<>",
            BinaryOp::Lt => "<",
            BinaryOp::LtEq => "<=",
            BinaryOp::Gt => ">",
            BinaryOp::GtEq => ">=",
            BinaryOp::And => "AND",
            BinaryOp::Or => "OR",
        }
    }
}

fn is_numeric_literal(expr: &Expr) -> bool {
    matches!(
        expr,
        Expr::Literal(Literal::Integer(_) | Literal::Decimal(_) | Literal::Double(_))
    )
}

fn write_list(f: &mut Formatter<'_>, items: &[Expr]) -> fmt::Result {
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            f.write_str(", ")?;
        }
        write!(f, "{item}")?;
    }
    Ok(())
}

impl Display for Expr {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match self {
            Expr::Column { qualifier, name } => {
                if let Some(q) = qualifier {
                    write!(f, "{}.", IdentDisplay(q))?;
                }
                write!(f, "{}", IdentDisplay(name))
            }
            Expr::Literal(l) => write!(f, "{l}"),
            Expr::Unary { op, expr } => match op {
                UnaryOp::Not => write!(f, "(NOT {expr})"),
                UnaryOp::Neg | UnaryOp::Plus => {
                    f.write_char(if *op == UnaryOp::Neg { '-' } else { '+' })?;
                    // `--` would start a comment and `-5` would read back as a literal; a
                    // postfix chain on a number (`-0->A`) would bind the sign to the number.
                    if is_numeric_literal(expr)
                        || matches!(
                            **expr,
                            Expr::Unary { .. } | Expr::Dereference { .. } | Expr::Subscript { .. }
                        )
                    {
                        write!(f, "({expr})")
                    } else {
                        write!(f, "{expr}")
                    }
                }
            },
            Expr::Binary { op, left, right } => write!(f, "({left} {} {right})", op.symbol()),
            Expr::IsNull { expr, negated } => {
                let not = if *negated { "NOT " } else { "" };
                write!(f, "({expr} IS {not}NULL)")
            }
            Expr::IsDistinctFrom {
                left,
                right,
                negated,
            } => {
                let not = if *negated { "NOT " } else { "" };
                write!(f, "({left} IS {not}DISTINCT FROM {right})")
            }
            Expr::Between {
                expr,
                low,
                high,
                negated,
            } => {
                let not = if *negated { "NOT " } else { "" };
                write!(f, "({expr} {not}BETWEEN {low} AND {high})")
            }
            Expr::InList {
                expr,
                list,
                negated,
            } => {
                let not = if *negated { "NOT " } else { "" };
                write!(f, "({expr} {not}IN (")?;
                write_list(f, list)?;
                f.write_str("))")
            }
            Expr::Like {
                expr,
                pattern,
                escape,
                negated,
            } => {
                let not = if *negated { "NOT " } else { "" };
                write!(f, "({expr} {not}LIKE {pattern}")?;
                if let Some(c) = escape {
                    write!(f, " ESCAPE {}", Literal::String(c.to_string()))?;
                }
                f.write_char(')')
            }
            Expr::Case {
                operand,
                whens,
                else_result,
            } => {
                f.write_str("(CASE")?;
                if let Some(operand) = operand {
                    write!(f, " {operand}")?;
                }
                for (when, then) in whens {
                    write!(f, " WHEN {when} THEN {then}")?;
                }
                if let Some(e) = else_result {
                    write!(f, " ELSE {e}")?;
                }
                f.write_str(" END)")
            }
            Expr::Cast { expr, ty } => write!(f, "CAST({expr} AS {ty})"),
            Expr::Function { name, args } => {
                write!(f, "{}(", IdentDisplay(name))?;
                write_list(f, args)?;
                f.write_char(')')
            }
            Expr::Star => f.write_char('*'),
            Expr::Subscript { base, index } => {
                write_postfix_base(f, base)?;
                write!(f, "[{index}]")
            }
            Expr::Dereference { base, field } => {
                write_postfix_base(f, base)?;
                write!(f, "->{}", IdentDisplay(field))
            }
            Expr::Array(items) => {
                f.write_str("ARRAY[")?;
                write_list(f, items)?;
                f.write_char(']')
            }
            Expr::Map(entries) => {
                f.write_str("MAP(")?;
                for (i, (k, v)) in entries.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{k}:={v}")?;
                }
                f.write_char(')')
            }
            Expr::Struct(fields) => {
                f.write_str("STRUCT(")?;
                for (i, (name, v)) in fields.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{}:={v}", IdentDisplay(name))?;
                }
                f.write_char(')')
            }
            Expr::Lambda { params, body } => {
                if let [param] = params.as_slice() {
                    write!(f, "{} => {body}", IdentDisplay(param))
                } else {
                    f.write_char('(')?;
                    for (i, p) in params.iter().enumerate() {
                        if i > 0 {
                            f.write_str(", ")?;
                        }
                        write!(f, "{}", IdentDisplay(p))?;
                    }
                    write!(f, ") => {body}")
                }
            }
        }
    }
}

/// A postfix operator binds tighter than unary minus, so `-A` as a base needs parentheses.
fn write_postfix_base(f: &mut Formatter<'_>, base: &Expr) -> fmt::Result {
    if matches!(base, Expr::Unary { .. } | Expr::Lambda { .. }) {
        write!(f, "({base})")
    } else {
        write!(f, "{base}")
    }
}
