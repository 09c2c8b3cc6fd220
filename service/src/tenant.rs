//! Tenants and the tokens that may act for them. Every front door turns its own header or
//! field into a [`Tenant`] through [`Tenant::parse`] and checks its credential with
//! [`Auth::accepts`], so the rules are the same at every door.

use crate::{Error, ErrorKind, Result};
use subtle::ConstantTimeEq;

/// The tenant of requests that name none.
pub const DEFAULT_TENANT: &str = "default";

/// Longest tenant name accepted.
pub const MAX_TENANT_LEN: usize = 128;

/// A validated tenant name: 1 to [`MAX_TENANT_LEN`] characters from `[A-Za-z0-9_.-]`,
/// not `.` or `..`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tenant(pub String);

impl Tenant {
    /// Validates a tenant name; `what` names where it came from in the error (such as
    /// the header `X-Scope-OrgID`).
    pub fn parse(name: &str, what: &str) -> Result<Tenant> {
        let ok_chars = name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'));
        if name.is_empty()
            || name.len() > MAX_TENANT_LEN
            || !ok_chars
            || name == "."
            || name == ".."
        {
            return Err(Error::invalid(format!(
                "bad tenant in {what}: use 1 to {MAX_TENANT_LEN} characters from A-Z a-z 0-9 _ . -"
            )));
        }
        Ok(Tenant(name.to_string()))
    }

    /// The default tenant.
    pub fn default_tenant() -> Tenant {
        Tenant(DEFAULT_TENANT.to_string())
    }
}

/// The accepted bearer tokens; empty means authentication is off.
#[derive(Debug, Clone, Default)]
pub struct Auth {
    tokens: Vec<Vec<u8>>,
}

impl Auth {
    /// Accepts any of `tokens` (empty strings are ignored); no tokens disables auth.
    pub fn new(tokens: impl IntoIterator<Item = String>) -> Self {
        Auth {
            tokens: tokens
                .into_iter()
                .map(|t| t.trim().as_bytes().to_vec())
                .filter(|t| !t.is_empty())
                .collect(),
        }
    }

    /// Whether requests must carry a token.
    pub fn enabled(&self) -> bool {
        !self.tokens.is_empty()
    }

    /// Whether `presented` is one of the tokens. Every token is compared (in constant
    /// time for equal lengths), so the time taken does not say which one matched or how
    /// much of it.
    pub fn accepts(&self, presented: &[u8]) -> bool {
        let mut ok = subtle::Choice::from(0);
        for t in &self.tokens {
            ok |= t.as_slice().ct_eq(presented);
        }
        ok.into()
    }

    /// Checks a presented token (`None`: none was sent).
    pub fn check(&self, presented: Option<&str>) -> Result<()> {
        if !self.enabled() {
            return Ok(());
        }
        match presented {
            None => Err(Error::new(
                ErrorKind::Unauthenticated,
                "missing bearer token: send `Authorization: Bearer TOKEN`",
            )),
            Some(t) if self.accepts(t.trim().as_bytes()) => Ok(()),
            Some(_) => Err(Error::new(
                ErrorKind::Unauthenticated,
                "invalid bearer token",
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_checked() {
        let auth = Auth::new(["secret".to_string(), "other".to_string(), String::new()]);
        assert!(auth.enabled());
        assert!(auth.accepts(b"secret") && auth.accepts(b"other"));
        assert!(!auth.accepts(b"secre") && !auth.accepts(b"") && !auth.accepts(b"secrets"));
        assert!(auth.check(None).is_err());
        assert!(auth.check(Some("other")).is_ok());
        assert!(auth.check(Some("nope")).is_err());
        assert!(Auth::new([]).check(None).is_ok());
    }

    #[test]
    fn tenant_names_are_validated() {
        for good in ["acme", "team-1", "a.b_c", "X"] {
            assert!(Tenant::parse(good, "h").is_ok(), "{good}");
        }
        let long = "a".repeat(MAX_TENANT_LEN + 1);
        for bad in ["", ".", "..", "a/b", "a b", "é", long.as_str()] {
            assert!(Tenant::parse(bad, "h").is_err(), "{bad}");
        }
    }
}
