//! What can go wrong with the store, each naming the file.

use std::io;
use std::path::PathBuf;

/// A store failure. Every variant names the database file.
///
/// New variants will come with new back ends (a PostgreSQL store will add an
/// address conflict with another node), hence `non_exhaustive`: a caller
/// treats any error from [`LeaseStore::commit`](crate::LeaseStore::commit)
/// as "these changes are not stored, do not send the reply".
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The file exists but is not an SQLite database at all.
    #[error(
        "{path} is not an SQLite database ({reason}); it was left untouched: \
         move it away or point the lease store at another file"
    )]
    NotADatabase { path: PathBuf, reason: String },
    /// The file is an SQLite database that phoneprov did not write.
    #[error(
        "{path} is an SQLite database but not phoneprov's {store} (it holds the tables \
         {tables:?}); it was left untouched: move it away"
    )]
    Foreign {
        path: PathBuf,
        /// Which of phoneprov's stores the file should have been.
        store: &'static str,
        tables: Vec<String>,
    },
    /// The file was written by a newer phoneprov.
    #[error(
        "{path} has lease schema version {found}, this phoneprov knows up to {known}: \
         run the newer phoneprov, or move the file away to start with no leases"
    )]
    NewerSchema {
        path: PathBuf,
        found: i64,
        known: i64,
    },
    /// The file was damaged and could not be set aside before salvaging it.
    #[error("{path} is damaged ({problem}) and could not be copied aside: {source}")]
    SetAside {
        path: PathBuf,
        problem: String,
        source: io::Error,
    },
    /// SQLite refused an operation (opening, reading, writing, syncing).
    #[error("{path}: cannot {doing}: {reason}")]
    Sqlite {
        path: PathBuf,
        doing: &'static str,
        reason: String,
    },
    /// The writer thread is gone (it panicked, or the store is shutting down).
    #[error("{path}: the lease writer has stopped, nothing more can be committed")]
    WriterGone { path: PathBuf },
}

impl StoreError {
    pub(crate) fn sqlite(
        path: &std::path::Path,
        doing: &'static str,
        error: impl ToString,
    ) -> Self {
        StoreError::Sqlite {
            path: path.to_owned(),
            doing,
            reason: error.to_string(),
        }
    }
}
