//! The service's error as an HTTP answer: [`ApiError`] wraps [`flamedb_service::Error`],
//! maps its kind to a status and a JSON body `{"error": "..."}` ([`status`]), and to a
//! Connect code for the Connect routes ([`connect_code`]). 4xx messages tell the client
//! what to fix; 5xx messages never carry internals (the service logged those).

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use flamedb_service::Error as ServiceError;
pub use flamedb_service::ErrorKind;

/// The HTTP status of a kind.
pub fn status(kind: ErrorKind) -> StatusCode {
    match kind {
        ErrorKind::Invalid => StatusCode::BAD_REQUEST,
        ErrorKind::Unauthenticated => StatusCode::UNAUTHORIZED,
        ErrorKind::Forbidden => StatusCode::FORBIDDEN,
        ErrorKind::NotFound => StatusCode::NOT_FOUND,
        ErrorKind::TooLarge => StatusCode::PAYLOAD_TOO_LARGE,
        ErrorKind::OverLimit => StatusCode::UNPROCESSABLE_ENTITY,
        ErrorKind::RateLimited => StatusCode::TOO_MANY_REQUESTS,
        ErrorKind::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        ErrorKind::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
    }
}

/// The Connect protocol's error code of a kind
/// (<https://connectrpc.com/docs/protocol#error-codes>).
pub fn connect_code(kind: ErrorKind) -> &'static str {
    match kind {
        ErrorKind::Invalid => "invalid_argument",
        ErrorKind::Unauthenticated => "unauthenticated",
        ErrorKind::Forbidden => "permission_denied",
        ErrorKind::NotFound => "not_found",
        ErrorKind::TooLarge | ErrorKind::RateLimited | ErrorKind::OverLimit => "resource_exhausted",
        ErrorKind::Internal => "internal",
        ErrorKind::Unavailable => "unavailable",
    }
}

/// The gRPC status code of a kind (<https://grpc.io/docs/guides/status-codes/>), the
/// same mapping as [`connect_code`].
pub fn grpc_code(kind: ErrorKind) -> u16 {
    match kind {
        ErrorKind::Invalid => 3,
        ErrorKind::Unauthenticated => 16,
        ErrorKind::Forbidden => 7,
        ErrorKind::NotFound => 5,
        ErrorKind::TooLarge | ErrorKind::RateLimited | ErrorKind::OverLimit => 8,
        ErrorKind::Internal => 13,
        ErrorKind::Unavailable => 14,
    }
}

/// An error answered to an HTTP client.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{0}")]
pub struct ApiError(pub ServiceError);

impl std::ops::Deref for ApiError {
    type Target = ServiceError;
    fn deref(&self) -> &ServiceError {
        &self.0
    }
}

impl std::ops::DerefMut for ApiError {
    fn deref_mut(&mut self) -> &mut ServiceError {
        &mut self.0
    }
}

impl From<ServiceError> for ApiError {
    fn from(e: ServiceError) -> Self {
        ApiError(e)
    }
}

impl From<flamedb_storage::Error> for ApiError {
    fn from(e: flamedb_storage::Error) -> Self {
        ApiError(e.into())
    }
}

impl From<flamedb_profile::Error> for ApiError {
    fn from(e: flamedb_profile::Error) -> Self {
        ApiError(e.into())
    }
}

impl ApiError {
    /// An error of `kind` with `message` shown to the client.
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        ApiError(ServiceError::new(kind, message))
    }

    /// 400 with `message`.
    pub fn bad_request(message: impl Into<String>) -> Self {
        ApiError(ServiceError::invalid(message))
    }

    /// 413 with `message`.
    pub fn too_large(message: impl Into<String>) -> Self {
        ApiError(ServiceError::too_large(message))
    }

    /// 500: logs `detail` and tells the client only that something failed.
    pub fn internal(detail: impl std::fmt::Display) -> Self {
        ApiError(ServiceError::internal(detail))
    }

    /// The HTTP status.
    pub fn status(&self) -> StatusCode {
        status(self.0.kind)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = Json(serde_json::json!({ "error": self.0.message }));
        let mut response = (self.status(), body).into_response();
        if matches!(self.0.kind, ErrorKind::RateLimited) {
            // Buckets refill and ingest slots free up within about a second.
            response.headers_mut().insert(
                axum::http::header::RETRY_AFTER,
                axum::http::HeaderValue::from_static("1"),
            );
        }
        // Kept so that a layer can render the error in another protocol (Connect).
        response.extensions_mut().insert(self);
        response
    }
}

/// Result of a handler.
pub type ApiResult<T> = Result<T, ApiError>;

#[cfg(test)]
mod tests {
    use super::*;
    use flamedb_storage::Error as StoreError;

    #[test]
    fn store_errors_map_to_statuses() {
        let cases: Vec<(StoreError, StatusCode)> = vec![
            (
                StoreError::Invalid("no app".into()),
                StatusCode::BAD_REQUEST,
            ),
            (
                StoreError::Decode(flamedb_profile::Error::DecompressedTooLarge { limit: 1 }),
                StatusCode::PAYLOAD_TOO_LARGE,
            ),
            (
                StoreError::Closed("x".into()),
                StatusCode::SERVICE_UNAVAILABLE,
            ),
            (
                StoreError::corrupt("secret/path", "boom"),
                StatusCode::INTERNAL_SERVER_ERROR,
            ),
        ];
        for (e, status) in cases {
            let api = ApiError::from(e);
            assert_eq!(api.status(), status, "{api}");
            if status.is_server_error() {
                assert!(!api.message.contains("secret"), "5xx hides internals");
            }
        }
    }
}
