//! The users that log in with a password and receive JWTs (KalamDB's face): the `root`
//! system user and the users first-run setup creates. Passwords are kept only as salted
//! PBKDF2-HMAC-SHA256 hashes.

use std::collections::BTreeMap;
use std::num::NonZeroU32;
use std::sync::Mutex;

use ring::pbkdf2;

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
}

/// The user store.
#[derive(Debug, Default)]
pub struct UserStore {
    /// By user name.
    users: Mutex<BTreeMap<String, User>>,
}

impl UserStore {
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
        users.insert(
            ROOT_USER.into(),
            user(ROOT_USER, root_password, ROLE_SYSTEM, None, now_ms),
        );
        users.insert(name.into(), user(name, password, ROLE_DBA, email, now_ms));
        Ok(())
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

fn rounds() -> NonZeroU32 {
    NonZeroU32::new(PASSWORD_HASH_ROUNDS).expect("a non-zero constant")
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
    }
}
