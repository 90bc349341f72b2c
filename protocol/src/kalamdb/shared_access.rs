//! SHARED tables' access levels (KalamDB's `ACCESS_LEVEL`): the level a `CREATE TABLE` or
//! `ALTER TABLE … SET ACCESS LEVEL` gives, and which SHARED tables an engine statement
//! reads and writes, for the face to check against the caller's role.
//!
//! Who may do what at each level is the server's auth gate's to decide; this module only
//! says what a statement asks for.

use serde::{Deserialize, Serialize};

use super::sql_tokens::{bare, tokens, Kind, Token};

/// Who may read and write a SHARED table. KalamDB's default is `Private`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AccessLevel {
    /// Every signed-in user reads it; services and admins write it.
    Public,
    /// Services and admins only.
    #[default]
    Private,
    /// Services and admins only (KalamDB keeps owner grants for later).
    Restricted,
    /// DBAs and system users only.
    Dba,
}

impl AccessLevel {
    /// The level named `word` (any case, quoted or not).
    pub fn parse(word: &str) -> Option<AccessLevel> {
        let word = word.trim().trim_matches(|c| c == '\'' || c == '"');
        [
            ("PUBLIC", AccessLevel::Public),
            ("PRIVATE", AccessLevel::Private),
            ("RESTRICTED", AccessLevel::Restricted),
            ("DBA", AccessLevel::Dba),
        ]
        .into_iter()
        .find(|(name, _)| word.eq_ignore_ascii_case(name))
        .map(|(_, level)| level)
    }

    /// KalamDB's spelling.
    pub fn name(self) -> &'static str {
        match self {
            AccessLevel::Public => "public",
            AccessLevel::Private => "private",
            AccessLevel::Restricted => "restricted",
            AccessLevel::Dba => "dba",
        }
    }
}

/// The `ACCESS_LEVEL` of a `CREATE TABLE`'s `WITH` options (upper-cased, blanks removed):
/// `Ok(None)` when they name none, `Err` for a level KalamDB does not have.
pub fn access_level_option(options: &str) -> Result<Option<AccessLevel>, String> {
    let Some(value) = super::sql_tokens::with_option(options, "ACCESS_LEVEL") else {
        return Ok(None);
    };
    AccessLevel::parse(&value).map(Some).ok_or_else(|| {
        format!("'{value}' is not an access level: PUBLIC, PRIVATE, RESTRICTED or DBA")
    })
}

/// How a statement uses a table it names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Use {
    Read,
    /// It is the statement's target: inserted into, updated, deleted from, altered.
    Write,
}

/// Statements that only read whatever they name.
const READ_ONLY_STATEMENTS: &[&str] = &["SELECT", "DESCRIBE", "SHOW", "LIST", "EXPLAIN", "PRINT"];

/// Each SHARED table `sql` names (engine names, lower case; `level_of` gives a SHARED
/// table's access level, `None` for any other name) with its level and how `sql` uses it: the target of an `INSERT`, `UPDATE`, `DELETE`, `ALTER` or `DROP` is
/// written, every other mention read. `sql` is one engine statement whose names the dialect
/// has qualified and quoted.
pub fn shared_uses(
    sql: &str,
    level_of: &dyn Fn(&str) -> Option<AccessLevel>,
) -> Vec<(String, AccessLevel, Use)> {
    let toks = tokens(sql);
    let solid: Vec<&Token> = toks.iter().filter(|t| t.kind != Kind::Space).collect();
    let first = solid.first().map(|t| t.text.to_ascii_uppercase());
    let writes = first
        .as_deref()
        .is_some_and(|w| !READ_ONLY_STATEMENTS.contains(&w));
    // The target comes before any SELECT (`INSERT INTO t SELECT … FROM s` reads `s`).
    let select_at = solid
        .iter()
        .position(|t| t.text.eq_ignore_ascii_case("SELECT"))
        .unwrap_or(solid.len());
    let mut uses = Vec::new();
    let mut target_seen = false;
    for (i, t) in solid.iter().enumerate() {
        if t.kind != Kind::Quoted || t.text.starts_with('\'') {
            continue; // not a name: a string
        }
        let name = bare(t).to_lowercase();
        let Some(level) = level_of(&name) else {
            continue;
        };
        let target = writes && !target_seen && i < select_at;
        target_seen |= target;
        uses.push((name, level, if target { Use::Write } else { Use::Read }));
    }
    uses
}

/// `ALTER TABLE <t> SET ACCESS LEVEL <level>` (names qualified and quoted): the table's
/// engine name and the level;
/// `None` when `sql` is not that statement, `Err` for an unknown level.
pub fn set_access_level(sql: &str) -> Option<Result<(String, AccessLevel), String>> {
    let toks = tokens(sql);
    let solid: Vec<&Token> = toks.iter().filter(|t| t.kind != Kind::Space).collect();
    let word = |i: usize| solid.get(i).map(|t| t.text.to_ascii_uppercase());
    let shape = [
        (0, "ALTER"),
        (1, "TABLE"),
        (3, "SET"),
        (4, "ACCESS"),
        (5, "LEVEL"),
    ];
    if !shape.iter().all(|(i, w)| word(*i).as_deref() == Some(*w)) {
        return None;
    }
    let table = bare(solid[2]).to_lowercase();
    let rest: Vec<&&Token> = solid[6..].iter().filter(|t| t.text != ";").collect();
    let [level] = rest.as_slice() else {
        return Some(Err(
            "ALTER TABLE … SET ACCESS LEVEL takes one level: PUBLIC, PRIVATE, RESTRICTED or DBA"
                .into(),
        ));
    };
    Some(
        AccessLevel::parse(&level.text)
            .map(|l| (table, l))
            .ok_or_else(|| format!("'{}' is not an access level", level.text)),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shared(name: &str) -> Option<AccessLevel> {
        (name == "app.config" || name == "app.prices").then_some(AccessLevel::Private)
    }

    #[test]
    fn levels_parse_in_any_case_and_default_to_private() {
        assert_eq!(AccessLevel::parse("'public'"), Some(AccessLevel::Public));
        assert_eq!(
            AccessLevel::parse("Restricted"),
            Some(AccessLevel::Restricted)
        );
        assert_eq!(AccessLevel::parse("DBA"), Some(AccessLevel::Dba));
        assert_eq!(AccessLevel::parse("everyone"), None);
        assert_eq!(AccessLevel::default(), AccessLevel::Private);
        assert_eq!(
            access_level_option("(TYPE='SHARED',ACCESS_LEVEL='PUBLIC')"),
            Ok(Some(AccessLevel::Public))
        );
        assert_eq!(access_level_option("(TYPE='SHARED')"), Ok(None));
        assert!(access_level_option("(ACCESS_LEVEL='OPEN')").is_err());
    }

    #[test]
    fn the_target_is_written_and_every_other_mention_read() {
        let uses = |sql: &str| -> Vec<(String, Use)> {
            shared_uses(sql, &shared)
                .into_iter()
                .map(|(name, _, usage)| (name, usage))
                .collect()
        };
        assert_eq!(
            uses("SELECT * FROM `app.config` WHERE k = 'a'"),
            vec![("app.config".into(), Use::Read)]
        );
        assert_eq!(
            uses("INSERT INTO `app.config` (k, v) VALUES ('a', 'b')"),
            vec![("app.config".into(), Use::Write)]
        );
        assert_eq!(
            uses("INSERT INTO `app.notes` SELECT * FROM `app.prices`"),
            vec![("app.prices".into(), Use::Read)]
        );
        assert_eq!(
            uses("INSERT INTO `app.config` SELECT * FROM `app.prices`"),
            vec![
                ("app.config".into(), Use::Write),
                ("app.prices".into(), Use::Read)
            ]
        );
        assert_eq!(
            uses("CREATE STREAM `app.s` AS SELECT * FROM `app.prices`"),
            vec![("app.prices".into(), Use::Read)]
        );
        assert_eq!(
            uses("DELETE FROM `app.config` WHERE k = 'a'"),
            vec![("app.config".into(), Use::Write)]
        );
        assert_eq!(
            uses("DESCRIBE `app.config`"),
            vec![("app.config".into(), Use::Read)]
        );
        // A name in a string or a comment is not a mention.
        assert!(uses("SELECT 'app.config' FROM `app.notes` -- `app.config`").is_empty());
    }

    #[test]
    fn alter_table_sets_an_access_level() {
        assert_eq!(
            set_access_level("ALTER TABLE `app.config` SET ACCESS LEVEL public;"),
            Some(Ok(("app.config".into(), AccessLevel::Public)))
        );
        assert!(matches!(
            set_access_level("alter table `app.config` set access level 'open'"),
            Some(Err(_))
        ));
        assert!(set_access_level("ALTER TABLE `app.config` ADD COLUMN x INT").is_none());
        assert!(set_access_level("ALTER TABLE `app.config` SET ACCESS LEVEL").is_some());
    }
}
