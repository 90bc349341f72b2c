//! Encodings and byte conversions (`udf/string/{ToBytes,FromBytes,Encode}.java`,
//! `udf/conversions/*.java`).
//!
//! Encodings are `hex`, `utf8`, `ascii` and `base64`, case-insensitive
//! (`BytesUtils.Encoding.from`). Text that is not valid in the source encoding decodes
//! with U+FFFD replacements, as Java's `new String(bytes, charset)` does.

use std::borrow::Cow;

use base64::Engine as _;

use super::{
    bytes_arg, def, fixed, str_arg, string_or_null, user_err, ArgType, EvalFn, FunctionDef,
    Signature,
};
use crate::error::EngineError;
use crate::types::{SqlType, Value};

use SqlType as T;

pub(super) static FUNCTIONS: &[FunctionDef] = &[
    def("BIGINT_FROM_BYTES", |a| {
        from_bytes_fn(a, T::BigInt, |v, _| {
            number(v, 8, |b| {
                Value::BigInt(i64::from_be_bytes(b.try_into().unwrap_or_default()))
            })
        })
    }),
    def("DOUBLE_FROM_BYTES", |a| {
        from_bytes_fn(a, T::Double, |v, _| {
            number(v, 8, |b| {
                Value::Double(f64::from_be_bytes(b.try_into().unwrap_or_default()))
            })
        })
    }),
    def("ENCODE", |a| {
        fixed(a, &[T::String, T::String, T::String], T::String, encode)
    }),
    def("FROM_BYTES", |a| {
        fixed(a, &[T::Bytes, T::String], T::String, |v, _| {
            let (Some(b), Some(enc)) = (bytes_arg(v, 0), str_arg(v, 1)) else {
                return Ok(Value::Null);
            };
            Ok(Value::String(encode_bytes(b, Encoding::from(enc)?)))
        })
    }),
    def("INT_FROM_BYTES", |a| {
        from_bytes_fn(a, T::Integer, |v, _| {
            number(v, 4, |b| {
                Value::Integer(i32::from_be_bytes(b.try_into().unwrap_or_default()))
            })
        })
    }),
    def("TO_BYTES", |a| {
        fixed(a, &[T::String, T::String], T::Bytes, |v, _| {
            let (Some(s), Some(enc)) = (str_arg(v, 0), str_arg(v, 1)) else {
                return Ok(Value::Null);
            };
            decode_text(s, Encoding::from(enc)?).map(Value::Bytes)
        })
    }),
];

#[derive(Clone, Copy, PartialEq)]
enum Encoding {
    Hex,
    Utf8,
    Ascii,
    Base64,
}

impl Encoding {
    fn from(s: &str) -> Result<Encoding, EngineError> {
        match s.to_ascii_lowercase().as_str() {
            "hex" => Ok(Encoding::Hex),
            "utf8" => Ok(Encoding::Utf8),
            "ascii" => Ok(Encoding::Ascii),
            "base64" => Ok(Encoding::Base64),
            _ => Err(user_err(format!(
                "Unknown encoding type '{s}'. Supported formats are 'hex', 'utf8', 'ascii', \
                 and 'base64'."
            ))),
        }
    }
}

/// `BytesUtils.encode`: bytes to text.
fn encode_bytes(b: &[u8], enc: Encoding) -> String {
    match enc {
        Encoding::Hex => b.iter().map(|x| format!("{x:02X}")).collect(),
        Encoding::Utf8 => String::from_utf8_lossy(b).into_owned(),
        Encoding::Ascii => b
            .iter()
            .map(|&x| {
                if x.is_ascii() {
                    char::from(x)
                } else {
                    '\u{FFFD}'
                }
            })
            .collect(),
        Encoding::Base64 => base64::engine::general_purpose::STANDARD.encode(b),
    }
}

/// `BytesUtils.decode`: text to bytes.
fn decode_text(s: &str, enc: Encoding) -> Result<Vec<u8>, EngineError> {
    match enc {
        Encoding::Hex => decode_hex(s),
        Encoding::Utf8 => Ok(s.as_bytes().to_vec()),
        Encoding::Ascii => Ok(s
            .chars()
            .map(|c| u8::try_from(c).ok().filter(u8::is_ascii).unwrap_or(b'?'))
            .collect()),
        Encoding::Base64 => base64::engine::general_purpose::STANDARD
            .decode(s)
            .map_err(|e| user_err(format!("Invalid base64 '{s}': {e}"))),
    }
}

/// Hex digits in pairs; an odd count gets a leading zero, as commons-codec requires even
/// length and ksqlDB's `hexStrip` pads `0x` input.
fn decode_hex(s: &str) -> Result<Vec<u8>, EngineError> {
    let digits: Vec<u8> = s
        .chars()
        .map(|c| c.to_digit(16).and_then(|d| u8::try_from(d).ok()))
        .collect::<Option<_>>()
        .ok_or_else(|| user_err(format!("Illegal hexadecimal character in '{s}'")))?;
    if !digits.len().is_multiple_of(2) {
        return Err(user_err(format!("Odd number of characters in hex '{s}'")));
    }
    Ok(digits.chunks(2).map(|p| p[0] << 4 | p[1]).collect())
}

/// `Encode.hexStrip`: drops a `0x` prefix (padding odd lengths) or an `X'…'` wrapper.
fn hex_strip(s: &str) -> String {
    if let Some(rest) = s.strip_prefix("0x") {
        return if !s.len().is_multiple_of(2) {
            format!("0{rest}")
        } else {
            rest.to_string()
        };
    }
    let wrapped = s.len() >= 3 && (s.starts_with("x'") || s.starts_with("X'")) && s.ends_with('\'');
    if wrapped {
        return s[2..s.len() - 1].to_string();
    }
    s.to_string()
}

/// `ENCODE(str, inputEncoding, outputEncoding)` (`Encode.java`).
fn encode(args: &[Cow<'_, Value>], _: &SqlType) -> Result<Value, EngineError> {
    let (Some(s), Some(from), Some(to)) = (str_arg(args, 0), str_arg(args, 1), str_arg(args, 2))
    else {
        return Ok(Value::Null);
    };
    let unsupported = || {
        user_err(
            "Supported input and output encodings are: hex, utf8, ascii and base64".to_string(),
        )
    };
    let from = Encoding::from(from).map_err(|_| unsupported())?;
    let to = Encoding::from(to).map_err(|_| unsupported())?;
    if from == to {
        return Err(unsupported());
    }
    let bytes = match from {
        Encoding::Hex => decode_hex(&hex_strip(s))?,
        // Base64.decodeBase64 skips characters outside the alphabet rather than failing.
        Encoding::Base64 => {
            let clean: String = s
                .chars()
                .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '/'))
                .collect();
            base64::engine::general_purpose::STANDARD_NO_PAD
                .decode(clean.trim_end_matches('='))
                .unwrap_or_default()
        }
        other => decode_text(s, other)?,
    };
    let out = match to {
        Encoding::Hex => encode_bytes(&bytes, Encoding::Hex).to_ascii_lowercase(),
        other => encode_bytes(&bytes, other),
    };
    Ok(string_or_null(Some(out)))
}

/// Resolves `X_FROM_BYTES(BYTES [, byteOrder])`.
fn from_bytes_fn(args: &[ArgType], ret: SqlType, eval: EvalFn) -> Option<Signature> {
    match args.len() {
        1 => fixed(args, &[T::Bytes], ret, eval),
        2 => fixed(args, &[T::Bytes, T::String], ret, eval),
        _ => None,
    }
}

/// Reads a big- or little-endian number of exactly `size` bytes.
fn number(
    args: &[Cow<'_, Value>],
    size: usize,
    read_be: fn(&[u8]) -> Value,
) -> Result<Value, EngineError> {
    let Some(b) = bytes_arg(args, 0) else {
        return Ok(Value::Null);
    };
    if b.len() != size {
        return Err(user_err(format!(
            "Number of bytes must be equal to {size}, but found {}",
            b.len()
        )));
    }
    let little = match args.get(1).map(|a| a.as_ref()) {
        None => false,
        Some(Value::String(o)) if o.eq_ignore_ascii_case("BIG_ENDIAN") => false,
        Some(Value::String(o)) if o.eq_ignore_ascii_case("LITTLE_ENDIAN") => true,
        Some(other) => {
            return Err(user_err(format!(
                "Byte order must be BIG_ENDIAN or LITTLE_ENDIAN. Unknown byte order '{}'.",
                super::super::java_text::value(other)
            )))
        }
    };
    if little {
        let mut rev = b.to_vec();
        rev.reverse();
        return Ok(read_be(&rev));
    }
    Ok(read_be(b))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn enc(s: &str, from: &str, to: &str) -> Value {
        let args: Vec<Cow<'_, Value>> = [s, from, to]
            .into_iter()
            .map(|x| Cow::Owned(Value::String(x.into())))
            .collect();
        encode(&args, &T::String).expect("encodes")
    }

    #[test]
    fn encode_matches_ksqldb_docs() {
        assert_eq!(
            enc("4578616d706C6521", "hex", "ascii"),
            Value::String("Example!".into())
        );
        assert_eq!(
            enc("Example!", "ascii", "hex"),
            Value::String("4578616d706c6521".into())
        );
        assert_eq!(enc("0x4578", "hex", "utf8"), Value::String("Ex".into()));
        assert_eq!(
            enc("X'4578'", "hex", "base64"),
            Value::String("RXg=".into())
        );
        assert_eq!(
            enc("RXhhbXBsZSE=", "base64", "utf8"),
            Value::String("Example!".into())
        );
    }

    #[test]
    fn bytes_round_trip() {
        assert_eq!(
            decode_text("AB01", Encoding::Hex).expect("hex"),
            vec![0xab, 0x01]
        );
        assert_eq!(encode_bytes(&[0xab, 0x01], Encoding::Hex), "AB01");
        assert!(decode_text("ABC", Encoding::Hex).is_err());
    }
}
