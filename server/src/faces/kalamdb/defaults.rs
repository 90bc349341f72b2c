//! The values of KalamDB's column defaults (`column_defaults` in the protocol), made when
//! an insert leaves their column out: SQL literals for the engine's `INSERT … VALUES`.

use sluice_engine::types::temporal::format_timestamp;
use sluice_protocol::kalamdb::column_defaults::{ColumnDefault, DefaultValue};

use super::KalamState;

/// Crockford's base32, as ULIDs are written.
const CROCKFORD: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";

/// `default`'s value for an insert by `user` at `now_ms`, as a SQL literal.
pub fn render(default: &ColumnDefault, state: &KalamState, user: &str, now_ms: i64) -> String {
    match &default.value {
        DefaultValue::SnowflakeId => state.next_snowflake(now_ms).to_string(),
        DefaultValue::UuidV7 => quoted(&uuid_v7(now_ms, rand::random())),
        DefaultValue::Ulid => quoted(&ulid(now_ms, rand::random())),
        DefaultValue::Now => now(&default.ty, now_ms),
        DefaultValue::CurrentUser => quoted(user),
        DefaultValue::Literal(sql) => sql.clone(),
    }
}

/// `NOW()` as the column's type takes it: a number of milliseconds for an integer column,
/// else the timestamp's text (a TIMESTAMP column reads it).
fn now(ty: &str, now_ms: i64) -> String {
    let ty = ty.to_ascii_uppercase();
    if ty.starts_with("BIGINT") || ty.starts_with("INT") {
        now_ms.to_string()
    } else {
        quoted(&format_timestamp(now_ms))
    }
}

fn quoted(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
}

/// RFC 9562's version 7: the Unix milliseconds in the first 48 bits, then the version,
/// random bits and the variant.
fn uuid_v7(now_ms: i64, random: [u8; 10]) -> String {
    let mut b = [0u8; 16];
    b[..6].copy_from_slice(&now_ms.max(0).to_be_bytes()[2..]);
    b[6..].copy_from_slice(&random);
    b[6] = 0x70 | (b[6] & 0x0f);
    b[8] = 0x80 | (b[8] & 0x3f);
    let hex: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &hex[..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..]
    )
}

/// A ULID: 48 bits of Unix milliseconds then 80 random bits, written as 26 characters of
/// Crockford's base32 (130 bits: two zero bits, then the 128).
fn ulid(now_ms: i64, random: [u8; 10]) -> String {
    let mut value = u128::from(now_ms.max(0) as u64 & 0xffff_ffff_ffff) << 80;
    for (i, byte) in random.iter().enumerate() {
        value |= u128::from(*byte) << (8 * (9 - i));
    }
    (0..26)
        .rev()
        .map(|i| CROCKFORD[((value >> (5 * i)) & 0x1f) as usize] as char)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uuid_v7_has_its_time_version_and_variant() {
        let u = uuid_v7(0x0189_abcd_ef01, [0xff; 10]);
        assert_eq!(u, "0189abcd-ef01-7fff-bfff-ffffffffffff");
    }

    #[test]
    fn ulid_is_26_crockford_characters_that_sort_by_time() {
        let a = ulid(1_700_000_000_000, [0; 10]);
        let b = ulid(1_700_000_000_001, [0; 10]);
        assert_eq!(a.len(), 26);
        assert!(a < b, "{a} {b}");
        assert!(a.bytes().all(|c| CROCKFORD.contains(&c)));
        assert_eq!(ulid(0, [0; 10]), "0".repeat(26));
        assert_eq!(&ulid(0, [0xff; 10])[..10], "0000000000");
    }

    #[test]
    fn now_follows_the_column_type() {
        assert_eq!(now("BIGINT", 1_000), "1000");
        assert_eq!(now("TIMESTAMP", 1_000), "'1970-01-01T00:00:01.000'");
    }
}
