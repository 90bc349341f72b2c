//! What a URI carries, decoded: a path segment's `%XX` escapes, and a query's values
//! (`name=value` pairs, `+` for a space), with the `percent-encoding` crate.

use percent_encoding::percent_decode_str;

/// A path segment with its `%XX` escapes decoded (a quoted name may hold spaces); a
/// segment whose escapes are not valid UTF-8 is kept as written.
pub fn path_segment(segment: &str) -> String {
    percent_decode_str(segment)
        .decode_utf8()
        .map_or_else(|_| segment.to_string(), |s| s.into_owned())
}

/// The first value of query parameter `name`, decoded (`+` is a space; invalid escapes and
/// bytes stay as they are); `None` if the query lacks it.
pub fn query_value(query: Option<&str>, name: &str) -> Option<String> {
    query?.split('&').find_map(|pair| {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        (key == name).then(|| {
            let spaced = value.replace('+', " ");
            percent_decode_str(&spaced).decode_utf8_lossy().into_owned()
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn segments_and_values_are_decoded() {
        assert_eq!(path_segment("my%20udfs"), "my udfs");
        assert_eq!(path_segment("100%"), "100%");
        assert_eq!(path_segment("%ff"), "%ff");
        let query = Some("a=1&user_id=o%27hara+x%2&v=%2B&flag");
        assert_eq!(query_value(query, "user_id").as_deref(), Some("o'hara x%2"));
        assert_eq!(query_value(query, "v").as_deref(), Some("+"));
        assert_eq!(query_value(query, "flag").as_deref(), Some(""));
        assert_eq!(query_value(query, "user"), None);
        assert_eq!(query_value(None, "a"), None);
    }
}
