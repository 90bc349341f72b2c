//! Java's `toString` forms, which ksqlDB's `CAST(x AS STRING)` produces.
//!
//! `CastEvaluator.castToString` is `String.valueOf(x)` on the Java value, so a DOUBLE casts
//! as `Double.toString` (`1.0`, `1.0E10`), an ARRAY as `List.toString` (`[1, 2]`), a MAP as
//! `Map.toString` (`{A=1}`) and a STRUCT as Kafka Connect's `Struct.toString`
//! (`Struct{A=1,B=x}`, null fields omitted).

use std::fmt::Write;

use crate::types::{temporal, Value};

/// `Double.toString`: plain notation for 10^-3 <= |d| < 10^7, else `d.dddE±n`; always at
/// least one fractional digit. Digits are the shortest that round-trip (as JDK 19+).
pub(crate) fn double(d: f64) -> String {
    if d.is_nan() {
        return "NaN".into();
    }
    if d.is_infinite() {
        return if d > 0.0 { "Infinity" } else { "-Infinity" }.into();
    }
    if d == 0.0 {
        return if d.is_sign_negative() { "-0.0" } else { "0.0" }.into();
    }
    // `{:e}` gives the shortest round-trip digits: `-1.2345e-5`.
    let sci = format!("{d:e}");
    let (mantissa, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let (sign, mantissa) = match mantissa.strip_prefix('-') {
        Some(m) => ("-", m),
        None => ("", mantissa),
    };
    let digits: String = mantissa.chars().filter(char::is_ascii_digit).collect();
    let mut out = String::from(sign);
    if (-3..7).contains(&exp) {
        plain(&digits, exp, &mut out);
    } else {
        out.push_str(&digits[..1]);
        out.push('.');
        out.push_str(if digits.len() > 1 { &digits[1..] } else { "0" });
        let _ = write!(out, "E{exp}");
    }
    out
}

/// Writes digits `d.ddd × 10^exp` in plain notation with at least one fractional digit.
fn plain(digits: &str, exp: i32, out: &mut String) {
    if exp < 0 {
        out.push_str("0.");
        for _ in 0..(-exp - 1) {
            out.push('0');
        }
        out.push_str(digits);
        return;
    }
    let int_len = usize::try_from(exp).unwrap_or(0) + 1;
    if digits.len() <= int_len {
        out.push_str(digits);
        for _ in digits.len()..int_len {
            out.push('0');
        }
        out.push_str(".0");
    } else {
        out.push_str(&digits[..int_len]);
        out.push('.');
        out.push_str(&digits[int_len..]);
    }
}

/// `String.valueOf` of any value, as `CAST(x AS STRING)` renders it.
pub(crate) fn value(v: &Value) -> String {
    let mut out = String::new();
    write_value(v, &mut out);
    out
}

fn write_value(v: &Value, out: &mut String) {
    match v {
        Value::Null => out.push_str("null"),
        Value::Boolean(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Integer(i) => {
            let _ = write!(out, "{i}");
        }
        Value::BigInt(i) => {
            let _ = write!(out, "{i}");
        }
        Value::Double(d) => out.push_str(&double(*d)),
        Value::Decimal(d) => {
            let _ = write!(out, "{d}");
        }
        Value::String(s) => out.push_str(s),
        Value::Bytes(b) => {
            // `ByteBuffer.toString`: Java prints the buffer's state, not its content.
            let _ = write!(
                out,
                "java.nio.HeapByteBuffer[pos=0 lim={0} cap={0}]",
                b.len()
            );
        }
        Value::Timestamp(ms) => out.push_str(&temporal::format_timestamp(*ms)),
        Value::Date(days) => out.push_str(&temporal::format_date(*days)),
        Value::Time(ms) => out.push_str(&temporal::format_time(*ms)),
        Value::Array(items) => write_list(items, out),
        Value::Map(entries) => write_map(entries, out),
        Value::Struct(fields) => write_struct(fields, out),
    }
}

fn write_list(items: &[Value], out: &mut String) {
    out.push('[');
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            out.push_str(", ");
        }
        write_value(item, out);
    }
    out.push(']');
}

fn write_map(entries: &[(Value, Value)], out: &mut String) {
    out.push('{');
    for (i, (k, v)) in entries.iter().enumerate() {
        if i > 0 {
            out.push_str(", ");
        }
        write_value(k, out);
        out.push('=');
        write_value(v, out);
    }
    out.push('}');
}

fn write_struct(fields: &[(String, Value)], out: &mut String) {
    out.push_str("Struct{");
    let mut first = true;
    for (name, v) in fields.iter().filter(|(_, v)| !v.is_null()) {
        if !first {
            out.push(',');
        }
        first = false;
        out.push_str(name);
        out.push('=');
        write_value(v, out);
    }
    out.push('}');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn doubles_print_like_java() {
        assert_eq!(double(1.0), "1.0");
        assert_eq!(double(-1.5), "-1.5");
        assert_eq!(double(1e7), "1.0E7");
        assert_eq!(double(1234567.0), "1234567.0");
        assert_eq!(double(0.001), "0.001");
        assert_eq!(double(0.0001), "1.0E-4");
        assert_eq!(double(1.2345e-10), "1.2345E-10");
        assert_eq!(double(100.0), "100.0");
        assert_eq!(double(0.0), "0.0");
        assert_eq!(double(f64::NAN), "NaN");
    }

    #[test]
    fn complex_values_print_like_java_collections() {
        let v = Value::Array(vec![Value::Integer(1), Value::Null]);
        assert_eq!(value(&v), "[1, null]");
        let m = Value::Map(vec![(Value::String("a".into()), Value::Double(1.0))]);
        assert_eq!(value(&m), "{a=1.0}");
        let s = Value::Struct(vec![
            ("A".into(), Value::Integer(1)),
            ("B".into(), Value::Null),
            ("C".into(), Value::String("x".into())),
        ]);
        assert_eq!(value(&s), "Struct{A=1,C=x}");
    }
}
