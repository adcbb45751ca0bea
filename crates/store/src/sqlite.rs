//! Leases in an embedded SQLite file: WAL mode, `synchronous=FULL`, one
//! writer thread that commits the changes of every waiting caller in one
//! transaction (group commit).

use std::fmt;
use std::fs;
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver, Sender, SyncSender};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use phoneprov_dhcp::{ClientId, HwAddr, Lease, LeaseChange, LeaseState};
use rusqlite::{params, Connection, ErrorCode, OpenFlags, Row, TransactionBehavior};

use crate::{LeaseStore, LoadedLeases, StoreError, UnreadableRow};

/// The schema this code writes and reads.
const SCHEMA_VERSION: i64 = 1;

const SCHEMA: &str = "
CREATE TABLE phoneprov_schema (version INTEGER NOT NULL);
-- One row per address: the engine's rule, kept by the primary key.
CREATE TABLE leases (
    ip           INTEGER PRIMARY KEY,  -- the IPv4 address as a number
    client_kind  INTEGER NOT NULL,     -- 0: hardware address, 1: option 61
    client       BLOB NOT NULL,
    hwaddr       BLOB NOT NULL,
    expires_s    INTEGER NOT NULL,     -- seconds since 1970 (floor)
    expires_ns   INTEGER NOT NULL,     -- and nanoseconds, 0..1e9
    hostname     TEXT,
    vendor_class TEXT,
    state        TEXT NOT NULL CHECK (state IN ('offered', 'bound', 'declined', 'released'))
);
-- A client has at most one claim (an offered, bound or released record).
CREATE UNIQUE INDEX leases_claim ON leases (client_kind, client) WHERE state <> 'declined';
";

const COLUMNS: &str =
    "ip, client_kind, client, hwaddr, expires_s, expires_ns, hostname, vendor_class, state";

/// The most callers' commits written in one transaction.
const MAX_BATCH: usize = 1024;

/// [`LeaseStore`] over an SQLite file.
///
/// [`SqliteLeases::open`] checks the file, salvages it when it is damaged,
/// and starts the writer thread; dropping the store stops the thread after
/// the commits already queued.
pub struct SqliteLeases {
    path: PathBuf,
    writer: Option<Writer>,
    counters: Arc<Counters>,
    salvage: Option<Salvage>,
}

struct Writer {
    jobs: Sender<Job>,
    thread: JoinHandle<()>,
}

/// One caller's commit, and where to tell it the outcome.
struct Job {
    changes: Vec<LeaseChange>,
    done: SyncSender<Result<(), StoreError>>,
}

#[derive(Default)]
struct Counters {
    transactions: AtomicU64,
    commits: AtomicU64,
}

/// How much group commit saved: for `/metrics`, and for the tests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CommitStats {
    /// Transactions committed (each one `fsync` of the WAL).
    pub transactions: u64,
    /// Callers' commits made durable by them.
    pub commits: u64,
}

/// What [`SqliteLeases::open`] did with a damaged file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Salvage {
    /// The database file, now a fresh database with the rows read back.
    pub path: PathBuf,
    /// Where the damaged file was copied, untouched, for a post-mortem.
    pub set_aside: PathBuf,
    /// What SQLite found wrong.
    pub problem: String,
    /// Leases read back into the fresh database.
    pub leases_kept: usize,
    /// Rows that were readable but did not make a lease. Rows on unreadable
    /// pages are not counted: nobody knows how many there were.
    pub rows_unreadable: usize,
}

impl fmt::Display for Salvage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} was damaged ({}); it was copied to {}, and a fresh database was started with \
             the {} leases that could be read ({} more rows were unreadable)",
            self.path.display(),
            self.problem,
            self.set_aside.display(),
            self.leases_kept,
            self.rows_unreadable
        )
    }
}

impl SqliteLeases {
    /// Opens the lease database at `path`, creating it when missing.
    ///
    /// A damaged database is copied aside as `<path>.damaged-<unix time>`,
    /// the leases SQLite can still read are put in a fresh database, and
    /// [`SqliteLeases::salvage`] reports it. A file that is not an SQLite
    /// database, another program's database, or a newer schema is an error
    /// and is left untouched.
    pub fn open(path: impl Into<PathBuf>) -> Result<SqliteLeases, StoreError> {
        let path = path.into();
        let (salvage, kept) = match check(&path)? {
            Health::Sound => (None, Vec::new()),
            Health::Damaged(problem) => {
                let (salvage, kept) = salvage(&path, problem)?;
                (Some(salvage), kept)
            }
        };
        let mut conn = open_for_writing(&path)?;
        if !kept.is_empty() {
            let tx = conn
                .transaction()
                .map_err(|e| StoreError::sqlite(&path, "begin a transaction", e))?;
            for lease in &kept {
                put(&tx, lease).map_err(|e| StoreError::sqlite(&path, "write a lease", e))?;
            }
            tx.commit()
                .map_err(|e| StoreError::sqlite(&path, "commit the salvaged leases", e))?;
        }
        let counters = Arc::new(Counters::default());
        let (jobs, queue) = mpsc::channel();
        let thread = {
            let counters = Arc::clone(&counters);
            let writer_path = path.clone();
            std::thread::Builder::new()
                .name("lease-writer".into())
                .spawn(move || write_batches(conn, &writer_path, &queue, &counters))
                .map_err(|e| StoreError::sqlite(&path, "start the writer thread", e))?
        };
        Ok(SqliteLeases {
            path,
            writer: Some(Writer { jobs, thread }),
            counters,
            salvage,
        })
    }

    /// The report of the salvage [`SqliteLeases::open`] made, if the file was
    /// damaged. The driver logs it and shows it on the dashboard.
    pub fn salvage(&self) -> Option<&Salvage> {
        self.salvage.as_ref()
    }

    /// Transactions and commits so far.
    pub fn stats(&self) -> CommitStats {
        CommitStats {
            transactions: self.counters.transactions.load(Ordering::Relaxed),
            commits: self.counters.commits.load(Ordering::Relaxed),
        }
    }

    /// The leases of the database at `path`, read without opening it for
    /// writing (no salvage, no writer): for `phoneprov leases` while the
    /// server runs.
    pub fn read(path: &Path) -> Result<LoadedLeases, StoreError> {
        let conn = Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_ONLY)
            .map_err(|e| StoreError::sqlite(path, "open for reading", e))?;
        let mut loaded = LoadedLeases::default();
        let mut statement = conn
            .prepare(&format!("SELECT {COLUMNS} FROM leases ORDER BY ip"))
            .map_err(|e| StoreError::sqlite(path, "read the leases", e))?;
        let mut rows = statement
            .query([])
            .map_err(|e| StoreError::sqlite(path, "read the leases", e))?;
        while let Some(row) = rows
            .next()
            .map_err(|e| StoreError::sqlite(path, "read the leases", e))?
        {
            match decode(row) {
                Ok(lease) => loaded.leases.push(lease),
                Err(bad) => loaded.unreadable.push(bad),
            }
        }
        Ok(loaded)
    }

    fn gone(&self) -> StoreError {
        StoreError::WriterGone {
            path: self.path.clone(),
        }
    }
}

impl LeaseStore for SqliteLeases {
    fn load(&self) -> Result<LoadedLeases, StoreError> {
        SqliteLeases::read(&self.path)
    }

    fn commit(&self, changes: Vec<LeaseChange>) -> Result<(), StoreError> {
        if changes.is_empty() {
            return Ok(());
        }
        let writer = self.writer.as_ref().ok_or_else(|| self.gone())?;
        let (done, outcome) = mpsc::sync_channel(1);
        writer
            .jobs
            .send(Job { changes, done })
            .map_err(|_| self.gone())?;
        outcome.recv().map_err(|_| self.gone())?
    }
}

impl Drop for SqliteLeases {
    fn drop(&mut self) {
        if let Some(Writer { jobs, thread }) = self.writer.take() {
            drop(jobs);
            // A panicked writer has already failed its callers; nothing to add.
            let _ = thread.join();
        }
    }
}

/// The writer thread: takes every job waiting, writes them in one
/// transaction, one savepoint each, and tells each caller its outcome once
/// the transaction is durable.
fn write_batches(mut conn: Connection, path: &Path, queue: &Receiver<Job>, counters: &Counters) {
    while let Ok(first) = queue.recv() {
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match queue.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        let outcomes = match write_batch(&mut conn, &batch) {
            Ok(outcomes) => {
                counters.transactions.fetch_add(1, Ordering::Relaxed);
                let stored = outcomes.iter().filter(|o| o.is_ok()).count();
                counters.commits.fetch_add(stored as u64, Ordering::Relaxed);
                outcomes
                    .into_iter()
                    .map(|o| o.map_err(|e| StoreError::sqlite(path, "write a lease", e)))
                    .collect()
            }
            Err(e) => batch
                .iter()
                .map(|_| Err(StoreError::sqlite(path, "commit leases", &e)))
                .collect::<Vec<_>>(),
        };
        for (job, outcome) in batch.into_iter().zip(outcomes) {
            // A caller that stopped waiting does not need the answer.
            let _ = job.done.send(outcome);
        }
    }
}

/// One transaction for the batch; the outer error fails every job, an inner
/// one only its job (whose savepoint is rolled back).
fn write_batch(
    conn: &mut Connection,
    batch: &[Job],
) -> rusqlite::Result<Vec<Result<(), rusqlite::Error>>> {
    let mut tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let mut outcomes = Vec::with_capacity(batch.len());
    for job in batch {
        let savepoint = tx.savepoint()?;
        let written = job.changes.iter().try_for_each(|change| {
            let LeaseChange::Put(lease) = change;
            put(&savepoint, lease)
        });
        // Dropping an uncommitted savepoint rolls it back.
        outcomes.push(written.and_then(|()| savepoint.commit()));
    }
    tx.commit()?;
    Ok(outcomes)
}

/// Stores `lease` as its address's record and, when it is a claim, drops the
/// client's claim on any other address: [`LeaseChange::Put`].
fn put(conn: &Connection, lease: &Lease) -> rusqlite::Result<()> {
    let ip = i64::from(u32::from(lease.ip));
    let (kind, client) = encode_client(&lease.client);
    if lease.is_claim() {
        conn.prepare_cached(
            "DELETE FROM leases
             WHERE client_kind = ?1 AND client = ?2 AND state <> 'declined' AND ip <> ?3",
        )?
        .execute(params![kind, client, ip])?;
    }
    let (expires_s, expires_ns) = encode_time(lease.expires);
    conn.prepare_cached(&format!(
        "INSERT INTO leases ({COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)
         ON CONFLICT (ip) DO UPDATE SET
             client_kind = excluded.client_kind, client = excluded.client,
             hwaddr = excluded.hwaddr, expires_s = excluded.expires_s,
             expires_ns = excluded.expires_ns, hostname = excluded.hostname,
             vendor_class = excluded.vendor_class, state = excluded.state"
    ))?
    .execute(params![
        ip,
        kind,
        client,
        &lease.hwaddr.octets()[..],
        expires_s,
        expires_ns,
        lease.hostname,
        lease.vendor_class,
        state_name(lease.state),
    ])?;
    Ok(())
}

fn encode_client(client: &ClientId) -> (i64, Vec<u8>) {
    match client {
        ClientId::HwAddr(mac) => (0, mac.octets().to_vec()),
        ClientId::Identifier(bytes) => (1, bytes.clone()),
    }
}

/// Seconds since 1970, rounded down, and nanoseconds: exact for any time.
fn encode_time(time: SystemTime) -> (i64, i64) {
    match time.duration_since(UNIX_EPOCH) {
        Ok(after) => (
            i64::try_from(after.as_secs()).unwrap_or(i64::MAX),
            i64::from(after.subsec_nanos()),
        ),
        Err(before) => {
            let before = before.duration();
            let secs = -i64::try_from(before.as_secs()).unwrap_or(i64::MAX);
            match before.subsec_nanos() {
                0 => (secs, 0),
                nanos => (secs - 1, i64::from(1_000_000_000 - nanos)),
            }
        }
    }
}

fn decode_time(secs: i64, nanos: i64) -> Option<SystemTime> {
    let nanos = u32::try_from(nanos).ok().filter(|n| *n < 1_000_000_000)?;
    let whole = Duration::from_secs(secs.unsigned_abs());
    let time = if secs >= 0 {
        UNIX_EPOCH.checked_add(whole)?
    } else {
        UNIX_EPOCH.checked_sub(whole)?
    };
    time.checked_add(Duration::from_nanos(u64::from(nanos)))
}

fn state_name(state: LeaseState) -> &'static str {
    match state {
        LeaseState::Offered => "offered",
        LeaseState::Bound => "bound",
        LeaseState::Declined => "declined",
        LeaseState::Released => "released",
    }
}

fn decode(row: &Row<'_>) -> Result<Lease, UnreadableRow> {
    let key: i64 = row.get(0).unwrap_or(-1);
    decode_fields(row).map_err(|problem| UnreadableRow { key, problem })
}

fn decode_fields(row: &Row<'_>) -> Result<Lease, String> {
    let text = |e: rusqlite::Error| e.to_string();
    let ip: i64 = row.get(0).map_err(text)?;
    let ip = u32::try_from(ip).map_err(|_| format!("{ip} is not an IPv4 address"))?;
    let kind: i64 = row.get(1).map_err(text)?;
    let client: Vec<u8> = row.get(2).map_err(text)?;
    let client = match kind {
        0 => ClientId::HwAddr(mac(&client).ok_or("the client's MAC is not 6 bytes")?),
        1 if !client.is_empty() => ClientId::Identifier(client),
        _ => return Err(format!("client kind {kind} is unknown")),
    };
    let hwaddr: Vec<u8> = row.get(3).map_err(text)?;
    let hwaddr = mac(&hwaddr).ok_or("the hardware address is not 6 bytes")?;
    let expires = decode_time(row.get(4).map_err(text)?, row.get(5).map_err(text)?)
        .ok_or("the expiry time is out of range")?;
    let state: String = row.get(8).map_err(text)?;
    let state = match state.as_str() {
        "offered" => LeaseState::Offered,
        "bound" => LeaseState::Bound,
        "declined" => LeaseState::Declined,
        "released" => LeaseState::Released,
        other => return Err(format!("state {other:?} is unknown")),
    };
    Ok(Lease {
        client,
        hwaddr,
        ip: Ipv4Addr::from(ip),
        expires,
        hostname: row.get(6).map_err(text)?,
        vendor_class: row.get(7).map_err(text)?,
        state,
    })
}

fn mac(bytes: &[u8]) -> Option<HwAddr> {
    <[u8; 6]>::try_from(bytes).ok().map(HwAddr::new)
}

enum Health {
    /// Missing, empty, or a sound phoneprov lease database.
    Sound,
    /// Ours, but SQLite finds it damaged: what it says.
    Damaged(String),
}

/// Tells a sound database from a damaged, foreign or newer one, without
/// writing to it.
fn check(path: &Path) -> Result<Health, StoreError> {
    if !path.exists() {
        return Ok(Health::Sound);
    }
    let conn = Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_ONLY)
        .map_err(|e| StoreError::sqlite(path, "open", e))?;
    let tables = conn
        .prepare("SELECT name FROM sqlite_schema WHERE type = 'table' ORDER BY name")
        .and_then(|mut s| s.query_map([], |row| row.get(0))?.collect());
    let tables: Vec<String> = match tables {
        Ok(tables) => tables,
        Err(e) if e.sqlite_error_code() == Some(ErrorCode::NotADatabase) => {
            return Err(StoreError::NotADatabase {
                path: path.to_owned(),
                reason: e.to_string(),
            })
        }
        Err(e) if e.sqlite_error_code() == Some(ErrorCode::DatabaseCorrupt) => {
            return Ok(Health::Damaged(e.to_string()))
        }
        Err(e) => return Err(StoreError::sqlite(path, "read the schema", e)),
    };
    if tables.is_empty() {
        return Ok(Health::Sound);
    }
    if !tables.iter().any(|t| t == "phoneprov_schema") || !tables.iter().any(|t| t == "leases") {
        return Err(StoreError::Foreign {
            path: path.to_owned(),
            store: "lease store",
            tables,
        });
    }
    match conn.query_row("SELECT max(version) FROM phoneprov_schema", [], |row| {
        row.get::<_, Option<i64>>(0)
    }) {
        Ok(Some(found)) if found > SCHEMA_VERSION => {
            return Err(StoreError::NewerSchema {
                path: path.to_owned(),
                found,
                known: SCHEMA_VERSION,
            })
        }
        Ok(Some(_)) => {}
        Ok(None) => return Ok(Health::Damaged("the schema version is missing".into())),
        Err(e) => return Ok(Health::Damaged(e.to_string())),
    }
    let problems: rusqlite::Result<Vec<String>> = conn
        .prepare("PRAGMA quick_check(5)")
        .and_then(|mut s| s.query_map([], |row| row.get::<_, String>(0))?.collect());
    match problems {
        Ok(problems) if problems == ["ok"] => Ok(Health::Sound),
        Ok(problems) => Ok(Health::Damaged(problems.join("; "))),
        Err(e) => Ok(Health::Damaged(e.to_string())),
    }
}

/// Copies the damaged file aside, reads what it can, and removes it so that a
/// fresh database takes its place.
fn salvage(path: &Path, problem: String) -> Result<(Salvage, Vec<Lease>), StoreError> {
    let when = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let set_aside = sibling(path, &format!(".damaged-{when}"));
    let aside_error = |source| StoreError::SetAside {
        path: path.to_owned(),
        problem: problem.clone(),
        source,
    };
    fs::copy(path, &set_aside).map_err(aside_error)?;
    let wal = sibling(path, "-wal");
    if wal.exists() {
        fs::copy(&wal, sibling(&set_aside, "-wal")).map_err(aside_error)?;
    }
    let (kept, rows_unreadable) = {
        let conn = Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_ONLY)
            .map_err(|e| StoreError::sqlite(path, "open", e))?;
        read_what_can_be_read(&conn)
    };
    for file in [path.to_owned(), wal, sibling(path, "-shm")] {
        match fs::remove_file(&file) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                return Err(StoreError::sqlite(&file, "remove the damaged file", e))
            }
            _ => {}
        }
    }
    let salvage = Salvage {
        path: path.to_owned(),
        set_aside,
        problem,
        leases_kept: kept.len(),
        rows_unreadable,
    };
    Ok((salvage, kept))
}

/// Reads the lease rows in address order. When a page cannot be read, seeks
/// past it, ever further, so that one bad page costs its own rows and few
/// more.
fn read_what_can_be_read(conn: &Connection) -> (Vec<Lease>, usize) {
    let mut kept = Vec::new();
    let mut unreadable = 0;
    let mut from: i64 = 0;
    let mut skip: i64 = 1;
    while from <= i64::from(u32::MAX) {
        let mut last = None;
        let scan = conn
            .prepare(&format!(
                "SELECT {COLUMNS} FROM leases WHERE ip >= ?1 ORDER BY ip"
            ))
            .and_then(|mut statement| {
                let mut rows = statement.query([from])?;
                while let Some(row) = rows.next()? {
                    last = row.get::<_, i64>(0).ok().or(last);
                    match decode(row) {
                        Ok(lease) => kept.push(lease),
                        Err(_) => unreadable += 1,
                    }
                }
                Ok(())
            });
        match (scan, last) {
            (Ok(()), _) => break,
            (Err(_), Some(last)) => {
                from = last + 1;
                skip = 1;
            }
            (Err(_), None) => {
                from += skip;
                skip *= 2;
            }
        }
    }
    (kept, unreadable)
}

fn sibling(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(suffix);
    PathBuf::from(name)
}

/// The writer's connection: WAL, `synchronous=FULL`, the schema created if
/// the file is new.
fn open_for_writing(path: &Path) -> Result<Connection, StoreError> {
    let mut conn = Connection::open(path).map_err(|e| StoreError::sqlite(path, "open", e))?;
    let pragma = |name, value: &str| {
        conn.pragma_update(None, name, value)
            .map_err(|e| StoreError::sqlite(path, "configure the database", e))
    };
    pragma("journal_mode", "WAL")?;
    // FULL: the WAL is synced at every commit, so a lease is on disk before
    // its ACK leaves, even if the machine loses power.
    pragma("synchronous", "FULL")?;
    let fresh: bool = conn
        .query_row(
            "SELECT count(*) = 0 FROM sqlite_schema WHERE type = 'table'",
            [],
            |row| row.get(0),
        )
        .map_err(|e| StoreError::sqlite(path, "read the schema", e))?;
    if fresh {
        let tx = conn.transaction().and_then(|tx| {
            tx.execute_batch(SCHEMA)?;
            tx.execute(
                "INSERT INTO phoneprov_schema (version) VALUES (?1)",
                [SCHEMA_VERSION],
            )?;
            tx.commit()
        });
        tx.map_err(|e| StoreError::sqlite(path, "create the schema", e))?;
    }
    Ok(conn)
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;
    use std::io::{BufRead, BufReader, Write};
    use std::process::{Command, Stdio};

    use phoneprov_dhcp::MemoryLeases;

    use super::*;

    /// Client `n`'s lease on address `10.0.x.y` (`n` as the low bits).
    fn lease(n: u32, ip: u32, state: LeaseState) -> Lease {
        let [_, a, b, c] = n.to_be_bytes();
        Lease {
            client: ClientId::HwAddr(HwAddr::new([0, 0x18, 0xb9, a, b, c])),
            hwaddr: HwAddr::new([0, 0x18, 0xb9, a, b, c]),
            ip: Ipv4Addr::from(0x0a00_0000 + ip),
            expires: UNIX_EPOCH + Duration::new(1_800_000_000 + u64::from(n), 123_456_789),
            hostname: Some(format!("SEP0018B9{a:02X}{b:02X}{c:02X}")),
            vendor_class: Some("Cisco Systems, Inc. IP Phone CP-7940G".into()),
            state,
        }
    }

    fn put(lease: Lease) -> Vec<LeaseChange> {
        vec![LeaseChange::Put(lease)]
    }

    fn db(dir: &tempfile::TempDir) -> PathBuf {
        dir.path().join("leases.db")
    }

    fn load(path: &Path) -> Vec<Lease> {
        let loaded = SqliteLeases::open(path).unwrap().load().unwrap();
        assert_eq!(loaded.unreadable, []);
        loaded.leases
    }

    #[test]
    fn every_state_and_field_round_trips_and_survives_a_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let mut leases = vec![
            lease(1, 1, LeaseState::Offered),
            lease(2, 2, LeaseState::Bound),
            lease(3, 3, LeaseState::Declined),
            lease(4, 4, LeaseState::Released),
        ];
        leases[0].client = ClientId::Identifier(vec![1, 0, 0x18, 0xb9, 0, 0, 1]);
        leases[1].hostname = None;
        leases[1].vendor_class = None;
        leases[2].expires = UNIX_EPOCH - Duration::new(5, 250);
        leases[3].expires = UNIX_EPOCH + Duration::from_secs(u64::from(u32::MAX));
        let store = SqliteLeases::open(db(&dir)).unwrap();
        store
            .commit(leases.iter().cloned().map(LeaseChange::Put).collect())
            .unwrap();
        assert_eq!(store.load().unwrap().leases, leases);
        drop(store);
        assert_eq!(load(&db(&dir)), leases);
    }

    #[test]
    fn puts_follow_the_engine_s_rules() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteLeases::open(db(&dir)).unwrap();
        let mut memory = MemoryLeases::new();
        let steps = [
            lease(1, 10, LeaseState::Offered),
            lease(1, 11, LeaseState::Bound),   // moves: 10 unrecorded
            lease(2, 11, LeaseState::Offered), // takes 11 from client 1
            lease(1, 12, LeaseState::Declined), // not a claim
            lease(1, 13, LeaseState::Bound),   // 12 stays declined
            lease(3, 13, LeaseState::Released), // replaces client 1's record
            lease(3, 14, LeaseState::Bound),
        ];
        for step in steps {
            let change = LeaseChange::Put(step);
            memory.apply(&change);
            store.commit(vec![change]).unwrap();
        }
        let expected: Vec<Lease> = memory.iter().cloned().collect();
        assert_eq!(store.load().unwrap().leases, expected);
    }

    #[test]
    fn a_row_that_is_not_a_lease_is_reported_and_the_rest_load() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteLeases::open(db(&dir)).unwrap();
        store.commit(put(lease(1, 1, LeaseState::Bound))).unwrap();
        store.commit(put(lease(2, 2, LeaseState::Bound))).unwrap();
        Connection::open(db(&dir))
            .unwrap()
            .execute(
                "UPDATE leases SET client_kind = 7 WHERE ip = ?1",
                [0x0a00_0002],
            )
            .unwrap();
        let loaded = store.load().unwrap();
        assert_eq!(loaded.leases, [lease(1, 1, LeaseState::Bound)]);
        assert_eq!(
            loaded.unreadable,
            [UnreadableRow {
                key: 0x0a00_0002,
                problem: "client kind 7 is unknown".into()
            }]
        );
        // A put of that address replaces the row.
        store.commit(put(lease(2, 2, LeaseState::Bound))).unwrap();
        assert_eq!(store.load().unwrap().unreadable, []);
    }

    #[test]
    fn concurrent_commits_share_transactions_and_all_survive() {
        const THREADS: u32 = 8;
        const COMMITS: u32 = 200;
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteLeases::open(db(&dir)).unwrap();
        std::thread::scope(|scope| {
            for thread in 0..THREADS {
                let store = &store;
                scope.spawn(move || {
                    for i in 0..COMMITS {
                        let n = thread * COMMITS + i;
                        store.commit(put(lease(n, n, LeaseState::Bound))).unwrap();
                    }
                });
            }
        });
        let stats = store.stats();
        assert_eq!(stats.commits, u64::from(THREADS * COMMITS));
        assert!(
            stats.transactions < stats.commits,
            "no commit was grouped: {stats:?}"
        );
        drop(store);
        let expected: Vec<Lease> = (0..THREADS * COMMITS)
            .map(|n| lease(n, n, LeaseState::Bound))
            .collect();
        assert_eq!(load(&db(&dir)), expected);
    }

    const CRASH_CHILD: &str = "PHONEPROV_STORE_CRASH_CHILD_DB";
    const CRASH_LEASES: u32 = 500;

    /// Not a test on its own: the child of
    /// [`every_acknowledged_commit_survives_a_kill_9`]. Commits leases from
    /// four threads and prints each one's number once its commit returned.
    #[test]
    fn crash_child() {
        let Some(path) = std::env::var_os(CRASH_CHILD) else {
            return;
        };
        let store = SqliteLeases::open(PathBuf::from(path)).unwrap();
        std::thread::scope(|scope| {
            for thread in 0..4 {
                let store = &store;
                scope.spawn(move || {
                    for n in (thread..CRASH_LEASES).step_by(4) {
                        // Client n first takes address n+1000, then moves to n.
                        store
                            .commit(put(lease(n, n + 1000, LeaseState::Offered)))
                            .unwrap();
                        store.commit(put(lease(n, n, LeaseState::Bound))).unwrap();
                        let mut out = std::io::stdout().lock();
                        writeln!(out, "acked {n}").unwrap();
                        out.flush().unwrap();
                    }
                });
            }
        });
        // Wait for the kill.
        std::thread::sleep(Duration::from_secs(600));
    }

    #[test]
    fn every_acknowledged_commit_survives_a_kill_9() {
        use std::os::unix::process::ExitStatusExt;

        let dir = tempfile::tempdir().unwrap();
        let mut child = Command::new(std::env::current_exe().unwrap())
            .args(["--exact", "sqlite::tests::crash_child", "--nocapture"])
            .args(["--test-threads", "1"])
            .env(CRASH_CHILD, db(&dir))
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let mut acked = Vec::new();
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        for line in lines.by_ref() {
            if let Some(n) = line.unwrap().strip_prefix("acked ") {
                acked.push(n.parse::<u32>().unwrap());
                if acked.len() == CRASH_LEASES as usize / 2 {
                    child.kill().unwrap(); // SIGKILL
                    break;
                }
            }
        }
        // The lines the child wrote before it died were acknowledged too.
        for line in lines {
            if let Some(n) = line.unwrap().strip_prefix("acked ") {
                acked.push(n.parse().unwrap());
            }
        }
        assert_eq!(child.wait().unwrap().signal(), Some(9));
        assert!(
            acked.len() < CRASH_LEASES as usize,
            "killed after the burst"
        );

        let leases = load(&db(&dir));
        for n in &acked {
            let expected = lease(*n, *n, LeaseState::Bound);
            assert!(
                leases.contains(&expected),
                "lease {n} was acknowledged, then lost"
            );
        }
        let addresses: HashSet<Ipv4Addr> = leases.iter().map(|l| l.ip).collect();
        let clients: HashSet<&ClientId> = leases.iter().map(|l| &l.client).collect();
        assert_eq!(addresses.len(), leases.len(), "an address is held twice");
        assert_eq!(clients.len(), leases.len(), "a client holds two addresses");
    }

    #[test]
    fn a_damaged_database_is_set_aside_and_its_readable_leases_kept() {
        const LEASES: u32 = 3000;
        let dir = tempfile::tempdir().unwrap();
        let path = db(&dir);
        let originals: Vec<Lease> = (0..LEASES)
            .map(|n| lease(n, n, LeaseState::Bound))
            .collect();
        SqliteLeases::open(&path)
            .unwrap()
            .commit(originals.iter().cloned().map(LeaseChange::Put).collect())
            .unwrap();
        // Closing the last connection checkpoints the WAL into the file.
        assert!(!sibling(&path, "-wal").exists());
        let mut bytes = fs::read(&path).unwrap();
        let pages = bytes.len() / 4096;
        for page in (pages / 3..pages / 2).step_by(5) {
            bytes[page * 4096..(page + 1) * 4096].fill(0x5a);
        }
        fs::write(&path, &bytes).unwrap();

        let store = SqliteLeases::open(&path).unwrap();
        let salvage = store.salvage().unwrap().clone();
        assert_eq!(salvage.path, path);
        assert!(salvage
            .set_aside
            .to_str()
            .unwrap()
            .contains("leases.db.damaged-"));
        assert_eq!(fs::read(&salvage.set_aside).unwrap(), bytes);
        assert!(!salvage.problem.is_empty());
        let kept = store.load().unwrap().leases;
        assert_eq!(kept.len(), salvage.leases_kept);
        assert!(
            !kept.is_empty() && kept.len() < originals.len(),
            "{salvage}"
        );
        assert!(kept.iter().all(|l| originals.contains(l)));
        // The fresh database takes new leases and is sound on the next start.
        store
            .commit(put(lease(LEASES, LEASES, LeaseState::Bound)))
            .unwrap();
        drop(store);
        let store = SqliteLeases::open(&path).unwrap();
        assert_eq!(store.salvage(), None);
        assert_eq!(store.load().unwrap().leases.len(), kept.len() + 1);
    }

    #[test]
    fn a_file_that_is_not_ours_is_refused_and_left_alone() {
        let dir = tempfile::tempdir().unwrap();
        let path = db(&dir);
        fs::write(&path, "[dhcp]\nmode = \"pool\"\n".repeat(200)).unwrap();
        let error = SqliteLeases::open(&path).err().unwrap();
        assert!(matches!(error, StoreError::NotADatabase { .. }), "{error}");
        assert!(error.to_string().contains(path.to_str().unwrap()));
        assert_eq!(
            fs::read_to_string(&path).unwrap(),
            "[dhcp]\nmode = \"pool\"\n".repeat(200)
        );

        fs::remove_file(&path).unwrap();
        Connection::open(&path)
            .unwrap()
            .execute_batch("CREATE TABLE users (name TEXT)")
            .unwrap();
        let error = SqliteLeases::open(&path).err().unwrap();
        assert!(
            matches!(&error, StoreError::Foreign { tables, .. } if tables == &["users"]),
            "{error}"
        );
    }

    #[test]
    fn a_newer_schema_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        drop(SqliteLeases::open(db(&dir)).unwrap());
        Connection::open(db(&dir))
            .unwrap()
            .execute("UPDATE phoneprov_schema SET version = 99", [])
            .unwrap();
        let error = SqliteLeases::open(db(&dir)).err().unwrap();
        assert!(
            matches!(
                error,
                StoreError::NewerSchema {
                    found: 99,
                    known: 1,
                    ..
                }
            ),
            "{error}"
        );
    }
}
