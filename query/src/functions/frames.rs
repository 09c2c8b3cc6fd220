//! `frames(stack) -> List<Utf8>`: The frames of the stack as a list, root first.

use super::common::{Bound, DOC_SECTION, stack_arg};
use arrow::datatypes::DataType;
use datafusion::error::Result;
use datafusion::logical_expr::{
    ColumnarValue, Documentation, ScalarFunctionArgs, ScalarUDFImpl, Signature, Volatility,
};
use std::sync::{Arc, LazyLock};

/// `frames(stack) -> List<Utf8>`.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct FramesFunc {
    bound: Bound,
    signature: Signature,
}

impl FramesFunc {
    /// Bound to a tenant's stacks.
    pub fn new(bound: Bound) -> Self {
        FramesFunc {
            bound,
            signature: Signature::exact(vec![DataType::UInt64], Volatility::Immutable),
        }
    }
}

static DOC: LazyLock<Documentation> = LazyLock::new(|| {
    Documentation::builder(
        DOC_SECTION,
        "The frames of the stack as a list, root first.",
        "frames(stack)",
    )
    .with_sql_example("SELECT unnest(frames(stack)) AS frame FROM samples LIMIT 10")
    .with_argument("stack", "The stack column of samples.")
    .build()
});

impl ScalarUDFImpl for FramesFunc {
    fn name(&self) -> &str {
        "frames"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(DataType::List(Arc::new(
            arrow::datatypes::Field::new_list_field(DataType::Utf8, true),
        )))
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let (_, keys) = stack_arg(&args.args[0], args.number_rows)?;
        let frames = self.bound.frames_of(&keys)?;
        let mut b = arrow::array::ListBuilder::new(arrow::array::StringBuilder::new());
        for k in keys.iter() {
            match k.and_then(|k| frames.get(&k)) {
                Some(f) => {
                    for s in f.iter() {
                        b.values().append_value(s);
                    }
                    b.append(true);
                }
                None => b.append(false),
            }
        }
        Ok(ColumnarValue::Array(Arc::new(b.finish())))
    }

    fn documentation(&self) -> Option<&Documentation> {
        Some(&DOC)
    }
}
