//! The iteration order of a `java.util.HashMap`, for bytes and results that depend on it.
//!
//! ksqlDB keeps MAP values in `HashMap`s, and whatever iterates one sees its entries in the
//! table's order, not the order they were put in:
//! - the JSON serializer writes a MAP in that order. A MAP in a row sent to
//!   `/inserts-stream` is built by `ApiSqlValueCoercer.coerceMap` with `new HashMap<>()`
//!   ([`Sizing::Default`]), so ksqlDB's stored bytes list its entries in that map's order;
//! - the JSON deserializer builds every MAP it reads with `new HashMap<>(size)`
//!   ([`Sizing::ForSize`]) and puts the entries in document order
//!   (`KsqlJsonDeserializer.enforceKeyAndValueTypeForMap`); a UDF that folds over the map
//!   (`REDUCE`) sees the entries in that map's order (QTT `reduce-map.json`, "reduce map
//!   with double").
//!
//! Sluice keeps map entries in insertion order; this module works out the order such a
//! `HashMap` would iterate them in.
//!
//! A `HashMap` iterates its table bucket by bucket, and a bucket's chain in insertion order
//! (resizing splits chains without reordering them). So the order is: by bucket index at
//! the final table size, then by insertion. The final size follows `HashMap`'s growth rules:
//! the initial capacity (16, or the requested one rounded up to a power of two), doubled
//! whenever the size exceeds 3/4 of it, or when a chain reaches `TREEIFY_THRESHOLD + 1`
//! entries in a table smaller than `MIN_TREEIFY_CAPACITY`. A chain that does become a tree
//! (9+ colliding keys in a table of 64+ buckets) reorders in ways not modelled here; its
//! entries keep insertion order.
//!
//! Only keys whose Java `hashCode` is known here (STRING, INT, BIGINT, BOOLEAN) are
//! reordered; a map with any other key keeps insertion order.

use crate::types::Value;

/// `HashMap.TREEIFY_THRESHOLD`: a chain this long, plus one, is treeified or the table grows.
const TREEIFY_THRESHOLD: usize = 8;

/// `HashMap.MIN_TREEIFY_CAPACITY`: below this table size a long chain grows the table.
const MIN_TREEIFY_CAPACITY: usize = 64;

/// `HashMap.MAXIMUM_CAPACITY`.
const MAXIMUM_CAPACITY: usize = 1 << 30;

/// `HashMap.DEFAULT_INITIAL_CAPACITY`: the table `new HashMap<>()` starts with.
const DEFAULT_INITIAL_CAPACITY: usize = 16;

/// How the `HashMap` was created, which decides its first table size.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Sizing {
    /// `new HashMap<>()`: 16 buckets.
    Default,
    /// `new HashMap<>(n)` for the `n` entries it is filled with.
    ForSize,
}

/// The entries of `entries` (insertion order, unique keys) in the order a
/// `new HashMap<>(entries.len())` filled with them in that order iterates them.
pub(crate) fn iteration_order(entries: &[(Value, Value)]) -> Vec<&(Value, Value)> {
    iteration_order_for(entries, Sizing::ForSize)
}

/// [`iteration_order`] for a map created as `sizing` says.
pub(crate) fn iteration_order_for(
    entries: &[(Value, Value)],
    sizing: Sizing,
) -> Vec<&(Value, Value)> {
    let hashes: Option<Vec<u32>> = entries.iter().map(|(k, _)| spread_hash(k)).collect();
    let Some(hashes) = hashes else {
        return entries.iter().collect();
    };
    let mut order = Vec::with_capacity(entries.len());
    bucket_order(&hashes, sizing, &mut Vec::new(), &mut order);
    order.into_iter().map(|i| &entries[i]).collect()
}

/// Fills `order` with the indexes of `hashes` (spread hashes of unique keys, insertion
/// order) in the `HashMap`'s iteration order. `chains` is scratch space, reused by callers
/// that order many maps.
pub(crate) fn bucket_order(
    hashes: &[u32],
    sizing: Sizing,
    chains: &mut Vec<usize>,
    order: &mut Vec<usize>,
) {
    let capacity = final_capacity(hashes, sizing, chains);
    order.clear();
    order.extend(0..hashes.len());
    // Stable: entries of one bucket keep insertion order.
    order.sort_by_key(|&i| hashes[i] as usize & (capacity - 1));
}

/// The table size after putting keys with `hashes` into a map created as `sizing` says.
fn final_capacity(hashes: &[u32], sizing: Sizing, chain_lengths: &mut Vec<usize>) -> usize {
    let mut capacity = match sizing {
        Sizing::Default => DEFAULT_INITIAL_CAPACITY,
        Sizing::ForSize => table_size_for(hashes.len()),
    };
    chain_lengths.clear();
    chain_lengths.resize(capacity, 0);
    for (size, &hash) in hashes.iter().enumerate() {
        let bucket = hash as usize & (capacity - 1);
        chain_lengths[bucket] += 1;
        // `putVal`: a too long chain in a small table grows it (`treeifyBin`), then
        // `++size > threshold` with threshold = (int) (capacity * 0.75f) grows it again.
        if chain_lengths[bucket] > TREEIFY_THRESHOLD && capacity < MIN_TREEIFY_CAPACITY {
            capacity = grow(capacity, &hashes[..=size], chain_lengths);
        }
        if size + 1 > capacity * 3 / 4 {
            capacity = grow(capacity, &hashes[..=size], chain_lengths);
        }
    }
    capacity
}

/// Doubles the table (`HashMap.resize`) holding keys with `hashes`; returns the new size.
fn grow(capacity: usize, hashes: &[u32], chain_lengths: &mut Vec<usize>) -> usize {
    if capacity >= MAXIMUM_CAPACITY {
        return capacity;
    }
    let capacity = capacity * 2;
    chain_lengths.clear();
    chain_lengths.resize(capacity, 0);
    for &h in hashes {
        chain_lengths[h as usize & (capacity - 1)] += 1;
    }
    capacity
}

/// `HashMap.tableSizeFor`: the smallest power of two at least `n` (1 for 0).
fn table_size_for(n: usize) -> usize {
    n.max(1).next_power_of_two().min(MAXIMUM_CAPACITY)
}

/// `HashMap.hash(key)`: the key's `hashCode` with its high half folded into the low half.
fn spread_hash(key: &Value) -> Option<u32> {
    java_hash_code(key).map(spread)
}

/// `HashMap.hash` of a key whose `hashCode` is `h`.
fn spread(h: i32) -> u32 {
    let h = h as u32;
    h ^ (h >> 16)
}

/// `HashMap.hash` of a `String` key, from its text.
pub(crate) fn string_key_hash(s: &str) -> u32 {
    spread(string_hash_code(s))
}

/// `HashMap.hash` of a `String` key whose text is ASCII (each byte one UTF-16 code unit).
pub(crate) fn ascii_key_hash(ascii: &[u8]) -> u32 {
    debug_assert!(ascii.is_ascii(), "one UTF-16 code unit per byte");
    spread(
        ascii
            .iter()
            .fold(0i32, |h, &b| h.wrapping_mul(31).wrapping_add(i32::from(b))),
    )
}

/// `String.hashCode`: s[0]*31^(n-1) + … + s[n-1] over UTF-16 code units, wrapping.
fn string_hash_code(s: &str) -> i32 {
    s.encode_utf16()
        .fold(0i32, |h, unit| h.wrapping_mul(31).wrapping_add(i32::from(unit)))
}

/// `Object.hashCode` of the boxed Java value ksqlDB holds for `value`.
fn java_hash_code(value: &Value) -> Option<i32> {
    match value {
        Value::Null => Some(0),
        Value::String(s) => Some(string_hash_code(s)),
        Value::Integer(i) => Some(*i),
        Value::BigInt(l) => Some((*l ^ ((*l as u64) >> 32) as i64) as i32),
        Value::Boolean(b) => Some(if *b { 1231 } else { 1237 }),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys_in_order(keys: &[&str]) -> Vec<String> {
        let entries: Vec<(Value, Value)> = keys
            .iter()
            .map(|k| (Value::String((*k).to_string()), Value::Null))
            .collect();
        iteration_order(&entries)
            .into_iter()
            .map(|(k, _)| match k {
                Value::String(s) => s.clone(),
                other => panic!("not a string: {other:?}"),
            })
            .collect()
    }

    #[test]
    fn string_hash_codes_match_java() {
        // Values from java.lang.String#hashCode.
        assert_eq!(java_hash_code(&Value::String(String::new())), Some(0));
        assert_eq!(java_hash_code(&Value::String("a".into())), Some(97));
        assert_eq!(
            java_hash_code(&Value::String("hello".into())),
            Some(99_162_322)
        );
        assert_eq!(
            java_hash_code(&Value::String("polygenelubricants".into())),
            Some(i32::MIN)
        );
        assert_eq!(java_hash_code(&Value::BigInt(-1)), Some(0));
    }

    #[test]
    fn orders_by_bucket_then_insertion() {
        // A table of 4: "yes, thanks" and "sure, yeah" share bucket 0, "nope" is in 1.
        assert_eq!(
            keys_in_order(&["yes, thanks", "nope", "sure, yeah"]),
            ["yes, thanks", "sure, yeah", "nope"]
        );
    }

    #[test]
    fn capacity_follows_hash_map_growth() {
        let cap = |h: &[u32]| final_capacity(h, Sizing::ForSize, &mut Vec::new());
        assert_eq!(cap(&[]), 1);
        assert_eq!(cap(&[0, 1, 2]), 4);
        // Four entries: a table of 4 holds at most 3.
        assert_eq!(cap(&[0, 1, 2, 3]), 8);
        // Nine colliding keys grow a small table instead of treeifying.
        assert_eq!(cap(&[0; 9]), 32);
        let default = |h: &[u32]| final_capacity(h, Sizing::Default, &mut Vec::new());
        assert_eq!(default(&[0, 1, 2]), 16);
        // 12 entries fit 16 buckets; the 13th doubles them.
        assert_eq!(default(&(0..12).collect::<Vec<u32>>()), 16);
        assert_eq!(default(&(0..13).collect::<Vec<u32>>()), 32);
        // Nine colliding keys in 16 buckets double them (treeifyBin), up to 64.
        assert_eq!(default(&[0; 9]), 32);
    }

    #[test]
    fn other_keys_keep_insertion_order() {
        let entries = vec![
            (Value::Double(2.0), Value::Null),
            (Value::Double(1.0), Value::Null),
        ];
        let order: Vec<&Value> = iteration_order(&entries).iter().map(|(k, _)| k).collect();
        assert_eq!(order, [&Value::Double(2.0), &Value::Double(1.0)]);
    }
}
