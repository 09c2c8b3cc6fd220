//! The error type of the profile crate.

/// What went wrong while decoding or encoding a profile. Every variant says where.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The gzip stream is corrupt or truncated.
    #[error("gzip: {0}")]
    Gzip(std::io::Error),
    /// The decompressed input is larger than the configured limit.
    #[error("decompressed input exceeds the limit of {limit} bytes")]
    DecompressedTooLarge {
        /// The limit, [`DecodeLimits::max_decompressed_bytes`](crate::DecodeLimits).
        limit: u64,
    },
    /// The input is not a valid pprof protobuf message.
    #[error("pprof: {0}")]
    PprofProtobuf(#[from] prost::DecodeError),
    /// A pprof message is well formed but its content is invalid.
    #[error("pprof: {message}")]
    Pprof {
        /// What is wrong.
        message: String,
    },
    /// An OTLP profiles request is malformed (protobuf, JSON or content).
    #[error("otlp: {message}")]
    Otlp {
        /// What is wrong, and where (`dictionary.location_table[3].mapping_index`, ...).
        message: String,
    },
    /// A speedscope file is malformed.
    #[error("speedscope: {message}")]
    Speedscope {
        /// What is wrong, and where (`profiles[0].events[7]`, ...).
        message: String,
    },
    /// A line of folded text is invalid.
    #[error("folded line {line}: {message}")]
    Folded {
        /// 1-based line number.
        line: usize,
        /// What is wrong.
        message: String,
    },
    /// A line of `perf script` text is invalid.
    #[error("perf script line {line}: {message}")]
    PerfScript {
        /// 1-based line number.
        line: usize,
        /// What is wrong.
        message: String,
    },
    /// A Java Flight Recorder recording is malformed.
    #[error("jfr at byte {offset}: {message}")]
    Jfr {
        /// Byte offset in the (decompressed) recording.
        offset: u64,
        /// What is wrong.
        message: String,
    },
    /// Text is neither UTF-8 nor UTF-16 with a byte-order mark.
    #[error("text encoding: {0}")]
    Encoding(String),
    /// A configured limit was exceeded.
    #[error("{what} exceeds the limit of {limit}")]
    Limit {
        /// What was counted (`stack depth`, `labels per sample`, `samples`, ...).
        what: &'static str,
        /// The limit.
        limit: u64,
    },
    /// The format of the input could not be recognised.
    #[error("unrecognised profile format: {0}")]
    UnknownFormat(String),
    /// An I/O error while writing an encoded profile.
    #[error("write: {0}")]
    Io(#[from] std::io::Error),
}

/// Result with the crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
