//! Bounds on the SQL functions whose output a caller sizes with a number: `range` and
//! `generate_series` (as list values), `repeat`, `lpad`, `rpad`, `replace` and
//! `array_repeat`. DataFusion's memory pool does not see what a scalar function
//! allocates, so `cardinality(range(1, 300000000))` or `length(repeat('x', 1e9))` built
//! gigabytes under a 512 MiB query memory limit. Each is replaced, in every tenant
//! session, by [`GuardedFunc`]: it computes, from the arguments alone, an upper bound of
//! the bytes the call would build (over all rows of the batch) and refuses the call with
//! an error naming the function and the limit when the bound is over it, before the
//! built-in runs. Otherwise the built-in runs unchanged (same signature, types,
//! simplification and documentation).
//!
//! The limit is a quarter of the query memory limit (`--query-memory-limit`): the output
//! is copied at least once more downstream (an `unnest`, a cast, the result encoder).
//! Temporal ranges are bounded with the shortest length of their interval step (a month
//! as 28 days, a day as 23 hours); a call whose arguments cannot be read this way is left
//! to the built-in.

use arrow::array::{Array, ArrayRef, AsArray};
use arrow::datatypes::{DataType, Int64Type, IntervalMonthDayNanoType, TimeUnit};
use datafusion::common::{Result, exec_err};
use datafusion::execution::FunctionRegistry;
use datafusion::logical_expr::simplify::{ExprSimplifyResult, SimplifyContext};
use datafusion::logical_expr::{
    ColumnarValue, Documentation, Expr, ReturnFieldArgs, ScalarFunctionArgs, ScalarUDF,
    ScalarUDFImpl, Signature,
};
use datafusion::prelude::SessionContext;
use std::sync::Arc;

/// How a guarded function's output size follows from its arguments.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Growth {
    /// `range(start, stop[, step])` / `generate_series`: elements between the bounds.
    Series,
    /// `repeat(s, n)`: `len(s) * n` bytes.
    Repeat,
    /// `lpad(s, n[, fill])` / `rpad`: `n` characters of up to 4 bytes.
    Pad,
    /// `replace(s, from, to)`: every match of `from` becomes `to`.
    Replace,
    /// `array_repeat(x, n)`: `n` elements.
    ArrayRepeat,
}

/// The functions guarded, by name.
pub const GUARDED: &[(&str, Growth)] = &[
    ("range", Growth::Series),
    ("generate_series", Growth::Series),
    ("repeat", Growth::Repeat),
    ("lpad", Growth::Pad),
    ("rpad", Growth::Pad),
    ("replace", Growth::Replace),
    ("array_repeat", Growth::ArrayRepeat),
];

/// Replaces each of [`GUARDED`] in `session` by a [`GuardedFunc`] with `max_bytes`.
pub fn register(session: &SessionContext, max_bytes: usize) {
    for (name, growth) in GUARDED {
        if let Ok(inner) = session.udf(name) {
            session.register_udf(ScalarUDF::new_from_impl(GuardedFunc {
                inner,
                growth: *growth,
                max_bytes,
            }));
        }
    }
}

/// A built-in function refused when its output would be over `max_bytes`.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct GuardedFunc {
    inner: Arc<ScalarUDF>,
    growth: Growth,
    max_bytes: usize,
}

impl ScalarUDFImpl for GuardedFunc {
    fn name(&self) -> &str {
        self.inner.name()
    }

    fn aliases(&self) -> &[String] {
        self.inner.aliases()
    }

    fn schema_name(&self, args: &[Expr]) -> Result<String> {
        self.inner.inner().schema_name(args)
    }

    fn signature(&self) -> &Signature {
        self.inner.signature()
    }

    fn return_type(&self, arg_types: &[DataType]) -> Result<DataType> {
        self.inner.return_type(arg_types)
    }

    fn return_field_from_args(&self, args: ReturnFieldArgs) -> Result<arrow::datatypes::FieldRef> {
        self.inner.return_field_from_args(args)
    }

    fn is_strict(&self) -> bool {
        self.inner.inner().is_strict()
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        self.inner.coerce_types(arg_types)
    }

    fn simplify(&self, args: Vec<Expr>, info: &SimplifyContext) -> Result<ExprSimplifyResult> {
        self.inner.simplify(args, info)
    }

    fn documentation(&self) -> Option<&Documentation> {
        self.inner.documentation()
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        if let Some(bytes) = output_bound(self.growth, &args.args, args.number_rows)
            && bytes > self.max_bytes as u128
        {
            return exec_err!(
                "{}() would build about {} MiB, over the {} MiB a function may build \
                 (a quarter of the query memory limit, --query-memory-limit): use smaller \
                 arguments",
                self.inner.name(),
                bytes >> 20,
                self.max_bytes >> 20
            );
        }
        self.inner.invoke_with_args(args)
    }
}

/// An upper bound of the bytes a call builds over `rows` rows; `None` when the
/// arguments are not of a shape this reads (the built-in then decides).
fn output_bound(growth: Growth, args: &[ColumnarValue], rows: usize) -> Option<u128> {
    let arrays: Vec<ArrayRef> = args
        .iter()
        .map(|a| a.to_array(rows.max(1)).ok())
        .collect::<Option<_>>()?;
    let mut total: u128 = 0;
    for row in 0..rows.max(1) {
        total = total.saturating_add(row_bound(growth, &arrays, row)?);
    }
    Some(total)
}

/// The bound for one row.
fn row_bound(growth: Growth, a: &[ArrayRef], row: usize) -> Option<u128> {
    match growth {
        Growth::Series => series_elements(a, row).map(|n| n.saturating_mul(8)),
        Growth::Repeat => {
            let (len, n) = (str_len(a.first()?, row)?, int(a.get(1)?, row)?);
            Some(len.saturating_mul(n.max(0) as u128))
        }
        Growth::Pad => {
            let n = int(a.get(1)?, row)?;
            Some((n.max(0) as u128).saturating_mul(4))
        }
        Growth::Replace => {
            let len = str_len(a.first()?, row)?;
            let from = str_len(a.get(1)?, row)?;
            let to = str_len(a.get(2)?, row)?;
            let matches = len / from.max(1) + 1;
            Some(len.saturating_add(matches.saturating_mul(to)))
        }
        Growth::ArrayRepeat => {
            let n = int(a.get(1)?, row)?.max(0) as u128;
            let each = str_len(&a[0], row).unwrap_or(8).max(8);
            Some(n.saturating_mul(each))
        }
    }
}

/// Elements of `range`/`generate_series` at `row` (an upper bound): integer bounds and
/// step, or dates/timestamps with an interval step.
fn series_elements(a: &[ArrayRef], row: usize) -> Option<u128> {
    let (start, stop, step): (i128, i128, i128) = match a.len() {
        1 => (0, int(&a[0], row)? as i128, 1),
        2 if a[0].data_type().is_integer() => {
            (int(&a[0], row)? as i128, int(&a[1], row)? as i128, 1)
        }
        2 | 3 if a[0].data_type().is_integer() => (
            int(&a[0], row)? as i128,
            int(&a[1], row)? as i128,
            int(&a[2], row)? as i128,
        ),
        3 => (
            nanos(&a[0], row)?,
            nanos(&a[1], row)?,
            shortest_nanos(&a[2], row)?,
        ),
        _ => return None,
    };
    if step == 0 {
        return None;
    }
    let span = (stop - start) / step;
    Some(if span < 0 { 0 } else { span as u128 + 1 })
}

/// An integer argument at `row` (`None` when null or not an integer).
fn int(a: &ArrayRef, row: usize) -> Option<i64> {
    if !a.data_type().is_integer() || a.is_null(row) {
        return None;
    }
    let a = arrow::compute::cast(&a.slice(row, 1), &DataType::Int64).ok()?;
    Some(a.as_primitive::<Int64Type>().value(0))
}

/// A string (or binary) argument's length in bytes at `row`; 0 for null.
fn str_len(a: &ArrayRef, row: usize) -> Option<u128> {
    if a.is_null(row) {
        return Some(0);
    }
    let len = match a.data_type() {
        DataType::Utf8 => a.as_string::<i32>().value(row).len(),
        DataType::LargeUtf8 => a.as_string::<i64>().value(row).len(),
        DataType::Utf8View => a.as_string_view().value(row).len(),
        DataType::Binary => a.as_binary::<i32>().value(row).len(),
        DataType::LargeBinary => a.as_binary::<i64>().value(row).len(),
        DataType::BinaryView => a.as_binary_view().value(row).len(),
        _ => return None,
    };
    Some(len as u128)
}

/// A date or timestamp argument at `row` in ns since the epoch.
fn nanos(a: &ArrayRef, row: usize) -> Option<i128> {
    if a.is_null(row) {
        return None;
    }
    let ts = DataType::Timestamp(TimeUnit::Nanosecond, None);
    let v = arrow::compute::cast(&a.slice(row, 1), &ts).ok()?;
    let v = arrow::compute::cast(&v, &DataType::Int64).ok()?;
    Some(v.as_primitive::<Int64Type>().value(0) as i128)
}

/// The shortest span an interval step can be, in ns (a month 28 days, a day 23 hours).
fn shortest_nanos(a: &ArrayRef, row: usize) -> Option<i128> {
    if a.is_null(row) {
        return None;
    }
    let ty = DataType::Interval(arrow::datatypes::IntervalUnit::MonthDayNano);
    let v = arrow::compute::cast(&a.slice(row, 1), &ty).ok()?;
    let v = v.as_primitive::<IntervalMonthDayNanoType>().value(0);
    const HOUR: i128 = 3_600_000_000_000;
    let n = v.months as i128 * 28 * 24 * HOUR + v.days as i128 * 23 * HOUR + v.nanoseconds as i128;
    (n != 0).then_some(n)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    async fn run(ctx: &SessionContext, sql: &str) -> Result<Vec<arrow::array::RecordBatch>> {
        ctx.sql(sql).await?.collect().await
    }

    #[tokio::test]
    async fn calls_over_the_limit_are_refused_before_they_build() {
        let ctx = SessionContext::new();
        register(&ctx, 1 << 20);
        for sql in [
            "SELECT cardinality(range(1, 400000000))",
            "SELECT count(*) FROM unnest(range(1, 400000000))",
            "SELECT cardinality(generate_series(1, 300000000))",
            "SELECT length(repeat('x', 1000000000))",
            "SELECT length(lpad('x', 1000000000))",
            "SELECT length(rpad('x', 1000000000, 'ab'))",
            "SELECT length(replace(repeat('x', 100000), 'x', repeat('y', 100)))",
            "SELECT cardinality(array_repeat(1, 1000000000))",
            "SELECT cardinality(range(DATE '2000-01-01', DATE '2100-01-01', INTERVAL '1 minute'))",
            "SELECT cardinality(range(TIMESTAMP '2000-01-01', TIMESTAMP '2001-01-01', INTERVAL '1 second'))",
        ] {
            let e = run(&ctx, sql).await.unwrap_err().to_string();
            assert!(e.contains("a function may build"), "{sql}: {e}");
        }
    }

    #[tokio::test]
    async fn calls_under_the_limit_answer_as_the_builtins_do() {
        let ctx = SessionContext::new();
        register(&ctx, 1 << 20);
        let cases = [
            ("SELECT cardinality(range(1, 1001)) AS n", "1000"),
            ("SELECT cardinality(range(5)) AS n", "5"),
            ("SELECT cardinality(generate_series(1, 10, 3)) AS n", "4"),
            ("SELECT cardinality(range(10, 1, -2)) AS n", "5"),
            ("SELECT length(repeat('ab', 1000)) AS n", "2000"),
            ("SELECT lpad('x', 3, '-') AS n", "--x"),
            ("SELECT replace('aXbX', 'X', 'yy') AS n", "ayybyy"),
            ("SELECT cardinality(array_repeat('z', 7)) AS n", "7"),
            (
                "SELECT cardinality(range(DATE '2024-01-01', DATE '2024-01-11', INTERVAL '1 day')) AS n",
                "10",
            ),
        ];
        for (sql, want) in cases {
            let b = run(&ctx, sql).await.unwrap();
            let col = arrow::compute::cast(b[0].column(0), &DataType::Utf8).unwrap();
            assert_eq!(col.as_string::<i32>().value(0), want, "{sql}");
        }
    }
}
