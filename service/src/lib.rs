//! flamedb's service: what every front door shares, so that a protocol is a thin adapter.
//!
//! ```text
//!  REST (/api/v1) ─┐                          ┌─► ingest::ingest ─► Store (WAL, heads, blocks)
//!  Pyroscope HTTP ─┤  Tenant::parse, Auth     │
//!  push (Connect) ─┼─► typed requests ────────┼─► query::Engine: admission, deadline, tenant
//!  CLI (in process)┘  (FlameRequest, SQL, ...)│     session, read-only SQL, flame trees,
//!                     parse: times, steps,    │     series and labels as DataFusion plans
//!                     sizes, label names      └─► Error { kind, message } ─► each protocol's
//!                                                  status (HTTP, Connect, later gRPC, SQLSTATE)
//! ```
//!
//! The service imports no protocol: nothing here knows HTTP, Connect or a command line.
//!
//! # Tour
//! - [`error`]: the one [`Error`] with its [`ErrorKind`]s.
//! - [`parse`]: times, steps, sizes and label names, with checked arithmetic.
//! - [`tenant`]: [`Tenant`] validation and the bearer tokens ([`Auth`]).
//! - [`limits`]: per-tenant rate limits and the ingest slots.
//! - [`ingest`]: canonical labels, records, storing a request all or nothing, and
//!   Pyroscope's ingest semantics (sample rates, sample type configs).
//! - [`events`]: change events (commits, flags, configs, deploys), posted and listed.
//! - [`inspect`]: regression inspections, findings with a lifecycle, what to alert on.
//! - [`selector`]: label selectors in PromQL's syntax (`{service_name="api", pod=~"a.*"}`).
//! - [`query`]: the [`query::Engine`] (limits, admission, SQL), flame graphs
//!   ([`query::flame`]), series and labels ([`query::meta`]), result encodings
//!   ([`query::encode`]).

pub mod error;
pub mod events;
pub mod ingest;
pub mod inspect;
pub mod limits;
pub mod parse;
pub mod query;
pub mod selector;
pub mod tenant;

pub use error::{Error, ErrorKind, Result};
pub use tenant::{Access, Auth, Grant, Tenant};
