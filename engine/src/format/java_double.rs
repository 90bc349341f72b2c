//! DOUBLE as Java's `Double.toString` prints it.
//!
//! ksqlDB renders DOUBLE through Jackson, which prints `Double.toString`: plain notation with at
//! least one fractional digit when `1e-3 <= |d| < 1e7` (`1.0`, `0.001`, `1234567.5`), otherwise
//! computerized scientific notation (`1.0E7`, `1.0E-4`, `1.2345E-5`), with the shortest digits
//! that round-trip (JDK 19+, and what Jackson's fast writer prints). Both query results
//! (ksqldb-api.md §7) and the `JSON` value format stored in topics use this spelling, so it lives
//! in the engine and `protocol` reuses it.

use std::fmt::Write as _;

/// Longest `{:e}` rendering of an f64: sign, 17 significant digits, point, `e-308`.
const SCI_TEXT_BYTES_MAX: usize = 32;

/// A fixed stack buffer for `{:e}` so formatting a double never allocates.
struct StackText {
    buf: [u8; SCI_TEXT_BYTES_MAX],
    len: usize,
}

impl std::fmt::Write for StackText {
    fn write_str(&mut self, s: &str) -> std::fmt::Result {
        let end = self.len + s.len();
        if end > self.buf.len() {
            return Err(std::fmt::Error);
        }
        self.buf[self.len..end].copy_from_slice(s.as_bytes());
        self.len = end;
        Ok(())
    }
}

/// Appends `value` as Java's `Double.toString` would, except that NaN and the infinities are
/// written bare (`NaN`, `Infinity`, `-Infinity`); JSON writers quote those themselves.
pub fn write_java_double(value: f64, out: &mut Vec<u8>) {
    if value.is_nan() {
        out.extend_from_slice(b"NaN");
        return;
    }
    if value.is_infinite() {
        out.extend_from_slice(if value > 0.0 {
            b"Infinity"
        } else {
            b"-Infinity"
        });
        return;
    }
    if value.is_sign_negative() {
        out.push(b'-');
    }
    let abs = value.abs();
    if abs == 0.0 {
        out.extend_from_slice(b"0.0");
        return;
    }
    if abs < f64::MIN_POSITIVE {
        // Only a subnormal's shortest form can have one digit where Java prints two.
        write_subnormal(abs, out);
        return;
    }
    let mut buffer = ryu::Buffer::new();
    let (digits, n, exp) = shortest_digits(buffer.format_finite(abs).as_bytes());
    write_digits(&digits[..n], exp, out);
}

/// The significant digits (no leading or trailing zeros; how many) and the decimal exponent
/// of the first one, from ryu's text of a positive finite double: `d[.ddd]e±x`, `ddd.ddd` or
/// `0.000ddd`.
fn shortest_digits(text: &[u8]) -> ([u8; SCI_TEXT_BYTES_MAX], usize, i32) {
    let mut digits = [0u8; SCI_TEXT_BYTES_MAX];
    let mut n = 0;
    let (mantissa, exp) = match text.iter().position(|&b| b == b'e') {
        Some(at) => {
            let exp = std::str::from_utf8(&text[at + 1..])
                .ok()
                .and_then(|s| s.parse::<i32>().ok())
                .expect("ryu's exponent is a decimal integer");
            (&text[..at], Some(exp))
        }
        None => (text, None),
    };
    // Position of the decimal point among the mantissa's digits, and of its first non-zero.
    let mut int_digits = 0i32;
    let mut seen_point = false;
    let mut first_nonzero: Option<i32> = None;
    let mut index = 0i32;
    for &b in mantissa {
        if b == b'.' {
            seen_point = true;
            continue;
        }
        if !seen_point {
            int_digits += 1;
        }
        if first_nonzero.is_none() && b != b'0' {
            first_nonzero = Some(index);
        }
        if first_nonzero.is_some() {
            digits[n] = b;
            n += 1;
        }
        index += 1;
    }
    while n > 1 && digits[n - 1] == b'0' {
        n -= 1;
    }
    let first = first_nonzero.expect("a non-zero double has a non-zero digit");
    let exp = exp.unwrap_or(0) + int_digits - 1 - first;
    (digits, n, exp)
}

/// `digits` (significant, at least one) × 10^`exp` (of the first digit), Java's way: plain
/// from 1e-3 up to 1e7, computerized scientific notation otherwise.
fn write_digits(digits: &[u8], exp: i32, out: &mut Vec<u8>) {
    if (-3..7).contains(&exp) {
        write_plain(digits, exp, out);
        return;
    }
    out.push(digits[0]);
    out.push(b'.');
    if digits.len() > 1 {
        out.extend_from_slice(&digits[1..]);
    } else {
        out.push(b'0');
    }
    out.push(b'E');
    let mut exp_text = StackText {
        buf: [0; SCI_TEXT_BYTES_MAX],
        len: 0,
    };
    write!(exp_text, "{exp}").expect("an i32 fits in 32 bytes");
    out.extend_from_slice(&exp_text.buf[..exp_text.len]);
}

/// A positive subnormal, through `{:e}`: Java (JDK 19+) picks, when the shortest form has
/// one digit, the closest decimal of one *or two* digits (Double.MIN_VALUE is `4.9E-324`,
/// not `5.0E-324`). A normal double's one-digit form is always Java's: its nearest two-digit
/// decimal ends in 0.
fn write_subnormal(abs: f64, out: &mut Vec<u8>) {
    let (digits, n, exp) = fmt_digits(abs);
    write_digits(&digits[..n], exp, out);
}

/// The significant digits and exponent of `abs` (positive, finite) through core's `{:e}`,
/// with Java's two-digit rule for one-digit forms.
fn fmt_digits(abs: f64) -> ([u8; SCI_TEXT_BYTES_MAX], usize, i32) {
    let mut text = StackText {
        buf: [0; SCI_TEXT_BYTES_MAX],
        len: 0,
    };
    // Rust's `{:e}` prints the shortest round-trip digits as `d.ddde±x`.
    write!(text, "{abs:e}").expect("an f64 in {:e} form fits in 32 bytes");
    let sci = &text.buf[..text.len];
    let e_pos = sci
        .iter()
        .position(|&b| b == b'e')
        .expect("{:e} output always has an exponent");
    let mut exp: i32 = std::str::from_utf8(&sci[e_pos + 1..])
        .ok()
        .and_then(|s| s.parse().ok())
        .expect("{:e} exponent is a decimal integer");
    let mut digits = [0u8; SCI_TEXT_BYTES_MAX];
    let mut n = 0;
    for &b in &sci[..e_pos] {
        if b.is_ascii_digit() {
            digits[n] = b;
            n += 1;
        }
    }
    if n == 1 {
        let mut two = StackText {
            buf: [0; SCI_TEXT_BYTES_MAX],
            len: 0,
        };
        write!(two, "{abs:.1e}").expect("a two-digit {:e} fits in 32 bytes");
        let two_text = std::str::from_utf8(&two.buf[..two.len]).expect("ASCII");
        if two_text.parse::<f64>() == Ok(abs) {
            if let Some((mantissa, e)) = two_text.split_once('e') {
                let m = mantissa.as_bytes();
                if m.len() == 3 && m[2] != b'0' {
                    digits[0] = m[0];
                    digits[1] = m[2];
                    n = 2;
                    exp = e.parse().expect("{:e} exponent is a decimal integer");
                }
            }
        }
    }
    (digits, n, exp)
}

/// Plain notation for `0.d1d2… × 10^(exp+1)` with at least one digit after the point.
fn write_plain(digits: &[u8], exp: i32, out: &mut Vec<u8>) {
    if exp < 0 {
        out.extend_from_slice(b"0.");
        for _ in 0..(-exp - 1) {
            out.push(b'0');
        }
        out.extend_from_slice(digits);
        return;
    }
    let int_len = usize::try_from(exp).expect("exp is in 0..7 here") + 1;
    if digits.len() <= int_len {
        out.extend_from_slice(digits);
        for _ in digits.len()..int_len {
            out.push(b'0');
        }
        out.extend_from_slice(b".0");
    } else {
        out.extend_from_slice(&digits[..int_len]);
        out.push(b'.');
        out.extend_from_slice(&digits[int_len..]);
    }
}

/// `Double.toString` as a `String` (NaN and the infinities bare), for error messages.
pub fn java_double_string(value: f64) -> String {
    let mut out = Vec::with_capacity(24);
    write_java_double(value, &mut out);
    String::from_utf8(out).expect("double text is ASCII")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The `{:e}` route (with Java's two-digit rule) for any positive finite double.
    fn via_fmt(abs: f64) -> Vec<u8> {
        let (digits, n, exp) = fmt_digits(abs);
        let mut out = Vec::new();
        write_digits(&digits[..n], exp, &mut out);
        out
    }

    /// Checks `v`'s text against core's `{:e}` digits: it reads back as `v`, has as few
    /// digits, and is the same text unless `v` lies exactly between two shortest decimals,
    /// where Java (and ryu) take the one ending in an even digit and core may not.
    fn check_against_core(v: f64) -> Result<(), proptest::test_runner::TestCaseError> {
        let mut out = Vec::new();
        write_java_double(v, &mut out);
        let core = via_fmt(v);
        let text = std::str::from_utf8(&out).expect("ASCII");
        proptest::prop_assert_eq!(text.parse::<f64>(), Ok(v), "{} for {:?}", text, v);
        if out != core {
            // Significant digits: the mantissa's, without the point and outer zeros.
            let significant = |t: &[u8]| -> Vec<u8> {
                let mantissa = t.split(|&b| b == b'E').next().unwrap_or_default();
                let digits: Vec<u8> = mantissa.iter().copied().filter(u8::is_ascii_digit).collect();
                let start = digits.iter().position(|&d| d != b'0').unwrap_or(digits.len());
                let end = digits.iter().rposition(|&d| d != b'0').map_or(start, |e| e + 1);
                digits[start..end.max(start)].to_vec()
            };
            let (ours, theirs) = (significant(&out), significant(&core));
            proptest::prop_assert_eq!(ours.len(), theirs.len(), "{} for {:?}", text, v);
            let last = ours.last().copied().unwrap_or(b'1');
            proptest::prop_assert!((last - b'0').is_multiple_of(2), "{} for {:?}", text, v);
        }
        Ok(())
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(20_000))]
        /// Random bit patterns cover every exponent; the second case, values of a few
        /// decimals as rows carry them.
        #[test]
        fn shortest_digits_as_core_finds_them_for_any_double(bits in proptest::prelude::any::<u64>()) {
            let v = f64::from_bits(bits).abs();
            if v.is_finite() && v != 0.0 {
                check_against_core(v)?;
            }
        }

        #[test]
        fn shortest_digits_as_core_finds_them_for_short_decimals(units in 1i64..10_000_000_000, scale in 0i32..12) {
            check_against_core(units as f64 / 10f64.powi(scale))?;
        }
    }

    #[test]
    fn matches_java_double_to_string() {
        let cases: &[(f64, &str)] = &[
            (0.0, "0.0"),
            (-0.0, "-0.0"),
            (1.0, "1.0"),
            (-1.0, "-1.0"),
            (1.5, "1.5"),
            (100.0, "100.0"),
            (0.1, "0.1"),
            (0.001, "0.001"),
            (0.0001, "1.0E-4"),
            (0.00001, "1.0E-5"),
            (1.2345e-5, "1.2345E-5"),
            (1234567.0, "1234567.0"),
            (1234567.5, "1234567.5"),
            (9999999.0, "9999999.0"),
            (10000000.0, "1.0E7"),
            (1.0e10, "1.0E10"),
            (1.5e10, "1.5E10"),
            (123456789.0, "1.23456789E8"),
            (f64::MAX, "1.7976931348623157E308"),
            (f64::MIN_POSITIVE, "2.2250738585072014E-308"),
            (4.9e-324, "4.9E-324"),
            (0.30000000000000004, "0.30000000000000004"),
            (std::f64::consts::PI, "3.141592653589793"),
            (-2.5e-3, "-0.0025"),
            // Exactly between two 17-digit decimals: Java takes the even last digit.
            (1153170477294727.0 + 0.25, "1.1531704772947272E15"),
            (f64::NAN, "NaN"),
            (f64::INFINITY, "Infinity"),
            (f64::NEG_INFINITY, "-Infinity"),
        ];
        for (v, want) in cases {
            assert_eq!(java_double_string(*v), *want, "for {v:?}");
        }
    }
}

