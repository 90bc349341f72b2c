//! Who a request acts for: the one principal type every face authenticates into.

/// How the caller proved who they are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scheme {
    /// Authentication is off: nobody proved anything, everyone is this one principal.
    Anonymous,
    /// HTTP Basic against the credentials file (ksqlDB's `authentication.method=BASIC`).
    Basic,
    /// An opaque bearer token from the token file (DeltaStream, Roe, Foundry API tokens).
    Bearer,
    /// A KalamDB JWT issued by its login.
    Jwt,
}

/// An authenticated caller: a name, its roles, and how it got them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    name: String,
    roles: Vec<String>,
    scheme: Scheme,
}

/// The name every request acts under while authentication is off.
pub const ANONYMOUS_NAME: &str = "anonymous";

impl Principal {
    pub fn new(name: impl Into<String>, roles: Vec<String>, scheme: Scheme) -> Principal {
        Principal {
            name: name.into(),
            roles,
            scheme,
        }
    }

    /// The principal of every request while authentication is off.
    pub fn anonymous() -> Principal {
        Principal::new(ANONYMOUS_NAME, Vec::new(), Scheme::Anonymous)
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn roles(&self) -> &[String] {
        &self.roles
    }

    pub fn scheme(&self) -> Scheme {
        self.scheme
    }

    pub fn has_role(&self, role: &str) -> bool {
        self.roles.iter().any(|r| r == role)
    }
}
