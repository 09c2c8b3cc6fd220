//! A small store with hand-made profiles whose query answers are computed by hand.
#![allow(dead_code)]

use bytes::Bytes;
use flamedb_query::{FlameContext, QueryConfig};
use flamedb_storage::{DataDir, StoreConfig, WalRecord};
use std::sync::Arc;

/// 2026-01-01T00:00:00Z in ns.
pub const T0: i64 = 1_767_225_600 * 1_000_000_000;
/// One minute in ns.
pub const MIN: i64 = 60 * 1_000_000_000;

/// (tenant, app, version, dc, pod, time, folded text)
pub type Profile = (
    &'static str,
    &'static str,
    &'static str,
    &'static str,
    &'static str,
    i64,
    &'static str,
);

/// The profiles of the SQL tests (query/tests/slt/*.slt compute their answers from these).
pub const PROFILES: &[Profile] = &[
    (
        "t1",
        "api",
        "v1",
        "eu",
        "p1",
        T0,
        "main;a;b 10\nmain;a;c 5\nmain;d 3\n",
    ),
    (
        "t1",
        "api",
        "v2",
        "eu",
        "p1",
        T0 + MIN,
        "main;a;b 4\nmain;a;c 20\nmain;d;a 6\n",
    ),
    ("t1", "api", "v1", "us", "p2", T0 + 2 * MIN, "main;a;b 1\n"),
    (
        "t1",
        "web",
        "v1",
        "eu",
        "p3",
        T0 + 24 * 60 * MIN,
        "main;x;x;y 7\nmain;x 2\n",
    ),
    ("t2", "api", "v1", "eu", "p9", T0, "secret;frame 99\n"),
];

/// Writes `profiles` into a fresh local store (flushed to blocks) and returns a query
/// context over it.
pub async fn store_with(
    profiles: &[Profile],
) -> anyhow::Result<(tempfile::TempDir, Arc<FlameContext>)> {
    let (dir, objects, root) = objects_with(profiles).await?;
    let config = QueryConfig {
        target_partitions: 2,
        ..QueryConfig::default()
    };
    Ok((dir, FlameContext::new(objects, root, config)))
}

/// Writes `profiles` into a fresh local store (flushed to blocks) and returns its
/// objects and root.
pub async fn objects_with(
    profiles: &[Profile],
) -> anyhow::Result<(
    tempfile::TempDir,
    Arc<dyn object_store::ObjectStore>,
    object_store::path::Path,
)> {
    let dir = tempfile::tempdir()?;
    let (store, _) = DataDir(dir.path())
        .open_local(StoreConfig::default())
        .await?;
    for (tenant, app, version, dc, pod, time, text) in profiles {
        let labels = [("app", app), ("version", version), ("dc", dc), ("pod", pod)]
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        store
            .append(WalRecord {
                tenant: tenant.to_string(),
                labels,
                format: None,
                time_nanos: *time,
                perf_event: String::new(),
                data: Bytes::from_static(text.as_bytes()),
            })
            .await?;
    }
    store.flush_due(true).await?;
    let (objects, root) = store.objects();
    let (objects, root) = (objects.clone(), root.clone());
    store.close().await?;
    Ok((dir, objects, root))
}
