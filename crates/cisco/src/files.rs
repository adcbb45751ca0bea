//! Files served from the firmware folder: the one place a request name meets
//! the disk.
//!
//! A name is looked up exactly first, then case-insensitively (phones and
//! firmware disagree on case: `xmlDefault.CNF.XML`, lower-case MACs). The
//! resolved path must stay inside the folder after every symlink is followed.
//! File contents are kept in a shared cache of [`Bytes`], so a thousand
//! phones fetching the same image read the disk once; each request checks the
//! file's size, modification time and inode, so a replaced file is noticed.

use std::collections::HashMap;
use std::ffi::OsString;
use std::fs;
use std::io;
use std::net::SocketAddr;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::SystemTime;

use bytes::Bytes;
use phoneprov_tftp::{FileSource, RequestName, Resolution, ResolvedFile};

use crate::phone::Mac;
use crate::render::{Answer, Provisioning};

/// Files larger than this are refused: no phone file comes near it, and the
/// whole file is held in memory while it is sent.
pub const MAX_FILE_SIZE: u64 = 256 << 20;

/// The cache keeps at most this many bytes of file contents; past it, the
/// least recently used files are dropped (transfers still sending them keep
/// their copy).
const CACHE_BUDGET: u64 = 512 << 20;

/// Identity of a file's contents on disk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Fingerprint {
    len: u64,
    modified: Option<SystemTime>,
    inode: u64,
    device: u64,
}

impl Fingerprint {
    fn of(metadata: &fs::Metadata) -> Fingerprint {
        Fingerprint {
            len: metadata.len(),
            modified: metadata.modified().ok(),
            inode: metadata.ino(),
            device: metadata.dev(),
        }
    }
}

struct CachedFile {
    fingerprint: Fingerprint,
    content: Bytes,
    last_used: u64,
}

struct Listing {
    modified: Option<SystemTime>,
    names: Vec<OsString>,
}

#[derive(Default)]
struct Cache {
    files: HashMap<PathBuf, CachedFile>,
    listings: HashMap<PathBuf, Listing>,
    bytes: u64,
    clock: u64,
    disk_reads: u64,
}

/// A folder of firmware images and static files, served read-only.
pub struct FirmwareStore {
    root: PathBuf,
    cache: Mutex<Cache>,
}

impl FirmwareStore {
    /// Opens `root`, which must be a readable directory.
    pub fn open(root: &Path) -> io::Result<FirmwareStore> {
        let root = root.canonicalize().map_err(|e| {
            io::Error::new(e.kind(), format!("cannot open {}: {e}", root.display()))
        })?;
        if !root.is_dir() {
            return Err(io::Error::new(
                io::ErrorKind::NotADirectory,
                format!("{} is not a directory", root.display()),
            ));
        }
        fs::read_dir(&root).map_err(|e| {
            io::Error::new(e.kind(), format!("cannot list {}: {e}", root.display()))
        })?;
        Ok(FirmwareStore {
            root,
            cache: Mutex::new(Cache::default()),
        })
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// How many times a file's contents were read from disk (the cache's misses).
    pub fn disk_reads(&self) -> u64 {
        self.cache
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .disk_reads
    }

    /// Finds the path for `name`: exactly, else by a case-insensitive walk.
    fn locate(&self, name: &RequestName) -> Option<(PathBuf, bool)> {
        let exact = self.root.join(name.path());
        if fs::symlink_metadata(&exact).is_ok() {
            return Some((exact, false));
        }
        let mut dir = self.root.clone();
        for component in name.components() {
            let next = dir.join(component);
            if fs::symlink_metadata(&next).is_ok() {
                dir = next;
                continue;
            }
            let found = self.listing(&dir)?.into_iter().find(|entry| {
                entry
                    .to_str()
                    .is_some_and(|entry| entry.eq_ignore_ascii_case(component))
            })?;
            dir.push(found);
        }
        Some((dir, true))
    }

    /// The sorted names in `dir`, from the cache while the directory is unchanged.
    fn listing(&self, dir: &Path) -> Option<Vec<OsString>> {
        let modified = fs::metadata(dir).ok()?.modified().ok();
        let mut cache = self.cache.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(listing) = cache.listings.get(dir).filter(|l| l.modified == modified) {
            return Some(listing.names.clone());
        }
        let mut names: Vec<OsString> = fs::read_dir(dir)
            .ok()?
            .filter_map(|entry| entry.ok().map(|e| e.file_name()))
            .collect();
        names.sort();
        cache.listings.insert(
            dir.to_path_buf(),
            Listing {
                modified,
                names: names.clone(),
            },
        );
        Some(names)
    }

    /// The contents of `path`, from the cache when the file is unchanged.
    fn read(&self, path: &Path, metadata: &fs::Metadata) -> io::Result<Bytes> {
        let fingerprint = Fingerprint::of(metadata);
        {
            let mut cache = self.cache.lock().unwrap_or_else(|e| e.into_inner());
            cache.clock += 1;
            let clock = cache.clock;
            if let Some(hit) = cache
                .files
                .get_mut(path)
                .filter(|f| f.fingerprint == fingerprint)
            {
                hit.last_used = clock;
                return Ok(hit.content.clone());
            }
        }
        // Read outside the lock: other phones keep being served meanwhile.
        let content = Bytes::from(fs::read(path)?);
        let mut cache = self.cache.lock().unwrap_or_else(|e| e.into_inner());
        cache.disk_reads += 1;
        let fingerprint = Fingerprint {
            len: content.len() as u64,
            ..fingerprint
        };
        if let Some(old) = cache.files.remove(path) {
            cache.bytes -= old.fingerprint.len;
        }
        while cache.bytes + fingerprint.len > CACHE_BUDGET {
            let Some(oldest) = cache
                .files
                .iter()
                .min_by_key(|(_, f)| f.last_used)
                .map(|(p, _)| p.clone())
            else {
                break;
            };
            if let Some(evicted) = cache.files.remove(&oldest) {
                cache.bytes -= evicted.fingerprint.len;
            }
        }
        cache.bytes += fingerprint.len;
        let last_used = cache.clock;
        cache.files.insert(
            path.to_path_buf(),
            CachedFile {
                fingerprint,
                content: content.clone(),
                last_used,
            },
        );
        Ok(content)
    }
}

impl FileSource for FirmwareStore {
    fn resolve(&self, name: &RequestName, _client: SocketAddr) -> Resolution {
        let Some((path, case_mismatch)) = self.locate(name) else {
            return Resolution::NotFound {
                reason: "no file of that name, in any case".into(),
            };
        };
        // Follow every symlink and insist on landing inside the root.
        let real = match path.canonicalize() {
            Ok(real) => real,
            Err(_) => {
                return Resolution::NotFound {
                    reason: "a symlink of that name points nowhere".into(),
                }
            }
        };
        let Ok(relative) = real.strip_prefix(&self.root) else {
            return Resolution::Denied {
                reason: "it is a symlink to a file outside the TFTP root".into(),
            };
        };
        let served_as = relative.to_string_lossy().into_owned();
        let metadata = match fs::metadata(&real) {
            Ok(m) if m.is_file() => m,
            Ok(_) => {
                return Resolution::NotFound {
                    reason: format!("{served_as} is a directory, not a file"),
                }
            }
            Err(e) => return io_refusal(&served_as, &e),
        };
        if metadata.len() > MAX_FILE_SIZE {
            return Resolution::Denied {
                reason: format!(
                    "{served_as} is {} bytes, over the {} MiB limit",
                    metadata.len(),
                    MAX_FILE_SIZE >> 20
                ),
            };
        }
        match self.read(&real, &metadata) {
            Ok(content) => Resolution::Found(ResolvedFile {
                content,
                served_as,
                case_mismatch,
            }),
            Err(e) => io_refusal(&served_as, &e),
        }
    }
}

/// Tells which phone a client address belongs to (from the DHCP leases or
/// the kernel's neighbour table), when the file name does not say.
pub type Identify = dyn Fn(std::net::IpAddr) -> Option<Mac> + Send + Sync;

/// Every file a phone asks for, resolved in one place: the file generated
/// for this phone, else the firmware folder, else "not found". TFTP, the
/// preview and `export` all go through it, so what the operator sees is what
/// the phone gets.
pub struct PhoneFiles {
    /// Replaced whole when phoneprov.toml changes; requests under way keep
    /// the one they started with.
    provisioning: std::sync::RwLock<std::sync::Arc<Provisioning>>,
    firmware: FirmwareStore,
    identify: Box<Identify>,
}

impl PhoneFiles {
    pub fn new(
        provisioning: Provisioning,
        firmware: FirmwareStore,
        identify: Box<Identify>,
    ) -> PhoneFiles {
        PhoneFiles {
            provisioning: std::sync::RwLock::new(std::sync::Arc::new(provisioning)),
            firmware,
            identify,
        }
    }

    pub fn provisioning(&self) -> std::sync::Arc<Provisioning> {
        let current = self.provisioning.read().unwrap_or_else(|e| e.into_inner());
        std::sync::Arc::clone(&current)
    }

    /// Serves `provisioning`'s files from now on (the configuration changed).
    pub fn replace_provisioning(&self, provisioning: Provisioning) {
        *self.provisioning.write().unwrap_or_else(|e| e.into_inner()) =
            std::sync::Arc::new(provisioning);
    }

    pub fn firmware(&self) -> &FirmwareStore {
        &self.firmware
    }

    /// Resolves `name` as asked by the phone `requester`.
    pub fn resolve_for(
        &self,
        name: &RequestName,
        requester: Option<Mac>,
        client: SocketAddr,
    ) -> Resolution {
        match self.provisioning().answer(name.path(), requester) {
            Answer::File(file) => Resolution::Found(ResolvedFile {
                case_mismatch: file.name != name.path().rsplit('/').next().unwrap_or_default(),
                served_as: format!("{} (generated)", file.name),
                content: file.content,
            }),
            Answer::NotFound(reason) => Resolution::NotFound { reason },
            Answer::NotGenerated => self.firmware.resolve(name, client),
        }
    }
}

impl FileSource for PhoneFiles {
    fn resolve(&self, name: &RequestName, client: SocketAddr) -> Resolution {
        let requester = crate::phone::PhoneFile::parse(name.path())
            .map(|(_, mac)| mac)
            .or_else(|| (self.identify)(client.ip()));
        self.resolve_for(name, requester, client)
    }
}

fn io_refusal(served_as: &str, error: &io::Error) -> Resolution {
    if error.kind() == io::ErrorKind::PermissionDenied {
        Resolution::Denied {
            reason: format!("{served_as} is not readable by phoneprov (permission denied)"),
        }
    } else {
        Resolution::NotFound {
            reason: format!("{served_as} could not be read: {error}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    fn client() -> SocketAddr {
        "127.0.0.2:1000".parse().unwrap()
    }

    fn resolve(store: &FirmwareStore, name: &str) -> Resolution {
        store.resolve(&RequestName::parse(name.as_bytes()).unwrap(), client())
    }

    fn found(store: &FirmwareStore, name: &str) -> ResolvedFile {
        match resolve(store, name) {
            Resolution::Found(file) => file,
            other => panic!("{name}: {other:?}"),
        }
    }

    fn setup() -> (tempfile::TempDir, FirmwareStore) {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join("OS79XX.TXT"), "P0S3-8-12-00").unwrap();
        fs::create_dir(dir.path().join("US")).unwrap();
        fs::write(dir.path().join("US/7960-tones.xml"), "<tones/>").unwrap();
        fs::write(dir.path().join("XMLDefault.cnf.xml"), "<Default/>").unwrap();
        let store = FirmwareStore::open(dir.path()).unwrap();
        (dir, store)
    }

    #[test]
    fn exact_then_case_insensitive() {
        let (_dir, store) = setup();
        let exact = found(&store, "OS79XX.TXT");
        assert!(!exact.case_mismatch);
        assert_eq!(&exact.content[..], b"P0S3-8-12-00");
        let folded = found(&store, "xmlDefault.CNF.XML");
        assert!(folded.case_mismatch);
        assert_eq!(folded.served_as, "XMLDefault.cnf.xml");
        let nested = found(&store, "us/7960-TONES.xml");
        assert_eq!(nested.served_as, "US/7960-tones.xml");
        assert_eq!(
            found(&store, "/US/7960-tones.xml").served_as,
            "US/7960-tones.xml"
        );
        assert_eq!(
            resolve(&store, "SIP0018B9FFFFFF.cnf"),
            Resolution::NotFound {
                reason: "no file of that name, in any case".into()
            }
        );
    }

    #[test]
    fn cache_reads_once_and_notices_changes() {
        let (dir, store) = setup();
        for _ in 0..100 {
            found(&store, "OS79XX.TXT");
        }
        assert_eq!(store.disk_reads(), 1);
        fs::write(dir.path().join("OS79XX.TXT"), "P0S3-8-11-00 longer").unwrap();
        assert_eq!(
            &found(&store, "OS79XX.TXT").content[..],
            b"P0S3-8-11-00 longer"
        );
        assert_eq!(store.disk_reads(), 2);
        // Replaced by rename (a new inode), same size.
        fs::write(dir.path().join("new"), "P0S3-8-11-00 LONGER").unwrap();
        fs::rename(dir.path().join("new"), dir.path().join("OS79XX.TXT")).unwrap();
        assert_eq!(
            &found(&store, "OS79XX.TXT").content[..],
            b"P0S3-8-11-00 LONGER"
        );
    }

    #[test]
    fn new_files_are_found_case_insensitively_after_listing_was_cached() {
        let (dir, store) = setup();
        assert!(matches!(
            resolve(&store, "sipdefault.cnf"),
            Resolution::NotFound { .. }
        ));
        fs::write(dir.path().join("SIPDefault.cnf"), "x").unwrap();
        assert_eq!(found(&store, "sipdefault.cnf").served_as, "SIPDefault.cnf");
    }

    #[test]
    fn symlinks_may_not_leave_the_root() {
        let (dir, store) = setup();
        let outside = tempfile::tempdir().unwrap();
        fs::write(outside.path().join("secret"), "secret").unwrap();
        symlink(outside.path().join("secret"), dir.path().join("leak")).unwrap();
        symlink(outside.path(), dir.path().join("leakdir")).unwrap();
        symlink("OS79XX.TXT", dir.path().join("alias.txt")).unwrap();
        symlink("/nonexistent/x", dir.path().join("dangling")).unwrap();
        for name in ["leak", "LEAK", "leakdir/secret", "LeakDir/SECRET"] {
            assert!(
                matches!(resolve(&store, name), Resolution::Denied { .. }),
                "{name} was not denied"
            );
        }
        assert_eq!(found(&store, "alias.txt").served_as, "OS79XX.TXT");
        assert!(matches!(
            resolve(&store, "dangling"),
            Resolution::NotFound { .. }
        ));
    }

    #[test]
    fn directories_are_not_files() {
        let (_dir, store) = setup();
        assert!(matches!(resolve(&store, "US"), Resolution::NotFound { .. }));
    }

    #[test]
    fn open_refuses_a_missing_folder() {
        let error = FirmwareStore::open(Path::new("/nonexistent/firmware"))
            .err()
            .unwrap();
        assert!(error.to_string().contains("/nonexistent/firmware"));
    }
}
