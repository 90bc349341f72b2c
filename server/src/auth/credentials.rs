//! Credential files: who may log in with what secret, and with which roles.
//!
//! The format is the one ksqlDB's Basic authentication reads through Jetty's
//! `PropertyFileLoginModule` (ksqlDB docs, "Configure HTTP Basic authentication"): one
//! principal a line, `name: secret[,role ...]`, `#` or `!` comments and blank lines
//! ignored. The same format holds bearer tokens, with the token as the secret. Jetty's
//! obfuscated and hashed secrets (`OBF:`, `MD5:`, `CRYPT:`) are refused at load with a
//! clear error rather than misread as plain text.

use std::path::Path;

/// Largest credentials file read: a file this big is a mistake (a log, a binary), and the
/// whole file is held in memory.
pub const CREDENTIALS_FILE_BYTES_MAX: u64 = 1024 * 1024;

/// Most principals one file may declare: lookups compare against every secret in constant
/// time, so the count bounds the cost of each request's authentication.
pub const CREDENTIALS_MAX: usize = 10_000;

/// Jetty's encoded-password prefixes, which this loader does not decode.
const ENCODED_SECRET_PREFIXES: &[&str] = &["OBF:", "MD5:", "CRYPT:"];

/// One principal of a credentials file.
#[derive(Clone, PartialEq, Eq)]
pub struct Credential {
    pub name: String,
    secret: String,
    pub roles: Vec<String>,
}

impl std::fmt::Debug for Credential {
    // The secret never reaches a log line.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credential")
            .field("name", &self.name)
            .field("roles", &self.roles)
            .finish_non_exhaustive()
    }
}

/// Why a credentials file could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum CredentialsError {
    #[error("reading {path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    #[error("{path} is larger than {CREDENTIALS_FILE_BYTES_MAX} bytes")]
    TooLarge { path: String },
    #[error("{path}:{line}: {reason}")]
    Invalid {
        path: String,
        line: usize,
        reason: String,
    },
    #[error("{path} declares no credentials")]
    Empty { path: String },
}

/// The principals of one credentials file.
#[derive(Debug, Clone, Default)]
pub struct CredentialStore {
    entries: Vec<Credential>,
}

impl CredentialStore {
    pub fn load(path: &Path) -> Result<CredentialStore, CredentialsError> {
        let shown = path.display().to_string();
        let len = std::fs::metadata(path)
            .map_err(|source| CredentialsError::Io {
                path: shown.clone(),
                source,
            })?
            .len();
        if len > CREDENTIALS_FILE_BYTES_MAX {
            return Err(CredentialsError::TooLarge { path: shown });
        }
        let text = std::fs::read_to_string(path).map_err(|source| CredentialsError::Io {
            path: shown.clone(),
            source,
        })?;
        let store =
            CredentialStore::parse(&text).map_err(|(line, reason)| CredentialsError::Invalid {
                path: shown.clone(),
                line,
                reason,
            })?;
        if store.entries.is_empty() {
            return Err(CredentialsError::Empty { path: shown });
        }
        Ok(store)
    }

    /// Parses the file's text; an error names the 1-based line and what is wrong with it.
    pub fn parse(text: &str) -> Result<CredentialStore, (usize, String)> {
        let mut entries: Vec<Credential> = Vec::new();
        for (index, raw) in text.lines().enumerate() {
            let line_no = index + 1;
            let line = raw.trim();
            if line.is_empty() || line.starts_with('#') || line.starts_with('!') {
                continue;
            }
            let (name, rest) = line
                .split_once(':')
                .ok_or_else(|| (line_no, "expected `name: secret[,role ...]`".to_string()))?;
            let name = name.trim();
            if name.is_empty() {
                return Err((line_no, "the name is empty".to_string()));
            }
            let mut fields = rest.split(',').map(str::trim);
            let secret = fields.next().unwrap_or_default();
            if secret.is_empty() {
                return Err((line_no, format!("`{name}` has no secret")));
            }
            if let Some(prefix) = ENCODED_SECRET_PREFIXES
                .iter()
                .find(|p| secret.starts_with(**p))
            {
                return Err((
                    line_no,
                    format!("`{name}`: {prefix} secrets are not supported; write the secret in plain text"),
                ));
            }
            if entries.iter().any(|e| e.name == name) {
                return Err((line_no, format!("`{name}` is declared twice")));
            }
            if entries.len() == CREDENTIALS_MAX {
                return Err((line_no, format!("more than {CREDENTIALS_MAX} credentials")));
            }
            entries.push(Credential {
                name: name.to_string(),
                secret: secret.to_string(),
                roles: fields.filter(|r| !r.is_empty()).map(String::from).collect(),
            });
        }
        Ok(CredentialStore { entries })
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The principal `name` if `secret` is its secret.
    pub fn verify_password(&self, name: &str, secret: &str) -> Option<&Credential> {
        // Every entry's secret is compared, whoever matches, so the time taken says nothing
        // about which names exist.
        let mut found = None;
        for entry in &self.entries {
            let secret_ok = constant_time_eq(entry.secret.as_bytes(), secret.as_bytes());
            if secret_ok && entry.name == name {
                found = Some(entry);
            }
        }
        found
    }

    /// The principal whose secret is the bearer token `token`.
    pub fn verify_token(&self, token: &str) -> Option<&Credential> {
        let mut found = None;
        for entry in &self.entries {
            if constant_time_eq(entry.secret.as_bytes(), token.as_bytes()) {
                found = Some(entry);
            }
        }
        found
    }
}

/// Compares two byte strings in time that depends only on their lengths.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_jetty_property_file_lines() {
        let store = CredentialStore::parse(
            "# ksqlDB users\n\nfred: letmein,admin,developer\n! another comment\nbarney : changeme\n",
        )
        .expect("valid file");
        assert_eq!(store.len(), 2);
        let fred = store
            .verify_password("fred", "letmein")
            .expect("fred logs in");
        assert_eq!(fred.roles, ["admin", "developer"]);
        let barney = store
            .verify_password("barney", "changeme")
            .expect("barney logs in");
        assert!(barney.roles.is_empty());
        assert!(store.verify_password("fred", "changeme").is_none());
        assert!(store.verify_password("wilma", "letmein").is_none());
        assert!(store.verify_password("fred", "letmei").is_none());
    }

    #[test]
    fn tokens_are_found_by_secret() {
        let store = CredentialStore::parse("ci: tok-123,writer\nops: tok-456\n").expect("valid");
        assert_eq!(
            store.verify_token("tok-456").map(|c| c.name.as_str()),
            Some("ops")
        );
        assert!(store.verify_token("tok-45").is_none());
        assert!(store.verify_token("").is_none());
    }

    #[test]
    fn bad_lines_name_their_line() {
        assert_eq!(CredentialStore::parse("a: x\nnocolon\n").unwrap_err().0, 2);
        assert_eq!(CredentialStore::parse(": x\n").unwrap_err().0, 1);
        assert_eq!(CredentialStore::parse("a:\n").unwrap_err().0, 1);
        assert_eq!(CredentialStore::parse("a: x\na: y\n").unwrap_err().0, 2);
        let (line, reason) =
            CredentialStore::parse("a: MD5:164c88b302622e17050af52c89945d44\n").unwrap_err();
        assert_eq!(line, 1);
        assert!(reason.contains("MD5:"), "{reason}");
    }

    #[test]
    fn secrets_stay_out_of_debug_output() {
        let store = CredentialStore::parse("fred: s3cr3t\n").expect("valid");
        assert!(!format!("{store:?}").contains("s3cr3t"));
    }
}
