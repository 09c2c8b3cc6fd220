//! What the stack functions share: the binding to a tenant's data and key resolution.

use crate::context::FlameContext;
use arrow::array::{Array, ArrayRef, UInt64Array};
use datafusion::common::plan_err;
use datafusion::error::Result;
use datafusion::logical_expr::{ColumnarValue, DocSection};
use hashbrown::HashMap;
use std::hash::{Hash, Hasher};
use std::sync::Arc;

/// The documentation section of flamedb's functions.
pub const DOC_SECTION: DocSection = DocSection {
    include: true,
    label: "Flame graph functions",
    description: Some("Functions over stack keys (the `stack` column of `samples`)."),
};

/// A function bound to a tenant's data. Serialized as the tenant alone; the context is
/// the live one of the process running the plan.
#[derive(Debug, Clone)]
pub struct Bound {
    /// The process's query context.
    pub ctx: Arc<FlameContext>,
    /// Whose stacks the keys are.
    pub tenant: String,
}

impl PartialEq for Bound {
    fn eq(&self, other: &Self) -> bool {
        self.tenant == other.tenant && Arc::ptr_eq(&self.ctx, &other.ctx)
    }
}

impl Eq for Bound {}

impl Hash for Bound {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.tenant.hash(state);
    }
}

impl Bound {
    /// A dictionary node for each distinct key of `keys`; a key no block of the tenant
    /// holds is an error naming it.
    pub fn nodes_of(&self, keys: &UInt64Array) -> Result<HashMap<u64, crate::dicts::Found>> {
        let mut distinct: Vec<u64> = keys.iter().flatten().collect();
        distinct.sort_unstable();
        distinct.dedup();
        let found = self.ctx.resolve_blocking(&self.tenant, &distinct)?;
        if let Some(i) = found.first_missing() {
            return Err(self.missing_key(distinct[i]));
        }
        Ok(distinct
            .iter()
            .enumerate()
            .filter_map(|(i, k)| found.get(i).map(|(d, n)| (*k, (d.clone(), n))))
            .collect())
    }

    /// The error for a key that no block of the tenant holds.
    pub fn missing_key(&self, key: u64) -> datafusion::error::DataFusionError {
        datafusion::error::DataFusionError::Execution(format!(
            "stack {key:#x} is in no block of tenant {:?} (was it compacted away or \
             does it come from another store?)",
            self.tenant
        ))
    }

    /// Frames (root first) of each distinct key of `keys`; a key no block of the tenant
    /// holds is an error naming it.
    pub fn frames_of(&self, keys: &UInt64Array) -> Result<HashMap<u64, Arc<Vec<String>>>> {
        Ok(self
            .nodes_of(keys)?
            .into_iter()
            .map(|(k, (dict, node))| (k, Arc::new(dict.frames(node))))
            .collect())
    }
}

/// The stack argument as a `UInt64Array` of `rows` rows.
pub fn stack_arg(v: &ColumnarValue, rows: usize) -> Result<(ArrayRef, UInt64Array)> {
    let a = v.clone().into_array(rows)?;
    let Some(keys) = a.as_any().downcast_ref::<UInt64Array>() else {
        return plan_err!(
            "the stack argument must be the stack column (UInt64), got {}",
            a.data_type()
        );
    };
    let keys = keys.clone();
    Ok((a, keys))
}

/// A literal string argument (a pattern or name), or a planning error.
pub fn literal_arg<'a>(fname: &str, v: &'a ColumnarValue) -> Result<&'a str> {
    use datafusion::common::ScalarValue;
    match v {
        ColumnarValue::Scalar(
            ScalarValue::Utf8(Some(s))
            | ScalarValue::LargeUtf8(Some(s))
            | ScalarValue::Utf8View(Some(s)),
        ) => Ok(s),
        _ => plan_err!("{fname}: the second argument must be a string literal"),
    }
}
