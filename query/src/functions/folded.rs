//! `folded(stack)`: the stack as `root;caller;...;leaf`.

use super::common::{Bound, DOC_SECTION, stack_arg};
use arrow::array::StringBuilder;
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
        let nodes = self.bound.nodes_of(&keys)?;
        let mut folded = hashbrown::HashMap::with_capacity(nodes.len());
        for (k, (dict, node)) in &nodes {
            let mut s = String::new();
            dict.write_folded(*node, &mut s);
            folded.insert(*k, s);
        }
        let bytes: usize = folded.values().map(|s| s.len()).sum();
        let mut b = StringBuilder::with_capacity(keys.len(), bytes.max(keys.len()));
        for k in keys.iter() {
            match k.and_then(|k| folded.get(&k)) {
                Some(s) => b.append_value(s),
                None => b.append_null(),
            }
        }
        Ok(ColumnarValue::Array(Arc::new(b.finish())))
    }

    fn documentation(&self) -> Option<&Documentation> {
        Some(&DOC)
    }
}
