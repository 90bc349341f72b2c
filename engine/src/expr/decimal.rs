//! DECIMAL arithmetic on `i128` unscaled values, with ksqlDB's result types and errors.
//!
//! ksqlDB computes DECIMAL results with `BigDecimal` and a `MathContext(precision,
//! UNNECESSARY)`: a result that would need rounding is an error, not a rounded value
//! (`ArithmeticInterpreter`, `SqlToJavaVisitor.visitArithmeticBinary`). Result types follow
//! `SqlDecimal.add/multiply/divide/modulus`.

use crate::error::EngineError;
use crate::types::{Decimal, SqlType};

/// `10^38` fits in an `i128` (max ≈ 1.7·10^38); `10^39` does not.
const POW10_MAX: u32 = 38;

/// Precision and scale of a DECIMAL type, or of an integer type upcast to DECIMAL.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct DecType {
    pub precision: u8,
    pub scale: u8,
}

impl DecType {
    /// ksqlDB's `DecimalUtil.toSqlDecimal`: INT is DECIMAL(10, 0), BIGINT DECIMAL(19, 0).
    pub fn of(ty: &SqlType) -> Option<DecType> {
        match ty {
            SqlType::Decimal { precision, scale } => Some(DecType {
                precision: *precision,
                scale: *scale,
            }),
            SqlType::Integer => Some(DecType::new(10, 0)),
            SqlType::BigInt => Some(DecType::new(19, 0)),
            _ => None,
        }
    }

    pub fn new(precision: u8, scale: u8) -> DecType {
        DecType { precision, scale }
    }

    pub fn sql_type(self) -> SqlType {
        SqlType::Decimal {
            precision: self.precision,
            scale: self.scale,
        }
    }

    fn whole(self) -> u8 {
        self.precision.saturating_sub(self.scale)
    }

    /// `SqlDecimal.add` (and subtract).
    pub fn add(a: DecType, b: DecType) -> DecType {
        let scale = a.scale.max(b.scale);
        let precision = scale
            .saturating_add(a.whole().max(b.whole()))
            .saturating_add(1);
        DecType::new(precision, scale)
    }

    /// `SqlDecimal.multiply`.
    pub fn multiply(a: DecType, b: DecType) -> DecType {
        DecType::new(
            a.precision.saturating_add(b.precision).saturating_add(1),
            a.scale.saturating_add(b.scale),
        )
    }

    /// `SqlDecimal.divide`.
    pub fn divide(a: DecType, b: DecType) -> DecType {
        let scale = a.scale.saturating_add(b.precision).saturating_add(1).max(6);
        let precision = a.whole().saturating_add(b.scale).saturating_add(scale);
        DecType::new(precision, scale)
    }

    /// `SqlDecimal.modulus`.
    pub fn modulus(a: DecType, b: DecType) -> DecType {
        let scale = a.scale.max(b.scale);
        DecType::new(a.whole().min(b.whole()).saturating_add(scale).max(1), scale)
    }

    /// `DecimalUtil.widen`: the smallest DECIMAL both types fit in.
    pub fn widen(a: DecType, b: DecType) -> DecType {
        let scale = a.scale.max(b.scale);
        DecType::new(a.whole().max(b.whole()).saturating_add(scale), scale)
    }
}

pub(crate) fn pow10(n: u32) -> Option<i128> {
    if n > POW10_MAX {
        return None;
    }
    Some(10i128.pow(n))
}

fn overflow(what: &str) -> EngineError {
    EngineError::bad_request(format!("DECIMAL overflow in {what}"))
}

/// Java's `ArithmeticException` text for a result that needs rounding under `UNNECESSARY`.
fn rounding_necessary() -> EngineError {
    EngineError::bad_request("Rounding necessary")
}

/// Java's `BigDecimal` text for a zero divisor.
fn division_by_zero() -> EngineError {
    EngineError::bad_request("Division by zero")
}

/// Changes the scale, rounding HALF_UP (ties away from zero) when the scale drops.
pub(crate) fn rescale(d: Decimal, scale: u8) -> Option<i128> {
    if scale >= d.scale {
        return d.unscaled.checked_mul(pow10(u32::from(scale - d.scale))?);
    }
    let Some(divisor) = pow10(u32::from(d.scale - scale)) else {
        // Dropping more than 38 digits leaves nothing of any i128.
        return Some(0);
    };
    let q = d.unscaled / divisor;
    let r = d.unscaled % divisor;
    // |r| >= divisor / 2, computed without overflow.
    let round_away = r.unsigned_abs() >= divisor.unsigned_abs() - r.unsigned_abs();
    Some(if round_away {
        q + d.unscaled.signum()
    } else {
        q
    })
}

/// Rescales exactly: `None` when digits would be lost or the value overflows.
fn rescale_exact(d: Decimal, scale: u8) -> Option<i128> {
    if scale >= d.scale {
        return rescale(d, scale);
    }
    let divisor = pow10(u32::from(d.scale - scale))?;
    (d.unscaled % divisor == 0).then(|| d.unscaled / divisor)
}

/// True when `unscaled` has at most `precision` digits.
pub(crate) fn fits(unscaled: i128, precision: u8) -> bool {
    match pow10(u32::from(precision)) {
        Some(limit) => unscaled.unsigned_abs() < limit.unsigned_abs(),
        // Any i128 has at most 39 digits; 39+ digit precisions hold it.
        None => true,
    }
}

/// `DecimalUtil.ensureMax`'s error for a value too large for a DECIMAL(p, s).
pub(crate) fn field_overflow(d: Decimal, ty: DecType) -> EngineError {
    EngineError::bad_request(format!(
        "Numeric field overflow: A field with precision {} and scale {} must round to an \
         absolute value less than 10^{}. Got {}",
        ty.precision,
        ty.scale,
        ty.whole(),
        d
    ))
}

/// Casts to DECIMAL(p, s): HALF_UP when lowering the scale, an error when too large.
pub(crate) fn cast(d: Decimal, ty: DecType) -> Result<Decimal, EngineError> {
    let unscaled = rescale(d, ty.scale).ok_or_else(|| field_overflow(d, ty))?;
    if !fits(unscaled, ty.precision) {
        return Err(field_overflow(d, ty));
    }
    Ok(Decimal::new(unscaled, ty.scale))
}

/// Checks a computed result against its declared precision, as `MathContext` would.
fn finish(unscaled: i128, ty: DecType) -> Result<Decimal, EngineError> {
    if !fits(unscaled, ty.precision) {
        return Err(rounding_necessary());
    }
    Ok(Decimal::new(unscaled, ty.scale))
}

pub(crate) fn add(a: Decimal, b: Decimal, ty: DecType) -> Result<Decimal, EngineError> {
    let x = rescale(a, ty.scale).ok_or_else(|| overflow("addition"))?;
    let y = rescale(b, ty.scale).ok_or_else(|| overflow("addition"))?;
    finish(x.checked_add(y).ok_or_else(|| overflow("addition"))?, ty)
}

pub(crate) fn sub(a: Decimal, b: Decimal, ty: DecType) -> Result<Decimal, EngineError> {
    let x = rescale(a, ty.scale).ok_or_else(|| overflow("subtraction"))?;
    let y = rescale(b, ty.scale).ok_or_else(|| overflow("subtraction"))?;
    finish(x.checked_sub(y).ok_or_else(|| overflow("subtraction"))?, ty)
}

pub(crate) fn mul(a: Decimal, b: Decimal, ty: DecType) -> Result<Decimal, EngineError> {
    let product = a
        .unscaled
        .checked_mul(b.unscaled)
        .ok_or_else(|| overflow("multiplication"))?;
    let exact = Decimal::new(product, a.scale.saturating_add(b.scale));
    let unscaled = rescale_exact(exact, ty.scale).ok_or_else(rounding_necessary)?;
    finish(unscaled, ty)
}

/// Exact division at the result scale; a quotient that does not terminate there is an
/// error, as `divide(…, MathContext(p, UNNECESSARY)).setScale(s)` is in ksqlDB.
pub(crate) fn div(a: Decimal, b: Decimal, ty: DecType) -> Result<Decimal, EngineError> {
    if b.unscaled == 0 {
        return Err(division_by_zero());
    }
    // a/b at scale s = a.unscaled * 10^(s - sa + sb) / b.unscaled.
    let shift = i32::from(ty.scale) - i32::from(a.scale) + i32::from(b.scale);
    let (num, den) = if shift >= 0 {
        let f = pow10(shift.unsigned_abs()).ok_or_else(|| overflow("division"))?;
        (a.unscaled.checked_mul(f), Some(b.unscaled))
    } else {
        let f = pow10(shift.unsigned_abs()).ok_or_else(|| overflow("division"))?;
        (Some(a.unscaled), b.unscaled.checked_mul(f))
    };
    let (num, den) = num.zip(den).ok_or_else(|| overflow("division"))?;
    if num % den != 0 {
        return Err(rounding_necessary());
    }
    finish(num / den, ty)
}

/// `BigDecimal.remainder`: truncated division, the result takes the dividend's sign.
pub(crate) fn rem(a: Decimal, b: Decimal, ty: DecType) -> Result<Decimal, EngineError> {
    if b.unscaled == 0 {
        return Err(division_by_zero());
    }
    let scale = a.scale.max(b.scale);
    let x = rescale(a, scale).ok_or_else(|| overflow("modulus"))?;
    let y = rescale(b, scale).ok_or_else(|| overflow("modulus"))?;
    let r = Decimal::new(x % y, scale);
    let unscaled = rescale_exact(r, ty.scale).ok_or_else(rounding_necessary)?;
    finish(unscaled, ty)
}

/// Compares two decimals exactly; values so large that aligning their scales overflows
/// `i128` (beyond 38 digits) fall back to comparing doubles.
pub(crate) fn cmp(a: Decimal, b: Decimal) -> std::cmp::Ordering {
    let scale = a.scale.max(b.scale);
    match (rescale(a, scale), rescale(b, scale)) {
        (Some(x), Some(y)) => x.cmp(&y),
        _ => to_f64(a).total_cmp(&to_f64(b)),
    }
}

/// Decimal to the nearest double, as `BigDecimal.doubleValue` does.
pub(crate) fn to_f64(d: Decimal) -> f64 {
    // Both operands exact in f64 → one correctly rounded division.
    const EXACT_INT_MAX: u128 = 1 << 53;
    if d.unscaled.unsigned_abs() <= EXACT_INT_MAX && d.scale <= 22 {
        return d.unscaled as f64 / 10f64.powi(i32::from(d.scale));
    }
    d.to_string().parse().unwrap_or_else(|_| d.to_f64())
}

/// Parses Java `BigDecimal` text: `[+-]digits[.digits][e[+-]digits]`, or `.5`, `5.`.
/// Returns the unscaled value and the (possibly negative) scale.
pub(crate) fn parse_text(s: &str) -> Option<(i128, i32)> {
    let (mantissa, exp) = match s.find(['e', 'E']) {
        Some(i) => (&s[..i], s[i + 1..].parse::<i32>().ok()?),
        None => (s, 0),
    };
    let (neg, digits) = match mantissa.as_bytes().first() {
        Some(b'-') => (true, &mantissa[1..]),
        Some(b'+') => (false, &mantissa[1..]),
        _ => (false, mantissa),
    };
    let (int, frac) = digits.split_once('.').unwrap_or((digits, ""));
    if int.is_empty() && frac.is_empty() {
        return None;
    }
    let mut unscaled: i128 = 0;
    for b in int.bytes().chain(frac.bytes()) {
        if !b.is_ascii_digit() {
            return None;
        }
        unscaled = unscaled
            .checked_mul(10)?
            .checked_add(i128::from(b - b'0'))?;
    }
    let scale = i32::try_from(frac.len()).ok()?.checked_sub(exp)?;
    Some((if neg { -unscaled } else { unscaled }, scale))
}

/// Converts parsed text to a DECIMAL(p, s), rounding HALF_UP (`DecimalUtil.cast(String)`).
pub(crate) fn from_text(s: &str, ty: DecType) -> Result<Decimal, EngineError> {
    let bad = || EngineError::bad_request(format!("Cannot convert '{s}' to {}", ty.sql_type()));
    let (unscaled, scale) = parse_text(s).ok_or_else(bad)?;
    let d = if scale < 0 {
        let f = pow10(scale.unsigned_abs()).ok_or_else(bad)?;
        Decimal::new(unscaled.checked_mul(f).ok_or_else(bad)?, 0)
    } else if scale > i32::from(u8::MAX) {
        // More than 255 fractional digits: nothing survives any DECIMAL scale.
        Decimal::new(0, ty.scale)
    } else {
        Decimal::new(unscaled, u8::try_from(scale).map_err(|_| bad())?)
    };
    cast(d, ty)
}

/// The DECIMAL type ksqlDB gives a literal (`DecimalUtil.fromValue`): precision is the
/// digit count, but a value below 1 in magnitude gets `scale + 1`.
pub(crate) fn literal(text: &str) -> Option<(Decimal, DecType)> {
    let (unscaled, scale) = parse_text(text)?;
    let (unscaled, scale) = if scale < 0 {
        (unscaled.checked_mul(pow10(scale.unsigned_abs())?)?, 0u8)
    } else {
        (unscaled, u8::try_from(scale).ok()?)
    };
    let d = Decimal::new(unscaled, scale);
    let below_one = pow10(u32::from(scale)).is_some_and(|one| unscaled.abs() < one);
    let precision = if below_one {
        scale.checked_add(1)?
    } else {
        d.digits()
    };
    Some((d, DecType::new(precision, scale)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(u: i128, s: u8) -> Decimal {
        Decimal::new(u, s)
    }

    #[test]
    fn result_types_follow_sql_decimal() {
        let a = DecType::new(4, 2);
        let b = DecType::new(3, 1);
        assert_eq!(DecType::add(a, b), DecType::new(5, 2));
        assert_eq!(DecType::multiply(a, b), DecType::new(8, 3));
        assert_eq!(DecType::divide(a, b), DecType::new(9, 6));
        assert_eq!(DecType::modulus(a, b), DecType::new(4, 2));
        assert_eq!(DecType::widen(a, b), DecType::new(4, 2));
    }

    #[test]
    fn rescale_rounds_half_up() {
        assert_eq!(rescale(d(125, 2), 1), Some(13));
        assert_eq!(rescale(d(-125, 2), 1), Some(-13));
        assert_eq!(rescale(d(124, 2), 1), Some(12));
        assert_eq!(rescale(d(12, 0), 2), Some(1200));
    }

    #[test]
    fn division_is_exact_or_an_error() {
        let ty = DecType::divide(DecType::new(3, 1), DecType::new(2, 1));
        assert_eq!(div(d(101, 1), d(20, 1), ty).unwrap(), d(5_050_000, 6));
        assert!(div(d(101, 1), d(30, 1), ty).is_err());
        assert!(div(d(101, 1), d(0, 1), ty).is_err());
    }

    #[test]
    fn literal_types() {
        assert_eq!(literal("1.50").unwrap().1, DecType::new(3, 2));
        assert_eq!(literal("0.05").unwrap().1, DecType::new(3, 2));
        assert_eq!(literal("10.1").unwrap().1, DecType::new(3, 1));
    }

    #[test]
    fn compare_across_scales() {
        assert!(cmp(d(1001, 2), d(10012, 3)).is_lt());
        assert!(cmp(d(100, 1), d(10, 0)).is_eq());
    }
}
