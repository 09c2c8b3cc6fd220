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

/// What a request does with a tenant's data: read it (queries, listings) or change it
/// (ingest, events, findings' states, flush, compaction).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Queries and listings.
    Read,
    /// Anything that stores or changes data (implies [`Access::Read`]).
    Write,
}

/// The tenants a token may act for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Tenants {
    /// Every tenant (`*`).
    Any,
    /// Only these.
    Only(Vec<String>),
}

/// What a token allows: its tenants and whether it may write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Grant {
    /// The tenants it may act for.
    pub tenants: Tenants,
    /// Whether it may write (else it only reads).
    pub write: bool,
}

impl Grant {
    /// Every tenant, read and write: a token given without tenants, or no auth at all.
    pub fn unrestricted() -> Grant {
        Grant {
            tenants: Tenants::Any,
            write: true,
        }
    }

    /// The tenants it names (`None`: every tenant).
    pub fn tenants(&self) -> Option<&[String]> {
        match &self.tenants {
            Tenants::Any => None,
            Tenants::Only(t) => Some(t),
        }
    }

    /// Refuses (403, [`ErrorKind::Forbidden`]) a tenant the token was not given, or a
    /// write by a read-only token.
    pub fn authorize(&self, tenant: &Tenant, access: Access) -> Result<()> {
        if let Tenants::Only(list) = &self.tenants
            && !list.contains(&tenant.0)
        {
            return Err(Error::new(
                ErrorKind::Forbidden,
                format!("this token may not act for tenant {:?}", tenant.0),
            ));
        }
        if access == Access::Write && !self.write {
            return Err(Error::new(
                ErrorKind::Forbidden,
                "this token is read-only: it may query but not ingest or change data",
            ));
        }
        Ok(())
    }
}

/// The accepted bearer tokens and what each allows; no tokens means authentication is
/// off (every request acts with [`Grant::unrestricted`]).
#[derive(Debug, Clone, Default)]
pub struct Auth {
    tokens: Vec<(Vec<u8>, Grant)>,
}

impl Auth {
    /// Accepts any of `tokens` for every tenant, read and write (empty strings are
    /// ignored); no tokens disables auth.
    pub fn new(tokens: impl IntoIterator<Item = String>) -> Self {
        let mut auth = Auth::default();
        for t in tokens {
            auth.add(&t, Grant::unrestricted());
        }
        auth
    }

    /// Adds a token with its grant (an empty token is ignored).
    pub fn add(&mut self, token: &str, grant: Grant) {
        let token = token.trim().as_bytes().to_vec();
        if !token.is_empty() {
            self.tokens.push((token, grant));
        }
    }

    /// Adds the tokens of a token file: one per line, `TOKEN [TENANTS [ROLE]]`, where
    /// TENANTS is `*` (every tenant, the default) or a comma-separated list of tenant
    /// names, and ROLE is `write` (the default) or `read`; blank lines and lines starting
    /// with `#` are skipped. An error names the line.
    pub fn add_file(&mut self, text: &str) -> Result<()> {
        for (i, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let bad = |why: String| Error::invalid(format!("token file line {}: {why}", i + 1));
            let mut words = line.split_whitespace();
            let token = words.next().unwrap_or_default();
            let tenants = match words.next() {
                None | Some("*") => Tenants::Any,
                Some(list) => Tenants::Only(
                    list.split(',')
                        .map(|t| Tenant::parse(t, "the token file").map(|t| t.0))
                        .collect::<Result<_>>()
                        .map_err(|e| bad(e.message))?,
                ),
            };
            let write = match words.next() {
                None | Some("write") => true,
                Some("read") => false,
                Some(other) => {
                    return Err(bad(format!("role {other:?}: use `read` or `write`")));
                }
            };
            if let Some(extra) = words.next() {
                return Err(bad(format!(
                    "unexpected {extra:?}: write `TOKEN [TENANTS [ROLE]]`"
                )));
            }
            self.add(token, Grant { tenants, write });
        }
        Ok(())
    }

    /// Whether requests must carry a token.
    pub fn enabled(&self) -> bool {
        !self.tokens.is_empty()
    }

    /// The grant of `presented`, if it is one of the tokens. Every token is compared (in
    /// constant time for equal lengths), so the time taken does not say which one matched
    /// or how much of it.
    pub fn grant_of(&self, presented: &[u8]) -> Option<&Grant> {
        use subtle::ConditionallySelectable;
        let mut found = u64::MAX;
        for (i, (t, _)) in self.tokens.iter().enumerate() {
            found.conditional_assign(&(i as u64), t.as_slice().ct_eq(presented));
        }
        usize::try_from(found)
            .ok()
            .and_then(|i| self.tokens.get(i))
            .map(|(_, g)| g)
    }

    /// Whether `presented` is one of the tokens.
    pub fn accepts(&self, presented: &[u8]) -> bool {
        self.grant_of(presented).is_some()
    }

    /// Checks a presented token (`None`: none was sent) and returns what it allows:
    /// [`Grant::unrestricted`] when auth is off, 401 ([`ErrorKind::Unauthenticated`]) when
    /// the token is missing or unknown.
    pub fn check(&self, presented: Option<&str>) -> Result<Grant> {
        if !self.enabled() {
            return Ok(Grant::unrestricted());
        }
        match presented {
            None => Err(Error::new(
                ErrorKind::Unauthenticated,
                "missing bearer token: send `Authorization: Bearer TOKEN`",
            )),
            Some(t) => self
                .grant_of(t.trim().as_bytes())
                .cloned()
                .ok_or_else(|| Error::new(ErrorKind::Unauthenticated, "invalid bearer token")),
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
    fn token_files_give_tenants_and_roles() {
        let mut auth = Auth::default();
        auth.add_file("# comment\n\nall\nstar *\nab a,b\nreader a read\n")
            .unwrap();
        let (a, b, c) = (Tenant("a".into()), Tenant("b".into()), Tenant("c".into()));
        for t in ["all", "star"] {
            let g = auth.check(Some(t)).unwrap();
            assert!(g.authorize(&c, Access::Write).is_ok(), "{t}");
        }
        let ab = auth.check(Some("ab")).unwrap();
        assert!(ab.authorize(&a, Access::Write).is_ok());
        assert!(ab.authorize(&b, Access::Read).is_ok());
        let e = ab.authorize(&c, Access::Read).unwrap_err();
        assert_eq!(e.kind, ErrorKind::Forbidden);
        let reader = auth.check(Some("reader")).unwrap();
        assert!(reader.authorize(&a, Access::Read).is_ok());
        assert_eq!(
            reader.authorize(&a, Access::Write).unwrap_err().kind,
            ErrorKind::Forbidden
        );
        assert!(reader.authorize(&b, Access::Read).is_err());
        assert_eq!(
            auth.check(Some("nope")).unwrap_err().kind,
            ErrorKind::Unauthenticated
        );
        for bad in ["t a,b/c", "t a admin", "t a read extra", "t a,,b"] {
            let e = Auth::default().add_file(bad).unwrap_err();
            assert!(e.message.contains("line 1"), "{bad}: {}", e.message);
        }
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
