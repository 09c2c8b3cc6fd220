//! `POST /api/v1/import?sample_type=TYPE:UNIT[&period=N][&duration_secs=S][&time_column=C]
//! [&value_column=C][&ignore_column=C]...`: bulk import of Parquet tables, as
//! `flamedb import` does ([`flamedb_storage::import`] describes the columns), uploaded as
//! `multipart/form-data`: a `stacks` part (the stacks table, when the samples name their
//! stacks by `stack_id`) and one or more `samples` parts. The body is bounded by the
//! server's body limit (`--max-body-bytes`) and its rows by the decompressed-size limit
//! (`--max-decompressed-bytes` / 16 rows); files are imported one at a time. The blocks are
//! written straight to the store, so the answer (the import's report as JSON) means they
//! are durable. A client that disconnects stops the import at its next batch or block.

use super::AppState;
use super::auth::Tenant;
use super::error::{ApiError, ApiResult};
use super::ingest::{admit, body_of};
use axum::Json;
use axum::body::Body;
use axum::extract::{RawQuery, State};
use axum::http::HeaderMap;
use bytes::Bytes;
use flamedb_storage::{
    Error as StoreError, ImportOptions, ImportReport, ImportSource, SampleType, StackTable,
};

/// The import options of a query string.
fn parse_query(query: Option<&str>) -> ApiResult<ImportOptions> {
    let pairs: Vec<(String, String)> = serde_urlencoded::from_str(query.unwrap_or(""))
        .map_err(|e| ApiError::bad_request(format!("query string: {e}")))?;
    let mut sample_type = None;
    let mut o = ImportOptions::new(SampleType {
        kind: String::new(),
        unit: String::new(),
    });
    let int = |k: &str, v: &str| -> ApiResult<i64> {
        v.parse()
            .map_err(|_| ApiError::bad_request(format!("{k}={v:?}: expected an integer")))
    };
    for (k, v) in pairs {
        match k.as_str() {
            "sample_type" => {
                sample_type = Some(SampleType::parse(&v).map_err(ApiError::bad_request)?)
            }
            "period" => o.period = int(&k, &v)?,
            "duration_secs" => {
                let secs: f64 = v
                    .parse()
                    .ok()
                    .filter(|s: &f64| s.is_finite() && *s >= 0.0)
                    .ok_or_else(|| {
                        ApiError::bad_request(format!("duration_secs={v:?}: expected seconds >= 0"))
                    })?;
                o.duration_nanos = (secs * 1e9) as i64;
            }
            "time_column" => o.time_column = v,
            "value_column" => o.value_column = v,
            "ignore_column" => o.ignore_columns.push(v),
            other => {
                return Err(ApiError::bad_request(format!(
                    "unknown query parameter {other:?}: use sample_type, period, duration_secs, \
                     time_column, value_column, ignore_column"
                )));
            }
        }
    }
    o.sample_type = sample_type.ok_or_else(|| {
        ApiError::bad_request(
            "missing sample_type: add ?sample_type=TYPE:UNIT, like cpu:nanoseconds",
        )
    })?;
    Ok(o)
}

/// The `stacks` part and the `samples` parts of a multipart body (other parts refused).
async fn read_parts(
    content_type: &str,
    body: Bytes,
) -> ApiResult<(Option<ImportSource>, Vec<ImportSource>)> {
    let mut form = super::multipart_form(
        content_type,
        body,
        "expected multipart/form-data with `stacks` and `samples` parts",
    )?;
    let bad = |e: multer::Error| ApiError::bad_request(format!("multipart body: {e}"));
    let (mut stacks, mut samples) = (None, Vec::new());
    while let Some(field) = form.next_field().await.map_err(bad)? {
        let part = field.name().unwrap_or("").to_string();
        let file = field.file_name().map(str::to_string);
        let data = field.bytes().await.map_err(bad)?;
        let name = match &file {
            Some(f) => format!("part `{part}` ({f})"),
            None => format!("part `{part}`"),
        };
        match part.as_str() {
            "stacks" if stacks.is_none() => stacks = Some(ImportSource::Bytes { name, data }),
            "stacks" => return Err(ApiError::bad_request("more than one `stacks` part")),
            "samples" => samples.push(ImportSource::Bytes { name, data }),
            other => {
                return Err(ApiError::bad_request(format!(
                    "unknown multipart part {other:?}: use `stacks` (one) and `samples`"
                )));
            }
        }
    }
    if samples.is_empty() {
        return Err(ApiError::bad_request("no `samples` part"));
    }
    Ok((stacks, samples))
}

/// A storage error of an upload as the client's fault where it is: an unreadable Parquet
/// part is a bad request, not a server error.
fn import_error(e: StoreError) -> ApiError {
    match e {
        e @ StoreError::Parquet { .. } => ApiError::bad_request(e.to_string()),
        other => other.into(),
    }
}

/// `POST /api/v1/import`.
pub async fn api_import(
    State(state): State<AppState>,
    tenant: Tenant,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Body,
) -> ApiResult<Json<ImportReport>> {
    let _slot = admit(&state, &tenant)?;
    let mut opts = parse_query(query.as_deref())?;
    // A small Parquet body can hold many rows: the work of one request is bounded like a
    // profile's decompressed size (16 bytes per row, a time and a value), one file at a
    // time.
    opts.max_input_rows = (state.limits.max_decompressed_bytes / 16).max(1);
    opts.threads = 1;
    let content_type = super::content_type(&headers).to_string();
    let (data, received) = body_of(&state, &tenant, &headers, body).await?;
    let (stacks, samples) = read_parts(&content_type, data).await?;
    let stacks = match stacks {
        Some(source) => Some(
            StackTable::load(source, &opts)
                .await
                .map_err(import_error)?,
        ),
        None => None,
    };
    let report = flamedb_storage::import::import(
        state.store.import_target(),
        &tenant.0,
        samples,
        stacks,
        opts,
    )
    .await
    .map_err(import_error)?;
    state
        .metrics
        .ingested("/api/v1/import", received, report.profiles, report.rows);
    Ok(Json(report))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_query_is_checked() {
        let o = parse_query(Some(
            "sample_type=alloc_space:bytes&period=512&duration_secs=10&ignore_column=x&ignore_column=y",
        ))
        .unwrap();
        assert_eq!(o.sample_type.name(), "alloc_space/bytes");
        assert_eq!((o.period, o.duration_nanos), (512, 10_000_000_000));
        assert_eq!(o.ignore_columns, ["x", "y"]);
        for (bad, says) in [
            ("", "missing sample_type"),
            ("sample_type=cpu", "expected TYPE:UNIT"),
            ("sample_type=cpu:ns&period=ten", "expected an integer"),
            ("sample_type=cpu:ns&duration_secs=-1", "expected seconds"),
            ("sample_type=cpu:ns&threads=9", "unknown query parameter"),
        ] {
            let e = parse_query(Some(bad)).unwrap_err();
            assert!(e.message.contains(says), "{bad}: {e}");
        }
    }
}
