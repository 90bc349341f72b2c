//! Record formats for faces and tools: how values are written as JSON and as Kafka keys,
//! exactly as the engine stores and shows them. Faces render results with these (one
//! implementation of ksqlDB's number, temporal and string spellings); the conformance runner
//! encodes and decodes test records with them.

pub use crate::format::coerce::{coerce_json_text, CoercionMode};
pub use crate::format::insert_row::{decode_insert_row, InsertRow};
pub use crate::format::java_double::java_double_string;
pub use crate::format::json_text::{
    compact_json, write_base64_string, write_i64, write_json_string,
};
pub use crate::format::json_value::{write_json_value, TemporalJson};
pub use crate::format::key::{decode_key, encode_key};
pub use crate::format::KeyFormat;
/// Kafka's default partitioner: where a key's record goes, as Kafka would put it.
pub use crate::log::partition_for_key;
pub use crate::types::temporal::civil_from_days;
