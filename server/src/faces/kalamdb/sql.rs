//! `POST /v1/api/sql`: KalamDB statements, `$n` parameters bound as literals, namespaces
//! mapped onto the engine's catalog, one result per statement, timed in `took`. The first
//! failing statement answers the whole request with KalamDB's error envelope.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{header, HeaderMap, StatusCode};
use hyper::body::Incoming;
use sluice_engine::types::SqlType;
use sluice_engine::{ErrorCode, RowChange, PULL_AGGREGATES, PULL_TABLE_FROM_TOPIC};
use sluice_protocol::framing::multipart::{form_boundary, parse_form};
use sluice_protocol::kalamdb::column_defaults::with_defaults;
use sluice_protocol::kalamdb::dialect::{map_statement, Mapped, TableKind};
use sluice_protocol::kalamdb::dml::{parse_dml, Dml, DmlChange};
use sluice_protocol::kalamdb::envelope::{
    code, error_body, success_body, took_ms, QueryResult, SchemaField,
};
use sluice_protocol::kalamdb::files::{
    insert_target, placeholder_names, sql_form, with_files, FileError, FormError, Upload,
    MULTIPART_BODY_BYTES_MAX,
};
use sluice_protocol::kalamdb::order_by::{
    hidden_alias, page, sort_rows, split_order, with_hidden_columns, OrderBy, Ordered,
};
use sluice_protocol::kalamdb::shared_access::{shared_uses, AccessLevel, Use};
use sluice_protocol::kalamdb::sql_request::{bind_params, SqlRequest};
use sluice_protocol::kalamdb::user_scope::{
    dropped_table, execute_as, scope_statement, OWNER_COLUMN,
};
use sluice_protocol::kalamdb::user_statement::{UserChange, UserStatement};
use sluice_protocol::limits::REQUEST_BODY_BYTES_MAX;
use sluice_protocol::statement_split::{is_blank, split};
use sluice_protocol::statement_table::Cell;

use super::file_store::FileStore;
use crate::auth::{Action, Principal, SetupError, UserUpdate, ROLE_SYSTEM};
use crate::body::frames_in::{read_to_limit, ReadError};
use crate::response::{json, HttpResponse};
use crate::services::Services;
use crate::tasks::{run_batch_with, BatchStatement, StatementOutput};

/// How long one request waits for its statements. KalamDB's SQL endpoint has no documented
/// limit; five minutes outlasts any pull query a client runs synchronously without holding
/// a connection forever.
pub const SQL_WAIT_MS: u64 = 5 * 60 * 1000;

/// Most statements one request may carry.
pub const SQL_STATEMENTS_MAX: usize = 100;

/// A failure in KalamDB's terms.
struct Failure {
    status: StatusCode,
    code: &'static str,
    message: String,
}

impl Failure {
    fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Failure {
        Failure {
            status,
            code,
            message: message.into(),
        }
    }
}

/// Runs one request's statements and answers its envelope.
pub async fn run(
    services: &Arc<Services>,
    principal: &Principal,
    headers: &HeaderMap,
    body: Incoming,
    started: Instant,
) -> HttpResponse {
    match results(services, principal, headers, body).await {
        Ok(results) => json(
            StatusCode::OK,
            success_body(&results, principal.name(), took_ms(started.elapsed())),
        ),
        Err(f) => json(
            f.status,
            error_body(f.code, &f.message, took_ms(started.elapsed())),
        ),
    }
}

async fn results(
    services: &Arc<Services>,
    principal: &Principal,
    headers: &HeaderMap,
    mut body: Incoming,
) -> Result<Vec<QueryResult>, Failure> {
    let bad = |message: String| Failure::new(StatusCode::BAD_REQUEST, code::INVALID_INPUT, message);
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let boundary = form_boundary(content_type);
    if boundary.is_none() && content_type.starts_with("multipart/") {
        return Err(bad(
            "a multipart request is multipart/form-data with a boundary".into(),
        ));
    }
    let limit = match boundary {
        Some(_) => MULTIPART_BODY_BYTES_MAX,
        None => REQUEST_BODY_BYTES_MAX,
    };
    let bytes = read_to_limit(&mut body, limit).await.map_err(|e| match e {
        ReadError::TooLarge(e) => bad(e.to_string()),
        ReadError::Disconnected => bad("the request body was cut off".into()),
    })?;
    let form;
    let (request, uploads) = match &boundary {
        Some(boundary) => {
            form = parse_form(&bytes, boundary).map_err(|e| bad(e.to_string()))?;
            sql_form(&form).map_err(form_failure)?
        }
        None => (
            SqlRequest::decode(&bytes).map_err(|e| bad(e.to_string()))?,
            Vec::new(),
        ),
    };
    let statements = statements(&request.sql)?;
    let params = request.params.unwrap_or_default();
    if !params.is_empty() && statements.len() > 1 {
        return Err(Failure::new(
            StatusCode::BAD_REQUEST,
            code::PARAMS_WITH_BATCH,
            "parameters cannot be used with a batch of statements",
        ));
    }
    if !uploads.is_empty() && statements.len() > 1 {
        return Err(bad("files are uploaded with exactly one statement".into()));
    }
    let mut namespace = request.namespace_id.map(|n| n.to_ascii_lowercase());
    let mut results = Vec::with_capacity(statements.len());
    for statement in statements {
        let bound = bind_params(&statement, &params).map_err(|e| {
            Failure::new(
                StatusCode::BAD_REQUEST,
                code::INVALID_PARAMETER,
                e.to_string(),
            )
        })?;
        let (acting, bound) = acting_user(services, principal, bound)?;
        let files = (&bytes, uploads.as_slice());
        let (bound, stored) =
            attach_files(services, acting.name(), namespace.as_deref(), bound, files).await?;
        let result = run_statement(services, principal, &acting, &mut namespace, bound).await;
        if result.is_err() {
            FileStore::remove(&stored);
        }
        results.push(result?);
    }
    Ok(results)
}

/// One statement (files attached, parameters bound) as user `acting` (the caller, or whom
/// they act as); `USE` moves `namespace` for the statements after it.
async fn run_statement(
    services: &Arc<Services>,
    principal: &Principal,
    acting_principal: &Principal,
    namespace: &mut Option<String>,
    bound: String,
) -> Result<QueryResult, Failure> {
    let acting = acting_principal.name();
    // An insert gets the columns with defaults it leaves out (`column_defaults`).
    let now_ms = services.engine.now_ms();
    let state = &services.kalamdb;
    let bound = with_defaults(
        &bound,
        namespace.as_deref(),
        &|table| state.defaults(table),
        &mut |d| super::defaults::render(d, state, acting, now_ms),
    );
    let result = match map_statement(&bound, namespace.as_deref()) {
        Mapped::Engine(sql) => {
            if dropped_table(&sql).is_some() {
                require(services, principal, Action::DropTable, "drop tables")?;
            }
            check_shared_access(services, &[principal, acting_principal], &sql)?;
            run_engine_statement(services, acting, &sql).await?
        }
        Mapped::SetAccessLevel { table, level } => {
            require(
                services,
                principal,
                Action::SetAccessLevel,
                "change access levels",
            )?;
            if state.access_level(&table).is_none() {
                return Err(execution(format!(
                    "'{table}' is not a SHARED table: only SHARED tables have access levels"
                )));
            }
            state.set_access_level(&table, level).map_err(execution)?;
            message(format!(
                "Table '{table}' access level set to {}",
                level.name()
            ))
        }
        Mapped::CreateTable {
            sql,
            table,
            kind,
            defaults,
            access,
            ttl_seconds,
        } => {
            if kind == TableKind::Shared {
                require(
                    services,
                    principal,
                    Action::CreateSharedTable,
                    "create SHARED tables",
                )?;
            }
            let kept = KeptOfTable {
                kind,
                defaults,
                access,
                ttl_seconds,
            };
            create_table(services, sql, &table, kept).await?
        }
        Mapped::CreateNamespace {
            name,
            if_not_exists,
        } => {
            services
                .kalamdb
                .create_namespace(&name, if_not_exists)
                .map_err(execution)?;
            message(format!("Namespace '{name}' created"))
        }
        Mapped::DropNamespace { name, if_exists } => {
            services
                .kalamdb
                .drop_namespace(&name, if_exists)
                .map_err(execution)?;
            message(format!("Namespace '{name}' dropped"))
        }
        Mapped::ShowNamespaces => {
            let rows: Vec<Vec<Cell>> = services
                .kalamdb
                .namespaces()
                .into_iter()
                .map(|n| vec![Cell::Text(n)])
                .collect();
            QueryResult {
                schema: vec![SchemaField {
                    name: "namespace_id".into(),
                    ty: SqlType::String,
                }],
                row_count: rows.len() as u64,
                rows,
                message: None,
            }
        }
        Mapped::Use(name) => {
            if !services.kalamdb.has_namespace(&name) {
                return Err(execution(format!("Namespace '{name}' does not exist")));
            }
            let result = message(format!("Using namespace '{name}'"));
            *namespace = Some(name);
            result
        }
        Mapped::User(statement) => run_user_statement(services, principal, statement)?,
        Mapped::Topic(statement) => super::topic_sql::run(services, principal, statement)
            .await
            .map_err(|f| {
                let (status, code) = f.sql_status();
                Failure::new(status, code, f.message)
            })?,
        Mapped::Unsupported(reason) => {
            return Err(Failure::new(
                StatusCode::BAD_REQUEST,
                code::INVALID_SQL,
                reason,
            ))
        }
    };
    Ok(result)
}

/// The statement with its `FILE('name')` placeholders replaced by the cells of the files
/// uploaded for them, stored first (for a USER table, as `acting`'s); and the paths
/// written, for removal if the statement fails.
async fn attach_files(
    services: &Services,
    acting: &str,
    namespace: Option<&str>,
    statement: String,
    (body, uploads): (&Bytes, &[Upload<'_>]),
) -> Result<(String, Vec<std::path::PathBuf>), Failure> {
    // Only a statement that could hold a placeholder is worth tokenizing.
    let may_name_files = statement
        .as_bytes()
        .windows(4)
        .any(|w| w.eq_ignore_ascii_case(b"FILE"));
    let names = match may_name_files {
        true => placeholder_names(&statement),
        false => Vec::new(),
    };
    if names.is_empty() && uploads.is_empty() {
        return Ok((statement, Vec::new()));
    }
    let file_error = |e: FileError| {
        let code = match e {
            FileError::Missing(_) => code::MISSING_FILE,
            FileError::Extra(_) => code::EXTRA_FILE,
        };
        Failure::new(StatusCode::BAD_REQUEST, code, e.to_string())
    };
    if let Some(name) = names
        .iter()
        .find(|n| !uploads.iter().any(|u| &u.name == *n))
    {
        return Err(file_error(FileError::Missing(name.clone())));
    }
    if let Some(u) = uploads.iter().find(|u| !names.contains(&u.name)) {
        return Err(file_error(FileError::Extra(u.name.clone())));
    }
    let Some(table) = insert_target(&statement, namespace) else {
        return Err(Failure::new(
            StatusCode::BAD_REQUEST,
            code::INVALID_INPUT,
            "FILE('…') goes in the VALUES of an INSERT",
        ));
    };
    let owner = services.kalamdb.is_user_table(&table).then_some(acting);
    let now_ms = services.engine.now_ms();
    let mut files = Vec::with_capacity(uploads.len());
    let mut written = Vec::with_capacity(2 * uploads.len());
    for upload in uploads {
        let id = services.kalamdb.next_snowflake(now_ms);
        // Writing and fsyncing up to FILE_BYTES_MAX must not hold a runtime worker: the
        // blocking pool does it, on a zero-copy slice of the request body.
        let store = Arc::clone(&services.kalamdb_files);
        let (table, owner) = (table.clone(), owner.map(str::to_string));
        let (name, filename, mime) = (
            upload.name.clone(),
            upload.filename.clone(),
            upload.mime.clone(),
        );
        let bytes = body.slice_ref(upload.bytes);
        let stored = tokio::task::spawn_blocking(move || {
            let upload = Upload {
                name,
                filename,
                mime,
                bytes: &bytes[..],
            };
            store.store(&table, owner.as_deref(), &upload, id, now_ms)
        })
        .await
        .unwrap_or_else(|e| Err(std::io::Error::other(e)));
        match stored {
            Ok((file, paths)) => {
                files.push((upload.name.clone(), file));
                written.extend(paths);
            }
            Err(e) => {
                FileStore::remove(&written);
                return Err(execution(format!(
                    "file '{}' was not stored: {e}",
                    upload.name
                )));
            }
        }
    }
    match with_files(&statement, &files) {
        Ok(sql) => Ok((sql, written)),
        Err(e) => {
            FileStore::remove(&written);
            Err(file_error(e))
        }
    }
}

/// A refused upload form in KalamDB's codes.
fn form_failure(e: FormError) -> Failure {
    let code = match &e {
        FormError::Invalid(_) => code::INVALID_INPUT,
        FormError::TooLarge(_) => code::FILE_TOO_LARGE,
        FormError::TooMany => code::TOO_MANY_FILES,
        FormError::InvalidMime(_) => code::INVALID_MIME_TYPE,
    };
    Failure::new(StatusCode::BAD_REQUEST, code, e.to_string())
}

/// Who a statement runs as, and the statement: the caller, or for `EXECUTE AS USER 'u'
/// (…)` the user `u` and the wrapped statement, when the caller may act for `u`
/// ([`crate::auth::Auth::may_act_as`]; `PERMISSION_DENIED` otherwise).
fn acting_user(
    services: &Services,
    principal: &Principal,
    statement: String,
) -> Result<(Principal, String), Failure> {
    let Some(wrapped) = execute_as(&statement) else {
        return Ok((principal.clone(), statement));
    };
    let (target, inner) = wrapped.map_err(invalid_sql)?;
    let auth = &services.auth;
    let user = auth
        .users()
        .by_name(&target)
        .or_else(|| auth.users().by_id(&target));
    let (name, role) = match user {
        Some(u) => (u.name, u.role),
        None if !auth.is_enabled() => (target.clone(), String::new()),
        None => {
            return Err(execution(format!("User '{target}' does not exist")));
        }
    };
    if !auth.may_act_as(principal, &name, &role) {
        return Err(Failure::new(
            StatusCode::FORBIDDEN,
            code::PERMISSION_DENIED,
            format!("'{}' may not act as '{name}'", principal.name()),
        ));
    }
    let roles = if role.is_empty() {
        Vec::new()
    } else {
        vec![role]
    };
    Ok((Principal::new(name, roles, principal.scheme()), inner))
}

/// Refuses a statement that reads or writes a SHARED table beyond what its access level
/// allows any of `principals` (the caller, and whom they act as): 403 `PERMISSION_DENIED`.
fn check_shared_access(
    services: &Services,
    principals: &[&Principal],
    sql: &str,
) -> Result<(), Failure> {
    let state = &services.kalamdb;
    for (table, level, usage) in shared_uses(sql, &|t| state.access_level(t)) {
        let (action, verb) = match usage {
            Use::Read => (Action::ReadSharedTable(level), "read"),
            Use::Write => (Action::WriteSharedTable(level), "write"),
        };
        let what = format!("{verb} the {} SHARED table '{table}'", level.name());
        for principal in principals {
            require(services, principal, action, &what)?;
        }
    }
    Ok(())
}

/// Refuses what KalamDB's RBAC keeps from `principal`'s role: 403 `PERMISSION_DENIED`.
fn require(
    services: &Services,
    principal: &Principal,
    action: Action,
    what: &str,
) -> Result<(), Failure> {
    if services.auth.permits(principal, action) {
        return Ok(());
    }
    Err(Failure::new(
        StatusCode::FORBIDDEN,
        code::PERMISSION_DENIED,
        format!(
            "'{}' may not {what}: its role does not allow it",
            principal.name()
        ),
    ))
}

/// An engine statement as user `acting`: scoped to their rows of the USER tables it names
/// (`user_scope`), with the owner column left out of what it answers.
async fn run_as_user(
    services: &Arc<Services>,
    acting: &str,
    sql: &str,
) -> Result<QueryResult, Failure> {
    let state = &services.kalamdb;
    let now_ms = services.engine.now_ms();
    let per_user = |t: &str| state.per_user_table(t, now_ms);
    let scoped = scope_statement(sql, &per_user, acting).map_err(invalid_sql)?;
    let mut result = run_engine(services, scoped.sql).await?;
    if let Some(table) = dropped_table(sql) {
        state.forget_table(&table).map_err(execution)?;
        // Its uploaded files go with it; removing a folder tree is the blocking pool's work.
        let files = Arc::clone(&services.kalamdb_files);
        let removed = tokio::task::spawn_blocking(move || files.remove_table(&table)).await;
        if let Err(e) = removed.unwrap_or_else(|e| Err(std::io::Error::other(e))) {
            tracing::warn!(error = %e, "a dropped table's files were not all removed");
        }
    }
    if scoped.user_table {
        hide_owner(&mut result);
    }
    Ok(result)
}

/// An engine statement as user `acting`: `UPDATE`/`DELETE` and ordered SELECTs, which the
/// engine's SQL has not, through the face's own paths; anything else as it is.
async fn run_engine_statement(
    services: &Arc<Services>,
    acting: &str,
    sql: &str,
) -> Result<QueryResult, Failure> {
    if let Some(dml) = parse_dml(sql) {
        return change_rows(services, acting, dml.map_err(invalid_sql)?).await;
    }
    if let Some(ordered) = split_order(sql) {
        return run_ordered(services, acting, ordered.map_err(invalid_sql)?).await;
    }
    run_as_user(services, acting, sql).await
}

/// KalamDB's answer to a statement it cannot parse or scope.
fn invalid_sql(reason: String) -> Failure {
    Failure::new(StatusCode::BAD_REQUEST, code::INVALID_SQL, reason)
}

/// `work` within [`SQL_WAIT_MS`], else KalamDB's timeout failure.
async fn within_wait<T>(work: impl std::future::Future<Output = T>) -> Result<T, Failure> {
    tokio::time::timeout(Duration::from_millis(SQL_WAIT_MS), work)
        .await
        .map_err(|_| {
            Failure::new(
                StatusCode::GATEWAY_TIMEOUT,
                code::SQL_EXECUTION_ERROR,
                format!("the statement did not finish within {SQL_WAIT_MS} ms"),
            )
        })
}

/// `UPDATE` or `DELETE` as user `acting`: the rows its query finds (only theirs, in a USER
/// table) are rewritten or deleted by the engine; KalamDB's count and message.
async fn change_rows(
    services: &Arc<Services>,
    acting: &str,
    dml: Dml,
) -> Result<QueryResult, Failure> {
    let state = &services.kalamdb;
    let now_ms = services.engine.now_ms();
    let per_user = |t: &str| state.per_user_table(t, now_ms);
    let scoped = scope_statement(&dml.select, &per_user, acting).map_err(invalid_sql)?;
    let change = match &dml.change {
        DmlChange::Delete => RowChange::Delete,
        DmlChange::Update { columns } => RowChange::Update { columns },
    };
    let changed = within_wait(services.engine.change_rows(&scoped.sql, change))
        .await?
        .map_err(|e| {
            let (status, code) = error_code(e.code(), e.message());
            Failure::new(status, code, e.message())
        })?;
    Ok(QueryResult {
        row_count: changed,
        message: Some(dml.message(changed)),
        ..QueryResult::default()
    })
}

/// A SELECT with `ORDER BY` or `OFFSET` as user `acting`: the engine runs it without them
/// (order keys that are not result columns computed as hidden columns), the face sorts,
/// pages and drops the hidden columns.
async fn run_ordered(
    services: &Arc<Services>,
    acting: &str,
    ordered: Ordered,
) -> Result<QueryResult, Failure> {
    let keys = &ordered.keys;
    let mut hidden: Vec<(String, String)> = Vec::new();
    let mut from_hidden: Vec<Option<usize>> = vec![None; keys.len()];
    let mut hide = |i: usize, text: &str, hidden: &mut Vec<(String, String)>| {
        from_hidden[i] = Some(hidden.len());
        hidden.push((hidden_alias(i), text.to_string()));
    };
    for (i, key) in keys.iter().enumerate() {
        if let OrderBy::Expression(text) = &key.by {
            hide(i, text, &mut hidden);
        }
    }
    let mut result = run_as_user(
        services,
        acting,
        &with_hidden_columns(&ordered.sql, &hidden),
    )
    .await?;
    // A name the result does not show (a column not selected) is computed too.
    let shown = |result: &QueryResult, name: &str, hidden: usize| {
        let visible = result.schema.len().saturating_sub(hidden);
        result.schema[..visible].iter().position(|f| f.name == name)
    };
    let missing: Vec<(usize, String)> = keys
        .iter()
        .enumerate()
        .filter_map(|(i, key)| match &key.by {
            OrderBy::Name { name, text } if shown(&result, name, hidden.len()).is_none() => {
                Some((i, text.clone()))
            }
            _ => None,
        })
        .collect();
    if !missing.is_empty() {
        for (i, text) in &missing {
            hide(*i, text, &mut hidden);
        }
        result = run_as_user(
            services,
            acting,
            &with_hidden_columns(&ordered.sql, &hidden),
        )
        .await?;
    }
    let visible = result.schema.len().saturating_sub(hidden.len());
    let mut columns = Vec::with_capacity(keys.len());
    for (i, key) in keys.iter().enumerate() {
        let column = match (&key.by, from_hidden[i]) {
            (_, Some(h)) => visible + h,
            (OrderBy::Position(p), None) if *p <= visible => p - 1,
            (OrderBy::Position(p), None) => {
                return Err(invalid_sql(format!(
                    "ORDER BY {p}: the result has {visible} columns"
                )))
            }
            (OrderBy::Name { name, .. }, None) => {
                shown(&result, name, hidden.len()).ok_or_else(|| {
                    invalid_sql(format!("ORDER BY column '{name}' cannot be resolved"))
                })?
            }
            (OrderBy::Expression(text), None) => {
                return Err(invalid_sql(format!("ORDER BY {text} was not computed")))
            }
        };
        columns.push((column, key));
    }
    sort_rows(&mut result.rows, &columns);
    let mut rows = page(
        std::mem::take(&mut result.rows),
        ordered.offset,
        ordered.limit,
    );
    for row in &mut rows {
        row.truncate(visible);
    }
    result.schema.truncate(visible);
    result.row_count = rows.len() as u64;
    result.rows = rows;
    Ok(result)
}

/// Drops the owner column from a result's columns and rows, and its line from a
/// description (a cell naming it).
fn hide_owner(result: &mut QueryResult) {
    if let Some(at) = result.schema.iter().position(|f| f.name == OWNER_COLUMN) {
        result.schema.remove(at);
        for row in &mut result.rows {
            if at < row.len() {
                row.remove(at);
            }
        }
        return;
    }
    let names_owner =
        |row: &Vec<Cell>| matches!(row.first(), Some(Cell::Text(t)) if t == OWNER_COLUMN);
    let before = result.rows.len();
    result.rows.retain(|row| !names_owner(row));
    if result.rows.len() != before {
        result.row_count = result.rows.len() as u64;
    }
}

/// What the face keeps of a table it creates, beside the engine's source.
struct KeptOfTable {
    kind: TableKind,
    defaults: Vec<sluice_protocol::kalamdb::column_defaults::ColumnDefault>,
    access: Option<AccessLevel>,
    ttl_seconds: Option<u64>,
}

/// `CREATE … TABLE`: the engine's table, then its kind and defaults. A USER or STREAM table is
/// noted as one before the engine makes it, so no crash in between leaves its rows open
/// to everyone; a failed create forgets a kind it noted.
async fn create_table(
    services: &Arc<Services>,
    sql: String,
    table: &str,
    kept: KeptOfTable,
) -> Result<QueryResult, Failure> {
    let KeptOfTable {
        kind,
        defaults,
        access,
        ttl_seconds,
    } = kept;
    let state = &services.kalamdb;
    let known = state.table_kind(table);
    if kind.is_per_user() {
        state.note_table_kind(table, kind).map_err(execution)?;
    }
    let result = match run_engine(services, sql).await {
        Ok(result) => result,
        Err(f) => {
            if known.is_none() {
                state.forget_kind(table).map_err(execution)?;
            }
            return Err(f);
        }
    };
    state.note_table_kind(table, kind).map_err(execution)?;
    if let (None, Some(level)) = (known, access) {
        // `IF NOT EXISTS` of a table that is there changes nothing, its level neither.
        state.set_access_level(table, level).map_err(execution)?;
    }
    if known.is_none() {
        state.set_ttl(table, ttl_seconds).map_err(execution)?;
    }
    state.set_defaults(table, defaults).map_err(execution)?;
    Ok(result)
}

/// `CREATE/ALTER/DROP USER` on the user store, for DBAs and system users only. Only a
/// system user may make or change another into one (a DBA cannot raise anyone above
/// itself), and users are named as they log in.
fn run_user_statement(
    services: &Services,
    principal: &Principal,
    statement: UserStatement,
) -> Result<QueryResult, Failure> {
    let denied = |message: &str| {
        Failure::new(
            StatusCode::FORBIDDEN,
            code::PERMISSION_DENIED,
            message.to_string(),
        )
    };
    if !services.auth.permits(principal, Action::ManageUsers) {
        return Err(denied("only dba and system users may manage users"));
    }
    let raises_to_system = matches!(
        &statement,
        UserStatement::Create { role, .. } | UserStatement::Alter { change: UserChange::Role(role), .. }
            if role == ROLE_SYSTEM
    );
    if raises_to_system && services.auth.is_enabled() && !principal.has_role(ROLE_SYSTEM) {
        return Err(denied("only a system user may grant the system role"));
    }
    let users = services.auth.users();
    let done = match statement {
        UserStatement::Create {
            name,
            password,
            role,
            email,
        } => users
            .create_user_with_email(&name, &password, &role, email, services.engine.now_ms())
            .map(|_| format!("User '{name}' created")),
        UserStatement::Alter { name, change } => {
            let update = match &change {
                UserChange::Password(p) => UserUpdate::Password(p),
                UserChange::Role(r) => UserUpdate::Role(r),
                UserChange::Email(e) => UserUpdate::Email(e),
            };
            users
                .alter_user(&name, update)
                .map(|_| format!("User '{name}' altered"))
        }
        UserStatement::Drop { name, if_exists } => match users.drop_user(&name) {
            Ok(true) => Ok(format!("User '{name}' dropped")),
            Ok(false) if if_exists => Ok(format!("User '{name}' does not exist")),
            Ok(false) => Err(SetupError::NotFound(name)),
            Err(e) => Err(e),
        },
    };
    done.map(message).map_err(|e| match e {
        SetupError::Storage(_) => {
            tracing::error!(error = %e, "a user statement could not be saved");
            Failure::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                code::INTERNAL_ERROR,
                "the users could not be saved; nothing changed",
            )
        }
        other => execution(other),
    })
}

/// The request's statements (each with its `;`), or KalamDB's empty/limit errors.
fn statements(sql: &str) -> Result<Vec<String>, Failure> {
    let parts = split(sql);
    let mut out: Vec<String> = parts.statements.iter().map(|s| s.to_string()).collect();
    if !is_blank(parts.rest) {
        out.push(format!("{};", parts.rest.trim()));
    }
    if out.is_empty() {
        return Err(Failure::new(
            StatusCode::BAD_REQUEST,
            code::EMPTY_SQL,
            "SQL query cannot be empty",
        ));
    }
    if out.len() > SQL_STATEMENTS_MAX {
        return Err(Failure::new(
            StatusCode::BAD_REQUEST,
            code::INVALID_INPUT,
            format!("at most {SQL_STATEMENTS_MAX} statements per request"),
        ));
    }
    Ok(out)
}

fn message(text: String) -> QueryResult {
    QueryResult {
        message: Some(text),
        ..QueryResult::default()
    }
}

fn execution(e: impl ToString) -> Failure {
    Failure::new(
        StatusCode::BAD_REQUEST,
        code::SQL_EXECUTION_ERROR,
        e.to_string(),
    )
}

/// Runs one engine statement through the shared statement runner.
async fn run_engine(services: &Arc<Services>, sql: String) -> Result<QueryResult, Failure> {
    // A KalamDB table is always readable: one no query materializes is read from its topic.
    // KalamDB's SQL is a database's: a SELECT may aggregate (`SELECT COUNT(*) FROM t`).
    let properties = HashMap::from([
        (PULL_TABLE_FROM_TOPIC.to_string(), "true".to_string()),
        (PULL_AGGREGATES.to_string(), "true".to_string()),
    ]);
    let batch = run_batch_with(
        Arc::clone(&services.engine),
        vec![BatchStatement::Sql(sql)],
        properties,
    );
    let outcome = within_wait(batch).await?;
    match outcome {
        Ok(output) => Ok(output
            .statements
            .last()
            .map(query_result)
            .unwrap_or_default()),
        Err(f) => {
            let (status, code) = error_code(f.code, &f.message);
            Err(Failure::new(status, code, f.message))
        }
    }
}

fn query_result(out: &StatementOutput) -> QueryResult {
    let row_count = if out.rows.is_empty() {
        out.written_rows
    } else {
        out.rows.len() as u64
    };
    QueryResult {
        schema: out
            .columns
            .iter()
            .map(|c| SchemaField {
                name: c.name.clone(),
                ty: c.ty.clone(),
            })
            .collect(),
        rows: out.rows.clone(),
        row_count,
        // An INSERT answers KalamDB's words for its count.
        message: out.message.clone().or_else(|| {
            (out.written_rows > 0).then(|| format!("Inserted {} row(s)", out.written_rows))
        }),
    }
}

/// The one mapping from the engine's classified errors to KalamDB's codes and statuses
/// (its handlers answer statement errors with 400, internal faults with 500).
///
/// The engine reports an unknown source as ksqlDB does, a statement error worded
/// "`name` does not exist."; KalamDB names that `TABLE_NOT_FOUND`.
fn error_code(code: ErrorCode, message: &str) -> (StatusCode, &'static str) {
    match code {
        ErrorCode::InvalidStatement if message.ends_with(" does not exist.") => {
            (StatusCode::BAD_REQUEST, code::TABLE_NOT_FOUND)
        }
        ErrorCode::Syntax | ErrorCode::InvalidStatement => {
            (StatusCode::BAD_REQUEST, code::INVALID_SQL)
        }
        ErrorCode::NotFound | ErrorCode::TopicNotFound | ErrorCode::PartitionNotFound => {
            (StatusCode::BAD_REQUEST, code::TABLE_NOT_FOUND)
        }
        ErrorCode::QueryOnStatementEndpoint
        | ErrorCode::BadRequest
        | ErrorCode::InvalidRowJson
        | ErrorCode::Conflict
        | ErrorCode::Unsupported
        | ErrorCode::PushQueryLimit
        | ErrorCode::ResourceLimit => (StatusCode::BAD_REQUEST, code::SQL_EXECUTION_ERROR),
        ErrorCode::StorageFull | ErrorCode::Io | ErrorCode::Corrupt | ErrorCode::Internal => {
            (StatusCode::INTERNAL_SERVER_ERROR, code::INTERNAL_ERROR)
        }
    }
}
