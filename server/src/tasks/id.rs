//! Task ids: random (version 4) UUIDs in their usual text form, as DeltaStream's
//! `statementID` and Roe's query ids are.

/// A fresh random UUID, `xxxxxxxx-xxxx-4xxx-yxxx-xxxxxxxxxxxx`.
pub fn new_task_id() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// True for text in the canonical UUID form (any version), lower or upper case.
pub fn is_uuid(text: &str) -> bool {
    let bytes = text.as_bytes();
    bytes.len() == 36
        && bytes.iter().enumerate().all(|(i, b)| match i {
            8 | 13 | 18 | 23 => *b == b'-',
            _ => b.is_ascii_hexdigit(),
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_version_4_uuids_and_differ() {
        let a = new_task_id();
        let b = new_task_id();
        assert!(is_uuid(&a), "{a}");
        assert_ne!(a, b);
        assert_eq!(&a[14..15], "4");
        assert!(matches!(&a[19..20], "8" | "9" | "a" | "b"), "{a}");
        assert!(!is_uuid("not-a-uuid"));
        assert!(!is_uuid("00000000-0000-0000-0000-00000000000g"));
    }
}
