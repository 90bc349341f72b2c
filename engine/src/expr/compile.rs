//! AST → typed [`Node`] tree: binds columns, checks types as ksqlDB's
//! `ExpressionTypeManager` does, inserts implicit conversions, folds constants.
//!
//! Error texts are ksqlDB's where it has one (cited); the rest say plainly what is wrong.

use super::arith::{ArithKind, ArithOp};
use super::cast;
use super::coerce;
use super::compare::{self, CmpOp};
use super::decimal::{self, DecType};
use super::display;
use super::eval::{LikeSource, Node};
use super::functions;
use super::lambda::{self, LambdaScope};
use super::typed::{coerce, fold, Typed};
use super::like::LikePattern;
use super::ColumnResolver;
use crate::error::EngineError;
use crate::sql::ast::{BinaryOp, Expr, Literal, UnaryOp};
use crate::types::{temporal, SqlType, StructField, Value};

/// Deepest expression nesting accepted. Compiling and evaluating recurse once per level;
/// 256 is far beyond hand-written SQL and far below what exhausts a thread's stack.
pub const EXPR_DEPTH_MAX: usize = 256;

fn stmt(msg: impl Into<String>) -> EngineError {
    EngineError::statement(msg.into())
}

/// `String.valueOf(SqlType)` in ksqlDB texts: an untyped NULL prints as `null`.
fn ty_text(ty: &Option<SqlType>) -> String {
    ty.as_ref()
        .map_or_else(|| "null".into(), ToString::to_string)
}

pub(crate) struct Compiler<'r> {
    resolver: &'r dyn ColumnResolver,
    depth: usize,
    /// Lambda parameters in scope, outermost first; a bare name matching one (innermost
    /// wins) is that parameter, not a column.
    params: Vec<(String, SqlType)>,
}

impl<'r> Compiler<'r> {
    pub(crate) fn new(resolver: &'r dyn ColumnResolver) -> Compiler<'r> {
        Compiler {
            resolver,
            depth: 0,
            params: Vec::new(),
        }
    }

    /// Number of lambda parameters in scope.
    pub(crate) fn param_count(&self) -> usize {
        self.params.len()
    }

    /// Compiles a lambda body with `bound` parameters pushed onto the scope.
    pub(crate) fn compile_in_scope(
        &mut self,
        bound: &[(String, SqlType)],
        body: &Expr,
    ) -> Result<Typed, EngineError> {
        let before = self.params.len();
        self.params.extend_from_slice(bound);
        let out = self.compile(body);
        self.params.truncate(before);
        out
    }

    pub(crate) fn compile(&mut self, e: &Expr) -> Result<Typed, EngineError> {
        self.depth += 1;
        if self.depth > EXPR_DEPTH_MAX {
            return Err(stmt(format!(
                "Expression is nested more than {EXPR_DEPTH_MAX} levels deep."
            )));
        }
        let out = self.compile_inner(e);
        self.depth -= 1;
        out.map(fold)
    }

    fn compile_inner(&mut self, e: &Expr) -> Result<Typed, EngineError> {
        match e {
            Expr::Column { qualifier, name } => self.column(qualifier.as_deref(), name),
            Expr::Literal(l) => literal(l),
            Expr::Unary { op, expr } => self.unary(*op, expr, e),
            Expr::Binary { op, left, right } => self.binary(*op, left, right, e),
            Expr::IsNull { expr, negated } => {
                let inner = self.compile(expr)?;
                Ok(boolean(Node::IsNull {
                    expr: Box::new(inner.node),
                    negated: *negated,
                }))
            }
            Expr::IsDistinctFrom {
                left,
                right,
                negated,
            } => {
                let op = if *negated {
                    CmpOp::IsNotDistinctFrom
                } else {
                    CmpOp::IsDistinctFrom
                };
                self.comparison(op, left, right)
            }
            Expr::Between {
                expr,
                low,
                high,
                negated,
            } => self.between(expr, low, high, *negated),
            Expr::InList {
                expr,
                list,
                negated,
            } => self.in_list(expr, list, *negated),
            Expr::Like {
                expr,
                pattern,
                escape,
                negated,
            } => self.like(expr, pattern, *escape, *negated),
            Expr::Case {
                operand,
                whens,
                else_result,
            } => self.case(operand.as_deref(), whens, else_result.as_deref()),
            Expr::Cast { expr, ty } => self.cast(expr, ty),
            Expr::Function { name, args } => self.function(name, args),
            Expr::Star => Err(stmt("'*' is only allowed as the argument of COUNT(*).")),
            Expr::Subscript { base, index } => self.subscript(base, index, e),
            Expr::Dereference { base, field } => self.dereference(base, field),
            Expr::Array(items) => self.array(items),
            Expr::Map(entries) => self.map(entries),
            Expr::Struct(fields) => self.structure(fields),
            Expr::Lambda { .. } => Err(stmt(format!(
                "A lambda ({}) is only allowed as an argument of TRANSFORM, FILTER or REDUCE.",
                display::expr(e)
            ))),
        }
    }

    /// ksqlDB's `UnknownColumnException` text (without the clause prefix, which the
    /// caller knows and this compiler does not).
    fn column(&mut self, qualifier: Option<&str>, name: &str) -> Result<Typed, EngineError> {
        if qualifier.is_none() {
            if let Some(i) = self.params.iter().rposition(|(p, _)| p == name) {
                return Ok(Typed {
                    node: Node::Param(i),
                    ty: Some(self.params[i].1.clone()),
                });
            }
        }
        match self.resolver.resolve(qualifier, name) {
            Some((index, ty)) => Ok(Typed {
                node: Node::Column(index),
                ty: Some(ty),
            }),
            None => {
                let shown = match qualifier {
                    Some(q) => format!("{q}.{name}"),
                    None => name.to_string(),
                };
                Err(stmt(format!("Column '{shown}' cannot be resolved.")))
            }
        }
    }

    fn unary(&mut self, op: UnaryOp, inner: &Expr, whole: &Expr) -> Result<Typed, EngineError> {
        let t = self.compile(inner)?;
        match op {
            UnaryOp::Not => {
                expect_boolean(&t, inner)?;
                Ok(boolean(Node::Not(Box::new(t.node))))
            }
            UnaryOp::Neg | UnaryOp::Plus => {
                let ty = match &t.ty {
                    Some(ty) if ty.is_numeric() => ty.clone(),
                    other => {
                        return Err(stmt(format!(
                            "Error processing expression: {}. Unsupported arithmetic type: {}.",
                            display::expr(whole),
                            ty_text(other)
                        )))
                    }
                };
                let node = match op {
                    UnaryOp::Neg => Node::Neg(Box::new(t.node)),
                    _ => t.node,
                };
                Ok(Typed { node, ty: Some(ty) })
            }
        }
    }

    fn binary(
        &mut self,
        op: BinaryOp,
        left: &Expr,
        right: &Expr,
        whole: &Expr,
    ) -> Result<Typed, EngineError> {
        match op {
            BinaryOp::Add => self.arithmetic(ArithOp::Add, left, right, whole),
            BinaryOp::Sub => self.arithmetic(ArithOp::Sub, left, right, whole),
            BinaryOp::Mul => self.arithmetic(ArithOp::Mul, left, right, whole),
            BinaryOp::Div => self.arithmetic(ArithOp::Div, left, right, whole),
            BinaryOp::Mod => self.arithmetic(ArithOp::Mod, left, right, whole),
            // ksqlDB's parser turns `a || b` into `CONCAT(a, b)` (`AstBuilder`).
            BinaryOp::Concat => self.function("CONCAT", &[left.clone(), right.clone()]),
            BinaryOp::Eq => self.comparison(CmpOp::Eq, left, right),
            BinaryOp::NotEq => self.comparison(CmpOp::NotEq, left, right),
            BinaryOp::Lt => self.comparison(CmpOp::Lt, left, right),
            BinaryOp::LtEq => self.comparison(CmpOp::LtEq, left, right),
            BinaryOp::Gt => self.comparison(CmpOp::Gt, left, right),
            BinaryOp::GtEq => self.comparison(CmpOp::GtEq, left, right),
            BinaryOp::And | BinaryOp::Or => {
                let l = self.compile(left)?;
                expect_boolean(&l, left)?;
                let r = self.compile(right)?;
                expect_boolean(&r, right)?;
                let (l, r) = (Box::new(l.node), Box::new(r.node));
                Ok(boolean(if op == BinaryOp::And {
                    Node::And(l, r)
                } else {
                    Node::Or(l, r)
                }))
            }
        }
    }

    /// `Operator.resultType`, wrapped as `ExpressionTypeManager.visitArithmeticBinary` does.
    fn arithmetic(
        &mut self,
        op: ArithOp,
        left: &Expr,
        right: &Expr,
        whole: &Expr,
    ) -> Result<Typed, EngineError> {
        let l = self.compile(left)?;
        let r = self.compile(right)?;
        let fail = |detail: String| {
            stmt(format!(
                "Error processing expression: {}. {detail}",
                display::expr(whole)
            ))
        };
        let (Some(lt), Some(rt)) = (&l.ty, &r.ty) else {
            return Err(fail(format!(
                "Arithmetic on types {} and {} are not supported.",
                ty_text(&l.ty),
                ty_text(&r.ty)
            )));
        };
        let (kind, ty) = arith_result(op, lt, rt).ok_or_else(|| {
            fail(format!(
                "Unsupported arithmetic types. {} {}",
                lt.base_name(),
                rt.base_name()
            ))
        })?;
        Ok(Typed {
            node: Node::Arith {
                op,
                kind,
                left: Box::new(l.node),
                right: Box::new(r.node),
                null_fails: !self.params.is_empty(),
            },
            ty: Some(ty),
        })
    }

    fn comparison(&mut self, op: CmpOp, left: &Expr, right: &Expr) -> Result<Typed, EngineError> {
        let (l, r) = if is_pseudo_time(left) {
            (self.compile(left)?, self.pseudo_time_operand(right)?)
        } else if is_pseudo_time(right) {
            (self.pseudo_time_operand(left)?, self.compile(right)?)
        } else {
            (self.compile(left)?, self.compile(right)?)
        };
        let node = compare_nodes(op, l, r, left, right)?;
        Ok(boolean(node))
    }

    /// The other operand of a comparison with ROWTIME, WINDOWSTART or WINDOWEND: a STRING
    /// literal there is a (possibly partial) timestamp, turned into epoch milliseconds
    /// (ksqlDB's `StatementRewriteForMagicPseudoTimestamp`, `PartialStringToTimestampParser`).
    fn pseudo_time_operand(&mut self, e: &Expr) -> Result<Typed, EngineError> {
        let Expr::Literal(Literal::String(text)) = e else {
            return self.compile(e);
        };
        let ms = temporal::parse_timestamp(text.trim()).ok_or_else(|| {
            stmt(format!(
                "Failed to parse timestamp '{text}'.\nRequired format is: \
                 \"yyyy-MM-dd'T'HH:mm:ss.SSS\", with an optional numeric 4-digit timezone, \
                 for example: '2020-05-26T23:59:58.000' or with tz: \
                 '2020-05-26T23:59:58.000+0200'. A trailing 'Z' instead of tz indicates the \
                 zero UTC offset. Partials are also supported, for example \"2020-05-26\""
            ))
        })?;
        Ok(Typed {
            node: Node::Literal(Value::BigInt(ms)),
            ty: Some(SqlType::BigInt),
        })
    }

    /// `BETWEEN` is `v >= low AND v <= high` (`SqlToJavaVisitor.visitBetweenPredicate`);
    /// `NOT BETWEEN` negates that.
    fn between(
        &mut self,
        value: &Expr,
        low: &Expr,
        high: &Expr,
        negated: bool,
    ) -> Result<Typed, EngineError> {
        let v = self.compile(value)?;
        let (lo, hi) = if is_pseudo_time(value) {
            (
                self.pseudo_time_operand(low)?,
                self.pseudo_time_operand(high)?,
            )
        } else {
            (self.compile(low)?, self.compile(high)?)
        };
        let v2 = Typed {
            node: v.node.clone(),
            ty: v.ty.clone(),
        };
        let ge = compare_nodes(CmpOp::GtEq, v, lo, value, low)?;
        let le = compare_nodes(CmpOp::LtEq, v2, hi, value, high)?;
        let both = Node::And(Box::new(ge), Box::new(le));
        Ok(boolean(negate_if(both, negated)))
    }

    /// `IN`: the value and the non-NULL items are coerced to one type
    /// (`InListEvaluator.preprocess`).
    fn in_list(
        &mut self,
        value: &Expr,
        list: &[Expr],
        negated: bool,
    ) -> Result<Typed, EngineError> {
        let v = self.compile(value)?;
        let mut items = Vec::with_capacity(list.len());
        for item in list {
            items.push(self.compile(item)?);
        }
        let typed: Vec<(&Expr, Option<&SqlType>)> = std::iter::once((value, v.ty.as_ref()))
            .chain(list.iter().zip(&items).map(|(e, t)| (e, t.ty.as_ref())))
            .collect();
        let target = coerce::common_type(self, &typed)?;
        let coerce_to = |t: Typed| match &target {
            Some(target) => coerce(t, target),
            None => Ok(t.node),
        };
        let expr = Box::new(coerce_to(v)?);
        let mut nodes = Vec::with_capacity(items.len());
        for t in items {
            if t.ty.is_some() {
                nodes.push(coerce_to(t)?);
            }
        }
        let node = Node::InList { expr, list: nodes };
        Ok(boolean(negate_if(node, negated)))
    }

    fn like(
        &mut self,
        value: &Expr,
        pattern: &Expr,
        escape: Option<char>,
        negated: bool,
    ) -> Result<Typed, EngineError> {
        let v = self.compile(value)?;
        expect_string(&v, value, "LIKE")?;
        let p = self.compile(pattern)?;
        expect_string(&p, pattern, "LIKE")?;
        let source = match &p.node {
            Node::Literal(Value::String(s)) => {
                let compiled = LikePattern::compile(s, escape).map_err(|e| stmt(e.to_string()))?;
                LikeSource::Static(compiled)
            }
            _ => LikeSource::Dynamic {
                pattern: Box::new(p.node),
                escape,
            },
        };
        let node = Node::Like {
            expr: Box::new(v.node),
            pattern: source,
        };
        Ok(boolean(negate_if(node, negated)))
    }

    fn case(
        &mut self,
        operand: Option<&Expr>,
        whens: &[(Expr, Expr)],
        otherwise: Option<&Expr>,
    ) -> Result<Typed, EngineError> {
        let operand = operand
            .map(|o| self.compile(o).map(|t| (t, o)))
            .transpose()?;
        let mut conditions = Vec::with_capacity(whens.len());
        let mut results = Vec::with_capacity(whens.len());
        for (when, then) in whens {
            let c = self.compile(when)?;
            let c = match &operand {
                // Simple CASE: `WHEN v` means `operand = v`.
                Some((o, o_expr)) => {
                    let o = Typed {
                        node: o.node.clone(),
                        ty: o.ty.clone(),
                    };
                    boolean(compare_nodes(CmpOp::Eq, o, c, o_expr, when)?)
                }
                None => c,
            };
            if c.ty.as_ref().is_some_and(|t| t != &SqlType::Boolean) {
                return Err(stmt(format!(
                    "WHEN operand type should be boolean.\nType for '{}' is {}",
                    display::expr(when),
                    ty_text(&c.ty)
                )));
            }
            conditions.push(c.node);
            results.push((self.compile(then)?, when, then));
        }
        let default = otherwise.map(|o| self.compile(o)).transpose()?;
        let ty = case_type(&results, default.as_ref())?;
        let mut arms = Vec::with_capacity(results.len());
        for (condition, (result, _, _)) in conditions.into_iter().zip(results) {
            arms.push((condition, coerce(result, &ty)?));
        }
        let otherwise = default.map(|d| coerce(d, &ty)).transpose()?.map(Box::new);
        Ok(Typed {
            node: Node::Case {
                whens: arms,
                otherwise,
            },
            ty: Some(ty),
        })
    }

    fn cast(&mut self, inner: &Expr, to: &SqlType) -> Result<Typed, EngineError> {
        let t = self.compile(inner)?;
        let node = match &t.ty {
            // `CAST(NULL AS T)` is how ksqlDB users type a NULL.
            None => Node::Literal(Value::Null),
            Some(from) => Node::Cast {
                plan: cast::plan(from, to)?,
                expr: Box::new(t.node),
            },
        };
        Ok(Typed {
            node,
            ty: Some(to.clone()),
        })
    }

    fn function(&mut self, name: &str, args: &[Expr]) -> Result<Typed, EngineError> {
        if lambda::is_higher_order(name) {
            return lambda::compile(self, name, args);
        }
        let def = functions::lookup(name)
            .ok_or_else(|| stmt(format!("Can't find any functions with the name '{name}'")))?;
        let mut compiled = Vec::with_capacity(args.len());
        for (i, a) in args.iter().enumerate() {
            compiled.push(match time_unit(def.name, i, a) {
                Some(unit) => Typed {
                    node: Node::Literal(Value::String(unit.to_string())),
                    ty: Some(SqlType::String),
                },
                None => self.compile(a)?,
            });
        }
        let types: Vec<Option<SqlType>> = compiled.iter().map(|t| t.ty.clone()).collect();
        let signature = def.resolve(&types).ok_or_else(|| {
            let shown: Vec<String> = types.iter().map(ty_text).collect();
            stmt(format!(
                "Function '{}' does not accept parameters ({}).",
                def.name,
                shown.join(", ")
            ))
        })?;
        let mut nodes = Vec::with_capacity(compiled.len());
        for (t, param) in compiled.into_iter().zip(&signature.params) {
            nodes.push(match param {
                Some(p) => coerce(t, p)?,
                None => t.node,
            });
        }
        Ok(Typed {
            node: Node::Call {
                name: def.name,
                eval: signature.eval,
                ret: signature.ret.clone(),
                args: nodes,
            },
            ty: Some(signature.ret),
        })
    }

    fn subscript(&mut self, base: &Expr, index: &Expr, whole: &Expr) -> Result<Typed, EngineError> {
        let b = self.compile(base)?;
        let i = self.compile(index)?;
        match b.ty {
            Some(SqlType::Array(elem)) => {
                if !matches!(i.ty, None | Some(SqlType::Integer | SqlType::BigInt)) {
                    return Err(stmt(format!(
                        "Array index must be INTEGER, got {} in {}",
                        ty_text(&i.ty),
                        display::expr(whole)
                    )));
                }
                let node = Node::ArrayIndex {
                    base: Box::new(b.node),
                    index: Box::new(i.node),
                };
                Ok(Typed {
                    node,
                    ty: Some(*elem),
                })
            }
            Some(SqlType::Map(key, value)) => {
                let key_node = match &i.ty {
                    None => i.node,
                    Some(_) => coerce(i, &key).map_err(|_| {
                        stmt(format!(
                            "Map key type {key} does not match the subscript in {}",
                            display::expr(whole)
                        ))
                    })?,
                };
                let node = Node::MapLookup {
                    base: Box::new(b.node),
                    key: Box::new(key_node),
                };
                Ok(Typed {
                    node,
                    ty: Some(*value),
                })
            }
            other => {
                let hint = if matches!(other, Some(SqlType::Struct(_))) {
                    format!(
                        " Use the dereference operator for STRUCTS: {}->{}",
                        display::expr(base),
                        display::expr(index)
                    )
                } else {
                    String::new()
                };
                Err(stmt(format!(
                    "Subscript expression ({}) do not apply to {}.{hint}",
                    display::expr(whole),
                    ty_text(&other)
                )))
            }
        }
    }

    fn dereference(&mut self, base: &Expr, field: &str) -> Result<Typed, EngineError> {
        let b = self.compile(base)?;
        let Some(SqlType::Struct(fields)) = &b.ty else {
            return Err(stmt(format!(
                "Expected STRUCT type, got: {}",
                ty_text(&b.ty)
            )));
        };
        let (index, f) = fields
            .iter()
            .enumerate()
            .find(|(_, f)| f.name == field)
            .ok_or_else(|| {
                stmt(format!(
                    "Could not find field '{field}' in '{}'.",
                    display::expr(base)
                ))
            })?;
        let ty = f.ty.clone();
        Ok(Typed {
            node: Node::Field {
                base: Box::new(b.node),
                index,
                name: field.to_string(),
            },
            ty: Some(ty),
        })
    }

    /// ksqlDB's `visitCreateArrayExpression` texts.
    fn array(&mut self, items: &[Expr]) -> Result<Typed, EngineError> {
        if items.is_empty() {
            return Err(stmt(
                "Array constructor cannot be empty. Please supply at least one element \
                 (see https://github.com/confluentinc/ksql/issues/4239).",
            ));
        }
        let (nodes, elem) = self.uniform(items, || {
            stmt(
                "Cannot construct an array with all NULL elements \
                 (see https://github.com/confluentinc/ksql/issues/4239). As a workaround, you \
                 may cast a NULL value to the desired type.",
            )
        })?;
        Ok(Typed {
            node: Node::MakeArray(nodes),
            ty: Some(SqlType::Array(Box::new(elem))),
        })
    }

    /// ksqlDB's `visitCreateMapExpression` texts.
    fn map(&mut self, entries: &[(Expr, Expr)]) -> Result<Typed, EngineError> {
        if entries.is_empty() {
            return Err(stmt(
                "Map constructor cannot be empty. Please supply at least one key value pair \
                 (see https://github.com/confluentinc/ksql/issues/4239).",
            ));
        }
        let keys: Vec<Expr> = entries.iter().map(|(k, _)| k.clone()).collect();
        let values: Vec<Expr> = entries.iter().map(|(_, v)| v.clone()).collect();
        let all_null = |what: &str| {
            stmt(format!(
                "Cannot construct a map with all NULL {what}s \
                 (see https://github.com/confluentinc/ksql/issues/4239). As a workaround, you \
                 may cast a NULL {what} to the desired type."
            ))
        };
        let (key_nodes, key_ty) = self.uniform(&keys, || all_null("key"))?;
        let (value_nodes, value_ty) = self.uniform(&values, || all_null("value"))?;
        Ok(Typed {
            node: Node::MakeMap(key_nodes.into_iter().zip(value_nodes).collect()),
            ty: Some(SqlType::Map(Box::new(key_ty), Box::new(value_ty))),
        })
    }

    fn structure(&mut self, fields: &[(String, Expr)]) -> Result<Typed, EngineError> {
        let mut nodes = Vec::with_capacity(fields.len());
        let mut types = Vec::with_capacity(fields.len());
        for (name, e) in fields {
            let t = self.compile(e)?;
            let ty = t.ty.ok_or_else(|| {
                stmt(format!(
                    "Cannot infer the type of STRUCT field '{name}' from NULL; cast the NULL \
                     to the desired type."
                ))
            })?;
            nodes.push((name.clone(), t.node));
            types.push(StructField {
                name: name.clone(),
                ty,
            });
        }
        Ok(Typed {
            node: Node::MakeStruct(nodes),
            ty: Some(SqlType::Struct(types)),
        })
    }

    /// Compiles expressions that must share one type (`CoercionUtil.coerceUserList`).
    fn uniform(
        &mut self,
        items: &[Expr],
        all_null: impl Fn() -> EngineError,
    ) -> Result<(Vec<Node>, SqlType), EngineError> {
        let mut compiled = Vec::with_capacity(items.len());
        for item in items {
            compiled.push(self.compile(item)?);
        }
        let typed: Vec<(&Expr, Option<&SqlType>)> = items
            .iter()
            .zip(&compiled)
            .map(|(e, t)| (e, t.ty.as_ref()))
            .collect();
        let Some(ty) = coerce::common_type(self, &typed)? else {
            return Err(all_null());
        };
        let nodes = compiled
            .into_iter()
            .map(|t| coerce(t, &ty))
            .collect::<Result<_, _>>()?;
        Ok((nodes, ty))
    }
}

/// The unit keyword of `TIMESTAMPADD(SECONDS, 5, ts)` and its kin, which the parser
/// leaves as a bare column name; those functions take it as a STRING.
fn time_unit<'e>(function: &str, position: usize, arg: &'e Expr) -> Option<&'e str> {
    const UNIT_FUNCTIONS: [&str; 6] = [
        "DATEADD",
        "DATESUB",
        "TIMEADD",
        "TIMESUB",
        "TIMESTAMPADD",
        "TIMESTAMPSUB",
    ];
    const UNITS: [&str; 5] = ["DAY", "HOUR", "MINUTE", "SECOND", "MILLISECOND"];
    let Expr::Column {
        qualifier: None,
        name,
    } = arg
    else {
        return None;
    };
    let is_unit = UNITS.contains(&name.trim_end_matches('S'));
    (position == 0 && is_unit && UNIT_FUNCTIONS.contains(&function)).then_some(name.as_str())
}

/// ROWTIME, WINDOWSTART and WINDOWEND: BIGINT columns that compare with timestamp text.
fn is_pseudo_time(e: &Expr) -> bool {
    const PSEUDO_TIME_COLUMNS: [&str; 3] = ["ROWTIME", "WINDOWSTART", "WINDOWEND"];
    matches!(e, Expr::Column { name, .. } if PSEUDO_TIME_COLUMNS.contains(&name.as_str()))
}

fn boolean(node: Node) -> Typed {
    Typed {
        node,
        ty: Some(SqlType::Boolean),
    }
}

fn negate_if(node: Node, negated: bool) -> Node {
    if negated {
        Node::Not(Box::new(node))
    } else {
        node
    }
}

fn expect_boolean(t: &Typed, e: &Expr) -> Result<(), EngineError> {
    match &t.ty {
        None | Some(SqlType::Boolean) => Ok(()),
        Some(other) => Err(stmt(format!(
            "Type mismatch: expected BOOLEAN, but {} is {other}.",
            display::expr(e)
        ))),
    }
}

fn expect_string(t: &Typed, e: &Expr, what: &str) -> Result<(), EngineError> {
    match &t.ty {
        None | Some(SqlType::String) => Ok(()),
        Some(other) => Err(stmt(format!(
            "{what} operands must be STRING, but {} is {other}.",
            display::expr(e)
        ))),
    }
}

fn literal(l: &Literal) -> Result<Typed, EngineError> {
    let (value, ty) = match l {
        Literal::Null => {
            return Ok(Typed {
                node: Node::Literal(Value::Null),
                ty: None,
            })
        }
        Literal::Boolean(b) => (Value::Boolean(*b), SqlType::Boolean),
        Literal::Integer(i) => match i32::try_from(*i) {
            Ok(small) => (Value::Integer(small), SqlType::Integer),
            Err(_) => (Value::BigInt(*i), SqlType::BigInt),
        },
        Literal::Decimal(text) => {
            let (d, ty) = decimal::literal(text)
                .ok_or_else(|| stmt(format!("Invalid DECIMAL literal: {text}")))?;
            (Value::Decimal(d), ty.sql_type())
        }
        Literal::Double(d) => (Value::Double(*d), SqlType::Double),
        Literal::String(s) => (Value::String(s.clone()), SqlType::String),
    };
    Ok(Typed {
        node: Node::Literal(value),
        ty: Some(ty),
    })
}

/// The result of an arithmetic operator (`Operator.resultType`): the wider numeric type,
/// with DECIMAL precision and scale from `SqlDecimal`; DECIMAL with DOUBLE is DOUBLE.
fn arith_result(op: ArithOp, l: &SqlType, r: &SqlType) -> Option<(ArithKind, SqlType)> {
    use SqlType as T;
    if op == ArithOp::Add && l == &T::String && r == &T::String {
        return Some((ArithKind::Concat, T::String));
    }
    if !l.is_numeric() || !r.is_numeric() {
        return None;
    }
    let either = |t: &T| l == t || r == t;
    if either(&T::Double) {
        return Some((ArithKind::Double, T::Double));
    }
    if matches!(l, T::Decimal { .. }) || matches!(r, T::Decimal { .. }) {
        let (a, b) = (DecType::of(l)?, DecType::of(r)?);
        let ty = match op {
            ArithOp::Add | ArithOp::Sub => DecType::add(a, b),
            ArithOp::Mul => DecType::multiply(a, b),
            ArithOp::Div => DecType::divide(a, b),
            ArithOp::Mod => DecType::modulus(a, b),
        };
        return Some((ArithKind::Decimal(ty), ty.sql_type()));
    }
    if either(&T::BigInt) {
        return Some((ArithKind::BigInt, T::BigInt));
    }
    Some((ArithKind::Integer, T::Integer))
}

/// Type-checks a comparison (`ExpressionTypeManager.visitComparisonExpression`) and
/// converts temporal operands to one temporal type.
fn compare_nodes(
    op: CmpOp,
    l: Typed,
    r: Typed,
    left: &Expr,
    right: &Expr,
) -> Result<Node, EngineError> {
    let (Some(lt), Some(rt)) = (&l.ty, &r.ty) else {
        let name = |t: &Option<SqlType>| t.as_ref().map_or("NULL", SqlType::base_name);
        return Err(stmt(format!(
            "Comparison with NULL not supported: {} {} {}\nUse 'IS NULL' or 'IS NOT NULL' \
             instead.",
            name(&l.ty),
            op.symbol(),
            name(&r.ty)
        )));
    };
    if !compare::is_valid(lt, op, rt) {
        return Err(stmt(format!(
            "Cannot compare {} ({lt}) to {} ({rt}) with {}.",
            display::expr(left),
            display::expr(right),
            op.type_name()
        )));
    }
    let (left_node, right_node) = match compare::temporal_target(lt, rt) {
        Some(target) => (coerce(l, &target)?, coerce(r, &target)?),
        None => (l.node, r.node),
    };
    Ok(Node::Compare {
        op,
        left: Box::new(left_node),
        right: Box::new(right_node),
    })
}

/// The CASE result type: all typed THEN/ELSE branches must agree (ksqlDB's rule), except
/// that numeric branches widen to their common type.
fn case_type(
    results: &[(Typed, &Expr, &Expr)],
    default: Option<&Typed>,
) -> Result<SqlType, EngineError> {
    let mut ty: Option<SqlType> = None;
    for (t, when, then) in results {
        let Some(this) = &t.ty else { continue };
        ty = Some(match &ty {
            None => this.clone(),
            Some(prev) => widen(prev, this).ok_or_else(|| {
                stmt(format!(
                    "Invalid Case expression. Type for all 'THEN' clauses should be the \
                     same.\nTHEN expression '{}' has type: {this}.\nPrevious THEN \
                     expression(s) type: {prev}.",
                    display::when_clause(when, then)
                ))
            })?,
        });
    }
    match (ty, default.and_then(|d| d.ty.clone())) {
        (Some(then_ty), Some(default_ty)) => widen(&then_ty, &default_ty).ok_or_else(|| {
            stmt(format!(
                "Invalid Case expression. Type for the default clause should be the same as \
                 for 'THEN' clauses.\nTHEN type: {then_ty}.\nDEFAULT type: {default_ty}."
            ))
        }),
        (Some(t), None) | (None, Some(t)) => Ok(t),
        (None, None) => Err(stmt(
            "Invalid Case expression. All case branches have NULL type",
        )),
    }
}

/// The common type of two types: equal types, or the wider of two numbers
/// (INTEGER < BIGINT < DECIMAL < DOUBLE; DECIMALs widen by `DecimalUtil.widen`).
pub(crate) fn widen(a: &SqlType, b: &SqlType) -> Option<SqlType> {
    use SqlType as T;
    if a == b {
        return Some(a.clone());
    }
    if !a.is_numeric() || !b.is_numeric() {
        return None;
    }
    if a == &T::Double || b == &T::Double {
        return Some(T::Double);
    }
    if matches!(a, T::Decimal { .. }) || matches!(b, T::Decimal { .. }) {
        return Some(DecType::widen(DecType::of(a)?, DecType::of(b)?).sql_type());
    }
    Some(T::BigInt)
}

/// The common type of several types: `Ok(None)` when there are none, `Err((common so
/// far, offending type))` when one does not fit.
pub(crate) fn common_type<'t>(
    types: impl Iterator<Item = &'t SqlType>,
) -> Result<Option<SqlType>, (SqlType, SqlType)> {
    let mut acc: Option<SqlType> = None;
    for t in types {
        acc = Some(match acc {
            None => t.clone(),
            Some(prev) => match widen(&prev, t) {
                Some(w) => w,
                None => return Err((prev, t.clone())),
            },
        });
    }
    Ok(acc)
}

impl LambdaScope for Compiler<'_> {
    fn compile(&mut self, expr: &Expr) -> Result<Typed, EngineError> {
        Compiler::compile(self, expr)
    }

    fn compile_in_scope(
        &mut self,
        params: &[(String, SqlType)],
        body: &Expr,
    ) -> Result<Typed, EngineError> {
        Compiler::compile_in_scope(self, params, body)
    }

    fn param_count(&self) -> usize {
        Compiler::param_count(self)
    }
}

impl coerce::TypeOf for Compiler<'_> {
    fn type_of(&mut self, expr: &Expr) -> Result<Option<SqlType>, EngineError> {
        Ok(self.compile(expr)?.ty)
    }
}
