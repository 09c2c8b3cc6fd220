//! Decode limits as flags (and `FLAMEDB_*` variables), shared by the commands that decode.

use clap::Args;
use flamedb_profile::DecodeLimits;

/// Bounds on decoding untrusted profiles; the defaults protect a server.
#[derive(Debug, Clone, Args)]
pub struct LimitArgs {
    /// Largest input after gzip decompression, in bytes.
    #[arg(long, env = "FLAMEDB_MAX_DECOMPRESSED_BYTES", default_value_t = DecodeLimits::default().max_decompressed_bytes)]
    max_decompressed_bytes: u64,
    /// Deepest stack accepted, in locations.
    #[arg(long, env = "FLAMEDB_MAX_STACK_DEPTH", default_value_t = DecodeLimits::default().max_stack_depth)]
    max_stack_depth: usize,
    /// Most labels on one sample.
    #[arg(long, env = "FLAMEDB_MAX_LABELS_PER_SAMPLE", default_value_t = DecodeLimits::default().max_labels_per_sample)]
    max_labels_per_sample: usize,
    /// Most samples in one profile.
    #[arg(long, visible_alias = "max-samples-per-profile", env = "FLAMEDB_MAX_SAMPLES", default_value_t = DecodeLimits::default().max_samples)]
    max_samples: usize,
    /// Most distinct label sets in one profile (each is a series of its own downstream).
    #[arg(long, env = "FLAMEDB_MAX_LABEL_SETS", default_value_t = DecodeLimits::default().max_label_sets)]
    max_label_sets: usize,
    /// Most entries in one table of a profile (pprof locations, functions, mappings,
    /// strings; OTLP dictionary tables), counted before they are decoded.
    #[arg(long, env = "FLAMEDB_MAX_TABLE_ENTRIES", default_value_t = DecodeLimits::default().max_table_entries)]
    max_table_entries: usize,
}

impl LimitArgs {
    /// The limits these flags describe.
    pub fn limits(&self) -> DecodeLimits {
        DecodeLimits {
            max_decompressed_bytes: self.max_decompressed_bytes,
            max_stack_depth: self.max_stack_depth,
            max_labels_per_sample: self.max_labels_per_sample,
            max_samples: self.max_samples,
            max_label_sets: self.max_label_sets,
            max_table_entries: self.max_table_entries,
            ..DecodeLimits::default()
        }
    }
}
