//! Expressions printed as ksqlDB's `ExpressionFormatter` prints them in error texts:
//! binary operations parenthesised (`(A + 1)`), strings single-quoted, `NOT` as `(NOT x)`.

use crate::sql::ast::{BinaryOp, Expr, Literal, UnaryOp};

pub(crate) fn expr(e: &Expr) -> String {
    match e {
        Expr::Column { qualifier, name } => match qualifier {
            Some(q) => format!("{q}.{name}"),
            None => name.clone(),
        },
        Expr::Literal(l) => literal(l),
        Expr::Unary { op, expr: inner } => match op {
            UnaryOp::Not => format!("(NOT {})", expr(inner)),
            UnaryOp::Neg => format!("-{}", expr(inner)),
            UnaryOp::Plus => format!("+{}", expr(inner)),
        },
        Expr::Binary { op, left, right } => {
            format!("({} {} {})", expr(left), binary_symbol(*op), expr(right))
        }
        Expr::IsNull {
            expr: inner,
            negated,
        } => {
            let not = if *negated { " NOT" } else { "" };
            format!("({} IS{not} NULL)", expr(inner))
        }
        Expr::IsDistinctFrom {
            left,
            right,
            negated,
        } => {
            let not = if *negated { " NOT" } else { "" };
            format!("({} IS{not} DISTINCT FROM {})", expr(left), expr(right))
        }
        Expr::Between {
            expr: inner,
            low,
            high,
            negated,
        } => {
            let not = if *negated { "NOT " } else { "" };
            format!(
                "({} {not}BETWEEN {} AND {})",
                expr(inner),
                expr(low),
                expr(high)
            )
        }
        Expr::InList {
            expr: inner,
            list,
            negated,
        } => {
            let not = if *negated { "NOT " } else { "" };
            format!("({} {not}IN ({}))", expr(inner), join(list))
        }
        Expr::Like {
            expr: inner,
            pattern,
            escape,
            negated,
        } => {
            let not = if *negated { "NOT " } else { "" };
            let esc = escape.map(|c| format!(" ESCAPE '{c}'")).unwrap_or_default();
            format!("({} {not}LIKE {}{esc})", expr(inner), expr(pattern))
        }
        Expr::Case {
            operand,
            whens,
            else_result,
        } => case(operand.as_deref(), whens, else_result.as_deref()),
        Expr::Cast { expr: inner, ty } => format!("CAST({} AS {ty})", expr(inner)),
        Expr::Function { name, args } => format!("{name}({})", join(args)),
        Expr::Star => "*".into(),
        Expr::Subscript { base, index } => format!("{}[{}]", expr(base), expr(index)),
        Expr::Dereference { base, field } => format!("{}->{field}", expr(base)),
        Expr::Array(items) => format!("ARRAY[{}]", join(items)),
        Expr::Map(entries) => {
            let parts: Vec<String> = entries
                .iter()
                .map(|(k, v)| format!("{}:={}", expr(k), expr(v)))
                .collect();
            format!("MAP({})", parts.join(", "))
        }
        Expr::Struct(fields) => {
            let parts: Vec<String> = fields
                .iter()
                .map(|(n, v)| format!("{n}:={}", expr(v)))
                .collect();
            format!("STRUCT({})", parts.join(", "))
        }
        Expr::Lambda { params, body } => format!("({}) => {}", params.join(", "), expr(body)),
    }
}

fn join(items: &[Expr]) -> String {
    items.iter().map(expr).collect::<Vec<_>>().join(", ")
}

pub(crate) fn when_clause(condition: &Expr, result: &Expr) -> String {
    format!("WHEN {} THEN {}", expr(condition), expr(result))
}

fn case(operand: Option<&Expr>, whens: &[(Expr, Expr)], else_result: Option<&Expr>) -> String {
    let mut parts = vec!["CASE".to_string()];
    if let Some(o) = operand {
        parts.push(expr(o));
    }
    parts.extend(whens.iter().map(|(w, t)| when_clause(w, t)));
    if let Some(e) = else_result {
        parts.push(format!("ELSE {}", expr(e)));
    }
    parts.push("END".into());
    format!("({})", parts.join(" "))
}

fn literal(l: &Literal) -> String {
    match l {
        Literal::Null => "null".into(),
        Literal::Boolean(b) => b.to_string(),
        Literal::Integer(i) => i.to_string(),
        Literal::Decimal(s) => s.clone(),
        Literal::Double(d) => super::java_text::double(*d),
        Literal::String(s) => format!("'{}'", s.replace('\'', "''")),
    }
}

pub(crate) fn binary_symbol(op: BinaryOp) -> &'static str {
    match op {
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
