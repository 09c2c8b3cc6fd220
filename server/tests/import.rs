//! Bulk import: `flamedb import` run as a process puts a hand-written normalized table pair
//! into a data directory and SQL over it (`flamedb query --data`) gives the sums computed by
//! hand; a second run stores nothing twice; a bad table exits non-zero naming the row and
//! reason. `POST /api/v1/import` does the same through a server, with 400s for bad uploads.
#![allow(clippy::unwrap_used)]

mod common;

use common::flamedb;

use arrow::array::{
    ArrayRef, Int64Array, ListBuilder, RecordBatch, StringArray, StringBuilder,
    TimestampSecondArray, UInt64Array,
};
use parquet::arrow::ArrowWriter;
use std::path::Path;
use std::sync::Arc;

const T: i64 = 1_767_225_600; // 2026-01-01T00:00:00Z

/// What SQL must answer per stack and per (version, pod) for the pair of [`tables`],
/// summed by hand.
const PER_STACK: &str = "SELECT folded(stack) AS stack, sum(value) AS v FROM samples \
                         WHERE app = 'shop' GROUP BY folded(stack) ORDER BY stack";
const PER_POD: &str = "SELECT CAST(version AS VARCHAR) AS version, labels['pod'] AS pod, \
                       sum(value) AS v FROM samples GROUP BY 1, 2 ORDER BY 1, 2";

fn write(path: &Path, columns: Vec<(&str, ArrayRef)>) {
    let batch = RecordBatch::try_from_iter(columns).unwrap();
    let mut w =
        ArrowWriter::try_new(std::fs::File::create(path).unwrap(), batch.schema(), None).unwrap();
    w.write(&batch).unwrap();
    w.close().unwrap();
}

fn csv(data: &str, sql: &str) -> String {
    let out = flamedb(&["query", sql, "--data", data, "--format", "csv"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The hand-written pair in `dir`: stacks 1 main;work;hash, 2 main;work, 3 main;gc, and
/// five sample rows of app shop (v1 p1 at T: 30 of 1 and 10 of 2; v1 p2 at T: 5 of 1;
/// v2 p1 at T+10: 7 of 3 and 3 of 1). Returns (stacks, samples).
fn tables(dir: &Path) -> (std::path::PathBuf, std::path::PathBuf) {
    let stacks = dir.join("stacks.parquet");
    let mut frames = ListBuilder::new(StringBuilder::new());
    for s in [
        &["main", "work", "hash"][..],
        &["main", "work"],
        &["main", "gc"],
    ] {
        for f in s {
            frames.values().append_value(f);
        }
        frames.append(true);
    }
    write(
        &stacks,
        vec![
            (
                "stack_id",
                Arc::new(UInt64Array::from(vec![1, 2, 3])) as ArrayRef,
            ),
            ("frames", Arc::new(frames.finish())),
        ],
    );
    let samples = dir.join("samples.parquet");
    let strs = |v: &[&str]| Arc::new(StringArray::from(v.to_vec())) as ArrayRef;
    write(
        &samples,
        vec![
            (
                "ts",
                Arc::new(TimestampSecondArray::from(vec![T, T, T, T + 10, T + 10])) as ArrayRef,
            ),
            ("app", strs(&["shop"; 5])),
            ("version", strs(&["v1", "v1", "v1", "v2", "v2"])),
            ("dc", strs(&["eu"; 5])),
            ("pod", strs(&["p1", "p1", "p2", "p1", "p1"])),
            ("stack_id", Arc::new(UInt64Array::from(vec![1, 2, 1, 3, 1]))),
            ("value", Arc::new(Int64Array::from(vec![30, 10, 5, 7, 3]))),
        ],
    );
    (stacks, samples)
}

#[test]
fn an_imported_table_pair_answers_sql_with_the_hand_computed_sums() {
    let tmp = tempfile::tempdir().unwrap();
    let (stacks, samples) = tables(tmp.path());
    let strs = |v: &[&str]| Arc::new(StringArray::from(v.to_vec())) as ArrayRef;
    let data = tmp.path().join("data");
    let data = data.to_str().unwrap();
    let import = || {
        flamedb(&[
            "import",
            "--data",
            data,
            "--stacks",
            stacks.to_str().unwrap(),
            "--sample-type",
            "cpu:nanoseconds",
            "--duration-secs",
            "10",
            samples.to_str().unwrap(),
        ])
    };
    let out = import();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(
        stderr.contains("5 input rows -> 5 rows in 3 profiles, 2 blocks"),
        "{stderr}"
    );

    let per_stack = PER_STACK;
    let want_stacks = "stack,v\nmain;gc,7\nmain;work,10\nmain;work;hash,38\n";
    assert_eq!(csv(data, per_stack), want_stacks);
    let per_pod = PER_POD;
    let want_pods = "version,pod,v\nv1,p1,40\nv1,p2,5\nv2,p1,10\n";
    assert_eq!(csv(data, per_pod), want_pods);

    // Again: both blocks are found complete; the sums do not change.
    let out = import();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(
        stderr.contains("0 blocks") && stderr.contains("2 blocks were already complete"),
        "{stderr}"
    );
    assert_eq!(csv(data, per_stack), want_stacks);

    // A stack id the table lacks: a message naming the file, row and id; exit status 1.
    let bad = tmp.path().join("bad.parquet");
    write(
        &bad,
        vec![
            (
                "ts",
                Arc::new(TimestampSecondArray::from(vec![T, T])) as ArrayRef,
            ),
            ("app", strs(&["shop", "shop"])),
            ("stack_id", Arc::new(UInt64Array::from(vec![1, 9]))),
            ("value", Arc::new(Int64Array::from(vec![1, 1]))),
        ],
    );
    let out = flamedb(&[
        "import",
        "--data",
        data,
        "--stacks",
        stacks.to_str().unwrap(),
        "--sample-type",
        "cpu:nanoseconds",
        bad.to_str().unwrap(),
    ]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("bad.parquet")
            && stderr.contains("row 1: stack_id 9 is not in the stacks table"),
        "{stderr}"
    );
    assert_eq!(csv(data, per_stack), want_stacks, "nothing of the bad file");

    // A sample type without a unit.
    let out = flamedb(&[
        "import",
        "--data",
        data,
        "--sample-type",
        "cpu",
        samples.to_str().unwrap(),
    ]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(stderr.contains("expected TYPE:UNIT"), "{stderr}");
}

/// A multipart body of `(part name, file name, bytes)`.
fn multipart(parts: &[(&str, &str, Vec<u8>)]) -> (String, Vec<u8>) {
    use std::io::Write;
    let b = "flamedb-import-boundary";
    let mut body = Vec::new();
    for (name, file, data) in parts {
        write!(
            body,
            "--{b}\r\nContent-Disposition: form-data; name=\"{name}\"; filename=\"{file}\"\r\nContent-Type: application/vnd.apache.parquet\r\n\r\n"
        )
        .unwrap();
        body.extend_from_slice(data);
        body.extend_from_slice(b"\r\n");
    }
    write!(body, "--{b}--\r\n").unwrap();
    (format!("multipart/form-data; boundary={b}"), body)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_uploaded_table_pair_answers_sql_with_the_hand_computed_sums() {
    let tmp = tempfile::tempdir().unwrap();
    let (stacks, samples) = tables(tmp.path());
    let server = common::Server::start(&tmp.path().join("data"), &[]);
    let api = common::query::Api::new(&server, "t1");
    let parts = [
        ("stacks", "stacks.parquet", std::fs::read(&stacks).unwrap()),
        (
            "samples",
            "samples.parquet",
            std::fs::read(&samples).unwrap(),
        ),
    ];
    let (ctype, body) = multipart(&parts);
    let url = "/api/v1/import?sample_type=cpu:nanoseconds&duration_secs=10";
    let report = api.post_body(url, &ctype, body.clone()).await.ok().json();
    assert_eq!(
        report,
        serde_json::json!({"files": 1, "input_rows": 5, "rows": 5, "profiles": 3,
                           "blocks": 2, "blocks_skipped": 0})
    );
    let json_rows = |csv: &str| -> Vec<serde_json::Value> {
        csv.lines()
            .skip(1)
            .map(|l| {
                let f: Vec<&str> = l.split(',').collect();
                match f.as_slice() {
                    [stack, v] => serde_json::json!({"stack": stack, "v": v.parse::<i64>().unwrap()}),
                    [version, pod, v] => serde_json::json!({"version": version, "pod": pod, "v": v.parse::<i64>().unwrap()}),
                    _ => panic!("{l}"),
                }
            })
            .collect()
    };
    let want_stacks = json_rows("stack,v\nmain;gc,7\nmain;work,10\nmain;work;hash,38\n");
    let want_pods = json_rows("version,pod,v\nv1,p1,40\nv1,p2,5\nv2,p1,10\n");
    assert_eq!(api.rows(PER_STACK).await, want_stacks);
    assert_eq!(api.rows(PER_POD).await, want_pods);

    // The same upload again: nothing is stored twice.
    let again = api.post_body(url, &ctype, body).await.ok().json();
    assert_eq!(
        (again["blocks"].as_u64(), again["blocks_skipped"].as_u64()),
        (Some(0), Some(2))
    );
    assert_eq!(api.rows(PER_STACK).await, want_stacks);

    // Bad uploads: 400 with the reason, nothing stored.
    let bad = |parts: &[(&str, &str, Vec<u8>)]| multipart(parts);
    for (url, (ctype, body), says) in [
        (
            "/api/v1/import?duration_secs=10",
            bad(&parts[1..]),
            "missing sample_type",
        ),
        (url, bad(&parts[..1]), "no `samples` part"),
        (
            url,
            bad(&[("samples", "x.parquet", b"not parquet".to_vec())]),
            "x.parquet",
        ),
        (
            url,
            bad(&parts[1..]),
            "refers to a stacks table, and none was given",
        ),
        (
            url,
            bad(&[parts[0].clone(), ("other", "o", vec![1])]),
            "unknown multipart part",
        ),
    ] {
        let a = api.post_body(url, &ctype, body).await;
        assert_eq!(a.status.as_u16(), 400, "{says}: {}", a.text());
        assert!(a.text().contains(says), "{says}: {}", a.text());
    }
    let a = api
        .post_body(url, "application/octet-stream", b"x".to_vec())
        .await;
    assert_eq!(a.status.as_u16(), 400, "{}", a.text());
    assert_eq!(api.rows(PER_STACK).await, want_stacks);
    server.stop();
}
