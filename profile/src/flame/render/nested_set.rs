//! Grafana's flame graph data frame: the nested-set rows, as a data frame in JSON.
//!
//! Field names as read in Grafana's source (github.com/grafana/grafana,
//! `packages/grafana-flamegraph/src/FlameGraph/dataTransform.ts`, `checkFields` and
//! `FlameGraphDataContainer`): `label` (string), `level`, `value`, `self` (numbers), and
//! for a diff `valueRight` and `selfRight`, where `value`/`self` are then the left side
//! and a node is drawn `value + valueRight` wide. Rows are in depth-first pre-order
//! (`nestedSetToLevels` rebuilds the tree from the order and levels alone). The JSON is
//! Grafana's `DataFrameJSON` (`{"schema": {"fields": [...]}, "data": {"values": [...]}}`)
//! with `meta.preferredVisualisationType` `flamegraph`.

use crate::flame::FlameTree;
use serde::{Deserialize, Serialize};

/// One row of the nested set.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NestedSetRow<'a> {
    /// Depth, 0 for the root.
    pub level: u32,
    /// Function name (`total` for the root).
    pub label: &'a str,
    /// Self value (left side of a diff).
    pub self_: i64,
    /// Total value (left side of a diff).
    pub value: i64,
    /// Right self value, for a diff tree.
    pub self_right: Option<i64>,
    /// Right total value, for a diff tree.
    pub value_right: Option<i64>,
}

/// The rows of the tree in depth-first pre-order.
pub fn nested_set(tree: &FlameTree) -> impl Iterator<Item = NestedSetRow<'_>> {
    let diff = tree.is_diff();
    tree.nodes().map(move |n| NestedSetRow {
        level: n.level,
        label: n.name,
        self_: n.self_[0],
        value: n.total[0],
        self_right: diff.then_some(n.self_[1]),
        value_right: diff.then_some(n.total[1]),
    })
}

/// A Grafana data frame in its JSON form (`DataFrameJSON`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GrafanaFrame {
    /// Name, meta and fields.
    pub schema: FrameSchema,
    /// The columns, in field order.
    pub data: FrameData,
}

/// The schema of a [`GrafanaFrame`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FrameSchema {
    /// Frame name.
    pub name: String,
    /// Frame meta.
    pub meta: FrameMeta,
    /// Fields, in column order.
    pub fields: Vec<FrameField>,
}

/// Frame meta: the visualisation Grafana picks.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FrameMeta {
    /// `flamegraph`.
    pub preferred_visualisation_type: String,
}

/// One field (column) of the schema.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FrameField {
    /// `level`, `label`, `self`, `value`, `selfRight`, `valueRight`.
    pub name: String,
    /// `number` or `string`.
    #[serde(rename = "type")]
    pub type_: String,
    /// The unit of value fields.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config: Option<FrameFieldConfig>,
}

/// Field config: the unit.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FrameFieldConfig {
    /// A Grafana unit id (`short`, `ns`, `bytes`, ...).
    pub unit: String,
}

/// The values of a frame, one column per field.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FrameData {
    /// Columns.
    pub values: Vec<FrameColumn>,
}

/// One column.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum FrameColumn {
    /// A number column.
    Numbers(Vec<i64>),
    /// A string column.
    Strings(Vec<String>),
}

/// The tree as the data frame Grafana's flame graph panel reads; value fields carry
/// `unit` (a Grafana unit id such as `short`, `ns` or `bytes`).
pub fn grafana_frame(tree: &FlameTree, unit: &str) -> GrafanaFrame {
    let n = tree.len();
    let mut level = Vec::with_capacity(n);
    let mut label = Vec::with_capacity(n);
    let mut cols: [Vec<i64>; 4] = std::array::from_fn(|_| Vec::with_capacity(n));
    for row in nested_set(tree) {
        level.push(i64::from(row.level));
        label.push(row.label.to_string());
        cols[0].push(row.self_);
        cols[1].push(row.value);
        cols[2].push(row.self_right.unwrap_or(0));
        cols[3].push(row.value_right.unwrap_or(0));
    }
    let field = |name: &str, type_: &str, unit: Option<&str>| FrameField {
        name: name.to_string(),
        type_: type_.to_string(),
        config: unit.map(|u| FrameFieldConfig {
            unit: u.to_string(),
        }),
    };
    let [self_, value, self_right, value_right] = cols;
    let mut fields = vec![
        field("level", "number", None),
        field("label", "string", None),
        field("self", "number", Some(unit)),
        field("value", "number", Some(unit)),
    ];
    let mut values = vec![
        FrameColumn::Numbers(level),
        FrameColumn::Strings(label),
        FrameColumn::Numbers(self_),
        FrameColumn::Numbers(value),
    ];
    if tree.is_diff() {
        fields.push(field("selfRight", "number", Some(unit)));
        fields.push(field("valueRight", "number", Some(unit)));
        values.push(FrameColumn::Numbers(self_right));
        values.push(FrameColumn::Numbers(value_right));
    }
    GrafanaFrame {
        schema: FrameSchema {
            name: "response".to_string(),
            meta: FrameMeta {
                preferred_visualisation_type: "flamegraph".to_string(),
            },
            fields,
        },
        data: FrameData { values },
    }
}
