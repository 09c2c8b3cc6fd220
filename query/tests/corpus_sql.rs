//! Every corpus pprof and folded file, ingested through the store and queried with SQL:
//! per sample type, `sum(value)` over `samples`, the `total` of `profiles` and the root of
//! `flamegraph()` all equal the independent parser's sums in expected.json.

use bytes::Bytes;
use flamedb_query::{FlameContext, QueryConfig, tenant_session};
use flamedb_storage::{DataDir, StoreConfig, WalRecord};
use serde_json::Value;
use std::collections::BTreeMap;

type Totals = BTreeMap<(String, String, String), i128>;

fn expected_totals(expected: &Value) -> (Vec<String>, Totals) {
    let mut files = vec![];
    let mut totals = Totals::new();
    let Some(all) = expected["files"].as_object() else {
        return (files, totals);
    };
    for (path, f) in all {
        let app = format!("c{}", files.len());
        match f["format"].as_str() {
            Some("pprof") => {
                let (Some(types), Some(sums)) =
                    (f["sample_types"].as_array(), f["value_sums"].as_array())
                else {
                    continue;
                };
                for (t, s) in types.iter().zip(sums) {
                    let key = (
                        app.clone(),
                        t["type"].as_str().unwrap_or("").to_string(),
                        t["unit"].as_str().unwrap_or("").to_string(),
                    );
                    *totals.entry(key).or_default() += s.as_i64().map_or(0, i128::from);
                }
            }
            Some("folded") if f["has_fractional_counts"] == Value::Bool(false) => {
                let Some(total) = f["total_count"].as_i64() else {
                    continue;
                };
                totals.insert(
                    (app.clone(), "samples".into(), "count".into()),
                    i128::from(total),
                );
            }
            _ => continue,
        }
        files.push(path.clone());
    }
    totals.retain(|_, v| *v != 0);
    (files, totals)
}

async fn query_totals(ctx: &std::sync::Arc<FlameContext>, sql: &str) -> anyhow::Result<Totals> {
    let session = tenant_session(ctx, "corpus")?;
    let batches = session.sql(sql).await?.collect().await?;
    let mut out = Totals::new();
    for b in &batches {
        let cols: Vec<_> = (0..4)
            .map(|i| {
                arrow::util::display::ArrayFormatter::try_new(
                    b.column(i).as_ref(),
                    &Default::default(),
                )
            })
            .collect::<Result<_, _>>()?;
        for r in 0..b.num_rows() {
            let v: i128 = cols[3].value(r).to_string().parse()?;
            out.insert(
                (
                    cols[0].value(r).to_string(),
                    cols[1].value(r).to_string(),
                    cols[2].value(r).to_string(),
                ),
                v,
            );
        }
    }
    out.retain(|_, v| *v != 0);
    Ok(out)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn corpus_totals_by_sql_equal_expected() -> anyhow::Result<()> {
    let Some(corpus) = flamedb_profile::testing::corpus_dir() else {
        return Ok(());
    };
    let expected: Value =
        serde_json::from_str(&std::fs::read_to_string(corpus.join("expected.json"))?)?;
    let (files, want) = expected_totals(&expected);
    anyhow::ensure!(files.len() > 50, "only {} corpus files usable", files.len());
    let dir = tempfile::tempdir()?;
    let (store, _) = DataDir(dir.path())
        .open_local(StoreConfig::default())
        .await?;
    for (i, f) in files.iter().enumerate() {
        store
            .append(WalRecord {
                tenant: "corpus".into(),
                labels: vec![("app".into(), format!("c{i}"))],
                format: None,
                time_nanos: 1_767_225_600_000_000_000,
                perf_event: String::new(),
                data: Bytes::from(std::fs::read(corpus.join(f))?),
            })
            .await?;
    }
    store.flush_due(true).await?;
    let (objects, root) = store.objects();
    let ctx = FlameContext::new(objects.clone(), root.clone(), QueryConfig::default());
    store.close().await?;

    let by_samples = query_totals(
        &ctx,
        "SELECT app, sample_type, sample_unit, sum(value) FROM samples GROUP BY 1, 2, 3",
    )
    .await?;
    assert_eq!(by_samples, want, "sum(value) per app and sample type");
    let by_profiles = query_totals(
        &ctx,
        "SELECT app, sample_type, sample_unit, sum(total) FROM profiles GROUP BY 1, 2, 3",
    )
    .await?;
    assert_eq!(by_profiles, want, "profiles.total per app and sample type");
    let by_flamegraph = query_totals(
        &ctx,
        "SELECT app, sample_type, sample_unit, flamegraph(stack, value)[1]['total'] \
         FROM samples GROUP BY 1, 2, 3",
    )
    .await?;
    assert_eq!(by_flamegraph, want, "flame graph root totals");
    Ok(())
}
