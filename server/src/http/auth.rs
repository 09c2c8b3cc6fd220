//! Bearer tokens and tenants over HTTP: the `Authorization: Bearer` header checked by the
//! service's [`Auth`], the tenant read from `X-Scope-OrgID` into the service's [`Tenant`].

use super::AppState;
use super::error::ApiError;
use axum::extract::{FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::middleware::Next;
use axum::response::Response;
pub use flamedb_service::tenant::{Auth, DEFAULT_TENANT};

/// The header naming the tenant (as in Pyroscope, Loki, Mimir).
pub const TENANT_HEADER: &str = "X-Scope-OrgID";

/// The bearer token of a request's `Authorization` header (`None`: no header; an empty
/// string when the header is not a bearer token, which no token equals).
pub fn bearer(headers: &axum::http::HeaderMap) -> Option<&str> {
    let value = headers.get(axum::http::header::AUTHORIZATION)?;
    Some(
        value
            .to_str()
            .ok()
            .and_then(|v| {
                v.strip_prefix("Bearer ")
                    .or_else(|| v.strip_prefix("bearer "))
            })
            .unwrap_or(""),
    )
}

/// Middleware: refuses requests without a valid token (when tokens are configured).
pub async fn require_token(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Result<Response, ApiError> {
    state.auth.check(bearer(request.headers()))?;
    Ok(next.run(request).await)
}

/// The tenant of a request: [`TENANT_HEADER`] validated by the service's
/// [`flamedb_service::Tenant::parse`], [`DEFAULT_TENANT`] when the header is absent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tenant(pub String);

impl Tenant {
    /// The service's tenant.
    pub fn service(&self) -> flamedb_service::Tenant {
        flamedb_service::Tenant(self.0.clone())
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Tenant {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        match parts.headers.get(TENANT_HEADER) {
            None => Ok(Tenant(DEFAULT_TENANT.to_string())),
            Some(v) => {
                let name = v
                    .to_str()
                    .map_err(|_| ApiError::bad_request(format!("{TENANT_HEADER} is not ASCII")))?;
                Ok(Tenant(
                    flamedb_service::Tenant::parse(name, TENANT_HEADER)?.0,
                ))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bearer_tokens_are_read_from_the_header() {
        let mut h = axum::http::HeaderMap::new();
        assert_eq!(bearer(&h), None);
        h.insert("authorization", "Bearer other".parse().unwrap());
        assert_eq!(bearer(&h), Some("other"));
        h.insert("authorization", "Basic x".parse().unwrap());
        assert_eq!(bearer(&h), Some(""));
        let auth = Auth::new(["other".to_string()]);
        assert!(auth.check(bearer(&h)).is_err());
    }
}
