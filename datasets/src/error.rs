//! The one error type of the crate.

use std::fmt;

/// Everything that can go wrong while reading, parsing or batching data.
///
/// Every variant that concerns a file carries its path (or, for embedded
/// data, a name such as `<embedded>/mnist-10k/train-images-idx3-ubyte.gz`),
/// and its message says what is wrong. Broken input yields one of these,
/// never a panic.
#[derive(Debug)]
pub enum DataError {
    /// A file or directory that should exist does not.
    NotFound {
        /// The path that was looked for.
        path: String,
        /// What was expected there, e.g. "MNIST training images".
        what: String,
    },
    /// An I/O error other than "not found" while reading a file.
    Io {
        /// The file being read.
        path: String,
        /// The underlying error.
        source: std::io::Error,
    },
    /// A file starts with the wrong magic number.
    BadMagic {
        /// The file.
        path: String,
        /// The magic number found (big-endian u32 of the first four bytes).
        found: u32,
        /// The magic number expected.
        expected: u32,
    },
    /// A file ends before its header or body is complete.
    Truncated {
        /// The file.
        path: String,
        /// Which part is short and by how much.
        detail: String,
    },
    /// A file is readable but its content is inconsistent (bad label, bad
    /// dimensions, corrupt gzip stream, trailing bytes, ...).
    Corrupt {
        /// The file.
        path: String,
        /// What is wrong.
        detail: String,
    },
    /// An image file and its label file disagree on the number of records.
    CountMismatch {
        /// The image file.
        images: String,
        /// The label file.
        labels: String,
        /// Records in the image file.
        n_images: usize,
        /// Records in the label file.
        n_labels: usize,
    },
    /// A fixed-record file (CIFAR-10) whose size is not a positive multiple
    /// of the record size.
    BadSize {
        /// The file.
        path: String,
        /// Its size in bytes.
        len: u64,
        /// The record size in bytes.
        record: usize,
    },
    /// A text corpus with no bytes in it.
    EmptyText {
        /// The file.
        path: String,
    },
    /// A data spec whose kind is not known.
    UnknownSpec {
        /// The spec as given.
        spec: String,
    },
    /// A data spec of a known kind with a bad parameter.
    BadSpec {
        /// The spec as given.
        spec: String,
        /// What is wrong.
        detail: String,
    },
    /// A token stream too short for one next-token window.
    TooFewTokens {
        /// The stream, e.g. `<embedded>/shakespeare/plays.txt (validation split)`.
        what: String,
        /// Tokens in it.
        tokens: usize,
        /// The window length asked for (a window needs `seq_len + 1` tokens).
        seq_len: usize,
    },
    /// A bad argument to a constructor or loader (batch size 0, a fraction
    /// outside [0, 1), a data set too small for the requested batches, ...).
    InvalidArgument {
        /// What is wrong.
        detail: String,
    },
}

impl DataError {
    /// Convert an I/O error on `path` into `NotFound` or `Io`.
    pub fn from_io(path: impl Into<String>, what: &str, err: std::io::Error) -> DataError {
        let path = path.into();
        if err.kind() == std::io::ErrorKind::NotFound {
            DataError::NotFound { path, what: what.to_string() }
        } else {
            DataError::Io { path, source: err }
        }
    }

    /// Shorthand for [`DataError::InvalidArgument`].
    pub fn invalid(detail: impl Into<String>) -> DataError {
        DataError::InvalidArgument { detail: detail.into() }
    }
}

impl fmt::Display for DataError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DataError::NotFound { path, what } => {
                write!(f, "{path}: not found (expected {what} there)")
            }
            DataError::Io { path, source } => write!(f, "{path}: cannot read: {source}"),
            DataError::BadMagic { path, found, expected } => {
                write!(f, "{path}: wrong magic number 0x{found:08x}, expected 0x{expected:08x}")
            }
            DataError::Truncated { path, detail } => write!(f, "{path}: truncated: {detail}"),
            DataError::Corrupt { path, detail } => write!(f, "{path}: {detail}"),
            DataError::CountMismatch { images, labels, n_images, n_labels } => {
                write!(f, "{images} holds {n_images} images but {labels} holds {n_labels} labels")
            }
            DataError::BadSize { path, len, record } => {
                write!(f, "{path}: size {len} bytes is not a positive multiple of the {record}-byte record")
            }
            DataError::EmptyText { path } => write!(f, "{path}: the text is empty"),
            DataError::UnknownSpec { spec } => write!(
                f,
                "unknown data spec {spec:?} (expected mnist, mnist:DIR, fashion-mnist:DIR, \
                 cifar10:DIR, shakespeare, text:FILE, spirals[:k=v,...] or blobs[:k=v,...])"
            ),
            DataError::BadSpec { spec, detail } => write!(f, "data spec {spec:?}: {detail}"),
            DataError::TooFewTokens { what, tokens, seq_len } => {
                write!(f, "{what}: {tokens} tokens are too few for one window of {seq_len} (need at least {})", seq_len + 1)
            }
            DataError::InvalidArgument { detail } => write!(f, "{detail}"),
        }
    }
}

impl std::error::Error for DataError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            DataError::Io { source, .. } => Some(source),
            _ => None,
        }
    }
}

/// Result alias used throughout the crate.
pub type Result<T> = std::result::Result<T, DataError>;
