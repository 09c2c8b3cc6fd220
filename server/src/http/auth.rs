//! Bearer tokens and tenants over HTTP: the `Authorization: Bearer` header checked by the
//! service's [`Auth`] (which gives the token's [`Grant`]: its tenants and role), the tenant
//! read from `X-Scope-OrgID` into the service's [`Tenant`] and checked against that grant
//! with the access the request needs ([`access_of`]: reads are GET and the query RPCs,
//! everything else writes).

use super::AppState;
use super::error::ApiError;
use axum::extract::{FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::middleware::Next;
use axum::response::Response;
pub use flamedb_service::tenant::{Access, Auth, Grant};

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

/// Middleware: refuses requests without a valid token (when tokens are configured) and
/// leaves the token's [`Grant`] in the request's extensions for [`Tenant`].
pub async fn require_token(
    State(state): State<AppState>,
    mut request: Request,
    next: Next,
) -> Result<Response, ApiError> {
    let grant = state.auth.check(bearer(request.headers()))?;
    request.extensions_mut().insert(grant);
    Ok(next.run(request).await)
}

/// POST routes that only read: SQL and Pyroscope's querier RPCs. Every other POST,
/// PATCH, PUT or DELETE writes, so a route added without thought needs a writing token.
const READ_ONLY_POSTS: &[&str] = &["/api/v1/sql", "/querier.v1.QuerierService/"];

/// The access a request needs: [`Access::Read`] for GET and HEAD and the
/// [`READ_ONLY_POSTS`], [`Access::Write`] otherwise.
pub fn access_of(method: &axum::http::Method, path: &str) -> Access {
    use axum::http::Method;
    let reads = *method == Method::GET
        || *method == Method::HEAD
        || (*method == Method::POST
            && READ_ONLY_POSTS.iter().any(|p| {
                if p.ends_with('/') {
                    path.starts_with(p)
                } else {
                    path == *p
                }
            }));
    if reads { Access::Read } else { Access::Write }
}

/// The tenant of a request: [`TENANT_HEADER`] validated by the service's
/// [`flamedb_service::Tenant::parse`], [`flamedb_service::tenant::DEFAULT_TENANT`] when the header is absent (a
/// repeated header is a 400), then authorized: the request's token must have been given
/// this tenant, and a role that allows the request's [`access_of`] (403 otherwise).
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
        let mut values = parts.headers.get_all(TENANT_HEADER).iter();
        let tenant = match (values.next(), values.next()) {
            (None, _) => flamedb_service::Tenant::default_tenant(),
            (Some(_), Some(_)) => {
                return Err(ApiError::bad_request(format!(
                    "{TENANT_HEADER} is given more than once: send one tenant"
                )));
            }
            (Some(v), None) => {
                let name = v
                    .to_str()
                    .map_err(|_| ApiError::bad_request(format!("{TENANT_HEADER} is not ASCII")))?;
                flamedb_service::Tenant::parse(name, TENANT_HEADER)?
            }
        };
        // Set by `require_token` on every route that takes a tenant; missing means a
        // route was mounted outside the authenticated routes, which must not pass.
        let grant = parts.extensions.get::<Grant>().ok_or_else(|| {
            ApiError::internal("a tenant was asked for on a route without authentication")
        })?;
        grant.authorize(&tenant, access_of(&parts.method, parts.uri.path()))?;
        Ok(Tenant(tenant.0))
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

    #[test]
    fn reads_are_gets_and_query_posts() {
        use axum::http::Method;
        for (m, p) in [
            (Method::GET, "/api/v1/flamegraph"),
            (Method::GET, "/pyroscope/render"),
            (Method::POST, "/api/v1/sql"),
            (
                Method::POST,
                "/querier.v1.QuerierService/SelectMergeStacktraces",
            ),
        ] {
            assert_eq!(access_of(&m, p), Access::Read, "{m} {p}");
        }
        for (m, p) in [
            (Method::POST, "/ingest"),
            (Method::POST, "/api/v1/sql/x"),
            (Method::POST, "/api/v1/flush"),
            (Method::PATCH, "/api/v1/findings/x"),
            (Method::POST, "/push.v1.PusherService/Push"),
            (Method::DELETE, "/api/v1/events"),
        ] {
            assert_eq!(access_of(&m, p), Access::Write, "{m} {p}");
        }
    }
}
