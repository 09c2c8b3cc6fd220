//! `flamedb import` run as a process: a hand-written normalized table pair goes into a data
//! directory and SQL over it (`flamedb query --data`) gives the sums computed by hand; a
//! second run stores nothing twice; a bad table exits non-zero naming the row and reason.
#![allow(clippy::unwrap_used)]

use arrow::array::{
    ArrayRef, Int64Array, ListBuilder, RecordBatch, StringArray, StringBuilder,
    TimestampSecondArray, UInt64Array,
};
use parquet::arrow::ArrowWriter;
use std::path::Path;
use std::process::{Command, Output};
use std::sync::Arc;

const T: i64 = 1_767_225_600; // 2026-01-01T00:00:00Z

fn write(path: &Path, columns: Vec<(&str, ArrayRef)>) {
    let batch = RecordBatch::try_from_iter(columns).unwrap();
    let mut w =
        ArrowWriter::try_new(std::fs::File::create(path).unwrap(), batch.schema(), None).unwrap();
    w.write(&batch).unwrap();
    w.close().unwrap();
}

fn flamedb(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_flamedb"))
        .args(args)
        .output()
        .unwrap()
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

#[test]
fn an_imported_table_pair_answers_sql_with_the_hand_computed_sums() {
    let tmp = tempfile::tempdir().unwrap();
    let stacks = tmp.path().join("stacks.parquet");
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
    let samples = tmp.path().join("samples.parquet");
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

    let per_stack = "SELECT folded(stack) AS stack, sum(value) AS v FROM samples \
                     WHERE app = 'shop' GROUP BY folded(stack) ORDER BY stack";
    let want_stacks = "stack,v\nmain;gc,7\nmain;work,10\nmain;work;hash,38\n";
    assert_eq!(csv(data, per_stack), want_stacks);
    let per_pod = "SELECT CAST(version AS VARCHAR) AS version, labels['pod'] AS pod, \
                   sum(value) AS v FROM samples GROUP BY 1, 2 ORDER BY 1, 2";
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
