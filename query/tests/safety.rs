//! Untrusted SQL: read-only options refuse every statement that writes or reads files, and
//! a query over the memory limit fails with a clear error instead of taking the process.

mod common;

use flamedb_query::{FlameContext, QueryConfig, read_only, tenant_session};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn read_only_sql_refuses_writes_ddl_statements_and_files() -> anyhow::Result<()> {
    let (_dir, ctx) = common::store_with(common::PROFILES).await?;
    let session = tenant_session(&ctx, "t1")?;
    let refused = [
        "CREATE EXTERNAL TABLE x STORED AS CSV LOCATION '/etc/passwd'",
        "CREATE TABLE x AS SELECT 1",
        "CREATE VIEW v AS SELECT 1",
        "DROP TABLE samples",
        "INSERT INTO samples SELECT * FROM samples",
        "COPY (SELECT 1) TO '/tmp/flamedb-copy-test.csv'",
        "SET datafusion.runtime.memory_limit = '100G'",
        "SET flame.max_nodes = 5",
    ];
    for sql in refused {
        let r = session.sql_with_options(sql, read_only()).await;
        assert!(r.is_err(), "{sql} was accepted");
    }
    // No URL tables, no file-reading table functions.
    for sql in [
        "SELECT * FROM '/etc/passwd'",
        "SELECT * FROM read_csv('/etc/passwd')",
        "SELECT * FROM read_parquet('/etc/passwd')",
    ] {
        let r = match session.sql_with_options(sql, read_only()).await {
            Ok(df) => df.collect().await.map(|_| ()),
            Err(e) => Err(e),
        };
        assert!(r.is_err(), "{sql} was accepted");
    }
    assert!(!std::path::Path::new("/tmp/flamedb-copy-test.csv").exists());
    // Reading still works.
    let n = session
        .sql_with_options("SELECT count(*) FROM samples", read_only())
        .await?
        .collect()
        .await?;
    assert_eq!(n[0].num_rows(), 1);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_query_over_the_memory_limit_fails_clearly() -> anyhow::Result<()> {
    let (dir, ctx) = common::store_with(common::PROFILES).await?;
    // The same blocks, read by a context with 1 KiB of query memory.
    let objects = object_store::local::LocalFileSystem::new_with_prefix(
        flamedb_storage::DataDir(dir.path()).blocks(),
    )?;
    let small = FlameContext::new(
        std::sync::Arc::new(objects),
        ctx.objects().1.clone(),
        QueryConfig {
            memory_limit: 1024,
            ..QueryConfig::default()
        },
    );
    let session = tenant_session(&small, "t1")?;
    let err = session
        .sql("SELECT stack, sum(value) FROM samples GROUP BY stack ORDER BY 2")
        .await?
        .collect()
        .await
        .expect_err("1 KiB of query memory is not enough");
    assert!(
        err.to_string().contains("Resources exhausted"),
        "unexpected error: {err}"
    );
    Ok(())
}
