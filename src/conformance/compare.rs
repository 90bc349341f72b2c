//! How expected and actual values are compared: QTT's `ExpectedRecordComparator` rules for
//! topic records (qtt-format.md §4) and the REST runner's partial matching for HTTP
//! responses (rqtt-format.md §4). Each function returns the first difference as a sentence.

use base64::Engine as _;
use sluice_engine::types::SqlType;

use super::json::Json;
use super::proto_schema::ProtoSchema;
use super::proto_text;

/// DOUBLE values match within this distance (`ExpectedRecordComparator`).
pub const DOUBLE_TOLERANCE: f64 = 1e-6;

/// A number as `BigDecimal` sees it: sign, digits without leading zeros, scale.
#[derive(Debug, PartialEq, Eq)]
struct BigDec {
    negative: bool,
    digits: String,
    scale: i64,
}

fn big_dec(text: &str) -> Option<BigDec> {
    let (mantissa, exp) = match text.find(['e', 'E']) {
        Some(i) => (&text[..i], text[i + 1..].parse::<i64>().ok()?),
        None => (text, 0),
    };
    let (negative, mantissa) = match mantissa.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, mantissa.strip_prefix('+').unwrap_or(mantissa)),
    };
    let (int, frac) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    if int.is_empty() && frac.is_empty()
        || !int.bytes().chain(frac.bytes()).all(|b| b.is_ascii_digit())
    {
        return None;
    }
    let all = format!("{int}{frac}");
    let digits = all.trim_start_matches('0');
    let digits = if digits.is_empty() { "0" } else { digits };
    Some(BigDec {
        negative: negative && digits != "0",
        digits: digits.to_string(),
        scale: frac.len() as i64 - exp,
    })
}

/// BigDecimal equality: same value and same scale (`1.10` ≠ `1.1`, `1` ≠ `1.0`). A negative
/// scale is printed plain first (`1E+1` becomes `10`), as Java's plain printing does.
fn decimal_eq_with_scale(expected: &str, actual: &str) -> bool {
    let norm = |t: &str| {
        big_dec(t).map(|mut d| {
            if d.scale < 0 {
                if d.digits != "0" {
                    d.digits
                        .push_str(&"0".repeat(d.scale.unsigned_abs() as usize));
                }
                d.scale = 0;
            }
            d
        })
    };
    match (norm(expected), norm(actual)) {
        (Some(e), Some(a)) => e == a,
        _ => expected == actual,
    }
}

/// Value equality ignoring scale (`1.10` = `1.1`).
fn numeric_value_eq(expected: &str, actual: &str) -> bool {
    let strip = |t: &str| {
        big_dec(t).map(|d| {
            // Drop trailing zeros of the fraction so the scale no longer matters.
            let mut digits = d.digits;
            let mut scale = d.scale;
            while scale > 0 && digits.len() > 1 && digits.ends_with('0') {
                digits.pop();
                scale -= 1;
            }
            (d.negative, digits, scale)
        })
    };
    match (strip(expected), strip(actual)) {
        (Some(e), Some(a)) => e == a,
        _ => false,
    }
}

fn is_integer_text(t: &str) -> bool {
    !t.contains(['.', 'e', 'E'])
}

fn double_eq(expected: &str, actual: &str) -> bool {
    match (expected.parse::<f64>(), actual.parse::<f64>()) {
        (Ok(e), Ok(a)) => e == a || (e - a).abs() <= DOUBLE_TOLERANCE,
        _ => false,
    }
}

fn describe(j: &Json) -> String {
    super::client::clip(&j.to_text())
}

/// Compares an expected record value (or key) with the actual one under the QTT rules. `ty`
/// is the SQL type of the actual value when the sink's schema is known.
pub fn qtt_value(
    expected: &Json,
    actual: &Json,
    ty: Option<&SqlType>,
    path: &str,
) -> Result<(), String> {
    let mismatch = || {
        Err(format!(
            "{path}: expected {}, got {}",
            describe(expected),
            describe(actual)
        ))
    };
    match (expected, actual) {
        (Json::Null, Json::Null) => Ok(()),
        (Json::Null, _) | (_, Json::Null) => mismatch(),
        (Json::Num(e), Json::Num(a)) => {
            let ok = match ty {
                Some(SqlType::Double) => double_eq(e, a),
                Some(SqlType::Decimal { .. }) => decimal_eq_with_scale(e, a),
                Some(_) => numeric_value_eq(e, a),
                // Unknown type: integers exactly, anything fractional as a DOUBLE would be.
                None if is_integer_text(e) && is_integer_text(a) => numeric_value_eq(e, a),
                None => decimal_eq_with_scale(e, a) || double_eq(e, a),
            };
            if ok {
                Ok(())
            } else {
                mismatch()
            }
        }
        // A string matches a DECIMAL by value (qtt-format.md §4).
        (Json::Str(e), Json::Num(a)) if matches!(ty, Some(SqlType::Decimal { .. }) | None) => {
            if numeric_value_eq(e, a) {
                Ok(())
            } else {
                mismatch()
            }
        }
        (Json::Str(e), Json::Str(a)) => {
            if e == a {
                Ok(())
            } else {
                mismatch()
            }
        }
        (Json::Bool(e), Json::Bool(a)) => {
            if e == a {
                Ok(())
            } else {
                mismatch()
            }
        }
        (Json::Arr(e), Json::Arr(a)) => {
            if e.len() != a.len() {
                return Err(format!(
                    "{path}: expected {} elements, got {} ({})",
                    e.len(),
                    a.len(),
                    describe(actual)
                ));
            }
            let elem = match ty {
                Some(SqlType::Array(t)) => Some(&**t),
                _ => None,
            };
            for (i, (ei, ai)) in e.iter().zip(a).enumerate() {
                qtt_value(ei, ai, elem, &format!("{path}[{i}]"))?;
            }
            Ok(())
        }
        (Json::Obj(e), Json::Obj(a)) => {
            if e.len() != a.len() {
                return Err(format!(
                    "{path}: expected {} fields, got {} ({})",
                    e.len(),
                    a.len(),
                    describe(actual)
                ));
            }
            for (k, ev) in e {
                // Names exactly first, then upper-cased (`ExpectedRecordComparator`).
                let found = a
                    .iter()
                    .find(|(ak, _)| ak == k)
                    .or_else(|| a.iter().find(|(ak, _)| *ak == k.to_ascii_uppercase()));
                // A missing field reads as null, as the Java getter returns it.
                let Some((ak, av)) = found else {
                    if *ev == Json::Null {
                        continue;
                    }
                    return Err(format!("{path}: missing field {k} in {}", describe(actual)));
                };
                let field_ty = match ty {
                    Some(SqlType::Struct(fields)) => fields
                        .iter()
                        .find(|f| f.name == *ak)
                        .or_else(|| fields.iter().find(|f| f.name.eq_ignore_ascii_case(ak)))
                        .map(|f| &f.ty),
                    Some(SqlType::Map(_, v)) => Some(&**v),
                    _ => None,
                };
                qtt_value(ev, av, field_ty, &format!("{path}.{k}"))?;
            }
            Ok(())
        }
        _ => mismatch(),
    }
}

/// Exact equality of REST values: numbers as Java objects (an integer literal is a Long, a
/// fractional one a BigDecimal compared with its scale), everything else structurally.
pub fn rest_equal(expected: &Json, actual: &Json) -> bool {
    match (expected, actual) {
        (Json::Num(e), Json::Num(a)) => decimal_eq_with_scale(e, a),
        (Json::Arr(e), Json::Arr(a)) => {
            e.len() == a.len() && e.iter().zip(a).all(|(x, y)| rest_equal(x, y))
        }
        (Json::Obj(e), Json::Obj(a)) => {
            e.len() == a.len()
                && e.iter()
                    .all(|(k, ev)| a.iter().any(|(ak, av)| ak == k && rest_equal(ev, av)))
        }
        _ => expected == actual,
    }
}

/// Operator suffix for "the actual string starts with the expected one".
const STARTS_WITH_SUFFIX: &str = "|starts_with";

/// The REST runner's partial, recursive object match: every expected key must be present
/// and match; keys only in the actual object are ignored.
pub fn partial_match(expected: &Json, actual: &Json, path: &str) -> Result<(), String> {
    let (Json::Obj(e), Json::Obj(a)) = (expected, actual) else {
        return if rest_equal(expected, actual) {
            Ok(())
        } else {
            Err(format!(
                "{path}: expected {}, got {}",
                describe(expected),
                describe(actual)
            ))
        };
    };
    for (k, ev) in e {
        if let Some(base) = k.strip_suffix(STARTS_WITH_SUFFIX) {
            let av = a.iter().find(|(ak, _)| ak == base).map(|(_, v)| v);
            match (ev.as_str(), av.and_then(Json::as_str)) {
                (Some(prefix), Some(s)) if s.starts_with(prefix) => continue,
                _ => {
                    return Err(format!(
                        "{path}.{base}: expected a string starting with {}, got {}",
                        describe(ev),
                        av.map(describe).unwrap_or_else(|| "nothing".into())
                    ))
                }
            }
        }
        let Some((_, av)) = a.iter().find(|(ak, _)| ak == k) else {
            return Err(format!("{path}: missing {k} in {}", describe(actual)));
        };
        partial_match(ev, av, &format!("{path}.{k}"))?;
    }
    Ok(())
}

/// Drops empty strings, empty arrays and nulls nested inside objects, as the Java runner's
/// `NON_EMPTY` re-serialization does to the actual side (rqtt-format.md §4).
pub fn drop_nested_empty(j: &Json) -> Json {
    match j {
        Json::Arr(items) => Json::Arr(items.iter().map(drop_nested_empty).collect()),
        Json::Obj(entries) => Json::Obj(
            entries
                .iter()
                .filter(|(_, v)| {
                    !matches!(v, Json::Null)
                        && *v != Json::Str(String::new())
                        && *v != Json::Arr(Vec::new())
                })
                .map(|(k, v)| (k.clone(), drop_nested_empty(v)))
                .collect(),
        ),
        other => other.clone(),
    }
}

/// Compares a whole `/query` response with its expectation: the same number of lines, each
/// line matched partially in place, and (unless `verify_order`) the `row.columns` lists
/// compared as a multiset across the response.
pub fn query_response(
    expected: &[Json],
    actual: &[Json],
    verify_order: bool,
) -> Result<(), String> {
    if expected.len() != actual.len() {
        return Err(format!(
            "expected {} lines, got {}: {}",
            expected.len(),
            actual.len(),
            super::client::clip(&Json::Arr(actual.to_vec()).to_text())
        ));
    }
    let mut expected_columns = Vec::new();
    let mut actual_columns = Vec::new();
    for (i, (e, a)) in expected.iter().zip(actual).enumerate() {
        let (e, a) = if verify_order {
            (e.clone(), a.clone())
        } else {
            let (e, ec) = take_columns(e);
            let (a, ac) = take_columns(a);
            if let Some(c) = ec {
                expected_columns.push(c);
                match ac {
                    Some(c) => actual_columns.push(c),
                    None => return Err(format!("line {i}: expected a row, got {}", describe(&a))),
                }
            }
            (e, a)
        };
        partial_match(&e, &a, &format!("line {i}"))?;
    }
    let mut unused: Vec<Option<Json>> = actual_columns
        .into_iter()
        .map(|c| Some(drop_nested_empty(&c)))
        .collect();
    for e in &expected_columns {
        let e = drop_nested_empty(e);
        let hit = unused
            .iter_mut()
            .find(|slot| slot.as_ref().is_some_and(|a| rest_equal(&e, a)));
        match hit {
            Some(slot) => *slot = None,
            None => {
                let rest: Vec<Json> = unused.iter().flatten().cloned().collect();
                return Err(format!(
                    "no actual row matches columns {}; unmatched actual rows: {}",
                    describe(&e),
                    describe(&Json::Arr(rest))
                ));
            }
        }
    }
    Ok(())
}

/// Compares a protobuf-mode `/query-stream` response with a `queryProto` expectation
/// (rqtt-format.md §4 "Protobuf responses"): the same number of lines; headers (so the exact
/// `protoSchema`) and final messages matched in place; each actual row decoded with the
/// header's schema and printed as Java's `TextFormat`, and the sorted printed rows equal to
/// the sorted expected ones.
pub fn query_proto_response(expected: &[Json], actual: &[Json]) -> Result<(), String> {
    if expected.len() != actual.len() {
        return Err(format!(
            "expected {} lines, got {}: {}",
            expected.len(),
            actual.len(),
            super::client::clip(&Json::Arr(actual.to_vec()).to_text())
        ));
    }
    // The schema is parsed at the first row, so a response without rows needs none.
    let mut schema_text = None;
    let mut schema = None;
    let mut expected_rows = Vec::new();
    let mut actual_rows = Vec::new();
    for (i, (e, a)) in expected.iter().zip(actual).enumerate() {
        let Some(want) = e.field("row") else {
            partial_match(e, a, &format!("line {i}"))?;
            if let Some(text) = proto_schema_text(a) {
                schema_text = Some(text);
                schema = None;
            }
            continue;
        };
        let want = want
            .as_str()
            .ok_or_else(|| format!("line {i}: an expected protobuf row is not a string"))?;
        expected_rows.push(want.to_string());
        if schema.is_none() {
            let text = schema_text
                .ok_or_else(|| format!("line {i}: a row before any header with a protoSchema"))?;
            schema = Some(ProtoSchema::parse(text).map_err(|m| format!("line {i}: {m}"))?);
        }
        let schema = schema.as_ref().expect("parsed just above when absent");
        actual_rows.push(proto_row_text(schema, a).map_err(|m| format!("line {i}: {m}"))?);
    }
    expected_rows.sort();
    actual_rows.sort();
    if expected_rows != actual_rows {
        return Err(format!(
            "protobuf rows differ: expected {:?}, got {:?}",
            expected_rows, actual_rows
        ));
    }
    Ok(())
}

fn proto_schema_text(line: &Json) -> Option<&str> {
    line.field("header")?.field("protoSchema")?.as_str()
}

/// `{"row":{"protobufBytes":"<base64>"}}` decoded and printed.
fn proto_row_text(schema: &ProtoSchema, line: &Json) -> Result<String, String> {
    let encoded = line
        .field("row")
        .and_then(|r| r.field("protobufBytes"))
        .and_then(Json::as_str)
        .ok_or_else(|| format!("expected a protobuf row, got {}", describe(line)))?;
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(encoded)
        .map_err(|e| format!("protobufBytes is not base64: {e}"))?;
    proto_text::row_text(schema, &bytes)
}

/// Splits `{"row":{"columns":[…],…}}` into the line without `columns` and the columns.
fn take_columns(line: &Json) -> (Json, Option<Json>) {
    let Json::Obj(entries) = line else {
        return (line.clone(), None);
    };
    let mut taken = None;
    let entries = entries
        .iter()
        .map(|(k, v)| match (k.as_str(), v) {
            ("row", Json::Obj(row)) => {
                let row = row
                    .iter()
                    .filter(|(rk, rv)| {
                        if rk == "columns" {
                            taken = Some(rv.clone());
                            false
                        } else {
                            true
                        }
                    })
                    .cloned()
                    .collect();
                (k.clone(), Json::Obj(row))
            }
            _ => (k.clone(), v.clone()),
        })
        .collect();
    (Json::Obj(entries), taken)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn j(s: &str) -> Json {
        Json::parse(s).expect("test json")
    }

    const RIDER_SCHEMA: &str = "syntax = \"proto3\";\n\nmessage ConnectDefault1 {\n  string PROFILEID = 1;\n  double LATITUDE = 2;\n  double LONGITUDE = 3;\n}\n";

    /// `{"row":{"protobufBytes":…}}` for one row of the RQTT "on stream" case.
    fn rider_line(id: &str, la: f64, lo: f64) -> Json {
        let mut bytes = vec![0x0a, u8::try_from(id.len()).expect("short id")];
        bytes.extend_from_slice(id.as_bytes());
        bytes.push(0x11);
        bytes.extend_from_slice(&la.to_le_bytes());
        bytes.push(0x19);
        bytes.extend_from_slice(&lo.to_le_bytes());
        let b64 = base64::engine::general_purpose::STANDARD.encode(bytes);
        j(&format!(r#"{{"row":{{"protobufBytes":"{b64}"}}}}"#))
    }

    fn proto_header(schema: &str) -> Json {
        Json::Obj(vec![(
            "header".into(),
            Json::Obj(vec![
                ("queryId".into(), Json::Str("transient_1".into())),
                ("schema".into(), Json::Str("`PROFILEID` STRING".into())),
                ("protoSchema".into(), Json::Str(schema.into())),
            ]),
        )])
    }

    #[test]
    fn protobuf_responses_compare_printed_rows_as_a_sorted_list() {
        let expected = vec![
            Json::Obj(vec![(
                "header".into(),
                Json::Obj(vec![("protoSchema".into(), Json::Str(RIDER_SCHEMA.into()))]),
            )]),
            j(r#"{"row":"PROFILEID: \"which\"\nLATITUDE: 37.7877\nLONGITUDE: -122.4205\n"}"#),
            j(r#"{"row":"PROFILEID: \"there\"\nLATITUDE: 37.3903\nLONGITUDE: -122.0643\n"}"#),
            j(r#"{"finalMessage":"Limit Reached"}"#),
        ];
        let actual = vec![
            proto_header(RIDER_SCHEMA),
            rider_line("there", 37.3903, -122.0643),
            rider_line("which", 37.7877, -122.4205),
            j(r#"{"finalMessage":"Limit Reached"}"#),
        ];
        assert_eq!(query_proto_response(&expected, &actual), Ok(()));

        let mut wrong_row = actual.clone();
        wrong_row[1] = rider_line("there", 37.3903, -122.0644);
        let err = query_proto_response(&expected, &wrong_row).expect_err("row differs");
        assert!(err.contains("-122.0644"), "{err}");

        let mut wrong_final = actual.clone();
        wrong_final[3] = j(r#"{"finalMessage":"Query Completed"}"#);
        assert!(query_proto_response(&expected, &wrong_final).is_err());

        let mut wrong_schema = actual.clone();
        wrong_schema[0] =
            proto_header(&RIDER_SCHEMA.replace("  double LONGITUDE", "double LONGITUDE"));
        let err = query_proto_response(&expected, &wrong_schema).expect_err("schema differs");
        assert!(err.contains("line 0"), "{err}");

        let err = query_proto_response(&expected, &actual[..3]).expect_err("a line short");
        assert!(err.contains("expected 4 lines, got 3"), "{err}");

        let mut not_base64 = actual.clone();
        not_base64[2] = j(r#"{"row":{"protobufBytes":"!!"}}"#);
        let err = query_proto_response(&expected, &not_base64).expect_err("bad base64");
        assert!(err.contains("line 2") && err.contains("base64"), "{err}");
    }

    #[test]
    fn double_matches_within_tolerance() {
        let t = Some(&SqlType::Double);
        assert!(qtt_value(&j("1.0000001"), &j("1.0"), t, "$").is_ok());
        assert!(qtt_value(&j("-12345.678"), &j("-12345.678000000001"), t, "$").is_ok());
        assert!(qtt_value(&j("1.00001"), &j("1.0"), t, "$").is_err());
        // An integer literal matches a whole DOUBLE.
        assert!(qtt_value(&j("3"), &j("3.0"), t, "$").is_ok());
    }

    #[test]
    fn decimal_matches_with_its_scale() {
        let t = Some(&SqlType::Decimal {
            precision: 4,
            scale: 2,
        });
        assert!(qtt_value(&j("1.10"), &j("1.10"), t, "$").is_ok());
        assert!(qtt_value(&j("1.10"), &j("1.1"), t, "$").is_err());
        assert!(qtt_value(&j("1"), &j("1.0"), t, "$").is_err());
        assert!(qtt_value(&j("-0.20"), &j("-0.20"), t, "$").is_ok());
        // A string matches by value.
        assert!(qtt_value(&j("\"005.4\""), &j("5.40"), t, "$").is_ok());
    }

    #[test]
    fn structs_compare_counts_and_names() {
        let ty = SqlType::Struct(vec![sluice_engine::types::StructField {
            name: "A".into(),
            ty: SqlType::Double,
        }]);
        assert!(qtt_value(
            &j(r#"{"a": 1.0000001}"#),
            &j(r#"{"A": 1.0}"#),
            Some(&ty),
            "$"
        )
        .is_ok());
        assert!(qtt_value(&j(r#"{"A": 1}"#), &j(r#"{"A": 1, "B": 2}"#), Some(&ty), "$").is_err());
    }

    #[test]
    fn tombstones_are_nulls() {
        assert!(qtt_value(&Json::Null, &Json::Null, None, "$").is_ok());
        assert!(qtt_value(&Json::Null, &j("{}"), None, "$").is_err());
        assert!(qtt_value(&j("{}"), &Json::Null, None, "$").is_err());
    }

    #[test]
    fn a_missing_field_matches_an_expected_null() {
        // ksqlDB's `compareStruct` reads an absent field as null; only the count must agree.
        let actual = j(r#"{"KSQL_COL_0":null}"#);
        assert!(qtt_value(&j(r#"{"KQL_COL_0":null}"#), &actual, None, "$").is_ok());
        assert!(qtt_value(&j(r#"{"KQL_COL_0":1}"#), &actual, None, "$").is_err());
    }

    #[test]
    fn rest_numbers_keep_scale_and_kind() {
        assert!(rest_equal(&j("11"), &j("11")));
        assert!(!rest_equal(&j("11"), &j("11.0")));
        assert!(!rest_equal(&j("11.0"), &j("11.00")));
        assert!(rest_equal(&j("10000000000"), &j("1.0E10")));
    }

    #[test]
    fn partial_match_and_starts_with() {
        let actual = j(r#"{"@type":"currentStatus","commandStatus":{"queryId":"CSAS_1"}}"#);
        assert!(partial_match(&j(r#"{"@type":"currentStatus"}"#), &actual, "$").is_ok());
        assert!(partial_match(
            &j(r#"{"commandStatus":{"queryId|starts_with":"CSAS"}}"#),
            &actual,
            "$"
        )
        .is_ok());
        assert!(partial_match(
            &j(r#"{"commandStatus":{"queryId|starts_with":"CTAS"}}"#),
            &actual,
            "$"
        )
        .is_err());
        assert!(partial_match(&j(r#"{"@type":"x"}"#), &actual, "$").is_err());
    }

    #[test]
    fn query_rows_are_a_multiset_but_headers_are_positional() {
        let expected = j(
            r#"[{"header":{"schema":"`K` STRING"}},{"row":{"columns":["a",1]}},{"row":{"columns":["b",2]}}]"#,
        );
        let actual = j(
            r#"[{"header":{"queryId":"q","schema":"`K` STRING"}},{"row":{"columns":["b",2]}},{"row":{"columns":["a",1]}}]"#,
        );
        assert!(query_response(expected.as_array(), actual.as_array(), false).is_ok());
        assert!(query_response(expected.as_array(), actual.as_array(), true).is_err());
        assert!(query_response(expected.as_array(), &actual.as_array()[..2], false).is_err());
    }
}
