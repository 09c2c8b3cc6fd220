//! Filter pushdown: which `WHERE` conjuncts the scan applies itself, exactly.
//!
//! One classifier ([`classify`]) answers both `supports_filters_pushdown` (a predicate it
//! understands is `Exact`, and DataFusion drops it from the plan) and `scan` (the predicate
//! to apply), so a filter can never be reported exact yet not applied. Predicates are plain
//! serializable data, not DataFusion expressions.
//!
//! | predicate (after DataFusion's simplification)            | applied to                  |
//! |----------------------------------------------------------|-----------------------------|
//! | `app/version/dc` `=`, `<>`, `IN`, `NOT IN` literal       | partition listing, blocks   |
//! | `sample_type/sample_unit` `=`, `<>`, `IN`, `NOT IN`      | block metadata, profile rows|
//! | `time` `<`, `<=`, `>`, `>=`, `=`, `BETWEEN` literal      | dates, blocks, profile rows |
//! | `labels['k']` `=`, `<>`, `IN`, `NOT IN` literal          | series, profile rows        |
//! | an `OR` of `=` on one of those columns (a short `IN`)    | as `IN`                     |
//! | `stack_contains(stack, 'f')`, `stack_matches(stack, 're')`, their `NOT` | stack bitmaps |

use crate::dicts::StackPred;
use crate::functions::stack_pred::StackPredFunc;
use crate::table::schema::{Col, TableKind};
use datafusion::common::ScalarValue;
use datafusion::logical_expr::{BinaryExpr, Expr, Operator};
use serde::{Deserialize, Serialize};

/// A predicate the scan applies.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Pred {
    /// A dimension column is (or, negated, is not) one of `values`.
    Dim {
        /// The column.
        col: Col,
        /// Accepted (or rejected) values.
        values: Vec<String>,
        /// `NOT IN` / `<>`.
        negated: bool,
    },
    /// `min <= time <= max` (ns since the epoch).
    Time {
        /// Smallest time kept.
        min: i64,
        /// Largest time kept.
        max: i64,
    },
    /// A series label is (or, negated, is present and is not) one of `values`.
    Label {
        /// Label name.
        name: String,
        /// Accepted (or rejected) values.
        values: Vec<String>,
        /// `NOT IN` / `<>`.
        negated: bool,
    },
    /// The stack has a frame named `pattern` (or matching regex `pattern`).
    Stack {
        /// Frame name or regex.
        pattern: String,
        /// `pattern` is a regex (`stack_matches`).
        regex: bool,
        /// `NOT stack_contains(..)`.
        negated: bool,
    },
}

/// The predicate `e` stands for, if the scan of `kind` can apply it exactly.
pub fn classify(e: &Expr, kind: TableKind) -> Option<Pred> {
    match e {
        Expr::Not(inner) => match classify(inner, kind)? {
            Pred::Stack {
                pattern,
                regex,
                negated,
            } => Some(Pred::Stack {
                pattern,
                regex,
                negated: !negated,
            }),
            _ => None,
        },
        Expr::BinaryExpr(b) => binary(b, kind),
        Expr::InList(l) => {
            let values = l
                .list
                .iter()
                .map(|v| literal_str(v).map(str::to_string))
                .collect::<Option<Vec<_>>>()?;
            target(&l.expr, kind, values, l.negated)
        }
        Expr::Between(b) if !b.negated => {
            let col = column(&b.expr, kind)?;
            if col != Col::Time {
                return None;
            }
            Some(Pred::Time {
                min: literal_nanos(&b.low)?,
                max: literal_nanos(&b.high)?,
            })
        }
        Expr::ScalarFunction(f) if kind == TableKind::Samples => {
            let regex = f.func.inner().downcast_ref::<StackPredFunc>()?.is_regex();
            if f.args.len() != 2 || column(&f.args[0], kind)? != Col::Stack {
                return None;
            }
            let pattern = literal_str(&f.args[1])?.to_string();
            // A bad regex stays in the plan, where the function reports it.
            StackPred::new(&pattern, regex).ok()?;
            Some(Pred::Stack {
                pattern,
                regex,
                negated: false,
            })
        }
        _ => None,
    }
}

fn binary(b: &BinaryExpr, kind: TableKind) -> Option<Pred> {
    // `x = 'a' OR x = 'b'` (DataFusion writes short IN lists this way): one IN list.
    if b.op == Operator::Or {
        return match (classify(&b.left, kind)?, classify(&b.right, kind)?) {
            (
                Pred::Dim {
                    col: c1,
                    values: mut v1,
                    negated: false,
                },
                Pred::Dim {
                    col: c2,
                    values: v2,
                    negated: false,
                },
            ) if c1 == c2 => {
                v1.extend(v2);
                Some(Pred::Dim {
                    col: c1,
                    values: v1,
                    negated: false,
                })
            }
            (
                Pred::Label {
                    name: n1,
                    values: mut v1,
                    negated: false,
                },
                Pred::Label {
                    name: n2,
                    values: v2,
                    negated: false,
                },
            ) if n1 == n2 => {
                v1.extend(v2);
                Some(Pred::Label {
                    name: n1,
                    values: v1,
                    negated: false,
                })
            }
            _ => None,
        };
    }
    // `stack_contains(..) = false` and friends.
    if let (Some(p), Some(ScalarValue::Boolean(Some(v)))) =
        (classify(&b.left, kind), literal(&b.right))
    {
        if let Pred::Stack {
            pattern,
            regex,
            negated,
        } = p
        {
            let negated = match b.op {
                Operator::Eq | Operator::IsNotDistinctFrom => negated ^ !v,
                Operator::NotEq | Operator::IsDistinctFrom => negated ^ v,
                _ => return None,
            };
            return Some(Pred::Stack {
                pattern,
                regex,
                negated,
            });
        }
        return None;
    }
    let (lhs, op, rhs) = if literal(&b.left).is_some() {
        (&b.right, b.op.swap()?, &b.left)
    } else {
        (&b.left, b.op, &b.right)
    };
    if let Some(Col::Time) = column(lhs, kind) {
        let t = literal_nanos(rhs)?;
        let (min, max) = match op {
            Operator::Eq => (t, t),
            Operator::Gt => (t.checked_add(1)?, i64::MAX),
            Operator::GtEq => (t, i64::MAX),
            Operator::Lt => (i64::MIN, t.checked_sub(1)?),
            Operator::LtEq => (i64::MIN, t),
            _ => return None,
        };
        return Some(Pred::Time { min, max });
    }
    let negated = match op {
        Operator::Eq => false,
        Operator::NotEq => true,
        _ => return None,
    };
    target(lhs, kind, vec![literal_str(rhs)?.to_string()], negated)
}

/// A dimension or label predicate on `e`.
fn target(e: &Expr, kind: TableKind, values: Vec<String>, negated: bool) -> Option<Pred> {
    if let Some(col) = column(e, kind) {
        return matches!(
            col,
            Col::App | Col::Version | Col::Dc | Col::SampleType | Col::SampleUnit
        )
        .then_some(Pred::Dim {
            col,
            values,
            negated,
        });
    }
    let name = label_access(e, kind)?;
    Some(Pred::Label {
        name,
        values,
        negated,
    })
}

/// `labels['name']` as DataFusion plans it: `get_field(labels, 'name')`.
fn label_access(e: &Expr, kind: TableKind) -> Option<String> {
    let Expr::ScalarFunction(f) = strip_cast(e) else {
        return None;
    };
    if f.func.name() != "get_field" || f.args.len() != 2 {
        return None;
    }
    if column(&f.args[0], kind)? != Col::Labels {
        return None;
    }
    literal_str(&f.args[1]).map(str::to_string)
}

fn strip_cast(e: &Expr) -> &Expr {
    match e {
        Expr::Cast(c) => strip_cast(&c.expr),
        Expr::TryCast(c) => strip_cast(&c.expr),
        e => e,
    }
}

/// The table column `e` refers to (through casts, which coercion adds around
/// dictionary columns).
fn column(e: &Expr, kind: TableKind) -> Option<Col> {
    let Expr::Column(c) = strip_cast(e) else {
        return None;
    };
    kind.columns()
        .iter()
        .copied()
        .find(|col| col.name() == c.name)
}

fn literal(e: &Expr) -> Option<&ScalarValue> {
    match strip_cast(e) {
        Expr::Literal(v, _) => Some(unwrap_dict(v)),
        _ => None,
    }
}

fn unwrap_dict(v: &ScalarValue) -> &ScalarValue {
    match v {
        ScalarValue::Dictionary(_, inner) => unwrap_dict(inner),
        v => v,
    }
}

fn literal_str(e: &Expr) -> Option<&str> {
    match literal(e)? {
        ScalarValue::Utf8(Some(s))
        | ScalarValue::LargeUtf8(Some(s))
        | ScalarValue::Utf8View(Some(s)) => Some(s),
        _ => None,
    }
}

fn literal_nanos(e: &Expr) -> Option<i64> {
    match literal(e)? {
        ScalarValue::TimestampNanosecond(Some(v), _) => Some(*v),
        ScalarValue::TimestampMicrosecond(Some(v), _) => v.checked_mul(1_000),
        ScalarValue::TimestampMillisecond(Some(v), _) => v.checked_mul(1_000_000),
        ScalarValue::TimestampSecond(Some(v), _) => v.checked_mul(1_000_000_000),
        _ => None,
    }
}
