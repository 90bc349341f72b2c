//! CREATE STREAM / CREATE TABLE: validate the definition and build the `Source`.

use std::collections::HashMap;

use crate::catalog::source::{SourceWindow, WindowType};
use crate::catalog::Source;
use crate::error::{EngineError, Result};
use crate::format::timestamp_extractor::TimestampExtractor;
use crate::format::{KeyFormat, ValueFormat, ValueWrapping};
use crate::sql::ast::{ColumnConstraint, CreateSource, Literal, Properties, SourceKind};
use crate::types::schema::{PSEUDO_ROWOFFSET, PSEUDO_ROWPARTITION, PSEUDO_ROWTIME};
use crate::types::sql_type::StructField;
use crate::types::{Column, ColumnKind, Schema, SqlType};

use crate::log::{TopicConfig, TOPIC_PARTITIONS_MAX};

/// Names ksqlDB reserves for pseudo and window columns.
const RESERVED_COLUMN_NAMES: &[&str] = &[
    PSEUDO_ROWTIME,
    PSEUDO_ROWPARTITION,
    PSEUDO_ROWOFFSET,
    "WINDOWSTART",
    "WINDOWEND",
];

/// WITH-clause keys CREATE STREAM/TABLE understands. Others are rejected as ksqlDB does.
const KNOWN_PROPERTIES: &[&str] = &[
    "KAFKA_TOPIC",
    "VALUE_FORMAT",
    "KEY_FORMAT",
    "KEY_DELIMITER",
    "FORMAT",
    "PARTITIONS",
    "REPLICAS",
    "TIMESTAMP",
    "TIMESTAMP_FORMAT",
    "WRAP_SINGLE_VALUE",
    "RETENTION_MS",
    "KEY_SCHEMA_ID",
    "VALUE_SCHEMA_ID",
    "WINDOW_TYPE",
    "WINDOW_SIZE",
];

/// Request properties (ksqlDB configs) that shape a new source when its WITH clause is
/// silent. Only these properties are journaled with a CREATE, so a restart rebuilds the
/// same source.
pub(crate) const PERSISTENCE_PROPERTIES: &[&str] = &[
    DEFAULT_KEY_FORMAT_PROPERTY,
    DEFAULT_VALUE_FORMAT_PROPERTY,
    WRAP_SINGLE_VALUES_PROPERTY,
    OUTPUT_TOPIC_PREFIX_PROPERTY,
    NEW_QUERY_PLANNER_PROPERTY,
];

const DEFAULT_KEY_FORMAT_PROPERTY: &str = "ksql.persistence.default.format.key";
const DEFAULT_VALUE_FORMAT_PROPERTY: &str = "ksql.persistence.default.format.value";
const WRAP_SINGLE_VALUES_PROPERTY: &str = "ksql.persistence.wrap.single.values";
const OUTPUT_TOPIC_PREFIX_PROPERTY: &str = "ksql.output.topic.name.prefix";
const NEW_QUERY_PLANNER_PROPERTY: &str = "ksql.new.query.planner.enabled";

/// Which of ksqlDB's planners a persistent query is planned as, per
/// `ksql.new.query.planner.enabled` (default false). The new one, still a stub in ksqlDB
/// that takes only `SELECT … FROM stream`, differs in the sink's key columns
/// (`EngineExecutor.planQuery`; QTT `select.json` "-- new planner" cases); that difference
/// is all Sluice models.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) enum QueryPlanner {
    /// Key columns in source key order; every source key column must be projected.
    #[default]
    Old,
    /// Key columns in projection order; unprojected source key columns are dropped.
    New,
}

/// The configs a request carries (as `streamsProperties` or SET) that shape a new source.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct PersistenceConfig {
    /// `ksql.persistence.default.format.key`: the key format when WITH names none
    /// (ksqlDB's default is `KAFKA`).
    default_key_format: Option<String>,
    /// `ksql.persistence.default.format.value`: the value format when WITH names none.
    default_value_format: Option<String>,
    /// `ksql.persistence.wrap.single.values`: how a single value column is laid out when
    /// WITH has no `WRAP_SINGLE_VALUE`. Unset means wrapped.
    wrap_single_values: Option<bool>,
    /// `ksql.output.topic.name.prefix`: prepended to a CSAS/CTAS sink's topic name when
    /// WITH names no `KAFKA_TOPIC` (ksqlDB's default is no prefix).
    pub(crate) output_topic_prefix: Option<String>,
    /// `ksql.new.query.planner.enabled`.
    pub(crate) query_planner: QueryPlanner,
    /// `ksql.functions.collect_list.limit` and `ksql.functions.collect_set.limit`: entries
    /// COLLECT_LIST / COLLECT_SET keep per group (ksqlDB's default is 1000).
    pub(crate) collect_list_limit: Option<usize>,
    pub(crate) collect_set_limit: Option<usize>,
}

impl PersistenceConfig {
    pub(crate) fn from_props(props: &HashMap<String, String>) -> Result<PersistenceConfig> {
        let wrap_single_values = match props.get(WRAP_SINGLE_VALUES_PROPERTY) {
            None => None,
            Some(raw) => Some(parse_config_bool(WRAP_SINGLE_VALUES_PROPERTY, raw)?),
        };
        let query_planner = match props.get(NEW_QUERY_PLANNER_PROPERTY) {
            Some(raw) if parse_config_bool(NEW_QUERY_PLANNER_PROPERTY, raw)? => QueryPlanner::New,
            _ => QueryPlanner::Old,
        };
        Ok(PersistenceConfig {
            default_key_format: props.get(DEFAULT_KEY_FORMAT_PROPERTY).cloned(),
            default_value_format: props.get(DEFAULT_VALUE_FORMAT_PROPERTY).cloned(),
            wrap_single_values,
            output_topic_prefix: props.get(OUTPUT_TOPIC_PREFIX_PROPERTY).cloned(),
            query_planner,
            collect_list_limit: parse_limit(props, "ksql.functions.collect_list.limit")?,
            collect_set_limit: parse_limit(props, "ksql.functions.collect_set.limit")?,
        })
    }
}

/// A non-negative integer config, if set.
fn parse_limit(props: &HashMap<String, String>, name: &str) -> Result<Option<usize>> {
    match props.get(name) {
        None => Ok(None),
        Some(raw) => raw.trim().parse::<usize>().map(Some).map_err(|_| {
            EngineError::statement(format!(
                "Invalid value {raw} for configuration {name}: Not a number of type INT"
            ))
        }),
    }
}

impl PersistenceConfig {
    /// The key format of a keyed source whose WITH clause names none:
    /// `ksql.persistence.default.format.key`, else ksqlDB's default, `KAFKA`.
    pub(crate) fn default_key_format(&self) -> Result<KeyFormat> {
        match &self.default_key_format {
            Some(name) => KeyFormat::parse(name),
            None => Ok(KeyFormat::Kafka),
        }
    }
}

/// A boolean config value as Kafka's `ConfigDef` reads one: `true`/`false`, any case.
fn parse_config_bool(name: &str, raw: &str) -> Result<bool> {
    match raw.trim().to_ascii_lowercase().as_str() {
        "true" => Ok(true),
        "false" => Ok(false),
        _ => Err(EngineError::statement(format!(
            "Invalid value {raw} for configuration {name}: Expected value to be either true or false"
        ))),
    }
}

/// The value wrapping of a source with `schema`: the explicit `WRAP_SINGLE_VALUE`, else the
/// `ksql.persistence.wrap.single.values` config for a single value column, else wrapped
/// (ksqlDB's `SerdeFeaturesFactory.buildValueFeatures`).
pub(crate) fn value_wrapping(
    explicit: Option<bool>,
    schema: &Schema,
    config: &PersistenceConfig,
) -> Result<ValueWrapping> {
    let single_column = schema.values().count() == 1;
    match explicit {
        // ksqlDB first checks that the value format supports the asked-for wrapping; JSON,
        // the only value format here, supports both, so only the column count can fail.
        Some(_) if !single_column => Err(EngineError::statement(
            "'WRAP_SINGLE_VALUE' is only valid for single-field value schemas",
        )),
        Some(wrap) => Ok(ValueWrapping::from_wrap_single_value(wrap)),
        None if single_column => Ok(config.wrap_single_values.map_or(
            ValueWrapping::Wrapped,
            ValueWrapping::from_wrap_single_value,
        )),
        None => Ok(ValueWrapping::Wrapped),
    }
}

/// What a CREATE statement asks for once validated.
#[derive(Debug, Clone)]
pub struct CreatePlan {
    pub source: Source,
    /// Partitions requested with PARTITIONS=, if any.
    pub partitions: Option<u32>,
    /// The configs of the topic, if the statement creates it.
    pub topic: TopicConfig,
}

pub(crate) fn plan_create(
    stmt: &CreateSource,
    statement_text: &str,
    config: &PersistenceConfig,
) -> Result<CreatePlan> {
    let props = WithProperties::new(&stmt.properties)?;
    let schema = build_schema(stmt)?;
    let (key_format, value_format) = formats(&props, &schema, config)?;
    check_key_format(key_format, &schema)?;
    let value_wrapping = value_wrapping(props.boolean("WRAP_SINGLE_VALUE")?, &schema, config)?;
    let topic = props
        .string("KAFKA_TOPIC")?
        .unwrap_or_else(|| stmt.name.clone());
    let partitions = props.partitions()?;
    let topic_config = props.topic_config(stmt.kind)?;
    let (timestamp_column, timestamp_format) = timestamp_column(&props, &schema)?;
    let window = source_window(&props)?;
    Ok(CreatePlan {
        source: Source {
            name: stmt.name.clone(),
            kind: stmt.kind,
            schema,
            topic,
            key_format,
            value_format,
            value_wrapping,
            timestamp_column,
            timestamp_format,
            statement_text: statement_text.to_string(),
            read_only: stmt.is_source,
            window,
        },
        partitions,
        topic: topic_config,
    })
}

fn build_schema(stmt: &CreateSource) -> Result<Schema> {
    if stmt.elements.is_empty() {
        return Err(EngineError::statement(
            "The statement does not define any columns.",
        ));
    }
    let mut columns: Vec<Column> = Vec::with_capacity(stmt.elements.len());
    for element in &stmt.elements {
        if RESERVED_COLUMN_NAMES.contains(&element.name.as_str()) {
            return Err(EngineError::statement(format!(
                "'{}' is a reserved column name. You cannot use it as a name for a column.",
                element.name
            )));
        }
        if columns.iter().any(|c| c.name == element.name) {
            return Err(EngineError::statement(format!(
                "Duplicate column names: `{}`",
                element.name
            )));
        }
        let kind = column_kind(stmt.kind, &element.name, &element.constraint)?;
        check_header_type(&element.name, &element.ty, &element.constraint)?;
        let mut column = Column::new(element.name.clone(), element.ty.clone(), kind);
        if let ColumnConstraint::Header(key) = &element.constraint {
            column.header_key = Some(key.clone());
        }
        columns.push(column);
    }
    if stmt.kind == SourceKind::Table && !columns.iter().any(|c| c.kind == ColumnKind::Key) {
        return Err(EngineError::statement(
            "Tables require a PRIMARY KEY. Please define the PRIMARY KEY.",
        ));
    }
    Ok(Schema::new(columns))
}

fn column_kind(kind: SourceKind, name: &str, constraint: &ColumnConstraint) -> Result<ColumnKind> {
    match (kind, constraint) {
        (_, ColumnConstraint::None) => Ok(ColumnKind::Value),
        (SourceKind::Stream, ColumnConstraint::Key) => Ok(ColumnKind::Key),
        (SourceKind::Table, ColumnConstraint::PrimaryKey) => Ok(ColumnKind::Key),
        (SourceKind::Stream, ColumnConstraint::PrimaryKey) => Err(EngineError::statement(format!(
            "Column `{name}` is a 'PRIMARY KEY' column: please use 'KEY' for streams.\nTables have PRIMARY KEYs, which are unique and NON NULL.\nStreams have KEYs, which have no uniqueness or NON NULL constraints."
        ))),
        (SourceKind::Table, ColumnConstraint::Key) => Err(EngineError::statement(format!(
            "Column `{name}` is a 'KEY' column: please use 'PRIMARY KEY' for tables.\nTables have PRIMARY KEYs, which are unique and NON NULL.\nStreams have KEYs, which have no uniqueness or NON NULL constraints."
        ))),
        (_, ColumnConstraint::Headers | ColumnConstraint::Header(_)) => Ok(ColumnKind::Header),
    }
}

/// The type every `HEADERS` column must have: all of a record's headers, in order.
pub(crate) fn headers_type() -> SqlType {
    SqlType::Array(Box::new(SqlType::Struct(vec![
        StructField {
            name: "KEY".into(),
            ty: SqlType::String,
        },
        StructField {
            name: "VALUE".into(),
            ty: SqlType::Bytes,
        },
    ])))
}

/// ksqlDB types header columns strictly: `HEADERS` is `ARRAY<STRUCT<KEY STRING, VALUE
/// BYTES>>` and `HEADER('k')` is `BYTES` (ksqlDB docs, "Headers" under CREATE STREAM).
fn check_header_type(name: &str, ty: &SqlType, constraint: &ColumnConstraint) -> Result<()> {
    let want = match constraint {
        ColumnConstraint::Headers => headers_type(),
        ColumnConstraint::Header(_) => SqlType::Bytes,
        _ => return Ok(()),
    };
    if *ty == want {
        return Ok(());
    }
    Err(EngineError::statement(format!(
        "Invalid type for HEADER{} column `{name}`: expected {want}, got {ty}",
        if matches!(constraint, ColumnConstraint::Headers) {
            "S"
        } else {
            ""
        }
    )))
}

pub fn kind_word_of(kind: SourceKind) -> &'static str {
    crate::catalog::source::kind_word(kind)
}

fn formats(
    props: &WithProperties<'_>,
    schema: &Schema,
    config: &PersistenceConfig,
) -> Result<(KeyFormat, ValueFormat)> {
    let both = props.string("FORMAT")?;
    let value = props.string("VALUE_FORMAT")?;
    let key = props.string("KEY_FORMAT")?;
    if both.is_some() && (value.is_some() || key.is_some()) {
        return Err(EngineError::statement(
            "Cannot supply both 'KEY_FORMAT' and 'FORMAT' properties, as 'FORMAT' sets both key and value formats.\nEither use just 'FORMAT', or use 'KEY_FORMAT' and 'VALUE_FORMAT'.",
        ));
    }
    let value_name = value
        .or_else(|| both.clone())
        .or_else(|| config.default_value_format.clone())
        .ok_or_else(|| {
        EngineError::statement(
            "Statement is missing the 'VALUE_FORMAT' property from the WITH clause.\nEither provide one or set a default via the 'ksql.persistence.default.format.value' config.",
        )
    })?;
    let has_keys = schema.keys().next().is_some();
    let key_format = match key.or(both) {
        Some(name) => KeyFormat::parse(&name)?,
        // ksqlDB's default key format is KAFKA; a keyless stream needs no key format.
        None if has_keys => config.default_key_format()?,
        None => KeyFormat::None,
    };
    if key_format == KeyFormat::None && has_keys {
        return Err(EngineError::statement(
            "The 'NONE' format can only be used when no columns are defined. Got: key columns",
        ));
    }
    Ok((
        with_key_delimiter(key_format, props)?,
        ValueFormat::parse(&value_name)?,
    ))
}

/// `key_format` with the WITH clause's `KEY_DELIMITER`, which only a `DELIMITED` key has.
pub(crate) fn with_key_delimiter(
    key_format: KeyFormat,
    props: &WithProperties<'_>,
) -> Result<KeyFormat> {
    let Some(value) = props.string("KEY_DELIMITER")? else {
        return Ok(key_format);
    };
    match key_format {
        KeyFormat::Delimited(_) => Ok(KeyFormat::Delimited(
            crate::format::delimited_key::parse_delimiter(&value)?,
        )),
        other => Err(EngineError::statement(format!(
            "KEY_DELIMITER applies to the DELIMITED key format only; the key format is {}",
            other.name()
        ))),
    }
}

pub(crate) fn check_key_format(format: KeyFormat, schema: &Schema) -> Result<()> {
    if matches!(format, KeyFormat::Delimited(_)) {
        let keys: Vec<&Column> = schema.keys().collect();
        return crate::format::delimited_key::validate_delimited_key_columns(&keys)
            .map_err(|e| EngineError::statement(e.message()));
    }
    if format != KeyFormat::Kafka {
        return Ok(());
    }
    let keys: Vec<&Column> = schema.keys().collect();
    if keys.len() > 1 {
        let list: Vec<String> = keys
            .iter()
            .map(|c| format!("`{}` {} KEY", c.name, c.ty))
            .collect();
        return Err(EngineError::statement(format!(
            "The 'KAFKA' format only supports a single field. Got: [{}]",
            list.join(", ")
        )));
    }
    if let Some(key) = keys.first() {
        if !key.ty.is_kafka_key_primitive() {
            return Err(EngineError::statement(format!(
                "The 'KAFKA' format does not support type '{}'",
                key.ty.base_name()
            )));
        }
    }
    Ok(())
}

/// The `TIMESTAMP=` column and its `TIMESTAMP_FORMAT=`, validated as ksqlDB does: the
/// column is BIGINT or TIMESTAMP, or a STRING when a format says how to parse it.
pub(crate) fn timestamp_column(
    props: &WithProperties<'_>,
    schema: &Schema,
) -> Result<(Option<String>, Option<String>)> {
    let format = props.string("TIMESTAMP_FORMAT")?;
    let Some(raw) = props.string("TIMESTAMP")? else {
        return Ok((None, None));
    };
    let name = raw.to_uppercase();
    let column = schema.find(&name).map(|(_, c)| c).ok_or_else(|| {
        EngineError::statement(format!(
            "The TIMESTAMP column set in the WITH clause does not exist in the schema: '{name}'"
        ))
    })?;
    match (&column.ty, format) {
        (SqlType::BigInt | SqlType::Timestamp, _) => Ok((Some(name), None)),
        (SqlType::String, Some(format)) => {
            TimestampExtractor::check_format(&format)?;
            Ok((Some(name), Some(format)))
        }
        _ => Err(EngineError::statement(format!(
            "Timestamp column, `{name}`, should be LONG(INT64), TIMESTAMP, or a String with a timestamp.format specified."
        ))),
    }
}

/// `WINDOW_TYPE` and `WINDOW_SIZE`: a source over a windowed topic (ksqlDB's
/// `CreateSourceProperties`). Time windows need their size to know each window's end.
fn source_window(props: &WithProperties<'_>) -> Result<Option<SourceWindow>> {
    let size = props.string("WINDOW_SIZE")?;
    let Some(kind) = props.string("WINDOW_TYPE")? else {
        return match size {
            None => Ok(None),
            Some(_) => Err(EngineError::statement(
                "'WINDOW_SIZE' should not be set without 'WINDOW_TYPE'.",
            )),
        };
    };
    let kind = match kind.trim().to_ascii_uppercase().as_str() {
        "TUMBLING" => WindowType::Tumbling,
        "HOPPING" => WindowType::Hopping,
        "SESSION" => WindowType::Session,
        _ => {
            return Err(EngineError::statement(format!(
                "Invalid value {kind} for property WINDOW_TYPE: String must be one of: SESSION, HOPPING, TUMBLING"
            )))
        }
    };
    let size_ms = match (kind, size) {
        (WindowType::Session, None) => None,
        (WindowType::Session, Some(_)) => {
            return Err(EngineError::statement(
                "'WINDOW_SIZE' should not be set for SESSION windows.",
            ))
        }
        (_, None) => {
            return Err(EngineError::statement(format!(
                "{} windows require 'WINDOW_SIZE' to be provided in the WITH clause. For example: 'WINDOW_SIZE'='10 SECONDS'",
                kind.name()
            )))
        }
        (_, Some(text)) => Some(parse_window_size(&text)?),
    };
    Ok(Some(SourceWindow { kind, size_ms }))
}

/// `'<n> <unit>'` (`'10 SECONDS'`) in milliseconds.
fn parse_window_size(text: &str) -> Result<u64> {
    let bad = || {
        EngineError::statement(format!(
            "Invalid value {text} for property WINDOW_SIZE: Expected something like '10 SECONDS'"
        ))
    };
    let mut parts = text.split_whitespace();
    let (Some(n), Some(unit), None) = (parts.next(), parts.next(), parts.next()) else {
        return Err(bad());
    };
    let n: u64 = n.parse().map_err(|_| bad())?;
    let unit = unit.to_ascii_uppercase();
    let unit = unit.strip_suffix('S').unwrap_or(&unit);
    let unit_ms: u64 = match unit {
        "MILLISECOND" => 1,
        "SECOND" => 1_000,
        "MINUTE" => 60_000,
        "HOUR" => 3_600_000,
        "DAY" => 86_400_000,
        _ => return Err(bad()),
    };
    match n.checked_mul(unit_ms) {
        Some(ms) if ms > 0 => Ok(ms),
        _ => Err(bad()),
    }
}

/// WITH-clause properties with ksqlDB's validation.
pub(crate) struct WithProperties<'a> {
    props: &'a Properties,
}

impl<'a> WithProperties<'a> {
    pub(crate) fn new(props: &'a Properties) -> Result<WithProperties<'a>> {
        let unknown: Vec<&str> = props
            .iter()
            .map(|(k, _)| k.as_str())
            .filter(|k| !KNOWN_PROPERTIES.contains(k))
            .collect();
        if !unknown.is_empty() {
            return Err(EngineError::statement(format!(
                "Invalid config variable(s) in the WITH clause: {}",
                unknown.join(",")
            )));
        }
        Ok(WithProperties { props })
    }

    fn get(&self, key: &str) -> Option<&Literal> {
        self.props.iter().find(|(k, _)| k == key).map(|(_, v)| v)
    }

    pub(crate) fn string(&self, key: &str) -> Result<Option<String>> {
        match self.get(key) {
            None => Ok(None),
            Some(Literal::String(s)) => Ok(Some(s.clone())),
            Some(other) => Err(EngineError::statement(format!(
                "Invalid value for property {key}: expected a string, got {other:?}"
            ))),
        }
    }

    /// A boolean property: `TRUE`/`FALSE`, or a string Kafka's `ConfigDef` reads as one.
    pub(crate) fn boolean(&self, key: &str) -> Result<Option<bool>> {
        match self.get(key) {
            None => Ok(None),
            Some(Literal::Boolean(b)) => Ok(Some(*b)),
            Some(Literal::String(s)) => parse_config_bool(key, s).map(Some),
            Some(other) => Err(EngineError::statement(format!(
                "Invalid value {} for configuration {key}: Expected value to be either true or false",
                other
            ))),
        }
    }

    /// The configs of a topic this statement creates: `RETENTION_MS` (ksqlDB passes it to
    /// the new topic as `retention.ms`; `-1` keeps records forever), and a table's topic is
    /// compacted, as ksqlDB creates tables' topics (retention then deletes nothing).
    pub(crate) fn topic_config(&self, kind: SourceKind) -> Result<TopicConfig> {
        let retention_ms = match self.get("RETENTION_MS") {
            None => None,
            Some(Literal::Integer(-1)) => None,
            Some(Literal::Integer(ms)) if *ms > 0 => Some(*ms as u64),
            Some(other) => {
                return Err(EngineError::statement(format!(
                    "Invalid value {other} for property RETENTION_MS: expected a number of \
                     milliseconds greater than 0, or -1 to keep records forever"
                )))
            }
        };
        Ok(TopicConfig {
            retention_ms,
            compacted: kind == SourceKind::Table,
        })
    }

    pub(crate) fn partitions(&self) -> Result<Option<u32>> {
        let n = match self.get("PARTITIONS") {
            None => return Ok(None),
            Some(Literal::Integer(n)) => *n,
            Some(Literal::String(s)) => s.trim().parse::<i64>().map_err(|_| {
                EngineError::statement(format!("Invalid number of partitions: '{s}'"))
            })?,
            Some(other) => {
                return Err(EngineError::statement(format!(
                    "Invalid number of partitions: {other:?}"
                )))
            }
        };
        if n < 1 || n > i64::from(TOPIC_PARTITIONS_MAX) {
            return Err(EngineError::statement(format!(
                "Invalid number of partitions: {n}; it must be between 1 and {TOPIC_PARTITIONS_MAX}"
            )));
        }
        u32::try_from(n)
            .map(Some)
            .map_err(|_| EngineError::statement(format!("Invalid number of partitions: {n}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sql::ast::Statement;

    fn plan(sql: &str, props: &[(&str, &str)]) -> Result<Source> {
        let props: HashMap<String, String> = props
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let config = PersistenceConfig::from_props(&props)?;
        let parsed = crate::sql::parse(sql).expect("parses").remove(0);
        let Statement::CreateSource(create) = parsed.statement else {
            panic!("not a CREATE");
        };
        plan_create(&create, &parsed.text, &config).map(|p| p.source)
    }

    const WITH_JSON: &str = "kafka_topic='t', value_format='JSON'";

    #[test]
    fn wrap_single_value_from_with_or_config() {
        let explicit = plan(
            &format!("CREATE STREAM s (v INT) WITH ({WITH_JSON}, WRAP_SINGLE_VALUE=false);"),
            &[],
        )
        .expect("valid");
        assert_eq!(explicit.value_wrapping, ValueWrapping::Unwrapped);
        let quoted = plan(
            &format!("CREATE STREAM s (v INT) WITH ({WITH_JSON}, wrap_single_value='FALSE');"),
            &[(WRAP_SINGLE_VALUES_PROPERTY, "true")],
        )
        .expect("valid");
        assert_eq!(quoted.value_wrapping, ValueWrapping::Unwrapped);
        // The config applies to a single value column only; key columns do not count.
        let from_config = plan(
            &format!("CREATE STREAM s (k STRING KEY, v INT) WITH ({WITH_JSON});"),
            &[(WRAP_SINGLE_VALUES_PROPERTY, "false")],
        )
        .expect("valid");
        assert_eq!(from_config.value_wrapping, ValueWrapping::Unwrapped);
        let two = plan(
            &format!("CREATE STREAM s (a INT, b INT) WITH ({WITH_JSON});"),
            &[(WRAP_SINGLE_VALUES_PROPERTY, "false")],
        )
        .expect("valid");
        assert_eq!(two.value_wrapping, ValueWrapping::Wrapped);
        let default =
            plan(&format!("CREATE STREAM s (v INT) WITH ({WITH_JSON});"), &[]).expect("valid");
        assert_eq!(default.value_wrapping, ValueWrapping::Wrapped);
    }

    #[test]
    fn wrap_single_value_errors_carry_ksqldb_text() {
        let err =
            |sql: &str, props: &[(&str, &str)]| plan(sql, props).expect_err("invalid").to_string();
        assert_eq!(
            err(
                &format!(
                    "CREATE STREAM s (a INT, b INT) WITH ({WITH_JSON}, WRAP_SINGLE_VALUE=true);"
                ),
                &[]
            ),
            "'WRAP_SINGLE_VALUE' is only valid for single-field value schemas"
        );
        assert_eq!(
            err(
                &format!("CREATE STREAM s (a INT) WITH ({WITH_JSON}, WRAP_SINGLE_VALUE=1);"),
                &[]
            ),
            "Invalid value 1 for configuration WRAP_SINGLE_VALUE: Expected value to be either true or false"
        );
        assert_eq!(
            err(
                &format!("CREATE STREAM s (a INT) WITH ({WITH_JSON});"),
                &[(WRAP_SINGLE_VALUES_PROPERTY, "no")]
            ),
            "Invalid value no for configuration ksql.persistence.wrap.single.values: Expected value to be either true or false"
        );
    }

    #[test]
    fn default_formats_come_from_config() {
        let sql = "CREATE STREAM s (k INT KEY, v INT) WITH (kafka_topic='t');";
        assert!(plan(sql, &[])
            .expect_err("no value format")
            .to_string()
            .starts_with("Statement is missing the 'VALUE_FORMAT' property"));
        let source = plan(
            sql,
            &[
                (DEFAULT_VALUE_FORMAT_PROPERTY, "json"),
                (DEFAULT_KEY_FORMAT_PROPERTY, "JSON"),
            ],
        )
        .expect("valid");
        assert_eq!(source.value_format, ValueFormat::Json);
        assert_eq!(source.key_format, KeyFormat::Json);
        // WITH wins over the config.
        let source = plan(
            "CREATE STREAM s (k INT KEY, v INT) WITH (kafka_topic='t', key_format='KAFKA');",
            &[
                (DEFAULT_VALUE_FORMAT_PROPERTY, "JSON"),
                (DEFAULT_KEY_FORMAT_PROPERTY, "JSON"),
            ],
        )
        .expect("valid");
        assert_eq!(source.key_format, KeyFormat::Kafka);
    }
}
