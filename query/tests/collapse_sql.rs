//! The collapsing scan (rows pre-summed per block and stack) against answers computed by
//! hand from profiles that put several rows of one stack in one block, so a wrong
//! collapse changes the answer: conditional sums on block-constant columns collapse and
//! stay exact; conditions that read `value` or count rows do not collapse.

mod common;

use arrow::util::display::{ArrayFormatter, FormatOptions};
use common::{MIN, Profile, T0};
use flamedb_query::tenant_session;

/// Partition api/v1/eu gets two profiles (one block: `main;a` 3 + 4, `main;b` 10 + 1);
/// api/v2/eu two more (`main;a` 7 + 8, `main;c` 2); api/v3/eu one (`main;a` 100).
const DIFF: &[Profile] = &[
    ("t1", "api", "v1", "eu", "p1", T0, "main;a 3\nmain;b 10\n"),
    (
        "t1",
        "api",
        "v1",
        "eu",
        "p1",
        T0 + MIN,
        "main;a 4\nmain;b 1\n",
    ),
    (
        "t1",
        "api",
        "v2",
        "eu",
        "p1",
        T0 + 2 * MIN,
        "main;a 7\nmain;c 2\n",
    ),
    ("t1", "api", "v2", "eu", "p2", T0 + 3 * MIN, "main;a 8\n"),
    ("t1", "api", "v3", "eu", "p1", T0 + 4 * MIN, "main;a 100\n"),
];

/// The rows of `sql`'s answer as text, cells joined by ' ', sorted.
async fn rows(session: &datafusion::prelude::SessionContext, sql: &str) -> Vec<String> {
    let batches = session
        .sql(sql)
        .await
        .expect("plan")
        .collect()
        .await
        .expect("run");
    let opts = FormatOptions::default().with_null("NULL");
    let mut out = vec![];
    for b in &batches {
        let fmts: Vec<_> = b
            .columns()
            .iter()
            .map(|c| ArrayFormatter::try_new(c.as_ref(), &opts).expect("formatter"))
            .collect();
        for r in 0..b.num_rows() {
            let cells: Vec<String> = fmts.iter().map(|f| f.value(r).to_string()).collect();
            out.push(cells.join(" "));
        }
    }
    out.sort();
    out
}

/// Whether the physical plan of `sql` has a collapsing scan.
async fn collapses(session: &datafusion::prelude::SessionContext, sql: &str) -> bool {
    rows(session, &format!("EXPLAIN {sql}"))
        .await
        .iter()
        .any(|r| r.contains("collapse="))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn conditional_sums_on_block_columns_collapse_and_stay_exact() -> anyhow::Result<()> {
    let (_dir, ctx) = common::store_with(DIFF).await?;
    let session = tenant_session(&ctx, "t1")?;
    let case = "SELECT folded(stack) AS s, \
                sum(CASE WHEN version = 'v1' THEN value ELSE 0 END) AS l, \
                sum(CASE WHEN version = 'v2' THEN value ELSE 0 END) AS r \
                FROM samples WHERE app = 'api' AND version IN ('v1', 'v2') GROUP BY stack";
    assert!(collapses(&session, case).await);
    assert_eq!(
        rows(&session, case).await,
        ["main;a 7 15", "main;b 11 0", "main;c 0 2"]
    );
    let filter = "SELECT folded(stack) AS s, \
                  sum(value) FILTER (WHERE version = 'v1') AS l, \
                  sum(value) FILTER (WHERE version = 'v2') AS r \
                  FROM samples WHERE app = 'api' GROUP BY stack";
    assert!(collapses(&session, filter).await);
    assert_eq!(
        rows(&session, filter).await,
        ["main;a 7 15", "main;b 11 NULL", "main;c NULL 2"]
    );
    // A CASE without ELSE, and one whose branch is NULL.
    let no_else = "SELECT folded(stack) AS s, \
                   sum(CASE WHEN version = 'v3' THEN value END) AS x, \
                   sum(CASE WHEN version <> 'v3' THEN value ELSE NULL END) AS y \
                   FROM samples GROUP BY stack";
    assert!(collapses(&session, no_else).await);
    assert_eq!(
        rows(&session, no_else).await,
        ["main;a 100 22", "main;b NULL 11", "main;c NULL 2"]
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sums_that_see_single_rows_do_not_collapse() -> anyhow::Result<()> {
    let (_dir, ctx) = common::store_with(DIFF).await?;
    let session = tenant_session(&ctx, "t1")?;
    // Pre-summed per block, `main;a` in v2 would be 15 > 5 once instead of 7 and 8.
    let by_value = "SELECT folded(stack) AS s, sum(CASE WHEN value > 5 THEN value ELSE 0 END) \
                    FROM samples WHERE version IN ('v1', 'v2') GROUP BY stack";
    assert!(!collapses(&session, by_value).await);
    assert_eq!(
        rows(&session, by_value).await,
        ["main;a 15", "main;b 10", "main;c 0"]
    );
    // Counting rows: a constant branch other than zero.
    let count = "SELECT folded(stack) AS s, sum(CASE WHEN version = 'v1' THEN 1 ELSE 0 END) \
                 FROM samples GROUP BY stack";
    assert!(!collapses(&session, count).await);
    assert_eq!(
        rows(&session, count).await,
        ["main;a 2", "main;b 2", "main;c 0"]
    );
    let filter = "SELECT folded(stack) AS s, sum(value) FILTER (WHERE value > 5) \
                  FROM samples WHERE version IN ('v1', 'v2') GROUP BY stack";
    assert!(!collapses(&session, filter).await);
    assert_eq!(
        rows(&session, filter).await,
        ["main;a 15", "main;b 10", "main;c NULL"]
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sums_by_series_label_and_stack_collapse_per_series_and_stay_exact() -> anyhow::Result<()> {
    let (_dir, ctx) = common::store_with(DIFF).await?;
    let session = tenant_session(&ctx, "t1")?;
    // Per pod (a series label) and stack, over v1 and v2: p1 has `main;a` 3 + 4 (v1) and
    // 7 (v2), `main;b` 10 + 1, `main;c` 2; p2 has `main;a` 8.
    let by_pod = "SELECT labels['pod'] AS pod, folded(stack) AS s, sum(value) AS v \
                  FROM samples WHERE app = 'api' AND version IN ('v1', 'v2') \
                  GROUP BY labels['pod'], stack";
    assert!(collapses(&session, by_pod).await);
    assert_eq!(
        rows(&session, by_pod).await,
        ["p1 main;a 14", "p1 main;b 11", "p1 main;c 2", "p2 main;a 8"]
    );
    let by_version_pod = "SELECT CAST(version AS VARCHAR) AS ver, \
                          concat(CAST(dc AS VARCHAR), '/', labels['pod']) AS r, \
                          folded(stack) AS s, sum(value) AS v FROM samples \
                          WHERE app = 'api' GROUP BY version, 2, stack";
    assert!(collapses(&session, by_version_pod).await);
    assert_eq!(
        rows(&session, by_version_pod).await,
        [
            "v1 eu/p1 main;a 7",
            "v1 eu/p1 main;b 11",
            "v2 eu/p1 main;a 7",
            "v2 eu/p1 main;c 2",
            "v2 eu/p2 main;a 8",
            "v3 eu/p1 main;a 100",
        ]
    );
    // A key that reads the profile's time sees single profiles: no collapse.
    let by_time = "SELECT labels['pod'] AS pod, CAST(time AS BIGINT) AS t, folded(stack) AS s, \
                   sum(value) FROM samples WHERE version = 'v1' GROUP BY 1, 2, stack";
    assert!(!collapses(&session, by_time).await);
    assert_eq!(rows(&session, by_time).await.len(), 4);
    Ok(())
}
