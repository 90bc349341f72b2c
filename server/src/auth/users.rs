//! The users that log in with a password and receive JWTs (KalamDB's face): the `root`
//! system user and the users first-run setup creates. Passwords are kept only as salted
//! PBKDF2-HMAC-SHA256 hashes.
//!
//! The users are kept in a file of the data directory (`USERS_FILE`), written before setup
//! answers: were they only in memory, a restart would put the server back into "needs
//! setup", and whoever reached the port first would make themselves root.

use std::collections::BTreeMap;
use std::num::NonZeroU32;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use base64::Engine as _;
use ring::pbkdf2;
use serde::{Deserialize, Serialize};

/// The file in the data directory that holds the login users (JSON, hashes only).
pub const USERS_FILE: &str = "kalamdb-users.json";

/// PBKDF2 rounds per password check: slow enough to make guessing a stolen hash costly,
/// fast enough for a login (OWASP's 2023 figure for PBKDF2-HMAC-SHA256 is 600,000; logins
/// here are also rate-limited by the HTTP layer's connection limits).
pub const PASSWORD_HASH_ROUNDS: u32 = 100_000;

/// Longest user name (KalamDB: 128 characters).
pub const USER_NAME_CHARS_MAX: usize = 128;

/// Longest password (KalamDB: 256 characters).
pub const PASSWORD_CHARS_MAX: usize = 256;

/// The name of the system user setup gives a password.
pub const ROOT_USER: &str = "root";

/// KalamDB's roles, lower-case as its tokens carry them.
pub const ROLE_SYSTEM: &str = "system";
pub const ROLE_DBA: &str = "dba";

/// Every role a user may have (KalamDB's `Role`, lower-case).
pub const ROLES: &[&str] = &["anonymous", "user", "service", ROLE_DBA, ROLE_SYSTEM];

/// One user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    /// Stable id, the JWT's `sub`.
    pub id: String,
    pub name: String,
    pub role: String,
    pub email: Option<String>,
    pub created_ms: i64,
    salt: [u8; 16],
    hash: [u8; 32],
}

/// Why setup failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SetupError {
    #[error("The server has already been set up")]
    AlreadySetUp,
    #[error("{0}")]
    Invalid(String),
    /// The users could not be written down; setup did not happen.
    #[error("could not save the users: {0}")]
    Storage(String),
    #[error("User '{0}' does not exist")]
    NotFound(String),
}

/// What [`UserStore::alter_user`] changes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UserUpdate<'a> {
    Password(&'a str),
    Role(&'a str),
    Email(&'a str),
}

/// One user as the users file holds it.
#[derive(Debug, Serialize, Deserialize)]
struct UserRecord {
    id: String,
    name: String,
    role: String,
    email: Option<String>,
    created_ms: i64,
    /// Base64 of the 16-byte salt and the 32-byte PBKDF2 hash.
    salt: String,
    hash: String,
}

/// The user store.
#[derive(Debug, Default)]
pub struct UserStore {
    /// By user name.
    users: Mutex<BTreeMap<String, User>>,
    /// Where the users are kept; `None` keeps them in memory only (tests).
    file: Option<PathBuf>,
}

impl UserStore {
    /// The store kept in `file`, with the users it already holds.
    pub fn open(file: PathBuf) -> std::io::Result<UserStore> {
        let users = match std::fs::read(&file) {
            Ok(bytes) => parse_users(&bytes).map_err(|reason| {
                std::io::Error::new(
                    std::io::ErrorKind::InvalidData,
                    format!("{}: {reason}", file.display()),
                )
            })?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => BTreeMap::new(),
            Err(e) => return Err(e),
        };
        Ok(UserStore {
            users: Mutex::new(users),
            file: Some(file),
        })
    }

    /// True until first-run setup has created a login user.
    pub fn needs_setup(&self) -> bool {
        self.lock().is_empty()
    }

    /// First-run setup: gives `root` its password and creates a DBA user.
    pub fn setup(
        &self,
        name: &str,
        password: &str,
        root_password: &str,
        email: Option<String>,
        now_ms: i64,
    ) -> Result<(), SetupError> {
        check(name, password)?;
        check(ROOT_USER, root_password)?;
        if name == ROOT_USER {
            return Err(SetupError::Invalid(
                "the DBA user cannot be named root".into(),
            ));
        }
        let mut users = self.lock();
        if !users.is_empty() {
            return Err(SetupError::AlreadySetUp);
        }
        let mut created = BTreeMap::new();
        created.insert(
            ROOT_USER.to_string(),
            user(ROOT_USER, root_password, ROLE_SYSTEM, None, now_ms),
        );
        created.insert(
            name.to_string(),
            user(name, password, ROLE_DBA, email, now_ms),
        );
        // Written down before anyone can log in with them: after a restart they are there.
        if let Some(file) = &self.file {
            save_users(file, &created).map_err(|e| SetupError::Storage(e.to_string()))?;
        }
        *users = created;
        Ok(())
    }

    /// Creates user `name` with `role` (one of [`ROLES`]), written down before it answers;
    /// setup must have happened (the first users are root and the DBA).
    pub fn create_user(
        &self,
        name: &str,
        password: &str,
        role: &str,
        now_ms: i64,
    ) -> Result<User, SetupError> {
        self.create_user_with_email(name, password, role, None, now_ms)
    }

    /// [`UserStore::create_user`] with an email address.
    pub fn create_user_with_email(
        &self,
        name: &str,
        password: &str,
        role: &str,
        email: Option<String>,
        now_ms: i64,
    ) -> Result<User, SetupError> {
        check(name, password)?;
        check_role(role)?;
        let mut users = self.lock();
        if users.is_empty() {
            return Err(SetupError::Invalid("the server is not set up yet".into()));
        }
        if users.contains_key(name) {
            return Err(SetupError::Invalid(format!("user '{name}' already exists")));
        }
        let mut all = users.clone();
        let created = user(name, password, role, email, now_ms);
        all.insert(name.to_string(), created.clone());
        if let Some(file) = &self.file {
            save_users(file, &all).map_err(|e| SetupError::Storage(e.to_string()))?;
        }
        *users = all;
        Ok(created)
    }

    /// Changes user `name` (written down before it answers). Root keeps its role: it is
    /// the one system user setup made.
    pub fn alter_user(&self, name: &str, update: UserUpdate<'_>) -> Result<User, SetupError> {
        let mut users = self.lock();
        let old = users
            .get(name)
            .cloned()
            .ok_or_else(|| SetupError::NotFound(name.to_string()))?;
        let changed = match update {
            UserUpdate::Password(password) => {
                check(name, password)?;
                User {
                    id: old.id.clone(),
                    ..user(name, password, &old.role, old.email.clone(), old.created_ms)
                }
            }
            UserUpdate::Role(role) => {
                check_role(role)?;
                if name == ROOT_USER && role != ROLE_SYSTEM {
                    return Err(SetupError::Invalid("root's role cannot change".into()));
                }
                User {
                    role: role.to_string(),
                    ..old
                }
            }
            UserUpdate::Email(email) => User {
                email: Some(email.to_string()),
                ..old
            },
        };
        let mut all = users.clone();
        all.insert(name.to_string(), changed.clone());
        if let Some(file) = &self.file {
            save_users(file, &all).map_err(|e| SetupError::Storage(e.to_string()))?;
        }
        *users = all;
        Ok(changed)
    }

    /// Removes user `name`: their tokens stop working at once. False if there was none.
    /// Root cannot be dropped.
    pub fn drop_user(&self, name: &str) -> Result<bool, SetupError> {
        if name == ROOT_USER {
            return Err(SetupError::Invalid("root cannot be dropped".into()));
        }
        let mut users = self.lock();
        if !users.contains_key(name) {
            return Ok(false);
        }
        let mut all = users.clone();
        all.remove(name);
        if let Some(file) = &self.file {
            save_users(file, &all).map_err(|e| SetupError::Storage(e.to_string()))?;
        }
        *users = all;
        Ok(true)
    }

    /// The user if `password` is theirs.
    pub fn verify(&self, name: &str, password: &str) -> Option<User> {
        if name.chars().count() > USER_NAME_CHARS_MAX
            || password.chars().count() > PASSWORD_CHARS_MAX
        {
            return None;
        }
        let found = self.lock().get(name).cloned()?;
        pbkdf2::verify(
            pbkdf2::PBKDF2_HMAC_SHA256,
            rounds(),
            &found.salt,
            password.as_bytes(),
            &found.hash,
        )
        .ok()
        .map(|()| found)
    }

    /// The user named `name`.
    pub fn by_name(&self, name: &str) -> Option<User> {
        self.lock().get(name).cloned()
    }

    /// The user with id `id`.
    pub fn by_id(&self, id: &str) -> Option<User> {
        self.lock().values().find(|u| u.id == id).cloned()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, User>> {
        self.users
            .lock()
            .expect("user store lock is never poisoned")
    }
}

/// Writes `users` to `file` durably: a new file synced, renamed over the old, and the
/// directory synced, so a crash leaves the old file or the new, never half of one.
fn save_users(file: &Path, users: &BTreeMap<String, User>) -> std::io::Result<()> {
    let b64 = base64::engine::general_purpose::STANDARD;
    let records: Vec<UserRecord> = users
        .values()
        .map(|u| UserRecord {
            id: u.id.clone(),
            name: u.name.clone(),
            role: u.role.clone(),
            email: u.email.clone(),
            created_ms: u.created_ms,
            salt: b64.encode(u.salt),
            hash: b64.encode(u.hash),
        })
        .collect();
    let json = serde_json::to_vec_pretty(&records).map_err(std::io::Error::other)?;
    crate::durable_file::replace(file, &json, crate::durable_file::Access::OwnerOnly)
}

/// The users of a users file.
fn parse_users(bytes: &[u8]) -> Result<BTreeMap<String, User>, String> {
    let b64 = base64::engine::general_purpose::STANDARD;
    let records: Vec<UserRecord> = serde_json::from_slice(bytes).map_err(|e| e.to_string())?;
    let mut users = BTreeMap::new();
    for r in records {
        let salt = b64
            .decode(&r.salt)
            .ok()
            .and_then(|v| <[u8; 16]>::try_from(v).ok())
            .ok_or_else(|| format!("user {}: a bad salt", r.name))?;
        let hash = b64
            .decode(&r.hash)
            .ok()
            .and_then(|v| <[u8; 32]>::try_from(v).ok())
            .ok_or_else(|| format!("user {}: a bad hash", r.name))?;
        users.insert(
            r.name.clone(),
            User {
                id: r.id,
                name: r.name,
                role: r.role,
                email: r.email,
                created_ms: r.created_ms,
                salt,
                hash,
            },
        );
    }
    Ok(users)
}

fn rounds() -> NonZeroU32 {
    NonZeroU32::new(PASSWORD_HASH_ROUNDS).expect("a non-zero constant")
}

fn check_role(role: &str) -> Result<(), SetupError> {
    if ROLES.contains(&role) {
        return Ok(());
    }
    Err(SetupError::Invalid(format!(
        "role is one of {}, not '{role}'",
        ROLES.join(", ")
    )))
}

fn check(name: &str, password: &str) -> Result<(), SetupError> {
    if name.is_empty() || name.chars().count() > USER_NAME_CHARS_MAX {
        return Err(SetupError::Invalid(format!(
            "user names are 1 to {USER_NAME_CHARS_MAX} characters"
        )));
    }
    if password.is_empty() || password.chars().count() > PASSWORD_CHARS_MAX {
        return Err(SetupError::Invalid(format!(
            "passwords are 1 to {PASSWORD_CHARS_MAX} characters"
        )));
    }
    Ok(())
}

fn user(name: &str, password: &str, role: &str, email: Option<String>, now_ms: i64) -> User {
    let salt: [u8; 16] = rand::random();
    let mut hash = [0u8; 32];
    pbkdf2::derive(
        pbkdf2::PBKDF2_HMAC_SHA256,
        rounds(),
        &salt,
        password.as_bytes(),
        &mut hash,
    );
    User {
        id: format!("u_{name}"),
        name: name.to_string(),
        role: role.to_string(),
        email,
        created_ms: now_ms,
        salt,
        hash,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn setup_once_then_verify() {
        let store = UserStore::default();
        assert!(store.needs_setup());
        store
            .setup("admin", "AdminPass123!", "RootPass123!", None, 0)
            .expect("first setup");
        assert_eq!(
            store.setup("admin", "x", "y", None, 0),
            Err(SetupError::AlreadySetUp)
        );
        let admin = store.verify("admin", "AdminPass123!").expect("password");
        assert_eq!(admin.role, ROLE_DBA);
        assert_eq!(
            store.verify("root", "RootPass123!").map(|u| u.role),
            Some(ROLE_SYSTEM.into())
        );
        assert!(store.verify("admin", "wrong").is_none());
        assert!(store.verify("nobody", "AdminPass123!").is_none());
        assert_eq!(store.by_id(&admin.id), Some(admin));
        let svc = store
            .create_user("svc", "Service123!", "service", 1)
            .expect("created");
        assert_eq!(store.verify("svc", "Service123!"), Some(svc));
        assert!(
            store.create_user("svc", "x", "service", 1).is_err(),
            "exists"
        );
        assert!(
            store.create_user("eve", "x", "god", 1).is_err(),
            "no such role"
        );
    }

    #[test]
    fn the_users_file_keeps_setup_across_a_reopen() {
        let dir = tempfile::tempdir().expect("temp dir");
        let file = dir.path().join(USERS_FILE);
        let store = UserStore::open(file.clone()).expect("opens without a file");
        assert!(store.needs_setup());
        store
            .setup("admin", "AdminPass123!", "RootPass123!", None, 7)
            .expect("first setup");
        drop(store);
        let reopened = UserStore::open(file.clone()).expect("reopens");
        assert!(!reopened.needs_setup());
        assert_eq!(
            reopened.setup("mallory", "x", "y", None, 8),
            Err(SetupError::AlreadySetUp)
        );
        let admin = reopened.verify("admin", "AdminPass123!").expect("password");
        assert_eq!((admin.role.as_str(), admin.created_ms), (ROLE_DBA, 7));
        assert!(reopened.verify("root", "wrong").is_none());
        let text = std::fs::read_to_string(&file).expect("file");
        assert!(!text.contains("AdminPass123!"), "only hashes are stored");
        std::fs::write(&file, b"[{").expect("damage it");
        assert!(UserStore::open(file).is_err(), "a damaged file is an error");
    }

    #[test]
    fn altered_and_dropped_users_stay_so_across_a_reopen() {
        let dir = tempfile::tempdir().expect("temp dir");
        let file = dir.path().join(USERS_FILE);
        let store = UserStore::open(file.clone()).expect("opens");
        store
            .setup("admin", "AdminPass123!", "RootPass123!", None, 1)
            .expect("setup");
        store.create_user("a", "OldPass1!", "user", 2).expect("a");
        store.create_user("b", "Pass1234!", "user", 2).expect("b");
        let id = store.by_name("a").expect("a").id;
        store
            .alter_user("a", UserUpdate::Password("NewPass1!"))
            .expect("password");
        store
            .alter_user("a", UserUpdate::Role("service"))
            .expect("role");
        assert!(store.drop_user("b").expect("dropped"));
        assert!(!store.drop_user("b").expect("already gone"));
        assert_eq!(
            store.alter_user("b", UserUpdate::Email("b@x")),
            Err(SetupError::NotFound("b".into()))
        );
        assert!(store.alter_user("a", UserUpdate::Role("god")).is_err());
        assert!(store.alter_user("root", UserUpdate::Role("dba")).is_err());
        assert!(store.drop_user("root").is_err());
        drop(store);
        let reopened = UserStore::open(file).expect("reopens");
        assert!(reopened.verify("a", "OldPass1!").is_none());
        let a = reopened.verify("a", "NewPass1!").expect("new password");
        assert_eq!((a.id.as_str(), a.role.as_str()), (id.as_str(), "service"));
        assert!(reopened.by_name("b").is_none());
    }
}
