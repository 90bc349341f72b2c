//! Results as text, laid out as ksqlDB's CLI lays them out: `/ksql` entities as
//! `Name | Name` tables between dashed lines (`SHOW`, `LIST`, `DESCRIBE`, `EXPLAIN`, command
//! messages), query rows as `|cell|cell|` lines under a `+---+` header.

use comfy_table::{ColumnConstraint, ContentArrangement, LineStyle, Table, TableStyle};
use serde_json::Value as Json;

/// ksqlDB's entity tables: ` Name | Name ` with no outer border, a dashed line under the
/// header and one under the last row.
const ENTITY_STYLE: TableStyle = TableStyle::new()
    .header_lines(comfy_table::ContentLineStyle::none().junction('|'))
    .header_separator(LineStyle::none().fill('-').junction('-'))
    .content_lines(comfy_table::ContentLineStyle::none().junction('|'))
    .bottom_border(LineStyle::none().fill('-').junction('-'));

/// Query results: `|cell|cell|` inside `+---+---+` lines, no padding, as ksqlDB prints rows.
const ROWS_STYLE: TableStyle = TableStyle::new()
    .top_border(LineStyle::new('+', '-', '+', '+'))
    .header_lines(comfy_table::ContentLineStyle::new('|', '|', '|'))
    .header_separator(LineStyle::new('+', '-', '+', '+'))
    .content_lines(comfy_table::ContentLineStyle::new('|', '|', '|'))
    .bottom_border(LineStyle::new('+', '-', '+', '+'));

/// The least room an entity table's wrapping last column gets before the other columns
/// wrap too: enough for a few words of a query's text.
const LAST_COLUMN_CHARS_MIN: usize = 20;

/// The narrowest a streamed row's cell gets, however many columns share the terminal (the
/// value ksqlDB's CLI uses).
const CELL_CHARS_MIN: usize = 5;

/// A `Name | Name` table (with `header`), as ksqlDB prints `SHOW STREAMS` and friends. The
/// last column (a query's text, a property's value) wraps so the table fits `width`
/// columns; the others keep their content's width.
pub(crate) fn entity_table(header: &[&str], rows: Vec<Vec<String>>, width: usize) -> String {
    let mut table = Table::new();
    table
        .load_style(ENTITY_STYLE)
        .set_content_arrangement(ContentArrangement::Dynamic)
        .set_width(u16::try_from(width).unwrap_or(u16::MAX))
        .set_header(header.to_vec())
        .add_rows(rows);
    // Keep the other columns whole only if that leaves the last one room to be read.
    let widths = table.column_max_content_widths();
    let fixed = widths.len().saturating_sub(1);
    let fixed_chars: usize = widths[..fixed].iter().map(|w| usize::from(*w) + 3).sum();
    if fixed_chars + LAST_COLUMN_CHARS_MIN <= width {
        table.set_constraints(std::iter::repeat_n(ColumnConstraint::ContentWidth, fixed));
    }
    let mut text = table.to_string();
    text.push('\n');
    text
}

/// A pull query's rows as one table, no wider than `width` columns (long cells wrap).
pub(crate) fn rows_table(columns: &[String], rows: &[Vec<String>], width: usize) -> String {
    let mut table = Table::new();
    table
        .load_style(ROWS_STYLE)
        .set_content_arrangement(ContentArrangement::Dynamic)
        .set_width(u16::try_from(width).unwrap_or(u16::MAX))
        .set_header(columns.to_vec())
        .add_rows(rows.to_vec());
    for column in table.column_iter_mut() {
        column.set_padding((0, 0));
    }
    let mut text = table.to_string();
    text.push('\n');
    text
}

/// Rows printed one by one as they arrive, every cell the same width so the columns line
/// up without knowing the rows to come (a push query never ends on its own).
pub(crate) struct StreamedRows {
    cell_chars: usize,
    columns: usize,
}

impl StreamedRows {
    /// Cells share the terminal's `width` evenly, as in ksqlDB's CLI.
    pub(crate) fn new(columns: usize, width: usize) -> StreamedRows {
        let cell_chars = (width / columns.max(1))
            .saturating_sub(2)
            .max(CELL_CHARS_MIN);
        StreamedRows {
            cell_chars,
            columns,
        }
    }

    /// The header: column names between two `+---+` lines.
    pub(crate) fn header(&self, names: &[String]) -> String {
        let line = self.border();
        format!("{line}\n{}{line}\n", self.row(names))
    }

    /// One row; a cell longer than the width wraps onto more lines.
    pub(crate) fn row(&self, cells: &[String]) -> String {
        let chunks: Vec<Vec<String>> = (0..self.columns)
            .map(|i| {
                wrap(
                    cells.get(i).map(String::as_str).unwrap_or(""),
                    self.cell_chars,
                )
            })
            .collect();
        let height = chunks.iter().map(Vec::len).max().unwrap_or(1);
        let mut out = String::new();
        for line in 0..height {
            out.push('|');
            for cell in &chunks {
                let part = cell.get(line).map(String::as_str).unwrap_or("");
                out.push_str(part);
                out.extend(std::iter::repeat_n(
                    ' ',
                    self.cell_chars - part.chars().count(),
                ));
                out.push('|');
            }
            out.push('\n');
        }
        out
    }

    fn border(&self) -> String {
        let mut line = String::from("+");
        for _ in 0..self.columns {
            line.extend(std::iter::repeat_n('-', self.cell_chars));
            line.push('+');
        }
        line
    }
}

/// Splits `text` into pieces of at most `chars` characters (at least one piece); line breaks
/// and tabs become spaces so a cell stays on its grid.
fn wrap(text: &str, chars: usize) -> Vec<String> {
    let flat: Vec<char> = text
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    if flat.is_empty() {
        return vec![String::new()];
    }
    flat.chunks(chars).map(|c| c.iter().collect()).collect()
}

/// A result value as a cell: strings bare, everything else as compact JSON (`null`,
/// numbers as sent, arrays and objects).
pub(crate) fn cell(value: &Json) -> String {
    match value {
        Json::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// The `/ksql` entities of one response, each after a blank line; with more than one, each
/// under its statement text (ksqlDB's CLI does the same).
pub(crate) fn entities(list: &[Json], width: usize) -> String {
    let mut out = String::new();
    for entity in list {
        out.push('\n');
        if list.len() > 1 {
            if let Some(text) = entity["statementText"].as_str() {
                out.push_str(text);
                out.push('\n');
            }
        }
        out.push_str(&entity_text(entity, width));
        for warning in entity["warnings"].as_array().into_iter().flatten() {
            if let Some(message) = warning["message"].as_str() {
                out.push_str(&format!("WARNING: {message}\n"));
            }
        }
    }
    out
}

fn entity_text(entity: &Json, width: usize) -> String {
    match entity["@type"].as_str().unwrap_or("") {
        "currentStatus" => entity_table(
            &["Message"],
            vec![vec![first_line(str_of(
                &entity["commandStatus"]["message"],
            ))]],
            width,
        ),
        "streams" => source_list("Stream Name", &entity["streams"], width),
        "tables" => source_list("Table Name", &entity["tables"], width),
        "kafka_topics" => topics(&entity["topics"], width),
        "queries" => queries(&entity["queries"], width),
        "properties" => properties(entity, width),
        "sourceDescription" => source_description(&entity["sourceDescription"], width),
        "source_descriptions" => entity["sourceDescriptions"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|d| source_description(d, width) + "\n")
            .collect(),
        "queryDescription" => query_description(&entity["queryDescription"], width),
        "terminate_query" => entity_table(
            &["Message"],
            vec![vec![format!(
                "Terminated query {}",
                str_of(&entity["queryId"])
            )]],
            width,
        ),
        // An entity this shell has no layout for is still shown, whole.
        _ => serde_json::to_string_pretty(entity).unwrap_or_default() + "\n",
    }
}

fn str_of(value: &Json) -> String {
    match value {
        Json::Null => String::new(),
        other => cell(other),
    }
}

fn first_line(text: String) -> String {
    text.lines().next().unwrap_or_default().to_string()
}

/// A statement on one line, as ksqlDB lists queries.
fn single_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn items(list: &Json) -> impl Iterator<Item = &Json> {
    list.as_array().into_iter().flatten()
}

fn source_list(name_header: &str, list: &Json, width: usize) -> String {
    let rows = items(list)
        .map(|s| {
            vec![
                str_of(&s["name"]),
                str_of(&s["topic"]),
                str_of(&s["keyFormat"]),
                str_of(&s["valueFormat"]),
                str_of(&s["isWindowed"]),
            ]
        })
        .collect();
    entity_table(
        &[
            name_header,
            "Kafka Topic",
            "Key Format",
            "Value Format",
            "Windowed",
        ],
        rows,
        width,
    )
}

fn topics(list: &Json, width: usize) -> String {
    let rows = items(list)
        .map(|t| {
            let replicas: Vec<String> = items(&t["replicaInfo"]).map(cell).collect();
            vec![
                str_of(&t["name"]),
                replicas.len().to_string(),
                replicas.join(" "),
            ]
        })
        .collect();
    entity_table(
        &["Kafka Topic", "Partitions", "Partition Replicas"],
        rows,
        width,
    )
}

fn queries(list: &Json, width: usize) -> String {
    let rows = items(list)
        .map(|q| {
            let join = |v: &Json| items(v).map(cell).collect::<Vec<_>>().join(",");
            vec![
                str_of(&q["id"]),
                str_of(&q["queryType"]),
                str_of(&q["state"]),
                join(&q["sinks"]),
                join(&q["sinkKafkaTopics"]),
                single_line(&str_of(&q["queryString"])),
            ]
        })
        .collect();
    let mut text = entity_table(
        &[
            "Query ID",
            "Query Type",
            "Status",
            "Sink Name",
            "Sink Kafka Topic",
            "Query String",
        ],
        rows,
        width,
    );
    text.push_str("For detailed information on a Query run: EXPLAIN <Query ID>;\n");
    text
}

fn properties(entity: &Json, width: usize) -> String {
    let listed = |field: &str, name: &str| items(&entity[field]).any(|p| p.as_str() == Some(name));
    let mut rows: Vec<Vec<String>> = items(&entity["properties"])
        .map(|p| {
            let name = str_of(&p["name"]);
            let overridden = if listed("overwrittenProperties", &name) {
                "SESSION"
            } else if listed("defaultProperties", &name) {
                ""
            } else {
                "SERVER"
            };
            let value = match &p["value"] {
                Json::Null => "NULL".to_string(),
                v => cell(v),
            };
            vec![name, str_of(&p["scope"]), overridden.to_string(), value]
        })
        .collect();
    rows.sort();
    entity_table(
        &["Property", "Scope", "Default override", "Effective Value"],
        rows,
        width,
    )
}

/// A field's type as ksqlDB's CLI spells it (`VARCHAR(STRING)`, `ARRAY<INTEGER>`, …).
fn type_text(schema: &Json) -> String {
    let ty = schema["type"].as_str().unwrap_or("?");
    match ty {
        "STRING" => "VARCHAR(STRING)".to_string(),
        "ARRAY" => format!("ARRAY<{}>", type_text(&schema["memberSchema"])),
        "MAP" => format!("MAP<STRING, {}>", type_text(&schema["memberSchema"])),
        "STRUCT" => {
            let fields: Vec<String> = items(&schema["fields"])
                .map(|f| format!("{} {}", str_of(&f["name"]), type_text(&f["schema"])))
                .collect();
            format!("STRUCT<{}>", fields.join(", "))
        }
        "DECIMAL" => format!(
            "DECIMAL({}, {})",
            str_of(&schema["parameters"]["precision"]),
            str_of(&schema["parameters"]["scale"])
        ),
        other => other.to_string(),
    }
}

fn schema_table(fields: &Json, is_table: bool, width: usize) -> String {
    let rows: Vec<Vec<String>> = items(fields)
        .map(|f| {
            let ty = type_text(&f["schema"]);
            let ty = match f["type"].as_str() {
                Some("KEY") if is_table => format!("{ty:<16} (primary key)"),
                Some("KEY") => format!("{ty:<16} (key)"),
                Some("HEADER") => format!("{ty:<16} (headers)"),
                _ => ty,
            };
            vec![str_of(&f["name"]), ty]
        })
        .collect();
    if rows.is_empty() {
        return String::new();
    }
    entity_table(&["Field", "Type"], rows, width)
}

fn label(name: &str, value: impl std::fmt::Display) -> String {
    format!("{name:<20} : {value}\n")
}

fn source_description(d: &Json, width: usize) -> String {
    let is_table = d["type"].as_str() == Some("TABLE");
    let mut out = label("Name", str_of(&d["name"]));
    if d["extended"] != Json::Bool(true) {
        out.push_str(&schema_table(&d["fields"], is_table, width));
        out.push_str(
            "For runtime statistics and query details run: DESCRIBE <Stream,Table> EXTENDED;\n",
        );
        return out;
    }
    out.push_str(&label("Type", str_of(&d["type"])));
    let timestamp = match str_of(&d["timestamp"]) {
        t if t.is_empty() => "Not set - using <ROWTIME>".to_string(),
        t => t,
    };
    out.push_str(&label("Timestamp field", timestamp));
    out.push_str(&label("Key format", str_of(&d["keyFormat"])));
    out.push_str(&label("Value format", str_of(&d["valueFormat"])));
    let mut topic = str_of(&d["topic"]);
    if d["partitions"].as_u64().unwrap_or(0) != 0 {
        topic.push_str(&format!(
            " (partitions: {}, replication: {})",
            str_of(&d["partitions"]),
            str_of(&d["replication"])
        ));
    }
    out.push_str(&label("Kafka topic", topic));
    out.push_str(&label("Statement", str_of(&d["statement"])));
    out.push('\n');
    out.push_str(&schema_table(&d["fields"], is_table, width));
    for (field, verb) in [("readQueries", "read from"), ("writeQueries", "write to")] {
        let list: Vec<&Json> = items(&d[field]).collect();
        if list.is_empty() {
            continue;
        }
        out.push_str(&format!(
            "\nQueries that {verb} this {}\n-----------------------------------\n",
            str_of(&d["type"])
        ));
        for q in list {
            out.push_str(&format!(
                "{} ({}) : {}\n",
                str_of(&q["id"]),
                str_of(&q["state"]),
                single_line(&str_of(&q["queryString"]))
            ));
        }
        out.push_str("\nFor query topology and execution plan please run: EXPLAIN <QueryId>\n");
    }
    let stats: Vec<String> = [&d["statistics"], &d["errorStats"]]
        .into_iter()
        .map(str_of)
        .filter(|s| !s.is_empty())
        .collect();
    if !stats.is_empty() {
        out.push_str("\nLocal runtime statistics\n------------------------\n");
        out.push_str(&stats.join("\n"));
        out.push('\n');
    }
    out
}

fn query_description(q: &Json, width: usize) -> String {
    let mut out = label("ID", str_of(&q["id"]));
    out.push_str(&label("Query Type", str_of(&q["queryType"])));
    out.push_str(&label("SQL", str_of(&q["statementText"])));
    out.push('\n');
    out.push_str(&schema_table(&q["fields"], false, width));
    for (field, title, footer) in [
        (
            "sources",
            "Sources that this query reads from: ",
            "For source description please run: DESCRIBE [EXTENDED] <SourceId>",
        ),
        (
            "sinks",
            "Sinks that this query writes to: ",
            "For sink description please run: DESCRIBE [EXTENDED] <SinkId>",
        ),
    ] {
        let names: Vec<String> = items(&q[field]).map(cell).collect();
        if names.is_empty() {
            continue;
        }
        out.push_str(&format!(
            "\n{title}\n-----------------------------------\n{}\n\n{footer}\n",
            names.join("\n")
        ));
    }
    for (field, title) in [
        ("executionPlan", "Execution plan"),
        ("topology", "Processing topology"),
    ] {
        let text = str_of(&q[field]);
        if !text.is_empty() {
            out.push_str(&format!("\n{title}\n{}\n{text}\n", "-".repeat(title.len())));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn entity_tables_look_like_ksqldb() {
        let text = entities(
            &[json!({
                "@type": "streams", "statementText": "SHOW STREAMS;", "warnings": [],
                "streams": [{"type": "STREAM", "name": "PAGEVIEWS", "topic": "pageviews",
                             "keyFormat": "KAFKA", "valueFormat": "JSON", "isWindowed": false}]
            })],
            80,
        );
        let lines: Vec<&str> = text.lines().map(str::trim_end).collect();
        assert_eq!(lines[0], "");
        assert_eq!(
            lines[1],
            " Stream Name | Kafka Topic | Key Format | Value Format | Windowed"
        );
        assert!(lines[2].chars().all(|c| c == '-'), "{text}");
        assert_eq!(
            lines[3],
            " PAGEVIEWS   | pageviews   | KAFKA      | JSON         | false"
        );
        assert!(lines[4].chars().all(|c| c == '-'), "{text}");
        assert_eq!(lines[2].len(), lines[4].len());
    }

    #[test]
    fn several_entities_are_each_under_their_statement() {
        let text = entities(
            &[
                json!({"@type": "currentStatus", "statementText": "CREATE STREAM A ...;",
                   "commandStatus": {"status": "SUCCESS", "message": "Stream created"}}),
                json!({"@type": "kafka_topics", "statementText": "SHOW TOPICS;",
                   "topics": [{"name": "a", "replicaInfo": [1, 1]}]}),
            ],
            80,
        );
        assert!(text.contains("CREATE STREAM A ...;\n Message"), "{text}");
        assert!(text.contains(" Stream created"), "{text}");
        assert!(
            text.contains("SHOW TOPICS;\n Kafka Topic | Partitions"),
            "{text}"
        );
        assert!(text.contains(" a           | 2          | 1 1"), "{text}");
    }

    #[test]
    fn describe_marks_keys_and_spells_types() {
        let text = entities(
            &[json!({
                "@type": "sourceDescription", "statementText": "DESCRIBE S;",
                "sourceDescription": {"name": "S", "type": "STREAM", "extended": false, "fields": [
                    {"name": "K", "schema": {"type": "STRING"}, "type": "KEY"},
                    {"name": "V", "schema": {"type": "ARRAY", "memberSchema": {"type": "INTEGER"}}},
                    {"name": "D", "schema": {"type": "DECIMAL",
                                             "parameters": {"precision": 4, "scale": 2}}}]}
            })],
            80,
        );
        assert!(text.contains("Name                 : S\n"), "{text}");
        assert!(text.contains(" K     | VARCHAR(STRING)  (key)"), "{text}");
        assert!(text.contains(" V     | ARRAY<INTEGER>"), "{text}");
        assert!(text.contains(" D     | DECIMAL(4, 2)"), "{text}");
        assert!(text.contains("DESCRIBE <Stream,Table> EXTENDED;"), "{text}");
    }

    #[test]
    fn long_cells_wrap_to_the_terminal_width() {
        let long = "SELECT ".to_string() + &"column_name, ".repeat(20) + "x FROM s;";
        let text = entities(
            &[
                json!({"@type": "queries", "statementText": "SHOW QUERIES;", "queries": [
                {"id": "CSAS_1", "queryType": "PERSISTENT", "state": "RUNNING",
                 "sinks": ["T"], "sinkKafkaTopics": ["T"], "queryString": long}]}),
            ],
            90,
        );
        let table: Vec<&str> = text.lines().filter(|l| !l.starts_with("For ")).collect();
        for line in &table {
            assert!(line.chars().count() <= 90, "{line:?} in\n{text}");
        }
        // Only the query's text wraps; the short columns stay whole.
        assert!(
            table[1].starts_with(" Query ID | Query Type | Status  |"),
            "{text}"
        );
        assert!(
            table[3].starts_with(" CSAS_1   | PERSISTENT | RUNNING |"),
            "{text}"
        );
        assert!(table.len() > 6, "{text}");
        // Too narrow for that: every column wraps, and the table still fits.
        let narrow = entities(
            &[json!({"@type": "queries", "queries": [
                {"id": "CSAS_1", "queryType": "PERSISTENT", "queryString": long}]})],
            40,
        );
        let narrow: Vec<&str> = narrow.lines().filter(|l| !l.starts_with("For ")).collect();
        assert!(
            narrow.iter().all(|l| l.chars().count() <= 40),
            "{narrow:#?}"
        );
    }

    #[test]
    fn unknown_entities_are_shown_as_json() {
        let text = entities(&[json!({"@type": "something_new", "x": 1})], 80);
        assert!(text.contains("\"something_new\""), "{text}");
    }

    #[test]
    fn streamed_rows_share_the_width_and_wrap() {
        let rows = StreamedRows::new(2, 20);
        assert_eq!(
            rows.header(&["K".into(), "V".into()]),
            "+--------+--------+\n|K       |V       |\n+--------+--------+\n"
        );
        assert_eq!(
            rows.row(&["a".into(), "0123456789".into()]),
            "|a       |01234567|\n|        |89      |\n"
        );
        // Narrow terminals still get readable cells.
        assert_eq!(StreamedRows::new(10, 20).cell_chars, CELL_CHARS_MIN);
    }

    #[test]
    fn pull_rows_make_one_bordered_table() {
        let text = rows_table(
            &["K".into(), "VALUE".into()],
            &[vec!["a".into(), "1".into()], vec!["bb".into(), "22".into()]],
            80,
        );
        assert_eq!(
            text,
            "+--+-----+\n|K |VALUE|\n+--+-----+\n|a |1    |\n|bb|22   |\n+--+-----+\n"
        );
    }

    #[test]
    fn cells_are_bare_strings_or_json() {
        assert_eq!(cell(&json!("x y")), "x y");
        assert_eq!(cell(&json!(null)), "null");
        assert_eq!(cell(&json!(1.5)), "1.5");
        assert_eq!(cell(&json!({"A": [1, 2]})), "{\"A\":[1,2]}");
    }
}
