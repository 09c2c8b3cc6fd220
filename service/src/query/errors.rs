//! DataFusion errors as [`Error`]s: what the caller did wrong is a 4xx with the
//! engine's message, a refused statement 403, a query over its memory 422, the rest 500.

use crate::{Error, ErrorKind};
use datafusion::error::DataFusionError;

/// Prefixes of the errors `SQLOptions` gives for statements a read-only session refuses.
const REFUSALS: [&str; 3] = [
    "DDL not supported",
    "DML not supported",
    "Statement not supported",
];

/// The API error for a failed query.
pub fn query_error(e: DataFusionError) -> Error {
    let root = e.find_root();
    match root {
        DataFusionError::ResourcesExhausted(m) => Error::new(
            ErrorKind::OverLimit,
            format!(
                "the query needs more memory than the query memory limit allows ({m}): \
                 narrow the time range or the selectors, or aggregate more"
            ),
        ),
        DataFusionError::Plan(m) if REFUSALS.iter().any(|p| m.starts_with(p)) => Error::new(
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
        | DataFusionError::ArrowError(..) => Error::invalid(root.to_string()),
        _ => Error::internal(&e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_map_to_statuses() {
        let cases = [
            (
                DataFusionError::ResourcesExhausted("x".into()),
                ErrorKind::OverLimit,
            ),
            (
                DataFusionError::Plan("DDL not supported: CreateMemoryTable".into()),
                ErrorKind::Forbidden,
            ),
            (
                DataFusionError::Plan("table 'x' not found".into()),
                ErrorKind::Invalid,
            ),
            (
                DataFusionError::Context(
                    "while planning".into(),
                    Box::new(DataFusionError::ResourcesExhausted("y".into())),
                ),
                ErrorKind::OverLimit,
            ),
            (
                DataFusionError::Internal("secret".into()),
                ErrorKind::Internal,
            ),
        ];
        for (e, status) in cases {
            let api = query_error(e);
            assert_eq!(api.kind, status, "{api}");
            assert!(!api.message.contains("secret"));
        }
    }
}
