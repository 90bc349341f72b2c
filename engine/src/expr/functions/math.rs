//! Math functions (`udf/math/*.java`, `udf/geo/GeoDistance.java`).
//!
//! The DOUBLE functions (trigonometry, `EXP`, `LN`, `SQRT`, …) take INT, BIGINT and DECIMAL
//! arguments widened to DOUBLE and use Rust's `f64` methods, which agree with
//! `java.lang.Math` except possibly in the last bit for the transcendental ones.

use std::borrow::Cow;
use std::cmp::Ordering;

use super::super::compare;
use super::super::decimal::{self, DecType};
use super::{
    any_null, arg, bad_arg, def, f64_arg, fixed, numeric_arg, sig, str_arg, user_err, widens_to,
    ArgType, EvalFn, FunctionDef, Signature,
};
use crate::error::EngineError;
use crate::types::{Decimal, SqlType, Value};

use SqlType as T;

pub(super) static FUNCTIONS: &[FunctionDef] = &[
    def("ABS", abs),
    def("ACOS", |a| double1(a, |v, _| map_f64(v, f64::acos))),
    def("ASIN", |a| double1(a, |v, _| map_f64(v, f64::asin))),
    def("ATAN", |a| double1(a, |v, _| map_f64(v, f64::atan))),
    def("ATAN2", |a| double2(a, |v, _| map_f64_2(v, f64::atan2))),
    def("CBRT", |a| double1(a, |v, _| map_f64(v, f64::cbrt))),
    def("CEIL", |a| {
        same_numeric(a, |v, _| round_toward(arg(v, 0), f64::ceil, Direction::Up))
    }),
    def("COS", |a| double1(a, |v, _| map_f64(v, f64::cos))),
    def("COSH", |a| double1(a, |v, _| map_f64(v, f64::cosh))),
    def("COT", |a| double1(a, |v, _| map_f64(v, |x| 1.0 / x.tan()))),
    def("DEGREES", |a| {
        double1(a, |v, _| map_f64(v, f64::to_degrees))
    }),
    def("EXP", |a| double1(a, |v, _| map_f64(v, f64::exp))),
    def("FLOOR", |a| {
        same_numeric(a, |v, _| {
            round_toward(arg(v, 0), f64::floor, Direction::Down)
        })
    }),
    def("GEO_DISTANCE", geo_distance),
    def("GREATEST", |a| {
        extreme(a, |v, _| pick(v, Ordering::Greater))
    }),
    def("LEAST", |a| extreme(a, |v, _| pick(v, Ordering::Less))),
    def("LN", |a| double1(a, |v, _| map_f64(v, f64::ln))),
    def("LOG", log),
    def("PI", |a| {
        a.is_empty().then(|| {
            sig(vec![], T::Double, |_, _| {
                Ok(Value::Double(std::f64::consts::PI))
            })
        })?
    }),
    def("POWER", |a| double2(a, |v, _| map_f64_2(v, f64::powf))),
    def("RADIANS", |a| {
        double1(a, |v, _| map_f64(v, f64::to_radians))
    }),
    def("RANDOM", |a| {
        a.is_empty().then(|| {
            sig(vec![], T::Double, |_, _| {
                Ok(Value::Double(rand::random::<f64>()))
            })
        })?
    }),
    def("ROUND", round),
    def("SIGN", sign),
    def("SIN", |a| double1(a, |v, _| map_f64(v, f64::sin))),
    def("SINH", |a| double1(a, |v, _| map_f64(v, f64::sinh))),
    def("SQRT", |a| double1(a, |v, _| map_f64(v, f64::sqrt))),
    def("TAN", |a| double1(a, |v, _| map_f64(v, f64::tan))),
    def("TANH", |a| double1(a, |v, _| map_f64(v, f64::tanh))),
    def("TRUNC", trunc),
];

/// Resolves `f(DOUBLE) -> DOUBLE`, widening INT, BIGINT and DECIMAL arguments.
fn double1(args: &[ArgType], eval: EvalFn) -> Option<Signature> {
    fixed(args, &[T::Double], T::Double, eval)
}

/// Resolves `f(DOUBLE, DOUBLE) -> DOUBLE`.
fn double2(args: &[ArgType], eval: EvalFn) -> Option<Signature> {
    fixed(args, &[T::Double, T::Double], T::Double, eval)
}

fn map_f64(args: &[Cow<'_, Value>], f: fn(f64) -> f64) -> Result<Value, EngineError> {
    Ok(f64_arg(args, 0).map_or(Value::Null, |x| Value::Double(f(x))))
}

fn map_f64_2(args: &[Cow<'_, Value>], f: fn(f64, f64) -> f64) -> Result<Value, EngineError> {
    Ok(match (f64_arg(args, 0), f64_arg(args, 1)) {
        (Some(x), Some(y)) => Value::Double(f(x, y)),
        _ => Value::Null,
    })
}

/// Resolves `f(T) -> T` for one numeric `T` (`ABS`, `CEIL`, `FLOOR`).
fn same_numeric(args: &[ArgType], eval: EvalFn) -> Option<Signature> {
    let [a] = args else { return None };
    let t = numeric_arg(a)?;
    sig(vec![Some(t.clone())], t, eval)
}

/// `ABS`: same type out; `Math.abs(Integer.MIN_VALUE)` stays negative, as in Java.
fn abs(args: &[ArgType]) -> Option<Signature> {
    same_numeric(args, |a, _| {
        Ok(match arg(a, 0) {
            Value::Integer(i) => Value::Integer(i.wrapping_abs()),
            Value::BigInt(i) => Value::BigInt(i.wrapping_abs()),
            Value::Double(d) => Value::Double(d.abs()),
            Value::Decimal(d) => Value::Decimal(Decimal::new(d.unscaled.abs(), d.scale)),
            _ => Value::Null,
        })
    })
}

#[derive(Clone, Copy)]
enum Direction {
    Down,
    Up,
}

/// `FLOOR`/`CEIL`: integers unchanged, DOUBLE `Math.floor/ceil`, DECIMAL keeps its type.
fn round_toward(v: &Value, f: fn(f64) -> f64, dir: Direction) -> Result<Value, EngineError> {
    Ok(match v {
        Value::Double(d) => Value::Double(f(*d)),
        Value::Decimal(d) => {
            let Some(unit) = decimal::pow10(u32::from(d.scale)) else {
                return Ok(Value::Decimal(Decimal::new(0, d.scale)));
            };
            let q = d.unscaled.div_euclid(unit);
            let exact = d.unscaled.rem_euclid(unit) == 0;
            let q = match dir {
                Direction::Up if !exact => q + 1,
                _ => q,
            };
            // |q · unit| <= |unscaled| + unit, which fits: unscaled has at most 38 digits.
            let unscaled = q.checked_mul(unit).ok_or_else(|| {
                EngineError::bad_request(format!("DECIMAL overflow rounding {d}"))
            })?;
            Value::Decimal(Decimal::new(unscaled, d.scale))
        }
        other => other.clone(),
    })
}

/// How `ROUND` and `TRUNC` drop digits.
#[derive(Clone, Copy, PartialEq)]
enum Mode {
    /// `Round.java`: ties toward +∞ (HALF_UP for positives, HALF_DOWN for negatives).
    HalfUp,
    /// `Trunc.java`: `RoundingMode.DOWN`, toward zero.
    Down,
}

/// `ROUND` (`Round.java`): INT, BIGINT and DOUBLE round to BIGINT; `ROUND(DOUBLE, n)` is a
/// DOUBLE; `ROUND(DECIMAL(p, s))` is DECIMAL(p - s, 0); `ROUND(DECIMAL, n)` keeps the type.
fn round(args: &[ArgType]) -> Option<Signature> {
    round_or_trunc(args, Mode::HalfUp)
}

/// `TRUNC` (`Trunc.java`): the same types as `ROUND`, dropping digits toward zero.
fn trunc(args: &[ArgType]) -> Option<Signature> {
    round_or_trunc(args, Mode::Down)
}

fn round_or_trunc(args: &[ArgType], mode: Mode) -> Option<Signature> {
    let (to_bigint, dec, dbl): (EvalFn, EvalFn, EvalFn) = match mode {
        Mode::HalfUp => (
            |a, _| to_bigint(a, Mode::HalfUp),
            |a, r| scale_decimal(a, r, Mode::HalfUp),
            |a, _| scale_double(a, Mode::HalfUp),
        ),
        Mode::Down => (
            |a, _| to_bigint(a, Mode::Down),
            |a, r| scale_decimal(a, r, Mode::Down),
            |a, _| scale_double(a, Mode::Down),
        ),
    };
    match args {
        [a] => {
            let t = numeric_arg(a)?;
            match t {
                T::Decimal { precision, scale } => {
                    let ret = DecType::new(precision.saturating_sub(scale).max(1), 0);
                    sig(vec![Some(t)], ret.sql_type(), dec)
                }
                _ => sig(vec![Some(t)], T::BigInt, to_bigint),
            }
        }
        [a, n] if widens_to(n, &T::Integer) => {
            let t = numeric_arg(a)?;
            let int = Some(T::Integer);
            match t {
                T::Decimal { .. } => sig(vec![Some(t.clone()), int], t, dec),
                _ => sig(vec![Some(T::Double), int], T::Double, dbl),
            }
        }
        _ => None,
    }
}

fn to_bigint(args: &[Cow<'_, Value>], mode: Mode) -> Result<Value, EngineError> {
    Ok(match arg(args, 0) {
        Value::Integer(i) => Value::BigInt(i64::from(*i)),
        Value::BigInt(i) => Value::BigInt(*i),
        // `Double.longValue` truncates and saturates, NaN is 0; so does `as`.
        Value::Double(d) if mode == Mode::Down => Value::BigInt(*d as i64),
        Value::Double(d) => Value::BigInt(java_math_round(*d)),
        _ => Value::Null,
    })
}

/// `Math.round(double)`: floor(x + 0.5) computed without the rounding error of the sum;
/// NaN is 0 and out-of-range values saturate.
fn java_math_round(d: f64) -> i64 {
    let f = d.floor();
    let r = if d - f >= 0.5 { f + 1.0 } else { f };
    r as i64
}

fn places_arg(args: &[Cow<'_, Value>]) -> i32 {
    match arg(args, 1) {
        Value::Integer(n) => *n,
        _ => 0,
    }
}

/// Drops digits of `unscaled × 10^-scale` to leave `places` decimal places; the result is
/// at scale `min(places, scale)`.
fn scale_unscaled(unscaled: i128, scale: i32, places: i32, mode: Mode) -> i128 {
    let drop = i64::from(scale) - i64::from(places);
    if drop <= 0 {
        return unscaled;
    }
    let Some(unit) = u32::try_from(drop).ok().and_then(decimal::pow10) else {
        return 0;
    };
    match mode {
        Mode::Down => unscaled / unit,
        Mode::HalfUp => {
            let q = unscaled.div_euclid(unit);
            let r = unscaled.rem_euclid(unit);
            // Floor division: a remainder of at least half the unit rounds up (toward +∞).
            if r >= unit - r {
                q + 1
            } else {
                q
            }
        }
    }
}

fn scale_decimal(args: &[Cow<'_, Value>], ret: &SqlType, mode: Mode) -> Result<Value, EngineError> {
    if any_null(args) {
        return Ok(Value::Null);
    }
    let Value::Decimal(d) = arg(args, 0) else {
        return Err(bad_arg("ROUND/TRUNC", arg(args, 0)));
    };
    let places = places_arg(args);
    let T::Decimal {
        scale: out_scale, ..
    } = ret
    else {
        return Err(EngineError::internal("ROUND(DECIMAL) must return DECIMAL"));
    };
    let overflow = || EngineError::bad_request(format!("DECIMAL overflow rounding {d}"));
    let scale = i32::from(d.scale);
    let rounded = scale_unscaled(d.unscaled, scale, places, mode);
    // `rounded` is at scale min(places, scale); bring it to the result scale.
    let at = i64::from(places.min(scale));
    let shift = i64::from(*out_scale) - at;
    let unscaled = if shift >= 0 {
        let f = u32::try_from(shift).ok().and_then(decimal::pow10);
        f.and_then(|f| rounded.checked_mul(f))
            .ok_or_else(overflow)?
    } else {
        let f = u32::try_from(-shift).ok().and_then(decimal::pow10);
        f.map_or(0, |f| rounded / f)
    };
    if !decimal::fits(unscaled, decimal_precision(ret)) {
        return Err(overflow());
    }
    Ok(Value::Decimal(Decimal::new(unscaled, *out_scale)))
}

fn decimal_precision(t: &SqlType) -> u8 {
    match t {
        T::Decimal { precision, .. } => *precision,
        _ => 38,
    }
}

/// `ROUND/TRUNC(DOUBLE, n)` work on the shortest decimal text of the double
/// (`BigDecimal.valueOf`).
fn scale_double(args: &[Cow<'_, Value>], mode: Mode) -> Result<Value, EngineError> {
    if any_null(args) {
        return Ok(Value::Null);
    }
    let Some(d) = f64_arg(args, 0) else {
        return Err(bad_arg("ROUND/TRUNC", arg(args, 0)));
    };
    if !d.is_finite() {
        return Err(user_err(format!("Cannot round {d}: not a finite number")));
    }
    let places = places_arg(args);
    let text = format!("{d:e}");
    let (unscaled, scale) = decimal::parse_text(&text)
        .ok_or_else(|| EngineError::internal(format!("unparsable double text {text}")))?;
    let rounded = scale_unscaled(unscaled, scale, places, mode);
    let out_scale = places.min(scale);
    let out: f64 = format!("{rounded}e{}", -i64::from(out_scale))
        .parse()
        .unwrap_or(d);
    Ok(Value::Double(out))
}

/// `SIGN(INT|BIGINT|DOUBLE) -> INT`: -1, 0 or 1; NaN is 0 (`Sign.java`).
fn sign(args: &[ArgType]) -> Option<Signature> {
    let [a] = args else { return None };
    let t = match numeric_arg(a)? {
        T::Decimal { .. } => T::Double,
        t => t,
    };
    sig(vec![Some(t)], T::Integer, |a, _| {
        Ok(match arg(a, 0) {
            Value::Integer(i) => Value::Integer(i.signum()),
            Value::BigInt(i) => Value::Integer(i.signum() as i32),
            Value::Double(d) if d.is_nan() || *d == 0.0 => Value::Integer(0),
            Value::Double(d) => Value::Integer(if *d > 0.0 { 1 } else { -1 }),
            _ => Value::Null,
        })
    })
}

/// `LOG(x)` is the natural logarithm — the Java UDF calls `Math.log`, whatever the docs
/// say; `LOG(base, x)` is NaN for a base <= 0 or 1 (`Log.java`).
fn log(args: &[ArgType]) -> Option<Signature> {
    match args.len() {
        1 => double1(args, |v, _| map_f64(v, f64::ln)),
        2 => double2(args, |v, _| {
            map_f64_2(v, |base, x| {
                if base <= 0.0 || base == 1.0 {
                    f64::NAN
                } else {
                    x.ln() / base.ln()
                }
            })
        }),
        _ => None,
    }
}

/// `GREATEST`/`LEAST(v, …)`: all arguments widen to one orderable type; NULLs are ignored;
/// NULL when all are NULL (`Greatest.java`, `Least.java`).
fn extreme(args: &[ArgType], eval: EvalFn) -> Option<Signature> {
    if args.is_empty() {
        return None;
    }
    let ty = super::super::coerce::strict_common_type(args.iter().flatten())?;
    let orderable =
        ty.is_numeric() || matches!(ty, T::String | T::Bytes | T::Date | T::Time | T::Timestamp);
    if !orderable {
        return None;
    }
    // Java's UDF returns the winning BigDecimal as it is, with its own scale, so DECIMAL
    // arguments are compared by value and not rescaled to the common type.
    let params = args
        .iter()
        .map(|a| match a {
            Some(T::Decimal { .. }) if matches!(ty, T::Decimal { .. }) => None,
            _ => Some(ty.clone()),
        })
        .collect();
    sig(params, ty, eval)
}

fn pick(args: &[Cow<'_, Value>], want: Ordering) -> Result<Value, EngineError> {
    let mut best: Option<&Value> = None;
    for v in args.iter().map(|a| a.as_ref()).filter(|v| !v.is_null()) {
        best = match best {
            Some(b) if compare::order(v, b) != Some(want) => Some(b),
            _ => Some(v),
        };
    }
    Ok(best.cloned().unwrap_or(Value::Null))
}

/// Effective Earth radii the Java UDF uses.
const EARTH_RADIUS_KM: f64 = 6371.0;
const EARTH_RADIUS_MILES: f64 = 3959.0;

/// `GEO_DISTANCE(lat1, lon1, lat2, lon2 [, unit])`: great-circle (haversine) distance in
/// km (default) or miles (`GeoDistance.java`).
fn geo_distance(args: &[ArgType]) -> Option<Signature> {
    let mut params = vec![T::Double; 4];
    if args.len() == 5 {
        params.push(T::String);
    }
    fixed(args, &params, T::Double, |a, _| {
        let coords: Option<Vec<f64>> = (0..4).map(|i| f64_arg(a, i)).collect();
        let Some(c) = coords else {
            return Ok(Value::Null);
        };
        if c[0].abs() > 90.0 || c[2].abs() > 90.0 {
            return Err(user_err(
                "valid latitude values for GeoDistance function are in the range of -90 to 90",
            ));
        }
        if c[1].abs() > 180.0 || c[3].abs() > 180.0 {
            return Err(user_err(
                "valid longitude values for GeoDistance function are in the range of -180 to +180",
            ));
        }
        let radius = earth_radius(str_arg(a, 4))?;
        let haversin = |x: f64| (x / 2.0).sin().powi(2);
        let (d_lat, d_lon) = ((c[2] - c[0]).to_radians(), (c[3] - c[1]).to_radians());
        let h =
            haversin(d_lat) + haversin(d_lon) * c[0].to_radians().cos() * c[2].to_radians().cos();
        Ok(Value::Double(2.0 * h.sqrt().asin() * radius))
    })
}

fn earth_radius(unit: Option<&str>) -> Result<f64, EngineError> {
    let Some(u) = unit.map(str::trim).filter(|u| !u.is_empty()) else {
        return Ok(EARTH_RADIUS_KM);
    };
    match u.to_lowercase().as_str() {
        "mi" | "mile" | "miles" => Ok(EARTH_RADIUS_MILES),
        "km" | "kilometer" | "kilometers" | "kilometre" | "kilometres" => Ok(EARTH_RADIUS_KM),
        _ => Err(user_err(
            "GeoDistance function units parameter must be one of mi, mile, miles, km, \
             kilometer, kilometers, kilometre, or kilometres",
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn math_round_matches_java() {
        assert_eq!(java_math_round(2.5), 3);
        assert_eq!(java_math_round(-2.5), -2);
        assert_eq!(java_math_round(0.499_999_999_999_999_94), 0);
        assert_eq!(java_math_round(f64::NAN), 0);
        assert_eq!(java_math_round(1e300), i64::MAX);
    }

    #[test]
    fn scale_unscaled_rounds_ties_up_and_truncates_down() {
        assert_eq!(scale_unscaled(125, 2, 1, Mode::HalfUp), 13);
        assert_eq!(scale_unscaled(-125, 2, 1, Mode::HalfUp), -12);
        assert_eq!(scale_unscaled(-126, 2, 1, Mode::HalfUp), -13);
        assert_eq!(scale_unscaled(125, 2, 5, Mode::HalfUp), 125);
        assert_eq!(scale_unscaled(129, 2, 1, Mode::Down), 12);
        assert_eq!(scale_unscaled(-129, 2, 1, Mode::Down), -12);
        assert_eq!(scale_unscaled(12_345, 2, -1, Mode::Down), 12);
    }

    #[test]
    fn geo_distance_matches_ksqldb_example() {
        let args: Vec<Cow<'_, Value>> = [37.4439, -122.1663, 51.5257, -0.1122]
            .into_iter()
            .map(|d| Cow::Owned(Value::Double(d)))
            .collect();
        let sig = geo_distance(&[
            Some(T::Double),
            Some(T::Double),
            Some(T::Double),
            Some(T::Double),
        ])
        .expect("resolves");
        let Ok(Value::Double(km)) = (sig.eval)(&args, &T::Double) else {
            panic!("no distance");
        };
        // QTT `geo_distance` expects 8634.659796579544; glibc's sin/asin and HotSpot's
        // intrinsics can differ in the last bit.
        assert!((km - 8_634.659_796_579_544).abs() < 1e-9, "{km}");
    }
}
