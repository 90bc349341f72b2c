//! KalamDB FILE columns: the cell a file upload becomes, the `FILE('name')` placeholders an
//! INSERT names its uploads with, and the download path's parts (other-faces.md §C(a)).
//!
//! ```text
//!  multipart: sql = INSERT … VALUES (…, FILE('c')), file:c = <bytes>
//!     ─► (face) store the bytes under <table>/<owner>/<sub>/<id> ─► FileRef
//!     ─► FILE('c') ─► STRUCT(`id` := '…', `sub` := '…', `name` := …, `size` := …, …)
//!  SELECT f ─► {"id","sub","name","size","mime","sha256"}   (data_type "File")
//!  GET /v1/files/{ns}/{table}/{sub}/{id} ─► the bytes
//! ```
//!
//! Why a STRUCT column: the engine then stores, returns and filters the cell as the object
//! KalamDB's clients read, with no conversion on the way out; a STRUCT with exactly these
//! fields is how the face recognises a FILE column in results.

use serde_json::Value as Json;
use sluice_engine::types::{SqlType, StructField};

use super::sql_request::SqlRequest;
use super::sql_tokens::{bare, quoted_text, source_name, tokens, Kind};
use crate::framing::multipart::Part;

/// The engine type a FILE column is declared with.
pub const FILE_COLUMN_TYPE: &str = "STRUCT<`id` STRING, `sub` STRING, `name` STRING, \
                                    `size` BIGINT, `mime` STRING, `sha256` STRING>";

/// Most bytes one uploaded file may have (KalamDB's `FILE_TOO_LARGE`).
pub const FILE_BYTES_MAX: usize = 16 * 1024 * 1024;

/// Most files one request may upload (KalamDB's `TOO_MANY_FILES`).
pub const FILES_PER_REQUEST_MAX: usize = 8;

/// Most bytes of a multipart `/v1/api/sql` body: every file at its largest, and the SQL.
pub const MULTIPART_BODY_BYTES_MAX: usize = FILES_PER_REQUEST_MAX * FILE_BYTES_MAX + 1024 * 1024;

/// Longest file name kept in a cell (longer names are cut at a character boundary).
pub const FILE_NAME_CHARS_MAX: usize = 255;

/// The form part prefix that names a file: `file:<name>` matches `FILE('<name>')`.
pub const FILE_PART_PREFIX: &str = "file:";

/// A stored file as a FILE cell holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileRef {
    /// A snowflake id, as decimal text.
    pub id: String,
    /// The subfolder it is stored in (`f0001` …).
    pub sub: String,
    /// The name the client uploaded it under.
    pub name: String,
    pub size: u64,
    pub mime: String,
    /// SHA-256 of the bytes, lower-case hex.
    pub sha256: String,
}

impl FileRef {
    /// The cell as an engine STRUCT literal.
    pub fn to_sql(&self) -> String {
        format!(
            "STRUCT(`id` := {}, `sub` := {}, `name` := {}, `size` := {}, `mime` := {}, `sha256` := {})",
            literal(&self.id),
            literal(&self.sub),
            literal(&self.name),
            self.size,
            literal(&self.mime),
            literal(&self.sha256)
        )
    }
}

/// Why a statement's placeholders and its uploads do not match.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FileError {
    /// `FILE('name')` with no `file:name` part (KalamDB's `MISSING_FILE`).
    Missing(String),
    /// A `file:name` part no placeholder names (`EXTRA_FILE`).
    Extra(String),
}

impl std::fmt::Display for FileError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            FileError::Missing(n) => write!(f, "FILE('{n}') has no uploaded part 'file:{n}'"),
            FileError::Extra(n) => write!(f, "the part 'file:{n}' is not used by any FILE('{n}')"),
        }
    }
}

/// One uploaded file of a multipart request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Upload<'a> {
    /// The placeholder name (`file:<name>`'s `<name>`).
    pub name: String,
    /// The file name the client sent, else the placeholder name.
    pub filename: String,
    /// Its media type: the part's, else guessed from the file name.
    pub mime: String,
    pub bytes: &'a [u8],
}

/// Why a multipart SQL request was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FormError {
    /// KalamDB's `INVALID_INPUT`.
    Invalid(String),
    /// `FILE_TOO_LARGE`, naming the file.
    TooLarge(String),
    /// `TOO_MANY_FILES`.
    TooMany,
    /// `INVALID_MIME_TYPE`, with the type given.
    InvalidMime(String),
}

impl std::fmt::Display for FormError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            FormError::Invalid(m) => f.write_str(m),
            FormError::TooLarge(n) => {
                write!(f, "file '{n}' is larger than {FILE_BYTES_MAX} bytes")
            }
            FormError::TooMany => write!(f, "at most {FILES_PER_REQUEST_MAX} files per request"),
            FormError::InvalidMime(m) => write!(f, "'{m}' is not a media type"),
        }
    }
}

/// A multipart `/v1/api/sql` form as the request and its files: text parts `sql`,
/// `params` (a JSON array) and `namespace_id`, and file parts `file:<name>`.
pub fn sql_form<'a>(parts: &[Part<'a>]) -> Result<(SqlRequest, Vec<Upload<'a>>), FormError> {
    let text = |p: &Part<'_>| {
        std::str::from_utf8(p.body)
            .map(str::to_string)
            .map_err(|_| FormError::Invalid(format!("the part '{}' is not UTF-8 text", p.name)))
    };
    let (mut sql, mut params, mut namespace_id) = (None, None, None);
    let mut uploads: Vec<Upload<'a>> = Vec::new();
    for part in parts {
        if let Some(name) = part.name.strip_prefix(FILE_PART_PREFIX) {
            if name.is_empty() || uploads.iter().any(|u| u.name == name) {
                return Err(FormError::Invalid(format!(
                    "file parts need distinct, non-empty names: '{}'",
                    part.name
                )));
            }
            if uploads.len() == FILES_PER_REQUEST_MAX {
                return Err(FormError::TooMany);
            }
            if part.body.len() > FILE_BYTES_MAX {
                return Err(FormError::TooLarge(name.to_string()));
            }
            let filename = part.filename.clone().unwrap_or_else(|| name.to_string());
            let mime = match part.content_type.as_deref().map(str::trim) {
                Some(m) if !valid_mime(m) => return Err(FormError::InvalidMime(m.to_string())),
                Some(m) if !m.eq_ignore_ascii_case("application/octet-stream") => {
                    m.to_ascii_lowercase()
                }
                _ => guess_mime(&filename).to_string(),
            };
            uploads.push(Upload {
                name: name.to_string(),
                filename: cell_file_name(&filename),
                mime,
                bytes: part.body,
            });
            continue;
        }
        match part.name.as_str() {
            "sql" => sql = Some(text(part)?),
            "params" => {
                let values: Vec<Json> = serde_json::from_str(&text(part)?).map_err(|e| {
                    FormError::Invalid(format!("'params' is not a JSON array: {e}"))
                })?;
                params = Some(values);
            }
            "namespace_id" => namespace_id = Some(text(part)?),
            _ => {}
        }
    }
    let sql = sql.ok_or_else(|| FormError::Invalid("the form has no 'sql' part".into()))?;
    let request = SqlRequest {
        sql,
        params,
        namespace_id,
    };
    Ok((request, uploads))
}

/// True for a `type/subtype` media type (parameters allowed).
fn valid_mime(mime: &str) -> bool {
    let essence = mime.split(';').next().unwrap_or("").trim();
    let token = |s: &str| {
        !s.is_empty()
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"!#$&-^_.+".contains(&b))
    };
    matches!(essence.split_once('/'), Some((t, s)) if token(t) && token(s))
}

/// The media type of a file name's extension (the common ones KalamDB's clients upload),
/// else `application/octet-stream`.
pub fn guess_mime(filename: &str) -> &'static str {
    let ext = filename
        .rsplit_once('.')
        .map(|(_, e)| e.to_ascii_lowercase())
        .unwrap_or_default();
    match ext.as_str() {
        "pdf" => "application/pdf",
        "png" => "image/png",
        "jpg" | "jpeg" => "image/jpeg",
        "gif" => "image/gif",
        "webp" => "image/webp",
        "svg" => "image/svg+xml",
        "txt" => "text/plain",
        "csv" => "text/csv",
        "md" => "text/markdown",
        "html" | "htm" => "text/html",
        "json" => "application/json",
        "xml" => "application/xml",
        "zip" => "application/zip",
        "mp3" => "audio/mpeg",
        "mp4" => "video/mp4",
        _ => "application/octet-stream",
    }
}

/// The table an `INSERT INTO <table> …` writes (its engine name), resolving an
/// unqualified name in `namespace`.
pub fn insert_target(sql: &str, namespace: Option<&str>) -> Option<String> {
    let toks = tokens(sql);
    let solid: Vec<_> = toks.iter().filter(|t| t.kind != Kind::Space).collect();
    let word = |n: usize| solid.get(n).map(|t| t.text.to_ascii_uppercase());
    if word(0).as_deref() != Some("INSERT") || word(1).as_deref() != Some("INTO") {
        return None;
    }
    let first = solid.get(2)?;
    if solid.get(3).is_some_and(|t| t.text == ".") {
        let table = solid.get(4)?;
        return Some(source_name(&first.text, &bare(table)));
    }
    match (namespace, first.kind) {
        (Some(ns), Kind::Word) => Some(source_name(ns, &first.text)),
        _ => Some(bare(first)),
    }
}

/// True for the engine type of a FILE column.
pub fn is_file_type(ty: &SqlType) -> bool {
    const FIELDS: [&str; 6] = ["id", "sub", "name", "size", "mime", "sha256"];
    match ty {
        SqlType::Struct(fields) => {
            fields.len() == FIELDS.len()
                && fields
                    .iter()
                    .zip(FIELDS)
                    .all(|(f, want): (&StructField, _)| f.name == want)
        }
        _ => false,
    }
}

/// The names the `FILE('name')` placeholders of `sql` use, in order (a name used twice is
/// listed twice).
pub fn placeholder_names(sql: &str) -> Vec<String> {
    placeholders(sql).into_iter().map(|(_, _, n)| n).collect()
}

/// `sql` with each `FILE('name')` replaced by its file's cell; every placeholder must have
/// a file and every file a placeholder.
pub fn with_files(sql: &str, files: &[(String, FileRef)]) -> Result<String, FileError> {
    let found = placeholders(sql);
    if let Some((name, _)) = files
        .iter()
        .find(|(name, _)| !found.iter().any(|(_, _, n)| n == name))
    {
        return Err(FileError::Extra(name.clone()));
    }
    let toks = tokens(sql);
    let mut out = String::with_capacity(sql.len() + 160 * found.len());
    let mut at = 0;
    for (start, end, name) in &found {
        let Some((_, file)) = files.iter().find(|(n, _)| n == name) else {
            return Err(FileError::Missing(name.clone()));
        };
        toks[at..*start].iter().for_each(|t| out.push_str(&t.text));
        out.push_str(&file.to_sql());
        at = end + 1;
    }
    toks[at..].iter().for_each(|t| out.push_str(&t.text));
    Ok(out)
}

/// `(first token, last token, name)` of each `FILE('name')` / `FILE("name")` call.
fn placeholders(sql: &str) -> Vec<(usize, usize, String)> {
    let toks = tokens(sql);
    let solid: Vec<usize> = (0..toks.len())
        .filter(|&i| toks[i].kind != Kind::Space)
        .collect();
    let mut out = Vec::new();
    for w in solid.windows(4) {
        let [file, open, name, close] = [w[0], w[1], w[2], w[3]];
        let is_call = toks[file].kind == Kind::Word
            && toks[file].text.eq_ignore_ascii_case("FILE")
            && toks[open].text == "("
            && toks[name].kind == Kind::Quoted
            && !toks[name].text.starts_with('`')
            && toks[close].text == ")";
        if let (true, Some(n)) = (is_call, quoted_text(&toks[name])) {
            out.push((file, close, n));
        }
    }
    out
}

/// True for a subfolder name as the face makes them: `f` and four digits.
pub fn valid_subfolder(sub: &str) -> bool {
    sub.len() == 5 && sub.starts_with('f') && sub[1..].bytes().all(|b| b.is_ascii_digit())
}

/// True for a file id as the face makes them: a snowflake id's decimal digits.
pub fn valid_file_id(id: &str) -> bool {
    (1..=20).contains(&id.len()) && id.bytes().all(|b| b.is_ascii_digit())
}

/// The subfolder a file made at `ms` (since the Unix epoch) goes in: one per day, so no
/// folder grows past a day's uploads.
pub fn subfolder_for(ms: i64) -> String {
    let day = ms.max(0) / 86_400_000;
    format!("f{:04}", day % 10_000)
}

/// A file name as a cell keeps it: at most [`FILE_NAME_CHARS_MAX`] characters.
pub fn cell_file_name(name: &str) -> String {
    name.chars().take(FILE_NAME_CHARS_MAX).collect()
}

fn literal(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(id: &str) -> FileRef {
        FileRef {
            id: id.into(),
            sub: "f0001".into(),
            name: "it's.pdf".into(),
            size: 3,
            mime: "application/pdf".into(),
            sha256: "ab".into(),
        }
    }

    #[test]
    fn placeholders_become_struct_cells() {
        let sql = "INSERT INTO `app.docs` (id, f, g) VALUES ('d1', FILE('c'), file ( \"d\" ))";
        assert_eq!(placeholder_names(sql), ["c", "d"]);
        let out =
            with_files(sql, &[("c".into(), file("1")), ("d".into(), file("2"))]).expect("matched");
        assert_eq!(
            out,
            "INSERT INTO `app.docs` (id, f, g) VALUES ('d1', STRUCT(`id` := '1', `sub` := 'f0001', \
             `name` := 'it''s.pdf', `size` := 3, `mime` := 'application/pdf', `sha256` := 'ab'), \
             STRUCT(`id` := '2', `sub` := 'f0001', `name` := 'it''s.pdf', `size` := 3, \
             `mime` := 'application/pdf', `sha256` := 'ab'))"
        );
    }

    #[test]
    fn missing_and_extra_files_are_named() {
        let sql = "INSERT INTO t (f) VALUES (FILE('c'))";
        assert_eq!(with_files(sql, &[]), Err(FileError::Missing("c".into())));
        assert_eq!(
            with_files(sql, &[("c".into(), file("1")), ("x".into(), file("2"))]),
            Err(FileError::Extra("x".into()))
        );
        // A string that only looks like a placeholder is data.
        assert!(placeholder_names("SELECT 'FILE(''c'')' FROM t").is_empty());
    }

    #[test]
    fn download_path_parts_are_checked() {
        assert!(valid_subfolder("f0001") && valid_subfolder(&subfolder_for(1_700_000_000_000)));
        for bad in ["", "f001", "g0001", "f00a1", "../x", "f0001/"] {
            assert!(!valid_subfolder(bad), "{bad}");
        }
        assert!(valid_file_id("387859468991332352"));
        for bad in ["", "1a", "..", "-1", "123456789012345678901"] {
            assert!(!valid_file_id(bad), "{bad}");
        }
    }

    #[test]
    fn a_form_becomes_the_request_and_its_files() {
        let part =
            |name: &str, filename: Option<&str>, ty: Option<&str>, body: &'static [u8]| Part {
                name: name.into(),
                filename: filename.map(str::to_string),
                content_type: ty.map(str::to_string),
                body,
            };
        let parts = [
            part(
                "sql",
                None,
                None,
                b"INSERT INTO app.docs (id, f) VALUES ($1, FILE('c'))",
            ),
            part("params", None, None, b"[\"d1\"]"),
            part(
                "file:c",
                Some("Contract.PDF"),
                Some("application/octet-stream"),
                b"%PDF",
            ),
            part(
                "file:d",
                Some("a.bin"),
                Some("text/plain; charset=utf-8"),
                b"x",
            ),
        ];
        let (request, uploads) = sql_form(&parts).expect("a form");
        assert_eq!(request.params, Some(vec![serde_json::json!("d1")]));
        assert_eq!(
            (
                uploads[0].name.as_str(),
                uploads[0].filename.as_str(),
                uploads[0].mime.as_str()
            ),
            ("c", "Contract.PDF", "application/pdf")
        );
        assert_eq!(uploads[1].mime, "text/plain; charset=utf-8");
        assert_eq!(
            sql_form(&[
                part("sql", None, None, b"x"),
                part("file:c", None, Some("pdf"), b"")
            ]),
            Err(FormError::InvalidMime("pdf".into()))
        );
        let big: &'static [u8] = Box::leak(vec![0u8; FILE_BYTES_MAX + 1].into_boxed_slice());
        assert_eq!(
            sql_form(&[
                part("sql", None, None, b"x"),
                part("file:c", None, None, big)
            ]),
            Err(FormError::TooLarge("c".into()))
        );
        assert!(matches!(
            sql_form(&[part("params", None, None, b"[]")]),
            Err(FormError::Invalid(_))
        ));
        assert_eq!(
            insert_target("INSERT INTO docs (f) VALUES (FILE('c'))", Some("app")),
            Some("app.docs".into())
        );
        assert_eq!(
            insert_target("insert into App.Docs VALUES (1)", None),
            Some("app.docs".into())
        );
        assert_eq!(insert_target("SELECT 1", None), None);
    }

    #[test]
    fn the_file_struct_is_recognised() {
        let ty = sluice_engine::parse_type(FILE_COLUMN_TYPE).expect("parses");
        assert!(is_file_type(&ty));
        assert!(!is_file_type(&SqlType::String));
    }
}
