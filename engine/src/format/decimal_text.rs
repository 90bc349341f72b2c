//! DECIMAL text: parsing numbers as Java's `BigDecimal(String)` does, rescaling with the
//! rounding modes ksqlDB uses, and `BigDecimal.toString` for STRING coercion.
//!
//! Values are `unscaled × 10^-scale` with an `i128` unscaled part (38 digits, ksqlDB's maximum
//! DECIMAL precision); anything wider is reported as not fitting.

use crate::types::Decimal;

/// Significant digits an `i128` unscaled value always holds.
const UNSCALED_DIGITS_MAX: usize = 38;

/// A parsed decimal number before it is fitted to a column: `unscaled × 10^-scale`.
/// `scale` may be negative (`1E+5` is unscaled 1, scale -5), as in Java.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ParsedDecimal {
    pub unscaled: i128,
    pub scale: i32,
}

/// How to drop fractional digits when the target scale is smaller.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rounding {
    /// `RoundingMode.HALF_UP`: the API coercer for floats and strings.
    HalfUp,
    /// `RoundingMode.UNNECESSARY`: ksqlDB's `DecimalUtil.ensureFit` (fails instead).
    Unnecessary,
}

/// Why a number could not become a DECIMAL of the wanted precision and scale.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FitError {
    /// Not a number in `BigDecimal` syntax, or too many digits to represent.
    Invalid,
    /// More integer digits than `precision - scale` allows.
    Overflow,
    /// The scale would have to drop non-zero digits ([`Rounding::Unnecessary`] only).
    NeedsRounding,
}

/// Parses `BigDecimal(String)` syntax: optional sign, digits with an optional point (at least
/// one digit overall), optional `e`/`E` exponent with optional sign. No whitespace.
pub fn parse_decimal(text: &str) -> Option<ParsedDecimal> {
    let bytes = text.as_bytes();
    let mut i = 0;
    let mut negative = false;
    if let Some(&s) = bytes.first() {
        if s == b'-' || s == b'+' {
            negative = s == b'-';
            i = 1;
        }
    }
    let mut unscaled: i128 = 0;
    let mut significant = 0usize;
    let mut any_digit = false;
    let mut frac_digits: i64 = 0;
    let mut seen_point = false;
    while i < bytes.len() {
        let b = bytes[i];
        if b.is_ascii_digit() {
            any_digit = true;
            if seen_point {
                frac_digits += 1;
            }
            if unscaled != 0 || b != b'0' {
                significant += 1;
                if significant > UNSCALED_DIGITS_MAX {
                    return None;
                }
            }
            unscaled = unscaled * 10 + i128::from(b - b'0');
        } else if b == b'.' && !seen_point {
            seen_point = true;
        } else {
            break;
        }
        i += 1;
    }
    if !any_digit {
        return None;
    }
    let mut exponent: i64 = 0;
    if i < bytes.len() {
        if bytes[i] != b'e' && bytes[i] != b'E' {
            return None;
        }
        let exp_text = &text[i + 1..];
        let digits = exp_text.strip_prefix(['+', '-']).unwrap_or(exp_text);
        if digits.is_empty() || digits.len() > 10 || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        exponent = exp_text.parse().ok()?;
    }
    let scale = i32::try_from(frac_digits - exponent).ok()?;
    Some(ParsedDecimal {
        unscaled: if negative { -unscaled } else { unscaled },
        scale,
    })
}

fn pow10(n: u32) -> Option<i128> {
    10i128.checked_pow(n)
}

/// Rescales `value` to `scale` and checks it fits `precision` digits.
pub fn fit(
    value: ParsedDecimal,
    precision: u8,
    scale: u8,
    rounding: Rounding,
) -> Result<Decimal, FitError> {
    let target = i32::from(scale);
    let unscaled = if target >= value.scale {
        let up = u32::try_from(target - value.scale).map_err(|_| FitError::Overflow)?;
        if value.unscaled == 0 {
            0
        } else {
            pow10(up)
                .and_then(|p| value.unscaled.checked_mul(p))
                .ok_or(FitError::Overflow)?
        }
    } else {
        let down = u32::try_from(value.scale - target).map_err(|_| FitError::Invalid)?;
        match pow10(down) {
            Some(divisor) => {
                let q = value.unscaled / divisor;
                let r = value.unscaled % divisor;
                match rounding {
                    Rounding::Unnecessary if r != 0 => return Err(FitError::NeedsRounding),
                    Rounding::Unnecessary => q,
                    // |r| * 2 >= divisor, written without overflowing.
                    Rounding::HalfUp
                        if r.unsigned_abs() >= divisor.unsigned_abs() - r.unsigned_abs() =>
                    {
                        q + value.unscaled.signum()
                    }
                    Rounding::HalfUp => q,
                }
            }
            // Dropping more than 38 digits: every i128 is below half the divisor.
            None if rounding == Rounding::Unnecessary && value.unscaled != 0 => {
                return Err(FitError::NeedsRounding)
            }
            None => 0,
        }
    };
    let decimal = Decimal::new(unscaled, scale);
    if decimal.digits() > precision && unscaled != 0 {
        return Err(FitError::Overflow);
    }
    // A value like 0.5 in DECIMAL(1, 1) has 1 digit: fine. DECIMAL(2, 2) holds |v| < 1.
    Ok(decimal)
}

/// The digits of a double as Java's `String.valueOf(double)` would give them, parsed as a
/// decimal: ksqlDB's API coercer builds `new BigDecimal(String.valueOf(d))` before rounding.
pub fn parse_double_digits(value: f64) -> Option<ParsedDecimal> {
    use std::io::Write as _;
    if !value.is_finite() {
        return None;
    }
    // `{:e}` has the same shortest round-trip digits Java prints; at most 17 digits, a
    // sign, a point and `e-324` fit the buffer.
    let mut buf = [0u8; 32];
    let mut at = &mut buf[..];
    write!(at, "{value:e}").ok()?;
    let len = 32 - at.len();
    parse_decimal(std::str::from_utf8(&buf[..len]).ok()?)
}

/// Significant digits up to which a decimal's text survives a trip through a double
/// (`DBL_DIG`): two such texts of different values never read as the same double.
const DOUBLE_EXACT_DIGITS_MAX: usize = 15;

/// [`parse_double_digits`] of the double a JSON float token reads as: what ksqlDB's API
/// coercer makes of a `Double` for a DECIMAL. A token without an exponent and with at most
/// [`DOUBLE_EXACT_DIGITS_MAX`] significant digits is its double's shortest digits, value
/// for value, so it is parsed as it stands (no float formatting on the common path).
pub fn parse_double_token(raw: &str) -> Option<ParsedDecimal> {
    let significant = raw
        .bytes()
        .filter(u8::is_ascii_digit)
        .skip_while(|&b| b == b'0')
        .count();
    if significant <= DOUBLE_EXACT_DIGITS_MAX && !raw.contains(['e', 'E']) {
        return parse_decimal(raw);
    }
    // A JSON number always parses; overflow gives ±inf, which is no decimal.
    parse_double_digits(raw.parse::<f64>().ok()?)
}

/// `BigDecimal.toString()` of a JSON number's text: plain when the scale is non-negative and
/// the adjusted exponent is at least -6, else scientific (`1E+5`, `1.5E-7`). Used where ksqlDB
/// reads a float JSON number (a `BigDecimal` node) into a STRING column.
pub fn big_decimal_to_string(text: &str) -> Option<String> {
    // Work on digit strings so arbitrarily long numbers keep their text.
    let (negative, body) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text.strip_prefix('+').unwrap_or(text)),
    };
    let (mantissa, exponent) = match body.find(['e', 'E']) {
        Some(pos) => (&body[..pos], body[pos + 1..].parse::<i64>().ok()?),
        None => (body, 0),
    };
    let (int_part, frac_part) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    let all: String = format!("{int_part}{frac_part}");
    if all.is_empty() || !all.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let trimmed = all.trim_start_matches('0');
    let digits = if trimmed.is_empty() { "0" } else { trimmed };
    let scale = i64::try_from(frac_part.len()).ok()? - exponent;
    let n = i64::try_from(digits.len()).ok()?;
    let adjusted = -scale + (n - 1);
    let mut out = String::with_capacity(digits.len() + 8);
    if negative && digits != "0" {
        out.push('-');
    }
    if scale >= 0 && adjusted >= -6 {
        let scale = usize::try_from(scale).ok()?;
        if scale == 0 {
            out.push_str(digits);
        } else if digits.len() > scale {
            let (i, f) = digits.split_at(digits.len() - scale);
            out.push_str(i);
            out.push('.');
            out.push_str(f);
        } else {
            out.push_str("0.");
            for _ in 0..scale - digits.len() {
                out.push('0');
            }
            out.push_str(digits);
        }
    } else {
        out.push_str(&digits[..1]);
        if digits.len() > 1 {
            out.push('.');
            out.push_str(&digits[1..]);
        }
        out.push('E');
        if adjusted >= 0 {
            out.push('+');
        }
        out.push_str(&adjusted.to_string());
    }
    Some(out)
}

/// Appends `d` as Java's `BigDecimal.toString()` prints it, which is how ksqlDB's JSON
/// serializer stores a DECIMAL (Jackson writes a `DecimalNode` with `toString` unless
/// `WRITE_BIGDECIMAL_AS_PLAIN` is on, and Connect's `JsonConverter` does not turn it on):
/// plain notation keeping the scale (`12.10`) while the adjusted exponent
/// (`digits - 1 - scale`) is at least -6, else scientific (`1.2E-7`, and `0E-8` for a zero
/// of scale 8).
pub fn write_java_big_decimal(d: Decimal, out: &mut Vec<u8>) {
    let mut buf = [0u8; 40];
    let mut n = d.unscaled.unsigned_abs();
    let mut at = buf.len();
    loop {
        at -= 1;
        buf[at] = b'0' + u8::try_from(n % 10).expect("a digit");
        n /= 10;
        if n == 0 {
            break;
        }
    }
    let digits = &buf[at..];
    if d.unscaled < 0 {
        out.push(b'-');
    }
    let scale = usize::from(d.scale);
    // `digits.len() - 1 - scale`, kept non-negative: adjusted >= -6.
    if scale == 0 {
        out.extend_from_slice(digits);
    } else if digits.len() + 6 > scale {
        if digits.len() > scale {
            let (int, frac) = digits.split_at(digits.len() - scale);
            out.extend_from_slice(int);
            out.push(b'.');
            out.extend_from_slice(frac);
        } else {
            out.extend_from_slice(b"0.");
            out.resize(out.len() + scale - digits.len(), b'0');
            out.extend_from_slice(digits);
        }
    } else {
        out.push(digits[0]);
        if digits.len() > 1 {
            out.push(b'.');
            out.extend_from_slice(&digits[1..]);
        }
        out.extend_from_slice(b"E-");
        // adjusted = digits - 1 - scale < -6 here.
        super::json_text::write_i64(
            i64::try_from(scale + 1 - digits.len()).expect("a scale fits i64"),
            out,
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(text: &str) -> ParsedDecimal {
        parse_decimal(text).expect("parses")
    }

    #[test]
    fn parses_big_decimal_syntax() {
        assert_eq!(
            p("12.10"),
            ParsedDecimal {
                unscaled: 1210,
                scale: 2
            }
        );
        assert_eq!(
            p("-0.5"),
            ParsedDecimal {
                unscaled: -5,
                scale: 1
            }
        );
        assert_eq!(
            p("+7"),
            ParsedDecimal {
                unscaled: 7,
                scale: 0
            }
        );
        assert_eq!(
            p(".5"),
            ParsedDecimal {
                unscaled: 5,
                scale: 1
            }
        );
        assert_eq!(
            p("5."),
            ParsedDecimal {
                unscaled: 5,
                scale: 0
            }
        );
        assert_eq!(
            p("1.5e3"),
            ParsedDecimal {
                unscaled: 15,
                scale: -2
            }
        );
        assert_eq!(
            p("1E-2"),
            ParsedDecimal {
                unscaled: 1,
                scale: 2
            }
        );
        for bad in ["", "-", ".", "1..2", "1e", "abc", "1 ", " 1", "1e+", "0x10"] {
            assert_eq!(parse_decimal(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn fits_with_rounding() {
        let d = |u, s| Decimal::new(u, s);
        assert_eq!(fit(p("1.005"), 4, 2, Rounding::HalfUp), Ok(d(101, 2)));
        assert_eq!(fit(p("-1.005"), 4, 2, Rounding::HalfUp), Ok(d(-101, 2)));
        assert_eq!(fit(p("1.004"), 4, 2, Rounding::HalfUp), Ok(d(100, 2)));
        assert_eq!(fit(p("1.5"), 4, 2, Rounding::Unnecessary), Ok(d(150, 2)));
        assert_eq!(
            fit(p("1.005"), 4, 2, Rounding::Unnecessary),
            Err(FitError::NeedsRounding)
        );
        assert_eq!(
            fit(p("100.00"), 4, 2, Rounding::HalfUp),
            Err(FitError::Overflow)
        );
        assert_eq!(
            fit(p("99.995"), 4, 2, Rounding::HalfUp),
            Err(FitError::Overflow)
        );
        assert_eq!(fit(p("1.5e1"), 4, 2, Rounding::HalfUp), Ok(d(1500, 2)));
        assert_eq!(fit(p("0"), 2, 2, Rounding::HalfUp), Ok(d(0, 2)));
        assert_eq!(fit(p("1e-60"), 4, 2, Rounding::HalfUp), Ok(d(0, 2)));
    }

    #[test]
    fn double_digits_like_string_value_of() {
        assert_eq!(parse_double_digits(1.005), Some(p("1.005")));
        assert_eq!(parse_double_digits(0.1), Some(p("0.1")));
        assert_eq!(parse_double_digits(-1.5e-300), Some(p("-1.5e-300")));
        assert_eq!(parse_double_digits(f64::MAX), Some(p("1.7976931348623157e308")));
    }

    #[test]
    fn double_tokens_read_as_their_doubles_digits() {
        // The same value as the round trip through a double, whichever way it is read.
        let same = |token: &str| {
            let direct = parse_double_token(token).map(|d| fit(d, 38, 20, Rounding::HalfUp));
            let via_double = parse_double_digits(token.parse::<f64>().expect("a number"))
                .map(|d| fit(d, 38, 20, Rounding::HalfUp));
            assert_eq!(direct, via_double, "{token}");
        };
        for token in [
            "19.99", "0.1", "-0.0", "123456789012345.0", "0.000123456789012345", "1.005",
            "1234567890123456.5", "0.1234567890123456789", "1e400", "1.5e-3", "99.90",
        ] {
            same(token);
        }
        for i in 0..5000u64 {
            let x = i.wrapping_mul(0x9E37_79B9_7F4A_7C15);
            let digits = (x % 17) as usize + 1;
            let point = (x >> 8) as usize % (digits + 1);
            let text = format!("{:017}", (x >> 16) % 100_000_000_000_000_000);
            let text = &text[17 - digits..];
            let int = text[..point].trim_start_matches('0');
            let int = if int.is_empty() { "0" } else { int };
            let frac = if point == digits { "0" } else { &text[point..] };
            same(&format!("{int}.{frac}"));
        }
        assert_eq!(parse_double_token("1e400"), None);
    }

    #[test]
    fn java_big_decimal_text() {
        let text = |unscaled, scale| {
            let mut out = Vec::new();
            write_java_big_decimal(Decimal::new(unscaled, scale), &mut out);
            String::from_utf8(out).expect("ASCII")
        };
        // What `new BigDecimal(unscaled).movePointLeft(scale).toString()` prints.
        assert_eq!(text(1210, 2), "12.10");
        assert_eq!(text(-5, 1), "-0.5");
        assert_eq!(text(7, 0), "7");
        assert_eq!(text(0, 0), "0");
        assert_eq!(text(0, 2), "0.00");
        assert_eq!(text(1, 6), "0.000001");
        assert_eq!(text(0, 6), "0.000000");
        assert_eq!(text(1, 7), "1E-7");
        assert_eq!(text(0, 7), "0E-7");
        assert_eq!(text(0, 8), "0E-8");
        assert_eq!(text(12, 8), "1.2E-7");
        assert_eq!(text(-12, 9), "-1.2E-8");
        assert_eq!(text(10, 7), "0.0000010");
        assert_eq!(text(123_456, 10), "0.0000123456");
        assert_eq!(text(i128::MAX, 38), "1.70141183460469231731687303715884105727");
        for (input, want) in [("1.50", "1.50"), ("0.0000001", "1E-7"), ("-0.000000012", "-1.2E-8")] {
            let parsed = p(input);
            let scale = u8::try_from(parsed.scale).expect("small scale");
            assert_eq!(text(parsed.unscaled, scale), want);
            assert_eq!(big_decimal_to_string(input).as_deref(), Some(want));
        }
    }

    #[test]
    fn big_decimal_to_string_matches_java() {
        let cases = [
            ("1.50", "1.50"),
            ("1e5", "1E+5"),
            ("1.5e3", "1.5E+3"),
            ("1.5e-7", "1.5E-7"),
            ("0.000001", "0.000001"),
            ("0.0000001", "1E-7"),
            ("-0.0", "0.0"),
            ("123", "123"),
            ("12.5e1", "125"),
        ];
        for (input, want) in cases {
            assert_eq!(
                big_decimal_to_string(input).as_deref(),
                Some(want),
                "{input}"
            );
        }
    }
}
