//! `leaf(stack) -> Utf8`: The leaf frame of the stack (where the sample was taken); NULL for the empty stack.

use super::common::{Bound, DOC_SECTION, stack_arg};
use arrow::datatypes::DataType;
use datafusion::error::Result;
use datafusion::logical_expr::{
    ColumnarValue, Documentation, ScalarFunctionArgs, ScalarUDFImpl, Signature, Volatility,
};
use std::sync::{Arc, LazyLock};

/// `leaf(stack) -> Utf8`.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct LeafFunc {
    bound: Bound,
    signature: Signature,
}

impl LeafFunc {
    /// Bound to a tenant's stacks.
    pub fn new(bound: Bound) -> Self {
        LeafFunc {
            bound,
            signature: Signature::exact(vec![DataType::UInt64], Volatility::Immutable),
        }
    }
}

static DOC: LazyLock<Documentation> = LazyLock::new(|| {
    Documentation::builder(
        DOC_SECTION,
        "The leaf frame of the stack (where the sample was taken); NULL for the empty stack.",
        "leaf(stack)",
    )
    .with_sql_example(
        "SELECT leaf(stack), sum(value) FROM samples GROUP BY 1 ORDER BY 2 DESC LIMIT 10",
    )
    .with_argument("stack", "The stack column of samples.")
    .build()
});

impl ScalarUDFImpl for LeafFunc {
    fn name(&self) -> &str {
        "leaf"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(DataType::Utf8)
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let (_, keys) = stack_arg(&args.args[0], args.number_rows)?;
        let frames = self.bound.frames_of(&keys)?;
        let mut b = arrow::array::StringBuilder::with_capacity(keys.len(), keys.len() * 16);
        for k in keys.iter() {
            match k.and_then(|k| frames.get(&k)).and_then(|f| f.last()) {
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
