//! How `/v1/ws` frames travel once a client has authenticated: the serialization and
//! compression it negotiated (KalamDB's `ProtocolOptions`), the encoding of each server
//! message, and the decoding of a MessagePack client message.
//!
//! ```text
//!  JSON text of a server message ─► json:    as is, or gzip'd into a binary frame
//!                                  └ msgpack: re-encoded as MessagePack (a binary frame),
//!                                             gzip'd when that is smaller
//!  gzip: only messages of at least GZIP_THRESHOLD_BYTES, and only when the result is smaller
//! ```
//!
//! What `kalam-client` reads: with JSON, a binary frame is gzip'd JSON; with MessagePack,
//! every frame is binary, gzip'd or not (it checks gzip's magic bytes). `auth_success` is
//! always JSON text, since it is what announces the protocol.

use std::io::Write;

use flate2::write::GzEncoder;
use flate2::Compression as GzLevel;
use serde::Deserialize;
use serde_json::Value as Json;

/// Smallest message worth compressing (KalamDB's threshold): below it, gzip's 18 bytes of
/// header and trailer eat what deflate saves.
pub const GZIP_THRESHOLD_BYTES: usize = 512;

/// `serialization`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Serialization {
    #[default]
    Json,
    Msgpack,
}

/// `compression`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Compression {
    None,
    #[default]
    Gzip,
}

/// `ProtocolOptions`: JSON with gzip unless the client asks otherwise (KalamDB's default).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
pub struct WireProtocol {
    #[serde(default)]
    pub serialization: Serialization,
    #[serde(default)]
    pub compression: Compression,
}

/// One frame to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Frame {
    Text(String),
    Binary(Vec<u8>),
}

impl WireProtocol {
    /// What the upgrade request's query values ask for (the header-auth path, the server
    /// having decoded them): `serialization=msgpack`, `compression=none` or `compress=false`.
    pub fn from_query_values(
        serialization: Option<&str>,
        compression: Option<&str>,
        compress: Option<&str>,
    ) -> WireProtocol {
        let is =
            |value: Option<&str>, want: &str| value.is_some_and(|v| v.eq_ignore_ascii_case(want));
        WireProtocol {
            serialization: if is(serialization, "msgpack") {
                Serialization::Msgpack
            } else {
                Serialization::Json
            },
            compression: if is(compression, "none") || is(compress, "false") {
                Compression::None
            } else {
                Compression::Gzip
            },
        }
    }

    /// `{"serialization":…,"compression":…}` as `auth_success` echoes it.
    pub fn json(&self) -> Json {
        let serialization = match self.serialization {
            Serialization::Json => "json",
            Serialization::Msgpack => "msgpack",
        };
        let compression = match self.compression {
            Compression::None => "none",
            Compression::Gzip => "gzip",
        };
        serde_json::json!({"serialization": serialization, "compression": compression})
    }

    /// The frame carrying server message `text` (its JSON).
    pub fn encode(&self, text: String) -> Frame {
        match self.serialization {
            Serialization::Json => match self.smaller_gzip(text.as_bytes()) {
                Some(gz) => Frame::Binary(gz),
                None => Frame::Text(text),
            },
            Serialization::Msgpack => {
                let packed = to_msgpack(&text);
                Frame::Binary(self.smaller_gzip(&packed).unwrap_or(packed))
            }
        }
    }

    /// A binary client message as the JSON text the session reads; `Err` when binary frames
    /// are not this protocol's, or the bytes are not a MessagePack message.
    pub fn decode_binary(&self, bytes: &[u8]) -> Result<String, String> {
        if self.serialization != Serialization::Msgpack {
            return Err("binary frames are not accepted; send JSON text".into());
        }
        let value: Json = rmp_serde::from_slice(bytes)
            .map_err(|e| format!("invalid MessagePack message: {e}"))?;
        Ok(value.to_string())
    }

    /// `bytes` gzip'd, if this protocol compresses, they are large enough, and it helps.
    fn smaller_gzip(&self, bytes: &[u8]) -> Option<Vec<u8>> {
        if self.compression != Compression::Gzip || bytes.len() < GZIP_THRESHOLD_BYTES {
            return None;
        }
        // Fast over small: frames are compressed one by one on the connection's writer.
        let mut encoder = GzEncoder::new(Vec::with_capacity(bytes.len() / 2), GzLevel::fast());
        encoder.write_all(bytes).ok()?;
        let gz = encoder.finish().ok()?;
        (gz.len() < bytes.len()).then_some(gz)
    }
}

/// A server message's JSON as MessagePack (maps with named fields, as `rmp_serde` reads
/// KalamDB's tagged messages), through `serde_json::Value`: numbers parse correctly
/// rounded (the workspace's serde_json has `float_roundtrip`) and keep their sign (-0.0),
/// so a MessagePack frame carries the very values of its JSON. Our own JSON always parses;
/// should it not, the text is sent as a MessagePack string rather than dropped.
fn to_msgpack(text: &str) -> Vec<u8> {
    let value: Json = serde_json::from_str(text).unwrap_or_else(|_| Json::from(text));
    rmp_serde::to_vec_named(&value).expect("a JSON value always encodes as MessagePack")
}

#[cfg(test)]
mod tests {
    use super::*;
    use flate2::read::GzDecoder;
    use std::io::Read;

    fn gunzip(bytes: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        GzDecoder::new(bytes)
            .read_to_end(&mut out)
            .expect("valid gzip");
        out
    }

    fn big_change() -> String {
        let rows: Vec<Json> = (0..40)
            .map(|i| serde_json::json!({"id": i, "body": "some text that repeats", "_seq": i}))
            .collect();
        serde_json::json!({"type": "change", "subscription_id": "s1", "change_type": "insert",
                           "rows": rows})
        .to_string()
    }

    #[test]
    fn json_frames_are_gzipped_when_large_and_smaller() {
        let gzip = WireProtocol::default();
        assert_eq!(gzip.json()["compression"], "gzip");
        let small = r#"{"type":"change"}"#.to_string();
        assert_eq!(gzip.encode(small.clone()), Frame::Text(small));
        let big = big_change();
        let Frame::Binary(gz) = gzip.encode(big.clone()) else {
            panic!("a large frame is compressed")
        };
        assert_eq!(&gz[..2], &[0x1f, 0x8b], "gzip magic");
        assert!(gz.len() < big.len() / 2, "{} of {}", gz.len(), big.len());
        assert_eq!(gunzip(&gz), big.as_bytes());
        let plain = WireProtocol {
            compression: Compression::None,
            ..WireProtocol::default()
        };
        assert_eq!(plain.encode(big.clone()), Frame::Text(big.clone()));
        // Bytes gzip cannot shrink are sent as they are.
        let mut state = 0x9e37_79b9_7f4a_7c15u64;
        let noise: Vec<u8> = (0..2048)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                state.to_le_bytes()[0]
            })
            .collect();
        assert_eq!(gzip.smaller_gzip(&noise), None);
        assert!(gzip.smaller_gzip(big.as_bytes()).is_some());
    }

    #[test]
    fn msgpack_frames_round_trip() {
        let packed = WireProtocol {
            serialization: Serialization::Msgpack,
            compression: Compression::None,
        };
        let small = r#"{"type":"change","rows":[{"id":1,"ok":true,"x":1.5,"s":null}]}"#;
        let Frame::Binary(bytes) = packed.encode(small.to_string()) else {
            panic!("msgpack frames are binary")
        };
        let back: Json = rmp_serde::from_slice(&bytes).expect("msgpack");
        assert_eq!(back, serde_json::from_str::<Json>(small).expect("json"));
        let gzip = WireProtocol {
            serialization: Serialization::Msgpack,
            compression: Compression::Gzip,
        };
        let big = big_change();
        let Frame::Binary(gz) = gzip.encode(big.clone()) else {
            panic!("binary")
        };
        let back: Json = rmp_serde::from_slice(&gunzip(&gz)).expect("msgpack");
        assert_eq!(back, serde_json::from_str::<Json>(&big).expect("json"));
        // A client's MessagePack message reads as its JSON.
        let client = rmp_serde::to_vec_named(&serde_json::json!({"type": "ping"})).expect("mp");
        assert_eq!(
            gzip.decode_binary(&client).expect("decodes"),
            r#"{"type":"ping"}"#
        );
        assert!(gzip.decode_binary(b"\xc1").is_err(), "0xc1 is never used");
        assert!(WireProtocol::default().decode_binary(&client).is_err());
    }

    #[test]
    fn the_query_string_and_the_authenticate_message_choose() {
        assert_eq!(
            WireProtocol::from_query_values(None, None, None),
            WireProtocol::default()
        );
        let q = WireProtocol::from_query_values(Some("msgpack"), Some("none"), None);
        assert_eq!(
            (q.serialization, q.compression),
            (Serialization::Msgpack, Compression::None)
        );
        assert_eq!(
            WireProtocol::from_query_values(None, None, Some("false")).compression,
            Compression::None
        );
        let parsed: WireProtocol =
            serde_json::from_str(r#"{"serialization":"msgpack","compression":"gzip"}"#)
                .expect("valid");
        assert_eq!(parsed.serialization, Serialization::Msgpack);
        assert!(serde_json::from_str::<WireProtocol>(r#"{"serialization":"xml"}"#).is_err());
    }
}
