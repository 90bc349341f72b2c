//! The `POST /topics/{name}` answer, sent once every record is durable (REST Proxy v2):
//! `{"offsets":[{"partition":0,"offset":7,"error_code":null,"error":null}],"key_schema_id":null,"value_schema_id":null}`.

use sluice_engine::Produced;

pub fn encode_produce_response(produced: &[Produced]) -> Vec<u8> {
    let mut out = Vec::with_capacity(64 + produced.len() * 64);
    out.extend_from_slice(b"{\"offsets\":[");
    for (i, p) in produced.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        out.extend_from_slice(
            format!(
                "{{\"partition\":{},\"offset\":{},\"error_code\":null,\"error\":null}}",
                p.partition.0, p.offset.0
            )
            .as_bytes(),
        );
    }
    out.extend_from_slice(b"],\"key_schema_id\":null,\"value_schema_id\":null}");
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use sluice_engine::{Offset, PartitionId};

    #[test]
    fn shape() {
        let body = encode_produce_response(&[Produced {
            partition: PartitionId(1),
            offset: Offset(7),
        }]);
        assert_eq!(
            std::str::from_utf8(&body).expect("utf8"),
            r#"{"offsets":[{"partition":1,"offset":7,"error_code":null,"error":null}],"key_schema_id":null,"value_schema_id":null}"#
        );
    }
}
