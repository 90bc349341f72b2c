//! The one place that decides who a request acts for and whether it may: every face asks
//! [`Auth::admit`] before it touches the engine, and [`Auth::may_see`] before it shows a
//! task another request started.
//!
//! Authentication is off unless a credentials file is configured (ksqlDB's default,
//! `authentication.method=NONE`); then every request is the anonymous principal and may do
//! everything. Once any file is configured, every non-public route of every face needs a
//! credential of the kind that face's clients send, and a face whose kind has no file
//! refuses everyone: configuring auth never leaves a face open by accident.

use base64::Engine as _;
use http::{header, HeaderMap};
use sluice_protocol::kalamdb::shared_access::AccessLevel;

use super::credentials::{CredentialStore, CredentialsError};
use super::jwt::{JwtKeys, TokenType};
use super::principal::{Principal, Scheme};
use super::users::{UserStore, ROLES};

/// The cookie KalamDB keeps its access token in (`kalamdb-auth`).
pub const ACCESS_COOKIE: &str = "kalamdb_auth";

/// The cookie KalamDB keeps its refresh token in.
pub const REFRESH_COOKIE: &str = "kalamdb_refresh";

/// Longest `Authorization` header looked at; longer ones are refused as malformed before
/// any decoding (a Basic header for the longest sane name and password is far shorter).
pub const AUTHORIZATION_HEADER_BYTES_MAX: usize = 8 * 1024;

/// The realm ksqlDB names in `WWW-Authenticate` by default (`authentication.realm`).
pub const DEFAULT_REALM: &str = "KsqlServer-Props";

/// The role list that admits every authenticated principal, whatever its roles
/// (ksqlDB's `authentication.roles=**`).
pub const ANY_ROLE: &str = "**";

/// KalamDB's roles that may use topics: create and route them, consume and ack (its topic
/// handlers admit `service`, `dba` and `system`; a `user` is refused with 403).
pub const TOPIC_ROLES: &[&str] = &["service", "dba", "system"];

/// KalamDB's roles that may `CLEAR TOPIC` (its handler's check: DBA or System).
pub const TOPIC_CLEAR_ROLES: &[&str] = &["dba", "system"];

/// KalamDB's roles that may create, change and drop users.
pub const USER_ADMIN_ROLES: &[&str] = &["dba", "system"];

/// KalamDB's roles that may drop tables (its RBAC: DML only for `user` and `service`).
pub const TABLE_DROP_ROLES: &[&str] = &["dba", "system"];

/// KalamDB's roles that may create SHARED tables (a `user` makes USER and STREAM tables).
pub const SHARED_TABLE_ROLES: &[&str] = &["service", "dba", "system"];

/// KalamDB's roles that may read and write a SHARED table of the `DBA` access level.
pub const DBA_TABLE_ROLES: &[&str] = &["dba", "system"];

/// Something only some principals may do, beyond being admitted to a face.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// KalamDB topics: topic statements, consume, ack ([`TOPIC_ROLES`]).
    KalamTopics,
    /// KalamDB's `CLEAR TOPIC` ([`TOPIC_CLEAR_ROLES`]).
    ClearTopic,
    /// KalamDB's `CREATE/ALTER/DROP USER` ([`USER_ADMIN_ROLES`]).
    ManageUsers,
    /// KalamDB's `DROP TABLE` ([`TABLE_DROP_ROLES`]).
    DropTable,
    /// KalamDB's `CREATE TABLE` of a SHARED table ([`SHARED_TABLE_ROLES`]).
    CreateSharedTable,
    /// Reading a KalamDB SHARED table of this access level: `PUBLIC` by everyone signed
    /// in, `DBA` by [`DBA_TABLE_ROLES`], the others by [`SHARED_TABLE_ROLES`].
    ReadSharedTable(AccessLevel),
    /// Writing a KalamDB SHARED table of this access level: `DBA` by [`DBA_TABLE_ROLES`],
    /// the others (`PUBLIC` too: a `user` only reads those) by [`SHARED_TABLE_ROLES`].
    WriteSharedTable(AccessLevel),
    /// KalamDB's `ALTER TABLE … SET ACCESS LEVEL` ([`SHARED_TABLE_ROLES`]).
    SetAccessLevel,
}

/// What credential a face's clients send.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CredentialKind {
    /// `Authorization: Basic base64(name:password)` (ksqlDB, its console, the REST proxy).
    Basic,
    /// `Authorization: Bearer <token>` (DeltaStream, Roe, Foundry).
    Bearer,
    /// A KalamDB access JWT, as `Authorization: Bearer <jwt>` or the `kalamdb_auth` cookie.
    Jwt,
}

/// Why a request was refused. Each face renders it in its own status and body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// No credential, or one of another scheme than the face takes.
    Missing,
    /// An `Authorization` header of the right scheme that does not decode.
    Malformed,
    /// A credential nobody has.
    Invalid,
    /// A valid principal without a role allowed to use the server.
    Forbidden,
}

/// How to configure authentication (all off by default).
#[derive(Debug, Clone, Default)]
pub struct AuthConfig {
    /// Basic-auth users (`name: password[,role ...]`).
    pub basic_credentials: Option<std::path::PathBuf>,
    /// Bearer API tokens (`name: token[,role ...]`).
    pub bearer_tokens: Option<std::path::PathBuf>,
    /// Roles allowed to use the server (ksqlDB's `authentication.roles`); empty or `**`
    /// admits every authenticated principal.
    pub roles: Vec<String>,
    /// The Basic realm (ksqlDB's `authentication.realm`); `None` is [`DEFAULT_REALM`].
    pub realm: Option<String>,
    /// The HS256 secret KalamDB's JWTs are signed with (at least 32 bytes); setting it
    /// turns authentication on.
    pub jwt_secret: Option<std::path::PathBuf>,
    /// Where the users that log in for JWTs are kept (the data directory's
    /// [`USERS_FILE`](super::users::USERS_FILE)); `None` keeps them in memory only.
    pub users_file: Option<std::path::PathBuf>,
}

/// The server's authentication and authorization state.
#[derive(Debug, Clone)]
pub struct Auth {
    basic: Option<CredentialStore>,
    bearer: Option<CredentialStore>,
    /// KalamDB's JWT keys; `None` while JWTs are not configured.
    jwt: Option<JwtKeys>,
    /// The users that log in for a JWT (KalamDB's setup and login).
    users: std::sync::Arc<UserStore>,
    /// `None`: any authenticated principal is allowed.
    roles: Option<Vec<String>>,
    realm: String,
}

impl Default for Auth {
    fn default() -> Auth {
        Auth::off()
    }
}

impl Auth {
    /// Authentication off: every request is the anonymous principal.
    pub fn off() -> Auth {
        Auth {
            basic: None,
            bearer: None,
            jwt: None,
            users: std::sync::Arc::default(),
            roles: None,
            realm: DEFAULT_REALM.to_string(),
        }
    }

    pub fn load(config: &AuthConfig) -> Result<Auth, CredentialsError> {
        let basic = config
            .basic_credentials
            .as_deref()
            .map(CredentialStore::load)
            .transpose()?;
        let bearer = config
            .bearer_tokens
            .as_deref()
            .map(CredentialStore::load)
            .transpose()?;
        let auth = Auth::from_stores(basic, bearer, &config.roles, config.realm.clone());
        let Some(path) = &config.jwt_secret else {
            return Ok(auth);
        };
        let shown = path.display().to_string();
        let secret = std::fs::read(path).map_err(|source| CredentialsError::Io {
            path: shown.clone(),
            source,
        })?;
        let keys = JwtKeys::new(secret.trim_ascii()).ok_or(CredentialsError::Invalid {
            path: shown,
            line: 1,
            reason: format!(
                "an HS256 secret has at least {} bytes",
                super::jwt::JWT_SECRET_BYTES_MIN
            ),
        })?;
        let mut auth = auth.with_jwt(keys);
        if let Some(file) = &config.users_file {
            let users = UserStore::open(file.clone()).map_err(|source| CredentialsError::Io {
                path: file.display().to_string(),
                source,
            })?;
            auth.users = std::sync::Arc::new(users);
        }
        Ok(auth)
    }

    /// This `Auth` with KalamDB's JWTs signed and checked with `keys` (turns auth on).
    pub fn with_jwt(mut self, keys: JwtKeys) -> Auth {
        self.jwt = Some(keys);
        self
    }

    /// The JWT keys, once configured.
    pub fn jwt(&self) -> Option<&JwtKeys> {
        self.jwt.as_ref()
    }

    /// The users that log in for a JWT.
    pub fn users(&self) -> &UserStore {
        &self.users
    }

    /// An `Auth` over credential stores already in memory (tests, tools).
    pub fn from_stores(
        basic: Option<CredentialStore>,
        bearer: Option<CredentialStore>,
        roles: &[String],
        realm: Option<String>,
    ) -> Auth {
        let roles = if roles.is_empty() || roles.iter().any(|r| r == ANY_ROLE) {
            None
        } else {
            Some(roles.to_vec())
        };
        Auth {
            basic,
            bearer,
            jwt: None,
            users: std::sync::Arc::default(),
            roles,
            realm: realm.unwrap_or_else(|| DEFAULT_REALM.to_string()),
        }
    }

    /// True once any credentials file is configured.
    pub fn is_enabled(&self) -> bool {
        self.basic.is_some() || self.bearer.is_some() || self.jwt.is_some()
    }

    pub fn realm(&self) -> &str {
        &self.realm
    }

    /// One line for the start-up log: what is checked, never any secret.
    pub fn describe(&self) -> String {
        if !self.is_enabled() {
            return "authentication is off: every request is trusted".to_string();
        }
        let count = |s: &Option<CredentialStore>| s.as_ref().map_or(0, CredentialStore::len);
        let roles = match &self.roles {
            None => "any role".to_string(),
            Some(r) => r.join(","),
        };
        format!(
            "authentication is on: {} Basic users, {} bearer tokens, KalamDB JWTs {}; allowed roles: {roles}",
            count(&self.basic),
            count(&self.bearer),
            if self.jwt.is_some() { "on" } else { "off" }
        )
    }

    /// Decides who a request acts for and whether it may use a non-public route of a face
    /// whose clients send `kind` credentials.
    pub fn admit(&self, kind: CredentialKind, headers: &HeaderMap) -> Result<Principal, Refusal> {
        if !self.is_enabled() {
            return Ok(Principal::anonymous());
        }
        let principal = self.authenticate(kind, headers)?;
        self.authorize(&principal)?;
        Ok(principal)
    }

    /// Whether an admitted `principal` may do `action`. With authentication off everyone is
    /// one principal and may do everything.
    pub fn permits(&self, principal: &Principal, action: Action) -> bool {
        if !self.is_enabled() {
            return true;
        }
        match action {
            Action::KalamTopics => TOPIC_ROLES.iter().any(|r| principal.has_role(r)),
            Action::ClearTopic => TOPIC_CLEAR_ROLES.iter().any(|r| principal.has_role(r)),
            Action::ManageUsers => USER_ADMIN_ROLES.iter().any(|r| principal.has_role(r)),
            Action::DropTable => TABLE_DROP_ROLES.iter().any(|r| principal.has_role(r)),
            Action::CreateSharedTable | Action::SetAccessLevel => {
                SHARED_TABLE_ROLES.iter().any(|r| principal.has_role(r))
            }
            Action::ReadSharedTable(AccessLevel::Public) => true,
            Action::ReadSharedTable(AccessLevel::Dba)
            | Action::WriteSharedTable(AccessLevel::Dba) => {
                DBA_TABLE_ROLES.iter().any(|r| principal.has_role(r))
            }
            Action::ReadSharedTable(_) | Action::WriteSharedTable(_) => {
                SHARED_TABLE_ROLES.iter().any(|r| principal.has_role(r))
            }
        }
    }

    /// Whether `principal` may act as user `target`, whose role is `target_role` (KalamDB's
    /// `EXECUTE AS`): as themselves always; for another user only from the service role up,
    /// and never for a role above their own (a DBA for DBAs, services and users; a service
    /// for services and users). With authentication off, anyone may act as anyone.
    pub fn may_act_as(&self, principal: &Principal, target: &str, target_role: &str) -> bool {
        if !self.is_enabled() || principal.name() == target {
            return true;
        }
        let rank = |role: &str| ROLES.iter().position(|r| *r == role);
        let own = principal.roles().iter().filter_map(|r| rank(r)).max();
        match (own, rank("service"), rank(target_role)) {
            (Some(own), Some(service), Some(target)) => own >= service && target <= own,
            _ => false,
        }
    }

    /// Whether `principal` may see (poll, page, cancel) a task `owner` started. With
    /// authentication off everyone is one principal and sees everything.
    pub fn may_see(&self, principal: &Principal, owner: &str) -> bool {
        !self.is_enabled() || principal.name() == owner
    }

    fn authenticate(
        &self,
        kind: CredentialKind,
        headers: &HeaderMap,
    ) -> Result<Principal, Refusal> {
        if kind == CredentialKind::Jwt {
            let token = bearer_or_cookie(headers, ACCESS_COOKIE)?;
            return self.verify_jwt(&token, TokenType::Access);
        }
        let value = match headers.get(header::AUTHORIZATION) {
            None => return Err(Refusal::Missing),
            Some(v) if v.len() > AUTHORIZATION_HEADER_BYTES_MAX => return Err(Refusal::Malformed),
            Some(v) => v.to_str().map_err(|_| Refusal::Malformed)?,
        };
        let (scheme, rest) = value.split_once(' ').unwrap_or((value, ""));
        let rest = rest.trim();
        match kind {
            // Auth schemes are case-insensitive (RFC 9110 §11.1).
            CredentialKind::Basic if scheme.eq_ignore_ascii_case("basic") => {
                let store = self.basic.as_ref().ok_or(Refusal::Invalid)?;
                let (name, password) = decode_basic(rest)?;
                let found = store
                    .verify_password(&name, &password)
                    .ok_or(Refusal::Invalid)?;
                Ok(Principal::new(
                    found.name.clone(),
                    found.roles.clone(),
                    Scheme::Basic,
                ))
            }
            CredentialKind::Bearer if scheme.eq_ignore_ascii_case("bearer") => {
                let store = self.bearer.as_ref().ok_or(Refusal::Invalid)?;
                if rest.is_empty() {
                    return Err(Refusal::Malformed);
                }
                let found = store.verify_token(rest).ok_or(Refusal::Invalid)?;
                Ok(Principal::new(
                    found.name.clone(),
                    found.roles.clone(),
                    Scheme::Bearer,
                ))
            }
            _ => Err(Refusal::Missing),
        }
    }

    /// Who a KalamDB access token carried in a message (not a header) acts for, with the
    /// same checks as [`Auth::admit`]: the WebSocket's `authenticate` message.
    pub fn admit_token(&self, token: &str) -> Result<Principal, Refusal> {
        if !self.is_enabled() {
            return Ok(Principal::anonymous());
        }
        let principal = self.verify_jwt(token, TokenType::Access)?;
        self.authorize(&principal)?;
        Ok(principal)
    }

    /// The user a JWT principal named `name` acts for.
    pub fn verify_jwt_user(&self, name: &str) -> Option<super::users::User> {
        self.users.by_name(name)
    }

    /// The principal of a KalamDB token of type `want`, if it is valid and its user still
    /// exists with the role the token names (KalamDB refuses a token whose user's role
    /// changed, and a refresh token used as an access token).
    pub fn verify_jwt(&self, token: &str, want: TokenType) -> Result<Principal, Refusal> {
        let keys = self.jwt.as_ref().ok_or(Refusal::Invalid)?;
        let claims = keys.verify(token).map_err(|_| Refusal::Invalid)?;
        if claims.token_type.unwrap_or(TokenType::Access) != want {
            return Err(Refusal::Invalid);
        }
        let user = self.users.by_id(&claims.sub).ok_or(Refusal::Invalid)?;
        if claims.role.as_deref() != Some(user.role.as_str()) {
            return Err(Refusal::Invalid);
        }
        Ok(Principal::new(user.name, vec![user.role], Scheme::Jwt))
    }

    fn authorize(&self, principal: &Principal) -> Result<(), Refusal> {
        match &self.roles {
            None => Ok(()),
            Some(allowed) if allowed.iter().any(|r| principal.has_role(r)) => Ok(()),
            Some(_) => Err(Refusal::Forbidden),
        }
    }
}

/// The token of `Authorization: Bearer <token>`, else of the cookie `cookie`.
pub fn bearer_or_cookie(headers: &HeaderMap, cookie: &str) -> Result<String, Refusal> {
    if let Some(value) = headers.get(header::AUTHORIZATION) {
        if value.len() > AUTHORIZATION_HEADER_BYTES_MAX {
            return Err(Refusal::Malformed);
        }
        let value = value.to_str().map_err(|_| Refusal::Malformed)?;
        let (scheme, rest) = value.split_once(' ').unwrap_or((value, ""));
        if !scheme.eq_ignore_ascii_case("bearer") {
            // KalamDB's SQL endpoint takes JWTs only: Basic is refused, not tried.
            return Err(Refusal::Invalid);
        }
        let token = rest.trim();
        return if token.is_empty() {
            Err(Refusal::Malformed)
        } else {
            Ok(token.to_string())
        };
    }
    cookie_value(headers, cookie).ok_or(Refusal::Missing)
}

/// The value of cookie `name` in the request's `Cookie` headers (RFC 6265 §5.4).
pub fn cookie_value(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter(|v| v.len() <= AUTHORIZATION_HEADER_BYTES_MAX)
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(n, v)| *n == name && !v.is_empty())
        .map(|(_, v)| v.to_string())
}

/// `base64(name:password)` → (name, password); the password may hold colons.
fn decode_basic(encoded: &str) -> Result<(String, String), Refusal> {
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(encoded)
        .map_err(|_| Refusal::Malformed)?;
    let text = String::from_utf8(bytes).map_err(|_| Refusal::Malformed)?;
    let (name, password) = text.split_once(':').ok_or(Refusal::Malformed)?;
    Ok((name.to_string(), password.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    fn auth(roles: &[&str]) -> Auth {
        let basic =
            CredentialStore::parse("fred: letmein,admin\nbarney: pw:with:colons\n").expect("valid");
        let bearer = CredentialStore::parse("ci: tok-1,admin\n").expect("valid");
        let roles: Vec<String> = roles.iter().map(|r| r.to_string()).collect();
        Auth::from_stores(Some(basic), Some(bearer), &roles, None)
    }

    fn headers(value: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(
            header::AUTHORIZATION,
            HeaderValue::from_str(value).expect("ascii"),
        );
        h
    }

    fn basic(name: &str, password: &str) -> HeaderMap {
        let encoded =
            base64::engine::general_purpose::STANDARD.encode(format!("{name}:{password}"));
        headers(&format!("Basic {encoded}"))
    }

    #[test]
    fn off_admits_everyone_as_anonymous() {
        let p = Auth::off()
            .admit(CredentialKind::Basic, &HeaderMap::new())
            .expect("admitted");
        assert_eq!(p.scheme(), Scheme::Anonymous);
        assert!(!Auth::off().is_enabled());
    }

    #[test]
    fn basic_checks_name_and_password() {
        let a = auth(&[]);
        let p = a
            .admit(CredentialKind::Basic, &basic("fred", "letmein"))
            .expect("fred");
        assert_eq!((p.name(), p.scheme()), ("fred", Scheme::Basic));
        let p = a
            .admit(CredentialKind::Basic, &basic("barney", "pw:with:colons"))
            .expect("colons in the password");
        assert_eq!(p.name(), "barney");
        assert_eq!(
            a.admit(CredentialKind::Basic, &basic("fred", "wrong")),
            Err(Refusal::Invalid)
        );
        assert_eq!(
            a.admit(CredentialKind::Basic, &HeaderMap::new()),
            Err(Refusal::Missing)
        );
        assert_eq!(
            a.admit(CredentialKind::Basic, &headers("Bearer tok-1")),
            Err(Refusal::Missing)
        );
        assert_eq!(
            a.admit(CredentialKind::Basic, &headers("Basic %%%")),
            Err(Refusal::Malformed)
        );
        assert_eq!(
            a.admit(CredentialKind::Basic, &headers("basic Zm9vYmFy")),
            Err(Refusal::Malformed),
            "no colon in the decoded text"
        );
    }

    #[test]
    fn bearer_checks_the_token() {
        let a = auth(&[]);
        let p = a
            .admit(CredentialKind::Bearer, &headers("Bearer tok-1"))
            .expect("ci");
        assert_eq!((p.name(), p.scheme()), ("ci", Scheme::Bearer));
        assert_eq!(
            a.admit(CredentialKind::Bearer, &headers("Bearer tok-2")),
            Err(Refusal::Invalid)
        );
        assert_eq!(
            a.admit(CredentialKind::Bearer, &basic("fred", "letmein")),
            Err(Refusal::Missing)
        );
        assert_eq!(
            a.admit(CredentialKind::Bearer, &headers("Bearer ")),
            Err(Refusal::Malformed)
        );
    }

    #[test]
    fn roles_gate_authenticated_principals() {
        let a = auth(&["admin"]);
        assert!(a
            .admit(CredentialKind::Basic, &basic("fred", "letmein"))
            .is_ok());
        assert_eq!(
            a.admit(CredentialKind::Basic, &basic("barney", "pw:with:colons")),
            Err(Refusal::Forbidden)
        );
        let any = auth(&["**"]);
        assert!(any
            .admit(CredentialKind::Basic, &basic("barney", "pw:with:colons"))
            .is_ok());
    }

    #[test]
    fn a_kind_without_a_file_refuses_everyone() {
        let basic_only = Auth::from_stores(
            Some(CredentialStore::parse("fred: letmein\n").expect("valid")),
            None,
            &[],
            None,
        );
        assert_eq!(
            basic_only.admit(CredentialKind::Bearer, &headers("Bearer letmein")),
            Err(Refusal::Invalid)
        );
    }

    #[test]
    fn topics_need_a_topic_role_once_auth_is_on() {
        let service = Principal::new("svc", vec!["service".into()], Scheme::Jwt);
        let user = Principal::new("alice", vec!["user".into()], Scheme::Jwt);
        let on = auth(&[]);
        assert!(on.permits(&service, Action::KalamTopics));
        assert!(!on.permits(&user, Action::KalamTopics));
        assert!(!on.permits(&service, Action::ClearTopic));
        let dba = Principal::new("root", vec!["dba".into()], Scheme::Jwt);
        assert!(on.permits(&dba, Action::ClearTopic));
        assert!(Auth::off().permits(&Principal::anonymous(), Action::KalamTopics));
    }

    #[test]
    fn tasks_are_private_to_their_owner_once_auth_is_on() {
        let fred = Principal::new("fred", vec![], Scheme::Basic);
        assert!(auth(&[]).may_see(&fred, "fred"));
        assert!(!auth(&[]).may_see(&fred, "barney"));
        assert!(Auth::off().may_see(&Principal::anonymous(), "anyone"));
    }
}
