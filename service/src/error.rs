//! The one error of the service: a [`ErrorKind`] that every front door maps to its own
//! status (HTTP status, Connect code, gRPC status, SQLSTATE), and a message for the
//! caller. Messages of caller mistakes say what to fix; internal failures are logged and
//! answered without internals.

use flamedb_storage::Error as StoreError;

/// What kind of failure. Protocols map it: HTTP in `server/src/http/error.rs`, Connect
/// codes beside it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// The request is malformed (bad format, bad label, missing app, bad SQL, ...).
    Invalid,
    /// Missing or wrong credentials.
    Unauthenticated,
    /// Understood but not allowed (SQL that writes, a setting that may not be changed).
    Forbidden,
    /// No such resource.
    NotFound,
    /// A body (compressed or decompressed) or a profile is over a limit.
    TooLarge,
    /// The query is valid but over a query limit (memory, result size).
    OverLimit,
    /// Over the tenant's rate, or the server is handling as many ingest requests as it
    /// takes at once (retry in about a second).
    RateLimited,
    /// A bug or an unexpected failure (details in the log only).
    Internal,
    /// The store is closing, the request or query timed out, or too many queries run.
    Unavailable,
}

/// An error answered to a caller.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{message}")]
pub struct Error {
    /// The kind (and so the protocol's status).
    pub kind: ErrorKind,
    /// What the caller is told.
    pub message: String,
}

/// Result with the service's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// An error of `kind` with `message` shown to the caller.
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Error {
            kind,
            message: message.into(),
        }
    }

    /// [`ErrorKind::Invalid`] with `message`.
    pub fn invalid(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Invalid, message)
    }

    /// [`ErrorKind::TooLarge`] with `message`.
    pub fn too_large(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::TooLarge, message)
    }

    /// [`ErrorKind::Internal`]: logs `detail` and tells the caller only that something
    /// failed.
    pub fn internal(detail: impl std::fmt::Display) -> Self {
        tracing::error!(error = %detail, "internal error");
        Self::new(ErrorKind::Internal, "internal error (see the server log)")
    }

    /// [`ErrorKind::Unavailable`]: logs `detail` and tells the caller to retry.
    pub fn unavailable(detail: impl std::fmt::Display) -> Self {
        tracing::warn!(error = %detail, "service unavailable");
        Self::new(
            ErrorKind::Unavailable,
            "the store is unavailable (shutting down or overloaded); retry later",
        )
    }
}

impl From<StoreError> for Error {
    fn from(e: StoreError) -> Self {
        use flamedb_profile::Error as Decode;
        match e {
            StoreError::Invalid(m) => Error::invalid(m),
            StoreError::Decode(
                d @ (Decode::DecompressedTooLarge { .. } | Decode::Limit { .. }),
            ) => Error::too_large(d.to_string()),
            StoreError::Decode(d) => Error::invalid(format!("cannot decode the profile: {d}")),
            StoreError::Closed(m) => Error::unavailable(m),
            other => Error::internal(other),
        }
    }
}

impl From<flamedb_profile::Error> for Error {
    fn from(e: flamedb_profile::Error) -> Self {
        StoreError::Decode(e).into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn store_errors_map_to_kinds() {
        let cases: Vec<(StoreError, ErrorKind)> = vec![
            (StoreError::Invalid("no app".into()), ErrorKind::Invalid),
            (
                StoreError::Decode(flamedb_profile::Error::DecompressedTooLarge { limit: 1 }),
                ErrorKind::TooLarge,
            ),
            (
                StoreError::Decode(flamedb_profile::Error::Folded {
                    line: 3,
                    message: "x".into(),
                }),
                ErrorKind::Invalid,
            ),
            (StoreError::Closed("x".into()), ErrorKind::Unavailable),
            (
                StoreError::corrupt("secret/path", "boom"),
                ErrorKind::Internal,
            ),
        ];
        for (e, kind) in cases {
            let err = Error::from(e);
            assert_eq!(err.kind, kind, "{err}");
            if kind == ErrorKind::Internal {
                assert!(!err.message.contains("secret"), "internals are hidden");
            }
        }
    }

    #[test]
    fn folded_line_is_in_the_message() {
        let e = Error::from(flamedb_profile::Error::Folded {
            line: 7,
            message: "no count".into(),
        });
        assert!(e.message.contains("line 7"), "{e}");
    }
}
