//! Runtime values of SQL types.
//!
//! A `Value` is what expressions evaluate and what formats encode. Temporal types keep
//! ksqlDB's units: TIMESTAMP is epoch milliseconds, DATE is days since the epoch, TIME is
//! milliseconds of the day.

use std::fmt;

/// A DECIMAL value: `unscaled × 10^-scale`. `i128` holds every 38-digit value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Decimal {
    pub unscaled: i128,
    pub scale: u8,
}

impl Decimal {
    pub fn new(unscaled: i128, scale: u8) -> Decimal {
        Decimal { unscaled, scale }
    }

    /// Number of decimal digits in the unscaled value (at least 1).
    pub fn digits(&self) -> u8 {
        let mut n = self.unscaled.unsigned_abs();
        let mut d = 1;
        while n >= 10 {
            n /= 10;
            d += 1;
        }
        d
    }

    pub fn to_f64(&self) -> f64 {
        self.unscaled as f64 / 10f64.powi(i32::from(self.scale))
    }
}

impl fmt::Display for Decimal {
    /// Plain notation that keeps the scale (`12.10`, never `1.21E+1`), as ksqlDB renders
    /// DECIMAL in query results (ksqldb-api.md §7).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let neg = self.unscaled < 0;
        let digits = self.unscaled.unsigned_abs().to_string();
        let scale = usize::from(self.scale);
        if neg {
            f.write_str("-")?;
        }
        if scale == 0 {
            return f.write_str(&digits);
        }
        if digits.len() <= scale {
            f.write_str("0.")?;
            for _ in 0..scale - digits.len() {
                f.write_str("0")?;
            }
            f.write_str(&digits)
        } else {
            let (int, frac) = digits.split_at(digits.len() - scale);
            write!(f, "{int}.{frac}")
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Null,
    Boolean(bool),
    Integer(i32),
    BigInt(i64),
    Double(f64),
    Decimal(Decimal),
    String(String),
    Bytes(Vec<u8>),
    /// Epoch milliseconds, UTC.
    Timestamp(i64),
    /// Days since 1970-01-01.
    Date(i32),
    /// Milliseconds since midnight.
    Time(i32),
    Array(Vec<Value>),
    /// Entries in insertion order; keys are usually strings.
    Map(Vec<(Value, Value)>),
    /// Fields in the declared order of the struct type, with their names.
    Struct(Vec<(String, Value)>),
}

impl Value {
    pub fn is_null(&self) -> bool {
        matches!(self, Value::Null)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimal_display_keeps_scale() {
        assert_eq!(Decimal::new(1210, 2).to_string(), "12.10");
        assert_eq!(Decimal::new(-5, 3).to_string(), "-0.005");
        assert_eq!(Decimal::new(42, 0).to_string(), "42");
        assert_eq!(Decimal::new(0, 2).to_string(), "0.00");
        assert_eq!(Decimal::new(123, 2).digits(), 3);
    }
}
