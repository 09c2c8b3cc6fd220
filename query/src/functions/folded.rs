//! `folded(stack)`: the stack as `root;caller;...;leaf`.

use super::common::{Bound, DOC_SECTION, stack_arg};
use crate::dicts::FoldedWriter;
use arrow::array::StringArray;
use arrow::array::builder::NullBufferBuilder;
use arrow::buffer::{Buffer, OffsetBuffer, ScalarBuffer};
use arrow::datatypes::DataType;
use datafusion::common::exec_err;
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
        // Offsets and bytes written directly: one pass, no string per stack, and the text
        // of a caller prefix already written is copied instead of rebuilt.
        let mut writer = FoldedWriter::default();
        let bytes: usize = keys
            .iter()
            .flatten()
            .filter_map(|k| nodes.get(&k))
            .map(|(dict, node)| dict.folded_len(*node))
            .sum();
        let mut values: Vec<u8> = Vec::with_capacity(bytes);
        let mut offsets: Vec<i32> = Vec::with_capacity(keys.len() + 1);
        offsets.push(0);
        let mut nulls = NullBufferBuilder::new(keys.len());
        for k in keys.iter() {
            match k.and_then(|k| nodes.get(&k)) {
                Some((dict, node)) => {
                    writer.write(dict, *node, &mut values);
                    nulls.append_non_null();
                }
                None => nulls.append_null(),
            }
            let Ok(end) = i32::try_from(values.len()) else {
                return exec_err!(
                    "folded(): the stacks of one batch exceed 2 GiB of text; select fewer rows"
                );
            };
            offsets.push(end);
        }
        // Frame names are valid UTF-8 and ';' is ASCII, so every value is.
        let array = StringArray::try_new(
            OffsetBuffer::new(ScalarBuffer::from(offsets)),
            Buffer::from_vec(values),
            nulls.finish(),
        )?;
        Ok(ColumnarValue::Array(Arc::new(array)))
    }

    fn documentation(&self) -> Option<&Documentation> {
        Some(&DOC)
    }
}
