//! The one HTTP error type: every handler returns [`ApiError`], which maps its kind to a
//! status and a JSON body `{"error": "..."}`. 4xx messages tell the client what to fix;
//! 5xx messages never carry internals (those are logged).

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use flamedb_storage::Error as StoreError;

/// What kind of failure, which decides the HTTP status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// 400: the request is malformed (bad format, bad label, missing app, ...).
    BadRequest,
    /// 401: missing or wrong bearer token.
    Unauthorized,
    /// 403: the request is understood but not allowed (SQL that writes, a setting that
    /// may not be changed).
    Forbidden,
    /// 404: no such resource.
    NotFound,
    /// 413: the body (compressed or decompressed) or the profile is over a limit.
    TooLarge,
    /// 422: the query is valid but over a query limit (memory, result size).
    Unprocessable,
    /// 429: the tenant is over its rate limit, or the server is handling
    /// `--max-concurrent-ingests` ingest requests already (answered with `Retry-After`).
    RateLimited,
    /// 500: a bug or an unexpected failure (details in the log only).
    Internal,
    /// 503: the store is closing, the request or query timed out, or too many queries
    /// are running.
    Unavailable,
}

impl ErrorKind {
    /// The HTTP status of this kind.
    pub fn status(self) -> StatusCode {
        match self {
            ErrorKind::BadRequest => StatusCode::BAD_REQUEST,
            ErrorKind::Unauthorized => StatusCode::UNAUTHORIZED,
            ErrorKind::Forbidden => StatusCode::FORBIDDEN,
            ErrorKind::NotFound => StatusCode::NOT_FOUND,
            ErrorKind::TooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            ErrorKind::Unprocessable => StatusCode::UNPROCESSABLE_ENTITY,
            ErrorKind::RateLimited => StatusCode::TOO_MANY_REQUESTS,
            ErrorKind::Internal => StatusCode::INTERNAL_SERVER_ERROR,
            ErrorKind::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
        }
    }

    /// The Connect protocol's error code for this kind
    /// (<https://connectrpc.com/docs/protocol#error-codes>).
    pub fn connect_code(self) -> &'static str {
        match self {
            ErrorKind::BadRequest => "invalid_argument",
            ErrorKind::Unauthorized => "unauthenticated",
            ErrorKind::Forbidden => "permission_denied",
            ErrorKind::NotFound => "not_found",
            ErrorKind::TooLarge | ErrorKind::RateLimited | ErrorKind::Unprocessable => {
                "resource_exhausted"
            }
            ErrorKind::Internal => "internal",
            ErrorKind::Unavailable => "unavailable",
        }
    }
}

/// An error answered to an HTTP client.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{message}")]
pub struct ApiError {
    /// The kind (and so the status).
    pub kind: ErrorKind,
    /// What the client is told.
    pub message: String,
}

impl ApiError {
    /// An error of `kind` with `message` shown to the client.
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        ApiError {
            kind,
            message: message.into(),
        }
    }

    /// 400 with `message`.
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::BadRequest, message)
    }

    /// 413 with `message`.
    pub fn too_large(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::TooLarge, message)
    }

    /// 500: logs `detail` and tells the client only that something failed.
    pub fn internal(detail: impl std::fmt::Display) -> Self {
        tracing::error!(error = %detail, "internal error");
        Self::new(ErrorKind::Internal, "internal error (see the server log)")
    }

    /// 503: logs `detail` and tells the client to retry.
    pub fn unavailable(detail: impl std::fmt::Display) -> Self {
        tracing::warn!(error = %detail, "service unavailable");
        Self::new(
            ErrorKind::Unavailable,
            "the store is unavailable (shutting down or overloaded); retry later",
        )
    }

    /// The HTTP status.
    pub fn status(&self) -> StatusCode {
        self.kind.status()
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        use flamedb_profile::Error as Decode;
        match e {
            StoreError::Invalid(m) => ApiError::bad_request(m),
            StoreError::Decode(
                d @ (Decode::DecompressedTooLarge { .. } | Decode::Limit { .. }),
            ) => ApiError::too_large(d.to_string()),
            StoreError::Decode(d) => {
                ApiError::bad_request(format!("cannot decode the profile: {d}"))
            }
            StoreError::Closed(m) => ApiError::unavailable(m),
            other => ApiError::internal(other),
        }
    }
}

impl From<flamedb_profile::Error> for ApiError {
    fn from(e: flamedb_profile::Error) -> Self {
        StoreError::Decode(e).into()
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = Json(serde_json::json!({ "error": self.message }));
        let mut response = (self.status(), body).into_response();
        if matches!(self.kind, ErrorKind::RateLimited) {
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
                StoreError::Decode(flamedb_profile::Error::Folded {
                    line: 3,
                    message: "x".into(),
                }),
                StatusCode::BAD_REQUEST,
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

    #[test]
    fn folded_line_is_in_the_message() {
        let e = ApiError::from(flamedb_profile::Error::Folded {
            line: 7,
            message: "no count".into(),
        });
        assert!(e.message.contains("line 7"), "{e}");
    }
}
