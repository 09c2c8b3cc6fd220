//! pprof (`perftools.profiles.Profile`, google/pprof `proto/profile.proto`).
//!
//! ```text
//!   bytes ─► [gzip::maybe_gunzip] ─► wire::split ─► prost (per sub-message) ─► decode ─► Profile
//!   Profile ─► encode ─► proto::Profile ─► prost ─► bytes ─► [gzip] ─► .pb.gz
//! ```
//!
//! - [`proto`]: the messages, hand-written prost structs.
//! - `wire`: the top level of a `Profile` message split into its fields by hand, so that
//!   samples are decoded one at a time into reused buffers (see `decode.rs` for numbers).
//! - [`decode`] takes raw (decompressed) bytes, as [`crate::decode`] passes them after its
//!   own gunzip; [`decode_maybe_gzip`] accepts either. The module docs of `decode.rs` list
//!   how malformed content is handled (padding of short value lists, dangling ids, ...).
//! - [`encode`] writes raw protobuf, [`encode_gzip`] gzipped; ids are positions + 1.

mod decode;
mod encode;
pub mod proto;
mod wire;

pub use decode::{decode, decode_maybe_gzip, from_proto};
pub use encode::{encode, encode_gzip, to_proto};

#[cfg(test)]
mod tests;
