//! DataFusion errors as [`ApiError`]s: what the caller did wrong is a 4xx with the
//! engine's message, a refused statement 403, a query over its memory 422, the rest 500.

use crate::http::error::{ApiError, ErrorKind};
use datafusion::error::DataFusionError;

/// Prefixes of the errors `SQLOptions` gives for statements a read-only session refuses.
const REFUSALS: [&str; 3] = [
    "DDL not supported",
    "DML not supported",
    "Statement not supported",
];

/// The API error for a failed query.
pub fn query_error(e: DataFusionError) -> ApiError {
    let root = e.find_root();
    match root {
        DataFusionError::ResourcesExhausted(m) => ApiError::new(
            ErrorKind::Unprocessable,
            format!(
                "the query needs more memory than the query memory limit allows ({m}): \
                 narrow the time range or the selectors, or aggregate more"
            ),
        ),
        DataFusionError::Plan(m) if REFUSALS.iter().any(|p| m.starts_with(p)) => ApiError::new(
            ErrorKind::Forbidden,
            format!(
                "read-only SQL: {m}. Only queries (SELECT, WITH, EXPLAIN, SHOW, DESCRIBE) \
                 are allowed; pass settings as JSON {{\"sql\": ..., \"settings\": {{...}}}}"
            ),
        ),
        DataFusionError::SQL(..)
        | DataFusionError::Plan(_)
        | DataFusionError::SchemaError(..)
        | DataFusionError::NotImplemented(_)
        | DataFusionError::Execution(_)
        | DataFusionError::Configuration(_)
        | DataFusionError::ArrowError(..) => ApiError::bad_request(root.to_string()),
        _ => ApiError::internal(&e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::StatusCode;

    #[test]
    fn kinds_map_to_statuses() {
        let cases = [
            (
                DataFusionError::ResourcesExhausted("x".into()),
                StatusCode::UNPROCESSABLE_ENTITY,
            ),
            (
                DataFusionError::Plan("DDL not supported: CreateMemoryTable".into()),
                StatusCode::FORBIDDEN,
            ),
            (
                DataFusionError::Plan("table 'x' not found".into()),
                StatusCode::BAD_REQUEST,
            ),
            (
                DataFusionError::Context(
                    "while planning".into(),
                    Box::new(DataFusionError::ResourcesExhausted("y".into())),
                ),
                StatusCode::UNPROCESSABLE_ENTITY,
            ),
            (
                DataFusionError::Internal("secret".into()),
                StatusCode::INTERNAL_SERVER_ERROR,
            ),
        ];
        for (e, status) in cases {
            let api = query_error(e);
            assert_eq!(api.status(), status, "{api}");
            assert!(!api.message.contains("secret"));
        }
    }
}
