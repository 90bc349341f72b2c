//! A compact binary form of [`Value`]s for state stores: aggregate accumulators and the
//! last row of a table an aggregation reads.
//!
//! One tag byte per value, then its payload (little-endian fixed-width numbers, lengths as
//! `u32`). Private to the store: never on the wire, never compared as bytes, so it only has
//! to round-trip.

use crate::error::{EngineError, Result};
use crate::types::{Decimal, Value};

const NULL: u8 = 0;
const BOOLEAN: u8 = 1;
const INTEGER: u8 = 2;
const BIGINT: u8 = 3;
const DOUBLE: u8 = 4;
const DECIMAL: u8 = 5;
const STRING: u8 = 6;
const BYTES: u8 = 7;
const TIMESTAMP: u8 = 8;
const DATE: u8 = 9;
const TIME: u8 = 10;
const ARRAY: u8 = 11;
const MAP: u8 = 12;
const STRUCT: u8 = 13;

/// Deepest nesting decoded: state is written by this process, so deeper means corruption,
/// and the bound keeps a corrupt value from exhausting the stack.
const DEPTH_MAX: usize = 256;

/// Appends `value`'s encoding to `out`.
pub(crate) fn encode(value: &Value, out: &mut Vec<u8>) {
    match value {
        Value::Null => out.push(NULL),
        Value::Boolean(b) => {
            out.push(BOOLEAN);
            out.push(u8::from(*b));
        }
        Value::Integer(i) => {
            out.push(INTEGER);
            out.extend_from_slice(&i.to_le_bytes());
        }
        Value::BigInt(i) => {
            out.push(BIGINT);
            out.extend_from_slice(&i.to_le_bytes());
        }
        Value::Double(d) => {
            out.push(DOUBLE);
            out.extend_from_slice(&d.to_bits().to_le_bytes());
        }
        Value::Decimal(d) => {
            out.push(DECIMAL);
            out.extend_from_slice(&d.unscaled.to_le_bytes());
            out.push(d.scale);
        }
        Value::String(s) => {
            out.push(STRING);
            bytes(s.as_bytes(), out);
        }
        Value::Bytes(b) => {
            out.push(BYTES);
            bytes(b, out);
        }
        Value::Timestamp(t) => {
            out.push(TIMESTAMP);
            out.extend_from_slice(&t.to_le_bytes());
        }
        Value::Date(d) => {
            out.push(DATE);
            out.extend_from_slice(&d.to_le_bytes());
        }
        Value::Time(t) => {
            out.push(TIME);
            out.extend_from_slice(&t.to_le_bytes());
        }
        Value::Array(items) => {
            out.push(ARRAY);
            len(items.len(), out);
            for item in items {
                encode(item, out);
            }
        }
        Value::Map(entries) => {
            out.push(MAP);
            len(entries.len(), out);
            for (k, v) in entries {
                encode(k, out);
                encode(v, out);
            }
        }
        Value::Struct(fields) => {
            out.push(STRUCT);
            len(fields.len(), out);
            for (name, v) in fields {
                bytes(name.as_bytes(), out);
                encode(v, out);
            }
        }
    }
}

/// Appends the encoding of an ARRAY of the items of `parts` in turn, as [`encode`] of the
/// `Value::Array` of them would, without building it: an aggregate stores its accumulators
/// and a timestamp this way once per row.
pub(crate) fn encode_array(parts: &[&[Value]], out: &mut Vec<u8>) {
    out.push(ARRAY);
    len(parts.iter().map(|p| p.len()).sum(), out);
    for item in parts.iter().copied().flatten() {
        encode(item, out);
    }
}

fn len(n: usize, out: &mut Vec<u8>) {
    // State values are bounded by `state::VALUE_BYTES_MAX` (8 MiB), far below u32::MAX.
    let n = u32::try_from(n).expect("a state value is far smaller than 4 GiB");
    out.extend_from_slice(&n.to_le_bytes());
}

fn bytes(b: &[u8], out: &mut Vec<u8>) {
    len(b.len(), out);
    out.extend_from_slice(b);
}

/// Decodes one value from the front of `input`, advancing it.
pub(crate) fn decode(input: &mut &[u8]) -> Result<Value> {
    decode_at(input, 0)
}

fn corrupt() -> EngineError {
    EngineError::corrupt("a state value does not decode")
}

fn take<'a>(input: &mut &'a [u8], n: usize) -> Result<&'a [u8]> {
    if input.len() < n {
        return Err(corrupt());
    }
    let (head, rest) = input.split_at(n);
    *input = rest;
    Ok(head)
}

fn array<const N: usize>(input: &mut &[u8]) -> Result<[u8; N]> {
    take(input, N)?.try_into().map_err(|_| corrupt())
}

fn read_len(input: &mut &[u8]) -> Result<usize> {
    let n = u32::from_le_bytes(array(input)?);
    let n = usize::try_from(n).map_err(|_| corrupt())?;
    // Every element takes at least one byte: a longer count is corruption, and checking
    // here keeps a corrupt count from reserving gigabytes.
    if n > input.len() {
        return Err(corrupt());
    }
    Ok(n)
}

fn read_string(input: &mut &[u8]) -> Result<String> {
    let n = read_len(input)?;
    String::from_utf8(take(input, n)?.to_vec()).map_err(|_| corrupt())
}

fn decode_at(input: &mut &[u8], depth: usize) -> Result<Value> {
    if depth > DEPTH_MAX {
        return Err(corrupt());
    }
    let [tag] = array(input)?;
    Ok(match tag {
        NULL => Value::Null,
        BOOLEAN => Value::Boolean(array::<1>(input)?[0] != 0),
        INTEGER => Value::Integer(i32::from_le_bytes(array(input)?)),
        BIGINT => Value::BigInt(i64::from_le_bytes(array(input)?)),
        DOUBLE => Value::Double(f64::from_bits(u64::from_le_bytes(array(input)?))),
        DECIMAL => {
            let unscaled = i128::from_le_bytes(array(input)?);
            let [scale] = array(input)?;
            Value::Decimal(Decimal::new(unscaled, scale))
        }
        STRING => Value::String(read_string(input)?),
        BYTES => {
            let n = read_len(input)?;
            Value::Bytes(take(input, n)?.to_vec())
        }
        TIMESTAMP => Value::Timestamp(i64::from_le_bytes(array(input)?)),
        DATE => Value::Date(i32::from_le_bytes(array(input)?)),
        TIME => Value::Time(i32::from_le_bytes(array(input)?)),
        ARRAY => {
            let n = read_len(input)?;
            let mut items = Vec::with_capacity(n);
            for _ in 0..n {
                items.push(decode_at(input, depth + 1)?);
            }
            Value::Array(items)
        }
        MAP => {
            let n = read_len(input)?;
            let mut entries = Vec::with_capacity(n);
            for _ in 0..n {
                let k = decode_at(input, depth + 1)?;
                let v = decode_at(input, depth + 1)?;
                entries.push((k, v));
            }
            Value::Map(entries)
        }
        STRUCT => {
            let n = read_len(input)?;
            let mut fields = Vec::with_capacity(n);
            for _ in 0..n {
                let name = read_string(input)?;
                fields.push((name, decode_at(input, depth + 1)?));
            }
            Value::Struct(fields)
        }
        _ => return Err(corrupt()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_round_trips() {
        let value = Value::Array(vec![
            Value::Null,
            Value::Boolean(true),
            Value::Integer(-7),
            Value::BigInt(i64::MIN),
            Value::Double(f64::NAN),
            Value::Decimal(Decimal::new(-12345, 3)),
            Value::String("héllo".into()),
            Value::Bytes(vec![0, 255]),
            Value::Timestamp(1_700_000_000_000),
            Value::Date(-3),
            Value::Time(86_399_999),
            Value::Map(vec![(Value::String("k".into()), Value::BigInt(2))]),
            Value::Struct(vec![("A".into(), Value::Null)]),
        ]);
        let mut out = Vec::new();
        encode(&value, &mut out);
        let mut input = out.as_slice();
        let back = decode(&mut input).unwrap();
        assert!(input.is_empty());
        // NaN != NaN: compare the encodings instead.
        let mut again = Vec::new();
        encode(&back, &mut again);
        assert_eq!(out, again);
    }

    #[test]
    fn an_array_encodes_the_same_built_or_not() {
        let items = vec![Value::BigInt(3), Value::Null, Value::String("x".into())];
        let mut built = Vec::new();
        encode(&Value::Array(items.clone()), &mut built);
        let mut streamed = Vec::new();
        encode_array(&[&items[..1], &items[1..]], &mut streamed);
        assert_eq!(built, streamed);
        assert_eq!(decode(&mut streamed.as_slice()).unwrap(), Value::Array(items));
    }

    #[test]
    fn truncated_or_garbage_input_is_an_error_not_a_panic() {
        let mut out = Vec::new();
        encode(&Value::String("abcdef".into()), &mut out);
        for cut in 0..out.len() {
            let mut input = &out[..cut];
            assert!(decode(&mut input).is_err(), "cut at {cut}");
        }
        let mut input: &[u8] = &[ARRAY, 0xff, 0xff, 0xff, 0x7f];
        assert!(decode(&mut input).is_err());
        let mut input: &[u8] = &[99];
        assert!(decode(&mut input).is_err());
    }
}
