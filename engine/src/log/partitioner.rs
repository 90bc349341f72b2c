//! Kafka's default partitioner, so a keyed row lands in the same partition it would in Kafka.
//!
//! Kafka's `BuiltInPartitioner.partitionForKey` is `toPositive(murmur2(keyBytes)) % numPartitions`
//! with `Utils.murmur2` (seed `0x9747b28c`) and `Utils.toPositive` (`n & 0x7fffffff`). ksqlDB
//! relies on that for co-partitioned joins, so this must match bit for bit; the unit tests use
//! the vectors from Kafka's `UtilsTest.testMurmur2`.
//!
//! Keyless rows go through [`KeylessSpreader`], a round-robin counter. (Kafka's producer uses a
//! "sticky" partitioner for null keys; which partition a keyless row lands in is not part of
//! the data model, only that keyless rows spread evenly.)

use std::sync::atomic::{AtomicU64, Ordering};

use super::PartitionId;

/// The seed Kafka's `Utils.murmur2` uses.
const MURMUR2_SEED: u32 = 0x9747_b28c;
/// Murmur2's mixing constant `m`.
const MURMUR2_M: u32 = 0x5bd1_e995;
/// Murmur2's shift `r`.
const MURMUR2_R: u32 = 24;

/// Kafka's `Utils.murmur2`: 32-bit MurmurHash2 over `data`, little-endian 4-byte blocks.
///
/// Returned as `i32` because Kafka's is a Java `int` and its test vectors are signed.
pub fn murmur2(data: &[u8]) -> i32 {
    // Java's `int` arithmetic wraps, and `>>>` is a logical shift: u32 with wrapping ops.
    let length = data.len() as u32;
    let mut h: u32 = MURMUR2_SEED ^ length;

    let mut blocks = data.chunks_exact(4);
    for block in &mut blocks {
        let mut k = u32::from_le_bytes([block[0], block[1], block[2], block[3]]);
        k = k.wrapping_mul(MURMUR2_M);
        k ^= k >> MURMUR2_R;
        k = k.wrapping_mul(MURMUR2_M);
        h = h.wrapping_mul(MURMUR2_M);
        h ^= k;
    }

    // The tail falls through from 3 to 1 in Kafka's `switch`, then multiplies once.
    let tail = blocks.remainder();
    if !tail.is_empty() {
        if tail.len() >= 3 {
            h ^= u32::from(tail[2]) << 16;
        }
        if tail.len() >= 2 {
            h ^= u32::from(tail[1]) << 8;
        }
        h ^= u32::from(tail[0]);
        h = h.wrapping_mul(MURMUR2_M);
    }

    h ^= h >> 13;
    h = h.wrapping_mul(MURMUR2_M);
    h ^= h >> 15;
    h as i32
}

/// Kafka's `Utils.toPositive`: clears the sign bit (not `abs`, which overflows on `i32::MIN`).
pub fn to_positive(n: i32) -> u32 {
    (n & 0x7fff_ffff) as u32
}

/// The partition Kafka's default partitioner picks for a non-null key.
///
/// # Panics
/// If `partitions` is 0: a topic always has at least one partition.
pub fn partition_for_key(key: &[u8], partitions: u32) -> PartitionId {
    assert!(partitions > 0, "a topic has at least one partition");
    PartitionId(to_positive(murmur2(key)) % partitions)
}

/// Spreads keyless rows evenly over a topic's partitions: a lock-free round-robin.
///
/// A 64-bit counter so wrap-around (which would skew the spread when the partition count does
/// not divide 2^32) never happens in practice.
#[derive(Debug, Default)]
pub struct KeylessSpreader {
    next: AtomicU64,
}

impl KeylessSpreader {
    pub fn new() -> KeylessSpreader {
        KeylessSpreader::default()
    }

    /// A spreader whose first row goes to partition `start % partitions`. Short-lived
    /// spreaders (one per request) must not all start at partition 0, or small requests
    /// would pile onto it.
    pub fn starting_at(start: u64) -> KeylessSpreader {
        KeylessSpreader {
            next: AtomicU64::new(start),
        }
    }

    /// The partition for the next keyless row.
    ///
    /// # Panics
    /// If `partitions` is 0.
    pub fn next_partition(&self, partitions: u32) -> PartitionId {
        assert!(partitions > 0, "a topic has at least one partition");
        // Relaxed: only the counter's own atomicity matters, nothing is published through it.
        let n = self.next.fetch_add(1, Ordering::Relaxed);
        PartitionId((n % u64::from(partitions)) as u32)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The vectors of Kafka's `UtilsTest.testMurmur2` (clients/src/test/java/org/apache/kafka/
    /// common/utils/UtilsTest.java).
    #[test]
    fn murmur2_matches_kafka_vectors() {
        let cases: [(&[u8], i32); 6] = [
            (b"21", -973_932_308),
            (b"foobar", -790_332_482),
            (b"a-little-bit-long-string", -985_981_536),
            (b"a-little-bit-longer-string", -1_486_304_829),
            (
                b"lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8",
                -58_897_971,
            ),
            (b"abc", 479_470_107),
        ];
        for (data, expected) in cases {
            assert_eq!(
                murmur2(data),
                expected,
                "murmur2({:?})",
                String::from_utf8_lossy(data)
            );
        }
    }

    #[test]
    fn partition_for_key_is_to_positive_mod() {
        // -790332482 & 0x7fffffff = 1357151166; 1357151166 % 6 = 0.
        assert_eq!(to_positive(-790_332_482), 1_357_151_166);
        assert_eq!(
            partition_for_key(b"foobar", 6),
            PartitionId(1_357_151_166 % 6)
        );
        assert_eq!(partition_for_key(b"abc", 1), PartitionId(0));
        assert_eq!(to_positive(i32::MIN), 0);
        for p in 1..50 {
            assert!(partition_for_key(b"any key", p).0 < p);
        }
    }

    #[test]
    fn keyless_spread_is_even() {
        let spreader = KeylessSpreader::new();
        let partitions = 7u32;
        let mut counts = vec![0u32; partitions as usize];
        for _ in 0..7_000 {
            counts[spreader.next_partition(partitions).0 as usize] += 1;
        }
        assert!(counts.iter().all(|&c| c == 1_000), "{counts:?}");
    }

    #[test]
    fn keyless_spread_is_even_across_threads() {
        let spreader = std::sync::Arc::new(KeylessSpreader::new());
        let partitions = 4u32;
        let handles: Vec<_> = (0..4)
            .map(|_| {
                let spreader = spreader.clone();
                std::thread::spawn(move || {
                    let mut counts = vec![0u32; partitions as usize];
                    for _ in 0..1_000 {
                        counts[spreader.next_partition(partitions).0 as usize] += 1;
                    }
                    counts
                })
            })
            .collect();
        let mut total = vec![0u32; partitions as usize];
        for h in handles {
            for (t, c) in total.iter_mut().zip(h.join().unwrap()) {
                *t += c;
            }
        }
        assert!(total.iter().all(|&c| c == 1_000), "{total:?}");
    }
}
