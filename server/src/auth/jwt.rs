//! HS256 JSON Web Tokens as KalamDB issues them (`kalamdb-auth`): claims `sub` (user id),
//! `iss` ("kalamdb"), `exp`, `iat`, `role` (lower-case), `token_type` ("access" or
//! "refresh"). Access tokens live [`ACCESS_TOKEN_LIFETIME_SECS`]; refresh tokens seven times
//! that, as KalamDB's `jwt_expiry_hours` default and its refresh multiplier.

use jsonwebtoken::{decode, encode, Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};

/// The issuer KalamDB writes into its own tokens.
pub const JWT_ISSUER: &str = "kalamdb";

/// Access-token lifetime: KalamDB's `jwt_expiry_hours` default of 24.
pub const ACCESS_TOKEN_LIFETIME_SECS: i64 = 24 * 3600;

/// Refresh-token lifetime: seven times the access lifetime, as KalamDB's.
pub const REFRESH_TOKEN_LIFETIME_SECS: i64 = 7 * ACCESS_TOKEN_LIFETIME_SECS;

/// Shortest HS256 secret accepted: RFC 7518 §3.2 asks for a key at least as long as the
/// hash output (256 bits).
pub const JWT_SECRET_BYTES_MIN: usize = 32;

/// Which of the pair a token is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TokenType {
    Access,
    Refresh,
}

/// The claims of a KalamDB token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    pub sub: String,
    pub iss: String,
    pub exp: i64,
    pub iat: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_type: Option<TokenType>,
}

/// Why a token was not accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JwtError {
    Expired,
    Invalid,
}

/// The signing and checking key.
#[derive(Clone)]
pub struct JwtKeys {
    encoding: EncodingKey,
    decoding: DecodingKey,
}

impl std::fmt::Debug for JwtKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("JwtKeys(<secret>)")
    }
}

impl JwtKeys {
    /// Keys from a shared secret; `None` when it is shorter than [`JWT_SECRET_BYTES_MIN`].
    pub fn new(secret: &[u8]) -> Option<JwtKeys> {
        (secret.len() >= JWT_SECRET_BYTES_MIN).then(|| JwtKeys {
            encoding: EncodingKey::from_secret(secret),
            decoding: DecodingKey::from_secret(secret),
        })
    }

    /// A fresh random secret (when none is configured, tokens last as long as the process).
    pub fn random() -> JwtKeys {
        let secret: [u8; 32] = rand::random();
        JwtKeys::new(&secret).expect("32 random bytes meet the minimum")
    }

    /// Issues a token for `sub` with `role`, valid `lifetime_secs` from `now_secs`.
    pub fn issue(
        &self,
        sub: &str,
        role: &str,
        token_type: TokenType,
        now_secs: i64,
        lifetime_secs: i64,
    ) -> (String, Claims) {
        let claims = Claims {
            sub: sub.to_string(),
            iss: JWT_ISSUER.to_string(),
            exp: now_secs + lifetime_secs,
            iat: now_secs,
            email: None,
            role: Some(role.to_string()),
            token_type: Some(token_type),
        };
        let token = encode(&Header::new(Algorithm::HS256), &claims, &self.encoding)
            .expect("HS256 signing of serializable claims cannot fail");
        (token, claims)
    }

    /// Checks signature, algorithm, issuer and expiry.
    pub fn verify(&self, token: &str) -> Result<Claims, JwtError> {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.set_issuer(&[JWT_ISSUER]);
        validation.leeway = 0;
        decode::<Claims>(token, &self.decoding, &validation)
            .map(|data| data.claims)
            .map_err(|e| match e.kind() {
                jsonwebtoken::errors::ErrorKind::ExpiredSignature => JwtError::Expired,
                _ => JwtError::Invalid,
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> i64 {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .expect("after 1970")
            .as_secs() as i64
    }

    #[test]
    fn issues_and_verifies_and_refuses_tampering() {
        let keys = JwtKeys::random();
        let (token, claims) = keys.issue("u_admin", "dba", TokenType::Access, now(), 60);
        assert_eq!(keys.verify(&token), Ok(claims));
        assert_eq!(JwtKeys::random().verify(&token), Err(JwtError::Invalid));
        let (old, _) = keys.issue("u_admin", "dba", TokenType::Access, now() - 120, 60);
        assert_eq!(keys.verify(&old), Err(JwtError::Expired));
        assert_eq!(keys.verify("not.a.jwt"), Err(JwtError::Invalid));
        assert!(JwtKeys::new(b"short").is_none());
    }
}
