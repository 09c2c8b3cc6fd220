//! Bearer-token authentication and tenants (`X-Scope-OrgID`).

use super::AppState;
use super::error::{ApiError, ErrorKind};
use axum::extract::{FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::middleware::Next;
use axum::response::Response;
use subtle::ConstantTimeEq;

/// The header naming the tenant (as in Pyroscope, Loki, Mimir).
pub const TENANT_HEADER: &str = "X-Scope-OrgID";

/// The tenant of requests without [`TENANT_HEADER`].
pub const DEFAULT_TENANT: &str = "default";

/// Longest tenant name accepted.
pub const MAX_TENANT_LEN: usize = 128;

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

    /// Checks the `Authorization: Bearer TOKEN` header of a request.
    pub fn check(&self, headers: &axum::http::HeaderMap) -> Result<(), ApiError> {
        if !self.enabled() {
            return Ok(());
        }
        let Some(value) = headers.get(axum::http::header::AUTHORIZATION) else {
            return Err(ApiError::new(
                ErrorKind::Unauthorized,
                "missing bearer token: send `Authorization: Bearer TOKEN`",
            ));
        };
        let token = value
            .to_str()
            .ok()
            .and_then(|v| {
                v.strip_prefix("Bearer ")
                    .or_else(|| v.strip_prefix("bearer "))
            })
            .map(str::trim);
        match token {
            Some(t) if self.accepts(t.as_bytes()) => Ok(()),
            _ => Err(ApiError::new(
                ErrorKind::Unauthorized,
                "invalid bearer token",
            )),
        }
    }
}

/// Middleware: refuses requests without a valid token (when tokens are configured).
pub async fn require_token(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Result<Response, ApiError> {
    state.auth.check(request.headers())?;
    Ok(next.run(request).await)
}

/// The tenant of a request, validated: 1 to [`MAX_TENANT_LEN`] characters from
/// `[A-Za-z0-9_.-]`, not `.` or `..`; [`DEFAULT_TENANT`] when the header is absent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tenant(pub String);

impl Tenant {
    /// Validates a tenant name.
    pub fn parse(name: &str) -> Result<Tenant, ApiError> {
        let ok_chars = name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'));
        if name.is_empty()
            || name.len() > MAX_TENANT_LEN
            || !ok_chars
            || name == "."
            || name == ".."
        {
            return Err(ApiError::bad_request(format!(
                "bad tenant in {TENANT_HEADER}: use 1 to {MAX_TENANT_LEN} characters from A-Z a-z 0-9 _ . -"
            )));
        }
        Ok(Tenant(name.to_string()))
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Tenant {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        match parts.headers.get(TENANT_HEADER) {
            None => Ok(Tenant(DEFAULT_TENANT.to_string())),
            Some(v) => Tenant::parse(
                v.to_str()
                    .map_err(|_| ApiError::bad_request(format!("{TENANT_HEADER} is not ASCII")))?,
            ),
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
        let mut h = axum::http::HeaderMap::new();
        assert_eq!(auth.check(&h).unwrap_err().kind, ErrorKind::Unauthorized);
        h.insert("authorization", "Bearer other".parse().unwrap());
        assert!(auth.check(&h).is_ok());
        h.insert("authorization", "Bearer nope".parse().unwrap());
        assert!(auth.check(&h).is_err());
        assert!(Auth::new([]).check(&axum::http::HeaderMap::new()).is_ok());
    }

    #[test]
    fn tenant_names_are_validated() {
        for good in ["acme", "team-1", "a.b_c", "X"] {
            assert!(Tenant::parse(good).is_ok(), "{good}");
        }
        let long = "a".repeat(MAX_TENANT_LEN + 1);
        for bad in ["", ".", "..", "a/b", "a b", "é", long.as_str()] {
            assert!(Tenant::parse(bad).is_err(), "{bad}");
        }
    }
}
