//! `folded(stack)`: the stack as `root;caller;...;leaf`.

use super::common::{Bound, DOC_SECTION, stack_arg};
use crate::folded_text::folded_array;
use arrow::datatypes::DataType;
use datafusion::error::Result;
use datafusion::logical_expr::{
    ColumnarValue, Documentation, ScalarFunctionArgs, ScalarUDFImpl, Signature, Volatility,
};
use std::sync::{Arc, LazyLock};

/// `folded(stack) -> Utf8`.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct FoldedFunc {
    bound: Bound,
    signature: Signature,
}

impl FoldedFunc {
    /// Bound to a tenant's stacks.
    pub fn new(bound: Bound) -> Self {
        FoldedFunc {
            bound,
            signature: Signature::exact(vec![DataType::UInt64], Volatility::Immutable),
        }
    }
}

static DOC: LazyLock<Documentation> = LazyLock::new(|| {
    Documentation::builder(
        DOC_SECTION,
        "The stack as folded text: frame names root first, separated by ';'.",
        "folded(stack)",
    )
    .with_sql_example("SELECT folded(stack), sum(value) FROM samples GROUP BY stack")
    .with_argument("stack", "The stack column of samples.")
    .build()
});

impl ScalarUDFImpl for FoldedFunc {
    fn name(&self) -> &str {
        "folded"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(DataType::Utf8)
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let (_, keys) = stack_arg(&args.args[0], args.number_rows)?;
        // Distinct keys in order, and per row the position of its key among them.
        let mut by_key: Vec<(u64, u32)> = keys
            .iter()
            .enumerate()
            .filter_map(|(row, k)| Some((k?, u32::try_from(row).ok()?)))
            .collect();
        crate::sums::sort_by_key(&mut by_key, |e| e.0);
        let mut distinct: Vec<u64> = Vec::with_capacity(by_key.len());
        let mut rank = vec![u32::MAX; keys.len()];
        for &(k, row) in &by_key {
            if distinct.last() != Some(&k) {
                distinct.push(k);
            }
            rank[row as usize] = (distinct.len() - 1) as u32;
        }
        let found = self
            .bound
            .ctx
            .resolve_blocking(&self.bound.tenant, &distinct)?;
        if let Some(i) = found.first_missing() {
            return Err(self.bound.missing_key(distinct[i]));
        }
        let rows: Vec<Option<(u32, u32)>> = rank
            .iter()
            .map(|&r| found.at.get(r as usize).copied())
            .collect();
        // A batch larger than DataFusion's (the one batch a window emits) is written by as
        // many threads as the query may use.
        let parts = args.config_options.execution.target_partitions;
        let array = folded_array(&found.dicts, &rows, parts)?;
        Ok(ColumnarValue::Array(Arc::new(array)))
    }

    fn documentation(&self) -> Option<&Documentation> {
        Some(&DOC)
    }
}
