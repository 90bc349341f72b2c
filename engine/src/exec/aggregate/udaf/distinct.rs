//! COUNT_DISTINCT's accumulator: exact while a group has few distinct values, a
//! HyperLogLog sketch after that, so one group's state never passes [`STATE_BYTES`].
//!
//! ksqlDB counts distinct values with a HyperLogLog ("a typical standard error of 2%"), so
//! its answers are estimates except on small groups, where its sketch is exact in practice
//! (linear counting over mostly empty registers). Keeping every value, as a list did here
//! before, made each row cost a scan of the group's values and let a group's state grow
//! without bound (Nexmark's per-day distinct bidders). Here a group first keeps the sorted
//! 64-bit hashes of its values (exact up to hash collisions, one binary search per row);
//! when they would outgrow the sketch, they are folded into a sketch of
//! 2^[`PRECISION`] one-byte registers (standard error 1.04/√4096 ≈ 1.6%).
//!
//! The state is one `Value::Bytes` blob, so the state store copies it instead of decoding
//! a value per element: a tag byte, then either the sorted hashes (little-endian u64s) or
//! the sketch: its count of empty registers and its sum of 2^-register (kept up to date as
//! registers rise, since the operator asks for the count after every row and a pass over
//! the registers per ask cost ~40 µs), then the registers. Hashes are SipHash-1-3 with fixed keys over the value's state-store
//! encoding: stable across restarts and versions, as persisted state needs.

use std::hash::Hasher;

use siphasher::sip::SipHasher13;

use crate::exec::aggregate::value_codec;
use crate::types::Value;

/// Register-index bits of the sketch: 2^12 registers.
pub const PRECISION: u32 = 12;
const REGISTERS: usize = 1 << PRECISION;
/// The most bytes one group's COUNT_DISTINCT state holds (plus a 13-byte header).
pub const STATE_BYTES: usize = REGISTERS;
/// Distinct hashes kept exactly before switching to the sketch: as many as fit in the
/// sketch's size, so switching never grows the state.
pub const EXACT_MAX: usize = STATE_BYTES / 8;

const TAG_EXACT: u8 = 0;
const TAG_SKETCH: u8 = 1;
/// The sketch's header after the tag: empty registers (u32), sum of 2^-register (f64).
const SKETCH_HEADER: usize = 4 + 8;
const SKETCH_LEN: usize = 1 + SKETCH_HEADER + REGISTERS;
const HASH_KEYS: (u64, u64) = (0x736c_7569_6365_2d63, 0x6f75_6e74_2d64_7374);

/// The accumulator of a group with no values.
pub fn init() -> Value {
    Value::Bytes(vec![TAG_EXACT])
}

/// Adds one non-null value.
pub fn add(acc: &mut Value, x: &Value) {
    let hash = hash_of(x);
    add_hash(blob(acc), hash);
}

/// Folds `other` (another group's accumulator, e.g. an earlier session) into `acc`.
pub fn merge(acc: &mut Value, other: &Value) {
    let mine = blob(acc);
    match State::of(other) {
        Some(State::Exact(hashes)) => {
            for h in hashes {
                add_hash(mine, h);
            }
        }
        Some(State::Sketch(registers)) => {
            to_sketch(mine);
            for (i, &rank) in registers.iter().enumerate() {
                raise(mine, i, rank);
            }
        }
        None => {}
    }
}

/// The distinct count (an estimate once the group holds a sketch).
pub fn count(acc: &Value) -> i64 {
    match State::of(acc) {
        Some(State::Exact(hashes)) => hashes.len() as i64,
        Some(State::Sketch(_)) => match acc {
            Value::Bytes(b) => estimate(b),
            _ => 0,
        },
        None => 0,
    }
}

enum State<'a> {
    Exact(Box<dyn ExactSizeIterator<Item = u64> + 'a>),
    /// The registers.
    Sketch(&'a [u8]),
}

impl<'a> State<'a> {
    fn of(acc: &'a Value) -> Option<State<'a>> {
        match acc {
            Value::Bytes(b) => match b.split_first() {
                Some((&TAG_EXACT, rest)) => Some(State::Exact(Box::new(hashes(rest)))),
                Some((&TAG_SKETCH, _)) if b.len() == SKETCH_LEN => {
                    Some(State::Sketch(&b[1 + SKETCH_HEADER..]))
                }
                _ => None,
            },
            // State written before the blob form: the distinct values themselves.
            Value::Array(values) => Some(State::Exact(Box::new(
                sorted_unique(values.iter().map(hash_of)).into_iter(),
            ))),
            _ => None,
        }
    }
}

fn sorted_unique(hashes: impl Iterator<Item = u64>) -> Vec<u64> {
    let mut all: Vec<u64> = hashes.collect();
    all.sort_unstable();
    all.dedup();
    all
}

fn hashes(exact: &[u8]) -> impl ExactSizeIterator<Item = u64> + '_ {
    exact
        .chunks_exact(8)
        .map(|c| u64::from_le_bytes(c.try_into().expect("8-byte chunk")))
}

/// The accumulator's blob, converting an older or foreign state in place.
fn blob(acc: &mut Value) -> &mut Vec<u8> {
    let valid = matches!(acc, Value::Bytes(b)
        if matches!(b.first(), Some(&TAG_EXACT)) && (b.len() - 1) % 8 == 0
            || matches!(b.first(), Some(&TAG_SKETCH)) && b.len() == SKETCH_LEN);
    if !valid {
        let mut fresh = vec![TAG_EXACT];
        if let Value::Array(values) = acc {
            for h in sorted_unique(values.iter().map(hash_of)) {
                add_hash(&mut fresh, h);
            }
        }
        *acc = Value::Bytes(fresh);
    }
    match acc {
        Value::Bytes(b) => b,
        _ => unreachable!("set to bytes above"),
    }
}

fn add_hash(blob: &mut Vec<u8>, hash: u64) {
    if blob[0] == TAG_SKETCH {
        observe(blob, hash);
        return;
    }
    let count = (blob.len() - 1) / 8;
    let at = |i: usize| u64::from_le_bytes(blob[1 + i * 8..9 + i * 8].try_into().expect("8"));
    let (mut lo, mut hi) = (0, count);
    while lo < hi {
        let mid = (lo + hi) / 2;
        match at(mid).cmp(&hash) {
            std::cmp::Ordering::Less => lo = mid + 1,
            std::cmp::Ordering::Greater => hi = mid,
            std::cmp::Ordering::Equal => return,
        }
    }
    if count == EXACT_MAX {
        to_sketch(blob);
        observe(blob, hash);
        return;
    }
    let pos = 1 + lo * 8;
    blob.splice(pos..pos, hash.to_le_bytes());
}

fn to_sketch(blob: &mut Vec<u8>) {
    if blob[0] == TAG_SKETCH {
        return;
    }
    let exact: Vec<u64> = hashes(&blob[1..]).collect();
    blob.clear();
    blob.push(TAG_SKETCH);
    blob.extend_from_slice(&(REGISTERS as u32).to_le_bytes());
    blob.extend_from_slice(&(REGISTERS as f64).to_le_bytes());
    blob.resize(SKETCH_LEN, 0);
    for h in exact {
        observe(blob, h);
    }
}

/// The register is the hash's top bits; its rank the position of the first 1 bit after
/// them.
fn observe(sketch: &mut [u8], hash: u64) {
    let index = (hash >> (64 - PRECISION)) as usize;
    let rest = (hash << PRECISION) | (1 << (PRECISION - 1));
    raise(sketch, index, rest.leading_zeros() as u8 + 1);
}

/// Raises register `index` of `sketch` (a whole sketch blob) to `rank`, keeping the
/// header's empty count and sum in step.
fn raise(sketch: &mut [u8], index: usize, rank: u8) {
    let at = 1 + SKETCH_HEADER + index;
    let old = sketch[at];
    if old >= rank {
        return;
    }
    sketch[at] = rank;
    let (zeros, sum) = header(sketch);
    let zeros = zeros - u32::from(old == 0);
    // Exact: powers of two down to 2^-53 added to a sum of at most 2^12 lose nothing above
    // 2^-40, and a register reaches 40 with odds of 2^-40.
    let sum = sum - pow2_neg(old) + pow2_neg(rank);
    sketch[1..5].copy_from_slice(&zeros.to_le_bytes());
    sketch[5..13].copy_from_slice(&sum.to_le_bytes());
}

fn pow2_neg(rank: u8) -> f64 {
    f64::from_bits((1023 - u64::from(rank)) << 52)
}

fn header(sketch: &[u8]) -> (u32, f64) {
    let zeros = u32::from_le_bytes(sketch[1..5].try_into().expect("4 bytes"));
    let sum = f64::from_le_bytes(sketch[5..13].try_into().expect("8 bytes"));
    (zeros, sum)
}

/// HyperLogLog's estimate with linear counting for small cardinalities (Flajolet et al.);
/// a 64-bit hash needs no large-range correction at these sizes.
fn estimate(sketch: &[u8]) -> i64 {
    let m = REGISTERS as f64;
    let alpha = 0.7213 / (1.0 + 1.079 / m);
    let (zeros, sum) = header(sketch);
    let raw = alpha * m * m / sum;
    let est = if raw <= 2.5 * m && zeros > 0 {
        m * (m / f64::from(zeros)).ln()
    } else {
        raw
    };
    est.round() as i64
}

fn hash_of(x: &Value) -> u64 {
    // -0.0 and 0.0 are one value to COUNT_DISTINCT, as they compare equal.
    let normalized;
    let x = match x {
        Value::Double(d) if *d == 0.0 => {
            normalized = Value::Double(0.0);
            &normalized
        }
        _ => x,
    };
    // One encoding buffer per thread: this runs for every row of every COUNT_DISTINCT
    // (it keeps the largest value seen, which the row-size limit bounds).
    ENCODED.with(|bytes| {
        let mut bytes = bytes.borrow_mut();
        bytes.clear();
        value_codec::encode(x, &mut bytes);
        let mut h = SipHasher13::new_with_keys(HASH_KEYS.0, HASH_KEYS.1);
        h.write(&bytes);
        h.finish()
    })
}

thread_local! {
    static ENCODED: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
}

#[cfg(test)]
mod tests {
    use super::*;

    fn count_of(values: impl Iterator<Item = Value>) -> i64 {
        let mut acc = init();
        for v in values {
            add(&mut acc, &v);
        }
        count(&acc)
    }

    #[test]
    fn exact_while_small_and_repeats_count_once() {
        let values = (0..EXACT_MAX as i64).chain(0..100).map(Value::BigInt);
        assert_eq!(count_of(values), EXACT_MAX as i64);
        assert_eq!(count_of([Value::Double(0.0), Value::Double(-0.0)].into_iter()), 1);
    }

    #[test]
    fn state_stays_bounded_and_estimate_is_within_the_error() {
        for n in [EXACT_MAX + 1, 10_000, 200_000] {
            let mut acc = init();
            for i in 0..n {
                add(&mut acc, &Value::String(format!("bidder-{i}")));
            }
            let Value::Bytes(b) = &acc else { panic!("bytes") };
            assert_eq!(b.len(), SKETCH_LEN);
            assert_eq!(b.len(), STATE_BYTES + 13);
            // The running header equals a pass over the registers.
            let registers = &b[1 + SKETCH_HEADER..];
            let zeros = registers.iter().filter(|&&r| r == 0).count() as u32;
            let sum: f64 = registers.iter().map(|&r| 2f64.powi(-i32::from(r))).sum();
            assert_eq!(header(b), (zeros, sum));
            let est = count(&acc) as f64;
            let error = (est - n as f64).abs() / n as f64;
            // 4 standard errors of a 2^12-register sketch.
            assert!(error < 4.0 * 1.04 / 64.0, "n {n}: estimate {est}");
        }
    }

    #[test]
    fn merge_matches_one_pass_in_both_forms() {
        for (a, b) in [(10, 20), (300, 400), (5_000, 7_000)] {
            let mut left = init();
            let mut right = init();
            let mut both = init();
            for i in 0..a {
                add(&mut left, &Value::BigInt(i));
                add(&mut both, &Value::BigInt(i));
            }
            for i in a / 2..b {
                add(&mut right, &Value::BigInt(i));
                add(&mut both, &Value::BigInt(i));
            }
            merge(&mut left, &right);
            assert_eq!(count(&left), count(&both), "{a} {b}");
        }
    }

    #[test]
    fn reads_the_older_list_state() {
        let mut acc = Value::Array(vec![Value::BigInt(1), Value::BigInt(2)]);
        assert_eq!(count(&acc), 2);
        add(&mut acc, &Value::BigInt(2));
        add(&mut acc, &Value::BigInt(3));
        assert_eq!(count(&acc), 3);
        assert!(matches!(acc, Value::Bytes(_)));
    }
}
