//! Limits that bound the work and memory of decoding untrusted input.

/// Bounds on what a decoder accepts. Input beyond a limit is rejected with
/// [`Error::Limit`](crate::Error::Limit) or
/// [`Error::DecompressedTooLarge`](crate::Error::DecompressedTooLarge), never truncated
/// silently. The defaults suit a server that ingests profiles from a fleet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DecodeLimits {
    /// Largest input after gzip decompression, in bytes. Default 256 MiB.
    pub max_decompressed_bytes: u64,
    /// Deepest stack, in locations. Default 4096.
    pub max_stack_depth: usize,
    /// Most labels on one sample. Default 64.
    pub max_labels_per_sample: usize,
    /// Most samples in one profile. Default 10 million.
    pub max_samples: usize,
    /// Most value columns (sample types). Default 32.
    pub max_sample_types: usize,
    /// Most distinct label sets in one profile (each becomes its own series of rows
    /// downstream). Default 100,000.
    pub max_label_sets: usize,
    /// Most entries in one of a profile's tables: pprof's locations, functions, mappings
    /// and strings; OTLP's dictionary tables. Checked on the wire framing before the
    /// entries are decoded: an empty entry costs 2 bytes on the wire but tens in memory
    /// (64 MB of empty pprof locations took 2.1 GB to decode before this limit). Default
    /// 2 million (the largest table in the corpus has 23,355 entries).
    pub max_table_entries: usize,
}

impl Default for DecodeLimits {
    fn default() -> Self {
        DecodeLimits {
            max_decompressed_bytes: 256 << 20,
            max_stack_depth: 4096,
            max_labels_per_sample: 64,
            max_samples: 10_000_000,
            max_sample_types: 32,
            max_label_sets: 100_000,
            max_table_entries: 2_000_000,
        }
    }
}

impl DecodeLimits {
    /// Fails with [`Error::Limit`](crate::Error::Limit) when `n > limit`.
    pub fn check(what: &'static str, n: usize, limit: usize) -> crate::Result<()> {
        if n > limit {
            return Err(crate::Error::Limit {
                what,
                limit: limit as u64,
            });
        }
        Ok(())
    }
}
