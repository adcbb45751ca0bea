//! Every phone's timeline on disk (`timeline.db`): what phoneprov saw each
//! phone do, so that after a restart it still knows where each phone is on
//! its ladder and what went wrong. The newest `keep` entries of each phone
//! are kept.
//!
//! An entry's text is the caller's: the store keeps it as written. Writes
//! come in batches, one transaction each, with `synchronous=NORMAL`: a
//! crash may lose the last batch (a second of history), never the file.
//! A damaged file is set aside as `<path>.damaged-<unix time>` and a fresh
//! timeline started; a file that is another program's database is left
//! untouched and is an error.

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rusqlite::{params, Connection, OpenFlags};

use crate::StoreError;

const SCHEMA: &str = "
CREATE TABLE timeline_schema (version INTEGER NOT NULL);
INSERT INTO timeline_schema (version) VALUES (1);
CREATE TABLE observations (
    id INTEGER PRIMARY KEY,
    phone BLOB NOT NULL,
    at_ms INTEGER NOT NULL,
    seen TEXT NOT NULL
);
CREATE INDEX observations_by_phone ON observations (phone, id);
";

/// One thing seen of one phone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub phone: [u8; 6],
    pub at: SystemTime,
    pub seen: String,
}

/// The timelines of every phone, in an SQLite file.
pub struct SqliteTimeline {
    path: PathBuf,
    conn: Mutex<Connection>,
    keep: usize,
    set_aside: Option<String>,
}

impl SqliteTimeline {
    /// Opens (or creates) the timeline at `path`, keeping the newest `keep`
    /// entries per phone.
    pub fn open(path: impl Into<PathBuf>, keep: usize) -> Result<SqliteTimeline, StoreError> {
        let path = path.into();
        let set_aside = match open_existing(&path) {
            Ok(()) => None,
            Err(Damaged(problem)) => Some(set_aside(&path, &problem)?),
        };
        let conn = Connection::open(&path).map_err(|e| StoreError::sqlite(&path, "open", e))?;
        let configure = |name, value: &str| {
            conn.pragma_update(None, name, value)
                .map_err(|e| StoreError::sqlite(&path, "configure the database", e))
        };
        configure("journal_mode", "WAL")?;
        configure("synchronous", "NORMAL")?;
        let tables = tables(&conn).map_err(|e| StoreError::sqlite(&path, "read the schema", e))?;
        if tables.is_empty() {
            conn.execute_batch(SCHEMA)
                .map_err(|e| StoreError::sqlite(&path, "create the schema", e))?;
        } else if !tables.iter().any(|t| t == "observations") {
            return Err(StoreError::Foreign {
                path,
                store: "timeline",
                tables,
            });
        }
        Ok(SqliteTimeline {
            path,
            conn: Mutex::new(conn),
            keep,
            set_aside,
        })
    }

    /// What was wrong with a damaged file set aside at open, and where it went.
    pub fn set_aside(&self) -> Option<&str> {
        self.set_aside.as_deref()
    }

    /// Appends `entries` in one transaction, then forgets each of their
    /// phones' entries beyond the newest `keep`.
    pub fn append(&self, entries: &[Entry]) -> Result<(), StoreError> {
        let mut conn = self.conn.lock().unwrap_or_else(|e| e.into_inner());
        let fail = |doing| move |e| StoreError::sqlite(&self.path, doing, e);
        let tx = conn.transaction().map_err(fail("begin a transaction"))?;
        {
            let mut insert = tx
                .prepare_cached("INSERT INTO observations (phone, at_ms, seen) VALUES (?1, ?2, ?3)")
                .map_err(fail("write an observation"))?;
            for entry in entries {
                insert
                    .execute(params![&entry.phone[..], millis(entry.at), entry.seen])
                    .map_err(fail("write an observation"))?;
            }
            let mut prune = tx
                .prepare_cached(
                    "DELETE FROM observations WHERE phone = ?1 AND id <= \
                     (SELECT id FROM observations WHERE phone = ?1 ORDER BY id DESC LIMIT 1 OFFSET ?2)",
                )
                .map_err(fail("forget old observations"))?;
            let mut phones: Vec<[u8; 6]> = entries.iter().map(|e| e.phone).collect();
            phones.sort_unstable();
            phones.dedup();
            for phone in phones {
                prune
                    .execute(params![&phone[..], self.keep as i64])
                    .map_err(fail("forget old observations"))?;
            }
        }
        tx.commit().map_err(fail("commit observations"))
    }

    /// Every entry, each phone's oldest first. Rows that cannot be read
    /// (a damaged page) are skipped.
    pub fn load(&self) -> Result<Vec<Entry>, StoreError> {
        let conn = self.conn.lock().unwrap_or_else(|e| e.into_inner());
        entries(&conn, &self.path)
    }

    /// The entries of the timeline at `path`, read without writing
    /// anything (serve may be running): for the commands that look.
    pub fn read(path: &Path) -> Result<Vec<Entry>, StoreError> {
        let conn = Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_ONLY)
            .map_err(|e| StoreError::sqlite(path, "open", e))?;
        entries(&conn, path)
    }
}

/// Every entry of `conn`'s timeline, each phone's oldest first.
fn entries(conn: &Connection, path: &Path) -> Result<Vec<Entry>, StoreError> {
    let fail = |e| StoreError::sqlite(path, "read the timeline", e);
    let mut statement = conn
        .prepare("SELECT phone, at_ms, seen FROM observations ORDER BY phone, id")
        .map_err(fail)?;
    let rows = statement
        .query_map([], |row| {
            let phone: Vec<u8> = row.get(0)?;
            let at: i64 = row.get(1)?;
            let seen: String = row.get(2)?;
            Ok((phone, at, seen))
        })
        .map_err(fail)?;
    Ok(rows
        .filter_map(Result::ok)
        .filter_map(|(phone, at, seen)| {
            Some(Entry {
                phone: phone.try_into().ok()?,
                at: UNIX_EPOCH + Duration::from_millis(u64::try_from(at).ok()?),
                seen,
            })
        })
        .collect())
}

struct Damaged(String);

/// Whether the file at `path`, if any, is a readable SQLite database.
fn open_existing(path: &Path) -> Result<(), Damaged> {
    if !path.exists() {
        return Ok(());
    }
    let conn = Connection::open(path).map_err(|e| Damaged(e.to_string()))?;
    let problems: rusqlite::Result<Vec<String>> = conn
        .prepare("PRAGMA quick_check(5)")
        .and_then(|mut s| s.query_map([], |row| row.get::<_, String>(0))?.collect());
    match problems {
        Ok(problems) if problems == ["ok"] => Ok(()),
        Ok(problems) => Err(Damaged(problems.join("; "))),
        Err(e) => Err(Damaged(e.to_string())),
    }
}

/// Renames the damaged file (and its WAL) aside; says so.
fn set_aside(path: &Path, problem: &str) -> Result<String, StoreError> {
    let when = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let aside = PathBuf::from(format!("{}.damaged-{when}", path.display()));
    for (from, to) in [
        (path.to_owned(), aside.clone()),
        (
            PathBuf::from(format!("{}-wal", path.display())),
            PathBuf::from(format!("{}-wal", aside.display())),
        ),
    ] {
        match std::fs::rename(&from, &to) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                return Err(StoreError::SetAside {
                    path: path.to_owned(),
                    problem: problem.to_owned(),
                    source: e,
                })
            }
            _ => {}
        }
    }
    let _ = std::fs::remove_file(format!("{}-shm", path.display()));
    Ok(format!(
        "{} was damaged ({problem}); it was moved to {} and a new timeline started",
        path.display(),
        aside.display()
    ))
}

fn tables(conn: &Connection) -> rusqlite::Result<Vec<String>> {
    let mut statement = conn.prepare("SELECT name FROM sqlite_schema WHERE type = 'table'")?;
    let names = statement.query_map([], |row| row.get(0))?;
    names.collect()
}

fn millis(at: SystemTime) -> i64 {
    at.duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;

    const PHONE: [u8; 6] = [0x00, 0x18, 0xB9, 0, 0, 1];
    const OTHER: [u8; 6] = [0x00, 0x18, 0xB9, 0, 0, 2];

    fn entry(phone: [u8; 6], n: u64) -> Entry {
        Entry {
            phone,
            at: UNIX_EPOCH + Duration::from_millis(1_700_000_000_000 + n),
            seen: format!("seen {n}"),
        }
    }

    #[test]
    fn entries_outlive_a_reopen_and_each_phone_keeps_its_newest() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("timeline.db");
        {
            let timeline = SqliteTimeline::open(&path, 3).unwrap();
            let batch: Vec<Entry> = (0..5).map(|n| entry(PHONE, n)).collect();
            timeline.append(&batch).unwrap();
            timeline.append(&[entry(OTHER, 9)]).unwrap();
            timeline.append(&[entry(PHONE, 5)]).unwrap();
        }
        let timeline = SqliteTimeline::open(&path, 3).unwrap();
        assert_eq!(timeline.set_aside(), None);
        let mut expected: Vec<Entry> = (3..6).map(|n| entry(PHONE, n)).collect();
        expected.push(entry(OTHER, 9));
        assert_eq!(timeline.load().unwrap(), expected);
        // Read beside a running writer, without writing.
        assert_eq!(SqliteTimeline::read(&path).unwrap(), expected);
    }

    #[test]
    fn a_damaged_file_is_set_aside_and_a_new_timeline_started() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("timeline.db");
        std::fs::write(&path, b"not a database, a text file someone saved here").unwrap();
        let timeline = SqliteTimeline::open(&path, 3).unwrap();
        let said = timeline.set_aside().unwrap();
        assert!(said.contains("moved to"), "{said}");
        timeline.append(&[entry(PHONE, 1)]).unwrap();
        assert_eq!(timeline.load().unwrap(), [entry(PHONE, 1)]);
        let aside: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .filter_map(|e| e.ok())
            .filter(|e| e.file_name().to_string_lossy().contains(".damaged-"))
            .collect();
        assert_eq!(aside.len(), 1);
        assert_eq!(
            std::fs::read(aside[0].path()).unwrap(),
            b"not a database, a text file someone saved here"
        );
    }

    #[test]
    fn another_programs_database_is_left_alone() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("timeline.db");
        Connection::open(&path)
            .unwrap()
            .execute_batch("CREATE TABLE users (name TEXT)")
            .unwrap();
        assert!(matches!(
            SqliteTimeline::open(&path, 3),
            Err(StoreError::Foreign { .. })
        ));
        let conn = Connection::open(&path).unwrap();
        assert_eq!(tables(&conn).unwrap(), ["users"]);
    }
}
