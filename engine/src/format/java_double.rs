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
    let exp: i32 = std::str::from_utf8(&sci[e_pos + 1..])
        .ok()
        .and_then(|s| s.parse().ok())
        .expect("{:e} exponent is a decimal integer");
    // Significant digits without the decimal point.
    let mut digits = [0u8; SCI_TEXT_BYTES_MAX];
    let mut n = 0;
    for &b in &sci[..e_pos] {
        if b.is_ascii_digit() {
            digits[n] = b;
            n += 1;
        }
    }
    let mut exp = exp;
    if n == 1 {
        // Java (JDK 19+) picks, when the shortest form has one digit, the closest decimal of
        // one *or two* digits: Double.MIN_VALUE is `4.9E-324`, not `5.0E-324`. The correctly
        // rounded two-digit form is that decimal whenever it still round-trips.
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
    let digits = &digits[..n];
    if (-3..7).contains(&exp) {
        write_plain(digits, exp, out);
    } else {
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
            (f64::NAN, "NaN"),
            (f64::INFINITY, "Infinity"),
            (f64::NEG_INFINITY, "-Infinity"),
        ];
        for (v, want) in cases {
            assert_eq!(java_double_string(*v), *want, "for {v:?}");
        }
    }
}

