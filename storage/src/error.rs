//! The error type of the storage crate.

/// What went wrong in the store. Variants carry the object path or partition involved.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// An object path that does not follow the layout.
    #[error("bad object path {path}: {message}")]
    Path {
        /// The path.
        path: String,
        /// What is wrong with it.
        message: String,
    },
    /// The object store failed (after retries, for transient errors).
    #[error("object store: {0}")]
    ObjectStore(#[from] object_store::Error),
    /// Reading or writing Parquet failed.
    #[error("parquet {path}: {source}")]
    Parquet {
        /// The file.
        path: String,
        /// The cause.
        source: parquet::errors::ParquetError,
    },
    /// Building Arrow data failed.
    #[error("arrow: {0}")]
    Arrow(#[from] arrow::error::ArrowError),
    /// A stored file is damaged or inconsistent.
    #[error("corrupt {path}: {message}")]
    Corrupt {
        /// The file.
        path: String,
        /// What is wrong.
        message: String,
    },
    /// A stored file has a format version this build does not know.
    #[error("{path}: format version {found} is not supported (this build reads up to {supported})")]
    UnsupportedVersion {
        /// The file.
        path: String,
        /// The version in the file.
        found: u32,
        /// The newest version this build reads.
        supported: u32,
    },
    /// A block's dictionary file does not exist (deleted too early, or never written).
    #[error("block {block}: its dictionary {dict} is missing")]
    MissingDictionary {
        /// The block (its directory).
        block: String,
        /// The dictionary file it refers to.
        dict: String,
    },
    /// Input rejected before it was stored (missing app, too many labels, ...).
    #[error("invalid input: {0}")]
    Invalid(String),
    /// The profile could not be decoded.
    #[error("decode: {0}")]
    Decode(#[from] flamedb_profile::Error),
    /// Local file I/O (write-ahead log).
    #[error("{path}: {source}")]
    Io {
        /// The file or directory.
        path: String,
        /// The cause.
        source: std::io::Error,
    },
    /// The store is shutting down or a background task died.
    #[error("store closed: {0}")]
    Closed(String),
}

/// Result with the crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// A [`Error::Corrupt`] for `path`.
    pub fn corrupt(path: impl ToString, message: impl ToString) -> Self {
        Error::Corrupt {
            path: path.to_string(),
            message: message.to_string(),
        }
    }

    /// An [`Error::Io`] for `path`.
    pub fn io(path: impl AsRef<std::path::Path>, source: std::io::Error) -> Self {
        Error::Io {
            path: path.as_ref().display().to_string(),
            source,
        }
    }
}
