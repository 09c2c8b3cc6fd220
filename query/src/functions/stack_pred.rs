//! The implementation behind `stack_contains` and `stack_matches`: a predicate on the
//! stack's frames.
//!
//! In a `WHERE` clause over `samples` the scan applies it exactly from each block's
//! dictionary (see `crate::table::pushdown`); elsewhere each distinct stack is looked up in
//! the same per-dictionary node mask ([`crate::dicts::BlockDict::stacks_matching`]), so
//! both paths answer alike.

use super::common::{Bound, literal_arg, stack_arg};
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

/// `name(stack, pattern) -> Boolean`: an exact frame name, or a regex when `regex`.
#[derive(Debug)]
pub struct StackPredFunc {
    bound: Bound,
    name: &'static str,
    regex: bool,
    signature: Signature,
    doc: &'static LazyLock<Documentation>,
}

impl PartialEq for StackPredFunc {
    fn eq(&self, other: &Self) -> bool {
        self.bound == other.bound && self.name == other.name && self.regex == other.regex
    }
}

impl Eq for StackPredFunc {}

impl std::hash::Hash for StackPredFunc {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.bound.hash(state);
        self.name.hash(state);
        self.regex.hash(state);
    }
}

impl StackPredFunc {
    /// Bound to a tenant's stacks.
    pub fn new(
        bound: Bound,
        name: &'static str,
        regex: bool,
        doc: &'static LazyLock<Documentation>,
    ) -> Self {
        let exact = |t: DataType| TypeSignature::Exact(vec![DataType::UInt64, t]);
        StackPredFunc {
            bound,
            name,
            regex,
            signature: Signature::one_of(
                vec![
                    exact(DataType::Utf8),
                    exact(DataType::Utf8View),
                    exact(DataType::LargeUtf8),
                ],
                Volatility::Immutable,
            ),
            doc,
        }
    }

    /// Whether the pattern is a regex (`stack_matches`) rather than a frame name.
    pub fn is_regex(&self) -> bool {
        self.regex
    }
}

impl ScalarUDFImpl for StackPredFunc {
    fn name(&self) -> &str {
        self.name
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(DataType::Boolean)
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let pattern = literal_arg(self.name, &args.args[1])?;
        let pred = match StackPred::new(pattern, self.regex) {
            Ok(p) => p,
            Err(e) => return plan_err!("{}: bad regular expression: {e}", self.name),
        };
        let (_, keys) = stack_arg(&args.args[0], args.number_rows)?;
        let nodes = self.bound.nodes_of(&keys)?;
        let hits: hashbrown::HashMap<u64, bool> = nodes
            .iter()
            .map(|(k, (dict, node))| {
                let mask = dict.stacks_matching(&pred);
                (*k, mask.get(*node as usize).copied().unwrap_or(false))
            })
            .collect();
        let out: BooleanArray = keys
            .iter()
            .map(|k| k.and_then(|k| hits.get(&k).copied()))
            .collect();
        Ok(ColumnarValue::Array(Arc::new(out)))
    }

    fn documentation(&self) -> Option<&Documentation> {
        Some(self.doc)
    }
}
