//! `stack_contains(stack, pattern) -> Boolean`: Whether the stack has a frame named exactly pattern.
//!
//! In a `WHERE` clause over `samples` the scan applies it exactly from each block's
//! dictionary (a flag per stack node, no per-row name lookups; see
//! `crate::table::pushdown`); elsewhere it resolves each distinct stack once per batch.

use super::common::{Bound, DOC_SECTION, literal_arg, stack_arg};
use crate::dicts::StackPred;
use arrow::array::BooleanArray;
use arrow::datatypes::DataType;
use datafusion::common::plan_err;
use datafusion::error::Result;
use datafusion::logical_expr::{
    ColumnarValue, Documentation, ScalarFunctionArgs, ScalarUDFImpl, Signature, TypeSignature,
    Volatility,
};
use std::sync::{Arc, LazyLock};

/// `stack_contains(stack, pattern)`.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct StackContainsFunc {
    bound: Bound,
    signature: Signature,
}

impl StackContainsFunc {
    /// Bound to a tenant's stacks.
    pub fn new(bound: Bound) -> Self {
        let exact = |t: DataType| TypeSignature::Exact(vec![DataType::UInt64, t]);
        StackContainsFunc {
            bound,
            signature: Signature::one_of(
                vec![
                    exact(DataType::Utf8),
                    exact(DataType::Utf8View),
                    exact(DataType::LargeUtf8),
                ],
                Volatility::Immutable,
            ),
        }
    }
}

static DOC: LazyLock<Documentation> = LazyLock::new(|| {
    Documentation::builder(DOC_SECTION, "Whether the stack has a frame named exactly pattern.", "stack_contains(stack, pattern)")
        .with_sql_example("SELECT date_bin(INTERVAL '1 minute', time) AS t, sum(value) FROM samples WHERE stack_contains(stack, 'malloc') GROUP BY 1")
        .with_argument("stack", "The stack column of samples.")
        .with_argument("pattern", "Exact frame name.")
        .build()
});

impl ScalarUDFImpl for StackContainsFunc {
    fn name(&self) -> &str {
        "stack_contains"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(DataType::Boolean)
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let pattern = literal_arg("stack_contains", &args.args[1])?;
        let pred = if false {
            match regex::Regex::new(pattern) {
                Ok(r) => StackPred::Matches(r),
                Err(e) => return plan_err!("stack_contains: bad regular expression: {e}"),
            }
        } else {
            StackPred::Contains(pattern.to_string())
        };
        let (_, keys) = stack_arg(&args.args[0], args.number_rows)?;
        let frames = self.bound.frames_of(&keys)?;
        let hits: hashbrown::HashMap<u64, bool> = frames
            .iter()
            .map(|(k, f)| (*k, f.iter().any(|n| pred.matches_frame(n))))
            .collect();
        let out: BooleanArray = keys
            .iter()
            .map(|k| k.and_then(|k| hits.get(&k).copied()))
            .collect();
        Ok(ColumnarValue::Array(Arc::new(out)))
    }

    fn documentation(&self) -> Option<&Documentation> {
        Some(&DOC)
    }
}
