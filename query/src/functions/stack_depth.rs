//! `stack_depth(stack) -> UInt32`: Number of frames of the stack, inlined frames included.

use super::common::{Bound, DOC_SECTION, stack_arg};
use arrow::datatypes::DataType;
use datafusion::error::Result;
use datafusion::logical_expr::{
    ColumnarValue, Documentation, ScalarFunctionArgs, ScalarUDFImpl, Signature, Volatility,
};
use std::sync::{Arc, LazyLock};

/// `stack_depth(stack) -> UInt32`.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct StackDepthFunc {
    bound: Bound,
    signature: Signature,
}

impl StackDepthFunc {
    /// Bound to a tenant's stacks.
    pub fn new(bound: Bound) -> Self {
        StackDepthFunc {
            bound,
            signature: Signature::exact(vec![DataType::UInt64], Volatility::Immutable),
        }
    }
}

static DOC: LazyLock<Documentation> = LazyLock::new(|| {
    Documentation::builder(
        DOC_SECTION,
        "Number of frames of the stack, inlined frames included.",
        "stack_depth(stack)",
    )
    .with_sql_example("SELECT max(stack_depth(stack)) FROM samples")
    .with_argument("stack", "The stack column of samples.")
    .build()
});

impl ScalarUDFImpl for StackDepthFunc {
    fn name(&self) -> &str {
        "stack_depth"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(DataType::UInt32)
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let (_, keys) = stack_arg(&args.args[0], args.number_rows)?;
        let frames = self.bound.frames_of(&keys)?;
        let out: arrow::array::UInt32Array = keys
            .iter()
            .map(|k| k.and_then(|k| frames.get(&k)).map(|f| f.len() as u32))
            .collect();
        Ok(ColumnarValue::Array(Arc::new(out)))
    }

    fn documentation(&self) -> Option<&Documentation> {
        Some(&DOC)
    }
}
