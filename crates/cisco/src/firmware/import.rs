//! Bringing firmware into the firmware folder: Cisco's zip (including the zip
//! that wraps a tar, as SIP 8.12 ships), a tar or `.tar.gz`, or loose files.
//!
//! Archives come from the internet, so nothing in one is trusted:
//!
//! - every entry is checked before its bytes are used: a path with `..` or an
//!   absolute path (zip-slip), a symbolic or hard link, a device, FIFO or
//!   socket, an encrypted entry, or an archive inside an archive inside the
//!   file refuses the whole archive;
//! - sizes are checked against what headers claim and again while inflating:
//!   an entry over [`MAX_ENTRY_SIZE`], an archive expanding past
//!   [`MAX_EXPANSION`], or an entry inflating more than [`MAX_RATIO`]:1 (a zip
//!   bomb) refuses it;
//! - only load images are taken from archives (`X.loads`, `.sb2`, `.sbn`,
//!   `.bin` with `X` a load name), with the archive's folders stripped and the
//!   name kept verbatim; `OS79XX.TXT` and readmes are skipped;
//! - files are first written into a hidden staging folder inside the
//!   firmware folder, then renamed into place once the whole source has been
//!   read, so a refused archive leaves nothing and a killed import leaves no
//!   half file under a name a phone asks for;
//! - an existing file is only replaced with `force`; identical content is
//!   left as it is.

use std::cell::{Cell, RefCell};
use std::fmt;
use std::fs::{self, File};
use std::io::{self, BufReader, Cursor, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use flate2::read::GzDecoder;

use super::parse_image_name;

/// The largest file taken from an archive or imported loose. Real images are
/// under 1 MiB.
pub const MAX_ENTRY_SIZE: u64 = 64 << 20;
/// The most bytes one source may expand to, nested archives included.
pub const MAX_EXPANSION: u64 = 512 << 20;
/// The most an entry may inflate, as expanded bytes per compressed byte.
pub const MAX_RATIO: u64 = 200;
/// Entries up to this size are not held to [`MAX_RATIO`]: a small text file
/// of repeated lines legitimately compresses more.
pub const RATIO_FREE_SIZE: u64 = 1 << 20;
/// The most entries one archive may have. Firmware packages have a handful.
pub const MAX_ENTRIES: usize = 10_000;

const COPY_BUFFER: usize = 64 << 10;

/// Why an archive entry (or a loose file) was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error("its path climbs out of the folder with \"..\" (zip-slip)")]
    ParentDir,
    #[error("its path is absolute")]
    Absolute,
    #[error("it is a {kind} link{}; firmware archives hold plain files", target.as_ref().map(|t| format!(" to {t:?}")).unwrap_or_default())]
    Link {
        kind: &'static str,
        target: Option<String>,
    },
    #[error("it is a {0}, not a file")]
    Special(&'static str),
    #[error("it is encrypted")]
    Encrypted,
    #[error("it is a {0} entry, which firmware archives do not use")]
    Unsupported(String),
    #[error("its name is not usable: {0}")]
    BadName(&'static str),
    #[error("it is {size} B, over the {} MiB limit for one file", MAX_ENTRY_SIZE >> 20)]
    TooLarge { size: u64 },
    #[error("the archive expands past the {} MiB limit", MAX_EXPANSION >> 20)]
    ArchiveTooLarge,
    #[error("it inflates past the {claimed} B its header claims (a zip bomb)")]
    LargerThanClaimed { claimed: u64 },
    #[error(
        "it inflates {compressed} B into more than {expanded} B, over {MAX_RATIO}:1 (a zip bomb)"
    )]
    Ratio { compressed: u64, expanded: u64 },
    #[error(
        "it is an archive inside an archive inside the file; only one level of nesting is unpacked"
    )]
    TooDeep,
    #[error("another entry, {0:?}, has the same file name once folders are stripped")]
    Duplicate(String),
    #[error("the archive has more than {MAX_ENTRIES} entries; firmware packages have a handful")]
    TooManyEntries,
}

#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error("cannot read {}: {source}", path.display())]
    Read { path: PathBuf, source: io::Error },
    #[error("{archive} is not a valid {format} archive: {detail}")]
    Invalid {
        archive: String,
        format: &'static str,
        detail: String,
    },
    #[error("{}", refused(archive.as_deref(), entry, reason))]
    Refused {
        /// The archive, with the archives it is nested in (`a.zip > b.tar`);
        /// `None` for a loose file.
        archive: Option<String>,
        /// The entry's path as written in the archive, or the loose file.
        entry: String,
        reason: Refusal,
    },
    #[error("{archive} holds no firmware images (.loads, .sb2, .sbn or .bin named after a load); nothing was imported")]
    NoImages { archive: String },
    #[error("cannot write into {}: {source}", dir.display())]
    Write { dir: PathBuf, source: io::Error },
    #[error("{} already in {} with different content; nothing from {source_name} was written (--force replaces them)", files.join(", "), dir.display())]
    WouldOverwrite {
        source_name: String,
        dir: PathBuf,
        files: Vec<String>,
    },
}

impl ImportError {
    /// What to do about it.
    pub fn fix(&self) -> &'static str {
        match self {
            ImportError::Read { .. } => "check that the file is there and readable",
            ImportError::Invalid { .. } => {
                "the download is damaged or is not Cisco's package; download it again"
            }
            ImportError::Refused { .. } => {
                "Nothing from this file was written. Firmware from Cisco never needs this; \
                 check where the file came from."
            }
            ImportError::NoImages { .. } => {
                "it is probably the wrong download: Cisco's 7940/7960 SIP and SCCP packages \
                 hold .loads, .sb2, .sbn and .bin files"
            }
            ImportError::Write { .. } => {
                "make the firmware folder writable by the user phoneprov runs as"
            }
            ImportError::WouldOverwrite { .. } => {
                "if this package is the right one, import it again with --force to replace them"
            }
        }
    }
}

fn refused(archive: Option<&str>, entry: &str, reason: &Refusal) -> String {
    match archive {
        Some(archive) => format!("{archive}: entry {entry:?} refused: {reason}"),
        None => format!("{entry}: refused: {reason}"),
    }
}

/// What became of one file of a source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// New in the folder.
    Added,
    /// Replaced a file with different content (only with `force`).
    Replaced,
    /// The folder already had this exact content.
    Unchanged,
    /// Not taken from the archive, and why.
    Skipped(&'static str),
}

/// One file of a source and what became of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Imported {
    /// The name in the firmware folder (the entry's name without folders).
    pub name: String,
    pub size: u64,
    pub outcome: Outcome,
}

/// Told how far an import has got, to draw a progress bar.
pub trait Progress {
    /// Importing `source` starts; `len` bytes will be read from it.
    fn start(&mut self, source: &Path, len: u64);
    /// `done` of those bytes have been read.
    fn advance(&mut self, done: u64);
}

/// Imports one source into `dir` (created if missing): an archive or a loose
/// file. Either everything the source brings is put in place, or nothing.
pub fn import(
    dir: &Path,
    source: &Path,
    force: bool,
    progress: &mut dyn Progress,
) -> Result<Vec<Imported>, ImportError> {
    import_as(dir, source, &source.display().to_string(), force, progress)
}

/// [`import`], with the source called `label` in what it says (an upload
/// is named as the person's file, not as the temporary file it was kept in).
pub fn import_as(
    dir: &Path,
    source: &Path,
    label: &str,
    force: bool,
    progress: &mut dyn Progress,
) -> Result<Vec<Imported>, ImportError> {
    let read_error = |error| ImportError::Read {
        path: source.to_path_buf(),
        source: error,
    };
    let write_error = |error| ImportError::Write {
        dir: dir.to_path_buf(),
        source: error,
    };
    let metadata = fs::metadata(source).map_err(read_error)?;
    if metadata.is_dir() {
        return Err(read_error(io::Error::new(
            io::ErrorKind::IsADirectory,
            "it is a folder; pass the files in it",
        )));
    }
    let mut file = File::open(source).map_err(read_error)?;
    let format = sniff(&mut file, source).map_err(read_error)?;
    fs::create_dir_all(dir).map_err(write_error)?;
    let staging = tempfile::Builder::new()
        .prefix(".phoneprov-import-")
        .tempdir_in(dir)
        .map_err(write_error)?;
    let shared = Shared::default();
    let label = label.to_string();
    progress.start(source, metadata.len());
    let mut extraction = Extraction {
        dir,
        staging: staging.path(),
        shared: &shared,
        progress,
        staged: Vec::new(),
        skipped: Vec::new(),
    };
    let metered = Metered {
        inner: file,
        shared: &shared,
    };
    match format {
        None => {
            let name = loose_name(source, &label)?;
            if metadata.len() > MAX_ENTRY_SIZE {
                return Err(ImportError::Refused {
                    archive: None,
                    entry: label,
                    reason: Refusal::TooLarge {
                        size: metadata.len(),
                    },
                });
            }
            let mut reader = Limited::new(metered, &shared, None, &label, &label);
            extraction.stage(&name, &label, &label, &mut reader, None)?;
        }
        Some(ArchiveFormat::Zip) => extraction.zip(BufReader::new(metered), &label, 0)?,
        Some(ArchiveFormat::Tar) => extraction.tar(&mut BufReader::new(metered), &label, 0)?,
        Some(ArchiveFormat::TarGz) => {
            let mut tar = Limited::new(GzDecoder::new(metered), &shared, None, &label, &label)
                .ratio(metadata.len());
            extraction.tar(&mut tar, &label, 0)?
        }
    }
    if format.is_some() && extraction.staged.is_empty() {
        return Err(ImportError::NoImages { archive: label });
    }
    extraction.install(force, &label)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ArchiveFormat {
    Zip,
    Tar,
    TarGz,
}

impl ArchiveFormat {
    /// By name, for entries inside an archive.
    fn of_name(name: &str) -> Option<ArchiveFormat> {
        let lower = name.to_ascii_lowercase();
        if lower.ends_with(".zip") {
            Some(ArchiveFormat::Zip)
        } else if lower.ends_with(".tar") {
            Some(ArchiveFormat::Tar)
        } else if lower.ends_with(".tar.gz") || lower.ends_with(".tgz") {
            Some(ArchiveFormat::TarGz)
        } else {
            None
        }
    }

    fn name(self) -> &'static str {
        match self {
            ArchiveFormat::Zip => "zip",
            ArchiveFormat::Tar => "tar",
            ArchiveFormat::TarGz => "tar.gz",
        }
    }
}

/// What a source is, by its first bytes, else by its name; `None` for a
/// loose file.
fn sniff(file: &mut File, path: &Path) -> io::Result<Option<ArchiveFormat>> {
    let mut head = Vec::with_capacity(512);
    Read::by_ref(file).take(512).read_to_end(&mut head)?;
    file.seek(SeekFrom::Start(0))?;
    let format = if head.starts_with(b"PK\x03\x04") || head.starts_with(b"PK\x05\x06") {
        Some(ArchiveFormat::Zip)
    } else if head.starts_with(&[0x1f, 0x8b]) {
        Some(ArchiveFormat::TarGz)
    } else if head.get(257..262) == Some(b"ustar") {
        Some(ArchiveFormat::Tar)
    } else {
        // An old tar without the ustar mark, or a damaged archive, which
        // then fails to read with a message rather than being copied.
        path.file_name()
            .and_then(|name| ArchiveFormat::of_name(&name.to_string_lossy()))
    };
    Ok(format)
}

fn loose_name(source: &Path, label: &str) -> Result<String, ImportError> {
    let refuse = |reason| ImportError::Refused {
        archive: None,
        entry: label.to_string(),
        reason,
    };
    let name = source
        .file_name()
        .ok_or_else(|| refuse(Refusal::BadName("it has no file name")))?
        .to_str()
        .ok_or_else(|| refuse(Refusal::BadName("it is not valid UTF-8")))?;
    if name.starts_with('.') {
        return Err(refuse(Refusal::BadName(
            "it is hidden (starts with a dot), so no phone would ask for it",
        )));
    }
    Ok(name.to_string())
}

/// Checks an entry's path and returns its file name without folders (`None`
/// for a path that names no file, such as `./`).
fn entry_name(raw: &[u8]) -> Result<Option<String>, Refusal> {
    if raw.contains(&0) {
        return Err(Refusal::BadName("it contains a NUL byte"));
    }
    if raw.first().is_some_and(|b| *b == b'/' || *b == b'\\') {
        return Err(Refusal::Absolute);
    }
    let components: Vec<&[u8]> = raw.split(|b| *b == b'/' || *b == b'\\').collect();
    if let [drive, ..] = components[..] {
        if drive.len() == 2 && drive[0].is_ascii_alphabetic() && drive[1] == b':' {
            return Err(Refusal::Absolute);
        }
    }
    if components.iter().any(|c| *c == b"..") {
        return Err(Refusal::ParentDir);
    }
    let name = components
        .into_iter()
        .rev()
        .find(|c| !c.is_empty() && *c != b".");
    Ok(name.map(|name| String::from_utf8_lossy(name).into_owned()))
}

/// What to do with a file entry.
enum Entry {
    Image,
    Archive(ArchiveFormat),
    Skip(&'static str),
}

fn classify(name: &str, depth: u8) -> Result<Entry, Refusal> {
    if let Some(format) = ArchiveFormat::of_name(name) {
        return if depth == 0 {
            Ok(Entry::Archive(format))
        } else {
            Err(Refusal::TooDeep)
        };
    }
    if parse_image_name(name).is_some() {
        Ok(Entry::Image)
    } else if name.eq_ignore_ascii_case("OS79XX.TXT") {
        Ok(Entry::Skip("phoneprov writes OS79XX.TXT itself"))
    } else {
        Ok(Entry::Skip("not a load image"))
    }
}

/// State shared by every reader of one source.
#[derive(Default)]
struct Shared {
    /// Bytes read from the source file, for progress.
    consumed: Cell<u64>,
    /// Bytes read out of every entry, nested archives included.
    expanded: Cell<u64>,
    /// The first limit a reader hit, with the entry that hit it (readers can
    /// only return `io::Error`, which archive readers rewrap).
    refusal: RefCell<Option<ImportError>>,
}

/// The source file, counting what is read from it.
struct Metered<'s, R> {
    inner: R,
    shared: &'s Shared,
}

impl<R: Read> Read for Metered<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.shared
            .consumed
            .set(self.shared.consumed.get() + n as u64);
        Ok(n)
    }
}

impl<R: Seek> Seek for Metered<'_, R> {
    fn seek(&mut self, position: SeekFrom) -> io::Result<u64> {
        self.inner.seek(position)
    }
}

/// One entry's bytes, held to the size limits as they are inflated.
struct Limited<'s, R> {
    inner: R,
    shared: &'s Shared,
    read: u64,
    claimed: Option<u64>,
    compressed: Option<u64>,
    archive: String,
    entry: String,
}

impl<'s, R: Read> Limited<'s, R> {
    fn new(inner: R, shared: &'s Shared, claimed: Option<u64>, archive: &str, entry: &str) -> Self {
        Limited {
            inner,
            shared,
            read: 0,
            claimed,
            compressed: None,
            archive: archive.to_string(),
            entry: entry.to_string(),
        }
    }

    /// Also holds the entry to [`MAX_RATIO`] against its compressed size.
    fn ratio(mut self, compressed: u64) -> Self {
        self.compressed = Some(compressed);
        self
    }

    fn limit_hit(&self) -> Option<Refusal> {
        if self.read > MAX_ENTRY_SIZE {
            return Some(Refusal::TooLarge { size: self.read });
        }
        if let Some(claimed) = self.claimed.filter(|claimed| self.read > *claimed) {
            return Some(Refusal::LargerThanClaimed { claimed });
        }
        if let Some(compressed) = self.compressed {
            if self.read > RATIO_FREE_SIZE && self.read > compressed.saturating_mul(MAX_RATIO) {
                return Some(Refusal::Ratio {
                    compressed,
                    expanded: compressed.saturating_mul(MAX_RATIO),
                });
            }
        }
        (self.shared.expanded.get() > MAX_EXPANSION).then_some(Refusal::ArchiveTooLarge)
    }
}

impl<R: Read> Read for Limited<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.read += n as u64;
        self.shared
            .expanded
            .set(self.shared.expanded.get() + n as u64);
        if let Some(reason) = self.limit_hit() {
            let message = reason.to_string();
            let mut slot = self.shared.refusal.borrow_mut();
            if slot.is_none() {
                *slot = Some(ImportError::Refused {
                    archive: (self.archive != self.entry).then(|| self.archive.clone()),
                    entry: self.entry.clone(),
                    reason,
                });
            }
            return Err(io::Error::other(message));
        }
        Ok(n)
    }
}

/// A file written into the staging folder.
struct Staged {
    name: String,
    entry: String,
    size: u64,
}

/// The label of an archive found inside another: `a.zip > P0S3-8-12-00.tar`.
fn nested_label(archive: &str, entry: &str) -> String {
    format!("{archive} > {entry}")
}

/// One source being read into the staging folder.
struct Extraction<'a> {
    dir: &'a Path,
    staging: &'a Path,
    shared: &'a Shared,
    progress: &'a mut dyn Progress,
    staged: Vec<Staged>,
    skipped: Vec<Imported>,
}

impl Extraction<'_> {
    fn refuse(archive: &str, entry: &str, reason: Refusal) -> ImportError {
        ImportError::Refused {
            archive: Some(archive.to_string()),
            entry: entry.to_string(),
            reason,
        }
    }

    /// Turns a read error into the refusal a limit recorded, or else into
    /// "not a valid archive" (`format`, naming the `entry` being read) or
    /// "cannot read" (a loose file).
    fn failure(
        &self,
        archive: &str,
        entry: Option<&str>,
        format: Option<ArchiveFormat>,
        error: io::Error,
    ) -> ImportError {
        if let Some(refusal) = self.shared.refusal.borrow_mut().take() {
            return refusal;
        }
        match format {
            Some(format) => ImportError::Invalid {
                archive: archive.to_string(),
                format: format.name(),
                detail: match entry {
                    Some(entry) => format!("entry {entry:?}: {error}"),
                    None => error.to_string(),
                },
            },
            None => ImportError::Read {
                path: PathBuf::from(archive),
                source: error,
            },
        }
    }

    fn zip<R: Read + Seek>(
        &mut self,
        reader: R,
        label: &str,
        depth: u8,
    ) -> Result<(), ImportError> {
        let format = Some(ArchiveFormat::Zip);
        let invalid = |detail: String| ImportError::Invalid {
            archive: label.to_string(),
            format: "zip",
            detail,
        };
        let mut archive = zip::ZipArchive::new(reader).map_err(|e| invalid(e.to_string()))?;
        if archive.len() > MAX_ENTRIES {
            let entry = archive.name_for_index(MAX_ENTRIES).unwrap_or_default();
            return Err(Self::refuse(label, entry, Refusal::TooManyEntries));
        }
        // Every entry is checked from the central directory before any is read.
        let mut plan = Vec::new();
        let mut claimed_total = 0u64;
        for index in 0..archive.len() {
            let entry = archive
                .by_index_raw(index)
                .map_err(|e| invalid(format!("entry {index}: {e}")))?;
            let path = String::from_utf8_lossy(entry.name_raw()).into_owned();
            let refuse = |reason| Self::refuse(label, &path, reason);
            let name = entry_name(entry.name_raw()).map_err(refuse)?;
            if entry.is_dir() {
                continue;
            }
            if let Some(mode) = entry.unix_mode() {
                if let Some(reason) = special_mode(mode) {
                    return Err(refuse(reason));
                }
            }
            if entry.encrypted() {
                return Err(refuse(Refusal::Encrypted));
            }
            let (size, compressed) = (entry.size(), entry.compressed_size());
            if size > MAX_ENTRY_SIZE {
                return Err(refuse(Refusal::TooLarge { size }));
            }
            if size > RATIO_FREE_SIZE && size > compressed.saturating_mul(MAX_RATIO) {
                return Err(refuse(Refusal::Ratio {
                    compressed,
                    expanded: size,
                }));
            }
            claimed_total += size;
            if claimed_total > MAX_EXPANSION {
                return Err(refuse(Refusal::ArchiveTooLarge));
            }
            let name = name.ok_or_else(|| refuse(Refusal::BadName("it names no file")))?;
            let what = classify(&name, depth).map_err(refuse)?;
            plan.push((index, path, name, size, compressed, what));
        }
        for (index, path, name, size, compressed, what) in plan {
            let nested = match what {
                Entry::Skip(reason) => {
                    self.skip(name, size, reason);
                    continue;
                }
                Entry::Image => None,
                Entry::Archive(inner) => Some(inner),
            };
            let file = archive
                .by_index(index)
                .map_err(|e| invalid(format!("entry {path:?}: {e}")))?;
            let mut reader =
                Limited::new(file, self.shared, Some(size), label, &path).ratio(compressed);
            match nested {
                None => self.stage(&name, label, &path, &mut reader, format)?,
                Some(inner) => {
                    self.nested(inner, &mut reader, &nested_label(label, &path), compressed)?;
                    // A tar is read up to its end marker; read the rest too,
                    // so the zip checks the entry's CRC.
                    io::copy(&mut reader, &mut io::sink())
                        .map_err(|e| self.failure(label, Some(&path), format, e))?;
                }
            }
        }
        Ok(())
    }

    fn tar(&mut self, reader: &mut dyn Read, label: &str, depth: u8) -> Result<(), ImportError> {
        let format = Some(ArchiveFormat::Tar);
        let mut archive = tar::Archive::new(reader);
        let entries = archive
            .entries()
            .map_err(|e| self.failure(label, None, format, e))?;
        for (count, entry) in entries.enumerate() {
            let mut entry = entry.map_err(|e| self.failure(label, None, format, e))?;
            let raw_path = entry.path_bytes().into_owned();
            let path = String::from_utf8_lossy(&raw_path).into_owned();
            let refuse = |reason| Self::refuse(label, &path, reason);
            if count == MAX_ENTRIES {
                return Err(refuse(Refusal::TooManyEntries));
            }
            let name = entry_name(&raw_path).map_err(refuse)?;
            let link_target = || {
                entry
                    .link_name_bytes()
                    .map(|target| String::from_utf8_lossy(&target).into_owned())
            };
            match entry.header().entry_type() {
                tar::EntryType::Regular | tar::EntryType::Continuous => {}
                tar::EntryType::Directory | tar::EntryType::XGlobalHeader => continue,
                tar::EntryType::Symlink => {
                    return Err(refuse(Refusal::Link {
                        kind: "symbolic",
                        target: link_target(),
                    }))
                }
                tar::EntryType::Link => {
                    return Err(refuse(Refusal::Link {
                        kind: "hard",
                        target: link_target(),
                    }))
                }
                tar::EntryType::Char | tar::EntryType::Block => {
                    return Err(refuse(Refusal::Special("device")))
                }
                tar::EntryType::Fifo => return Err(refuse(Refusal::Special("FIFO"))),
                other => return Err(refuse(Refusal::Unsupported(format!("{other:?}")))),
            }
            let size = entry.size();
            if size > MAX_ENTRY_SIZE {
                return Err(refuse(Refusal::TooLarge { size }));
            }
            let name = name.ok_or_else(|| refuse(Refusal::BadName("it names no file")))?;
            let what = classify(&name, depth).map_err(refuse)?;
            let mut reader = Limited::new(&mut entry, self.shared, Some(size), label, &path);
            match what {
                Entry::Skip(reason) => self.skip(name, size, reason),
                Entry::Image => self.stage(&name, label, &path, &mut reader, format)?,
                Entry::Archive(inner) => {
                    self.nested(inner, &mut reader, &nested_label(label, &path), size)?
                }
            }
        }
        Ok(())
    }

    /// Unpacks an archive found inside the source (one level only).
    fn nested(
        &mut self,
        format: ArchiveFormat,
        reader: &mut dyn Read,
        label: &str,
        compressed: u64,
    ) -> Result<(), ImportError> {
        match format {
            ArchiveFormat::Tar => self.tar(reader, label, 1),
            ArchiveFormat::TarGz => {
                let mut tar = Limited::new(GzDecoder::new(reader), self.shared, None, label, label)
                    .ratio(compressed);
                self.tar(&mut tar, label, 1)
            }
            ArchiveFormat::Zip => {
                // Zip needs to seek; the entry is at most MAX_ENTRY_SIZE.
                let mut bytes = Vec::new();
                reader
                    .read_to_end(&mut bytes)
                    .map_err(|e| self.failure(label, None, Some(format), e))?;
                self.zip(Cursor::new(bytes), label, 1)
            }
        }
    }

    fn skip(&mut self, name: String, size: u64, reason: &'static str) {
        self.skipped.push(Imported {
            name,
            size,
            outcome: Outcome::Skipped(reason),
        });
    }

    /// Copies one file into the staging folder. A loose file is its own
    /// `archive` and `entry`.
    fn stage(
        &mut self,
        name: &str,
        archive: &str,
        entry: &str,
        reader: &mut dyn Read,
        format: Option<ArchiveFormat>,
    ) -> Result<(), ImportError> {
        if let Some(earlier) = self.staged.iter().find(|staged| staged.name == name) {
            return Err(Self::refuse(
                archive,
                entry,
                Refusal::Duplicate(earlier.entry.clone()),
            ));
        }
        let write_error = |source| ImportError::Write {
            dir: self.dir.to_path_buf(),
            source,
        };
        let mut out = File::create(self.staging.join(name)).map_err(write_error)?;
        let mut buffer = vec![0; COPY_BUFFER];
        let mut size = 0;
        loop {
            let n = match reader.read(&mut buffer) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(self.failure(archive, Some(entry), format, e)),
            };
            out.write_all(&buffer[..n]).map_err(write_error)?;
            size += n as u64;
            self.progress.advance(self.shared.consumed.get());
        }
        out.sync_all().map_err(write_error)?;
        self.staged.push(Staged {
            name: name.to_string(),
            entry: entry.to_string(),
            size,
        });
        Ok(())
    }

    /// Moves the staged files into the firmware folder: all of them, or none
    /// when one would overwrite different content without `force`.
    fn install(self, force: bool, source_name: &str) -> Result<Vec<Imported>, ImportError> {
        let write_error = |source| ImportError::Write {
            dir: self.dir.to_path_buf(),
            source,
        };
        let mut decided = Vec::new();
        let mut conflicts = Vec::new();
        for staged in self.staged {
            let staged_path = self.staging.join(&staged.name);
            let target = self.dir.join(&staged.name);
            let outcome = match fs::symlink_metadata(&target) {
                Err(e) if e.kind() == io::ErrorKind::NotFound => Outcome::Added,
                Err(e) => return Err(write_error(e)),
                Ok(metadata) if metadata.is_dir() => {
                    conflicts.push(format!("{} (a folder)", staged.name));
                    continue;
                }
                Ok(_) if same_content(&staged_path, &target).map_err(write_error)? => {
                    Outcome::Unchanged
                }
                Ok(_) if force => Outcome::Replaced,
                Ok(_) => {
                    conflicts.push(staged.name.clone());
                    continue;
                }
            };
            decided.push((staged, staged_path, target, outcome));
        }
        if !conflicts.is_empty() {
            return Err(ImportError::WouldOverwrite {
                source_name: source_name.to_string(),
                dir: self.dir.to_path_buf(),
                files: conflicts,
            });
        }
        let mut files = Vec::new();
        for (staged, staged_path, target, outcome) in decided {
            match outcome {
                // A hard link never clobbers a file that appeared meanwhile.
                Outcome::Added => match fs::hard_link(&staged_path, &target) {
                    Ok(()) => {}
                    Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                        return Err(ImportError::WouldOverwrite {
                            source_name: source_name.to_string(),
                            dir: self.dir.to_path_buf(),
                            files: vec![staged.name],
                        })
                    }
                    Err(_) => fs::rename(&staged_path, &target).map_err(write_error)?,
                },
                Outcome::Replaced => fs::rename(&staged_path, &target).map_err(write_error)?,
                Outcome::Unchanged | Outcome::Skipped(_) => {}
            }
            files.push(Imported {
                name: staged.name,
                size: staged.size,
                outcome,
            });
        }
        File::open(self.dir)
            .and_then(|dir| dir.sync_all())
            .map_err(write_error)?;
        files.extend(self.skipped);
        Ok(files)
    }
}

/// A Unix file type other than a file, directory or symlink, from a zip
/// entry's mode; symlinks are refused too.
fn special_mode(mode: u32) -> Option<Refusal> {
    const S_IFMT: u32 = 0o170_000;
    match mode & S_IFMT {
        0o120_000 => Some(Refusal::Link {
            kind: "symbolic",
            target: None,
        }),
        0o020_000 | 0o060_000 => Some(Refusal::Special("device")),
        0o010_000 => Some(Refusal::Special("FIFO")),
        0o140_000 => Some(Refusal::Special("socket")),
        _ => None,
    }
}

fn same_content(a: &Path, b: &Path) -> io::Result<bool> {
    if fs::metadata(a)?.len() != fs::metadata(b)?.len() {
        return Ok(false);
    }
    let (mut a, mut b) = (
        BufReader::new(File::open(a)?),
        BufReader::new(File::open(b)?),
    );
    let (mut chunk_a, mut chunk_b) = (vec![0; COPY_BUFFER], vec![0; COPY_BUFFER]);
    loop {
        let n = read_full(&mut a, &mut chunk_a)?;
        if n != read_full(&mut b, &mut chunk_b)? || chunk_a[..n] != chunk_b[..n] {
            return Ok(false);
        }
        if n == 0 {
            return Ok(true);
        }
    }
}

/// Fills `buffer` unless the reader ends first; returns how much was read.
fn read_full(reader: &mut impl Read, buffer: &mut [u8]) -> io::Result<usize> {
    let mut filled = 0;
    while filled < buffer.len() {
        match reader.read(&mut buffer[filled..])? {
            0 => break,
            n => filled += n,
        }
    }
    Ok(filled)
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Outcome::Added => f.write_str("added"),
            Outcome::Replaced => f.write_str("replaced (--force)"),
            Outcome::Unchanged => f.write_str("already there, same content"),
            Outcome::Skipped(reason) => write!(f, "skipped: {reason}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::firmware::tests::{SCCP_8_1_2, SIP_8_12};
    use crate::firmware::Catalog;
    use zip::write::SimpleFileOptions;

    struct Quiet;

    impl Progress for Quiet {
        fn start(&mut self, _source: &Path, _len: u64) {}
        fn advance(&mut self, _done: u64) {}
    }

    /// `len` bytes of noise, different for each name: synthetic images of
    /// the real sizes (never a real Cisco image).
    fn noise(name: &str, len: u64) -> Vec<u8> {
        let mut state = name.bytes().fold(0x9e37_79b9_7f4a_7c15_u64, |h, b| {
            (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
        }) | 1;
        let mut out = Vec::with_capacity(len as usize + 8);
        while (out.len() as u64) < len {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            out.extend_from_slice(&state.to_le_bytes());
        }
        out.truncate(len as usize);
        out
    }

    fn package(files: &[(&str, u64)]) -> Vec<(String, Vec<u8>)> {
        files
            .iter()
            .map(|(name, len)| (name.to_string(), noise(name, *len)))
            .collect()
    }

    fn zip_of(entries: &[(String, Vec<u8>)]) -> Vec<u8> {
        let mut zip = zip::ZipWriter::new(Cursor::new(Vec::new()));
        let options = SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Deflated)
            .unix_permissions(0o644);
        for (name, content) in entries {
            zip.start_file(name, options).unwrap();
            zip.write_all(content).unwrap();
        }
        zip.finish().unwrap().into_inner()
    }

    /// A tar entry with a raw path and type, as an attacker would write it.
    fn tar_entry(path: &[u8], kind: tar::EntryType, link: &[u8], content: &[u8]) -> Vec<u8> {
        let mut header = tar::Header::new_gnu();
        header.as_old_mut().name[..path.len()].copy_from_slice(path);
        header.as_old_mut().linkname[..link.len()].copy_from_slice(link);
        header.set_entry_type(kind);
        header.set_mode(0o644);
        header.set_size(content.len() as u64);
        header.set_cksum();
        let mut bytes = header.as_bytes().to_vec();
        bytes.extend_from_slice(content);
        bytes.resize(bytes.len().next_multiple_of(512), 0);
        bytes
    }

    fn tar_of(entries: &[(String, Vec<u8>)]) -> Vec<u8> {
        let mut bytes: Vec<u8> = entries
            .iter()
            .flat_map(|(path, content)| {
                tar_entry(path.as_bytes(), tar::EntryType::Regular, b"", content)
            })
            .collect();
        bytes.extend_from_slice(&[0; 1024]);
        bytes
    }

    /// Cisco's SIP 8.12 package: a zip holding the tar `P0S3-8-12-00.tar`.
    fn cisco_sip_zip() -> Vec<u8> {
        let tar = tar_of(&package(&SIP_8_12));
        zip_of(&[("P0S3-8-12-00.tar".into(), tar)])
    }

    /// A scratch tree: `src/` holds the sources, `firmware/` is imported into.
    struct Tree(tempfile::TempDir);

    impl Tree {
        fn new() -> Tree {
            let tree = Tree(tempfile::tempdir().unwrap());
            fs::create_dir(tree.0.path().join("src")).unwrap();
            tree
        }

        fn firmware(&self) -> PathBuf {
            self.0.path().join("firmware")
        }

        fn source(&self, name: &str, content: &[u8]) -> PathBuf {
            let path = self.0.path().join("src").join(name);
            fs::write(&path, content).unwrap();
            path
        }

        fn import(&self, source: &Path, force: bool) -> Result<Vec<Imported>, ImportError> {
            import(&self.firmware(), source, force, &mut Quiet)
        }

        /// Every path under the tree but the sources, sorted.
        fn written(&self) -> Vec<String> {
            fn walk(dir: &Path, base: &Path, out: &mut Vec<String>) {
                for entry in fs::read_dir(dir).unwrap() {
                    let path = entry.unwrap().path();
                    let relative = path.strip_prefix(base).unwrap();
                    if relative.starts_with("src") && path.is_file() {
                        continue;
                    }
                    out.push(relative.display().to_string());
                    if path.is_dir() && !path.is_symlink() {
                        walk(&path, base, out);
                    }
                }
            }
            let mut out = Vec::new();
            walk(self.0.path(), self.0.path(), &mut out);
            out.sort();
            out
        }
    }

    fn outcomes(files: &[Imported]) -> Vec<(String, Outcome)> {
        files
            .iter()
            .map(|file| (file.name.clone(), file.outcome.clone()))
            .collect()
    }

    #[test]
    fn cisco_sip_zip_wrapping_a_tar() {
        let tree = Tree::new();
        let source = tree.source("P0S3-8-12-00.zip", &cisco_sip_zip());
        let report = tree.import(&source, false).unwrap();
        assert_eq!(
            outcomes(&report),
            [
                ("P003-8-12-00.bin".into(), Outcome::Added),
                ("P003-8-12-00.sbn".into(), Outcome::Added),
                ("P0S3-8-12-00.loads".into(), Outcome::Added),
                ("P0S3-8-12-00.sb2".into(), Outcome::Added),
                (
                    "OS79XX.TXT".into(),
                    Outcome::Skipped("phoneprov writes OS79XX.TXT itself")
                ),
            ]
        );
        for (name, size) in &SIP_8_12[..4] {
            assert_eq!(
                fs::read(tree.firmware().join(name)).unwrap(),
                noise(name, *size),
                "{name}"
            );
        }
        let catalog = Catalog::scan(&tree.firmware()).unwrap();
        assert!(catalog.is_complete("P0S3-8-12-00"));
        assert!(catalog.other_files().is_empty());
        // No staging folder is left behind.
        assert_eq!(fs::read_dir(tree.firmware()).unwrap().count(), 4);
    }

    #[test]
    fn plain_tar_with_folders_and_a_readme() {
        let tree = Tree::new();
        let mut entries: Vec<(String, Vec<u8>)> = package(&SCCP_8_1_2)
            .into_iter()
            .map(|(name, content)| (format!("./P00308010200/{name}"), content))
            .collect();
        entries.push(("P00308010200/P00308010200.txt".into(), b"readme".to_vec()));
        let mut tar = tar_entry(b"./", tar::EntryType::Directory, b"", b"");
        tar.extend(tar_of(&entries));
        let report = tree
            .import(&tree.source("cmterm-7940-7960-sccp.8-1-2.tar", &tar), false)
            .unwrap();
        let added = report
            .iter()
            .filter(|f| f.outcome == Outcome::Added)
            .count();
        assert_eq!(added, 4);
        assert_eq!(
            report.last().unwrap().outcome,
            Outcome::Skipped("not a load image")
        );
        assert!(Catalog::scan(&tree.firmware())
            .unwrap()
            .is_complete("P00308010200"));
    }

    #[test]
    fn tar_gz_and_loose_files() {
        let tree = Tree::new();
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(&tar_of(&package(&SCCP_8_1_2))).unwrap();
        let source = tree.source("sccp.tgz", &gz.finish().unwrap());
        assert_eq!(tree.import(&source, false).unwrap().len(), 4);
        for (name, content) in package(&SIP_8_12[..4]) {
            let report = tree.import(&tree.source(&name, &content), false).unwrap();
            assert_eq!(outcomes(&report), [(name, Outcome::Added)]);
        }
        // A loose file is taken whatever its name: the operator chose it.
        let ring = tree.source("Chirp1.raw", &[0x7f; 2400]);
        assert_eq!(tree.import(&ring, false).unwrap().len(), 1);
        let catalog = Catalog::scan(&tree.firmware()).unwrap();
        assert!(catalog.is_complete("P00308010200"));
        assert!(catalog.is_complete("P0S3-8-12-00"));
        assert_eq!(catalog.other_files()[0].name, "Chirp1.raw");
    }

    #[test]
    fn existing_files_are_kept_unless_forced() {
        let tree = Tree::new();
        let source = tree.source("sip.zip", &cisco_sip_zip());
        tree.import(&source, false).unwrap();
        let again = tree.import(&source, false).unwrap();
        assert!(again[..4].iter().all(|f| f.outcome == Outcome::Unchanged));

        let sb2 = tree.firmware().join("P0S3-8-12-00.sb2");
        fs::write(&sb2, b"someone else's file").unwrap();
        let error = tree.import(&source, false).unwrap_err();
        assert!(
            matches!(&error, ImportError::WouldOverwrite { files, .. } if files == &["P0S3-8-12-00.sb2"]),
            "{error}"
        );
        assert!(error.to_string().contains("--force"), "{error}");
        assert_eq!(fs::read(&sb2).unwrap(), b"someone else's file");

        let forced = tree.import(&source, true).unwrap();
        assert_eq!(
            outcomes(&forced)[3],
            ("P0S3-8-12-00.sb2".into(), Outcome::Replaced)
        );
        assert_eq!(fs::read(&sb2).unwrap(), noise("P0S3-8-12-00.sb2", 756_524));
    }

    /// Imports `content` as `name` and returns the refusal, after checking
    /// that nothing at all was written: no file, in or out of the folder.
    fn refused(name: &str, content: &[u8]) -> (Option<String>, String, Refusal, String) {
        let tree = Tree::new();
        let source = tree.source(name, content);
        let error = tree.import(&source, false).unwrap_err();
        assert_eq!(tree.written(), ["firmware", "src"], "{error}");
        let message = error.to_string();
        match error {
            ImportError::Refused {
                archive,
                entry,
                reason,
            } => (
                archive.map(|a| a.replace(&source.display().to_string(), name)),
                entry,
                reason,
                message,
            ),
            other => panic!("{name}: not a refusal: {other}"),
        }
    }

    /// A tar of a valid image and then one bad entry of `kind` at `path`
    /// (linking to `link`; a regular file holds "x"), to show the whole
    /// archive is refused.
    fn with_bad_entry(path: &str, kind: tar::EntryType, link: &str) -> Vec<u8> {
        let content: &[u8] = if kind == tar::EntryType::Regular {
            b"x"
        } else {
            b""
        };
        let mut tar = tar_of(&package(&SIP_8_12[3..4]));
        tar.truncate(tar.len() - 1024);
        tar.extend(tar_entry(path.as_bytes(), kind, link.as_bytes(), content));
        tar.extend_from_slice(&[0; 1024]);
        tar
    }

    #[test]
    fn zip_slip_and_absolute_paths() {
        let zip_slip = zip_of(&[
            ("P0S3-8-12-00.sb2".into(), noise("x", 200_000)),
            ("../../x".into(), b"escape".to_vec()),
        ]);
        let (archive, entry, reason, message) = refused("slip.zip", &zip_slip);
        assert_eq!(
            (archive.as_deref(), &*entry, reason),
            (Some("slip.zip"), "../../x", Refusal::ParentDir)
        );
        assert!(message.contains("\"../../x\"") && message.contains("zip-slip"));

        let tar_slip = with_bad_entry("P0S3/../../P0S3-8-12-00.loads", tar::EntryType::Regular, "");
        assert_eq!(refused("slip.tar", &tar_slip).2, Refusal::ParentDir);
        let windows = zip_of(&[("..\\..\\x".into(), b"x".to_vec())]);
        assert_eq!(refused("w.zip", &windows).2, Refusal::ParentDir);

        let absolute = with_bad_entry("/etc/P0S3-8-12-00.loads", tar::EntryType::Regular, "");
        let (_, entry, reason, _) = refused("abs.tar", &absolute);
        assert_eq!(
            (&*entry, reason),
            ("/etc/P0S3-8-12-00.loads", Refusal::Absolute)
        );
        let drive = zip_of(&[("C:\\x.loads".into(), b"x".to_vec())]);
        assert_eq!(refused("d.zip", &drive).2, Refusal::Absolute);
    }

    #[test]
    fn links_and_devices() {
        let symlink = with_bad_entry("P0S3-8-12-00.loads", tar::EntryType::Symlink, "/etc/passwd");
        let (_, entry, reason, message) = refused("symlink.tar", &symlink);
        assert_eq!(entry, "P0S3-8-12-00.loads");
        assert_eq!(
            reason,
            Refusal::Link {
                kind: "symbolic",
                target: Some("/etc/passwd".into())
            }
        );
        assert!(
            message.contains("symbolic link to \"/etc/passwd\""),
            "{message}"
        );

        let hardlink = with_bad_entry("P003-8-12-00.sbn", tar::EntryType::Link, "P0S3-8-12-00.sb2");
        let (_, entry, reason, _) = refused("hardlink.tar", &hardlink);
        assert_eq!(entry, "P003-8-12-00.sbn");
        assert!(matches!(reason, Refusal::Link { kind: "hard", .. }));

        let device = with_bad_entry("sda", tar::EntryType::Block, "");
        assert_eq!(refused("dev.tar", &device).2, Refusal::Special("device"));
        let fifo = with_bad_entry("pipe", tar::EntryType::Fifo, "");
        assert_eq!(refused("fifo.tar", &fifo).2, Refusal::Special("FIFO"));

        let mut zip = zip::ZipWriter::new(Cursor::new(Vec::new()));
        zip.add_symlink(
            "P0S3-8-12-00.sb2",
            "/etc/shadow",
            SimpleFileOptions::default(),
        )
        .unwrap();
        let zip = zip.finish().unwrap().into_inner();
        let (_, entry, reason, _) = refused("symlink.zip", &zip);
        assert_eq!(entry, "P0S3-8-12-00.sb2");
        assert!(matches!(
            reason,
            Refusal::Link {
                kind: "symbolic",
                ..
            }
        ));
    }

    /// Overwrites the uncompressed size of the first entry, in its local
    /// header and in the central directory: a header that lies.
    fn claim_size(zip: &mut [u8], size: u32) {
        zip[22..26].copy_from_slice(&size.to_le_bytes());
        let central = zip
            .windows(4)
            .position(|w| w == b"PK\x01\x02")
            .expect("central directory");
        zip[central + 24..central + 28].copy_from_slice(&size.to_le_bytes());
    }

    #[test]
    fn zip_bombs() {
        let zeros = vec![0; 8 << 20];
        // Honest headers: 8 MiB from about 8 KB is refused before inflating.
        let honest = zip_of(&[("P0S3-8-12-00.sb2".into(), zeros.clone())]);
        assert!(honest.len() < 64 << 10);
        let (_, entry, reason, message) = refused("bomb.zip", &honest);
        assert_eq!(entry, "P0S3-8-12-00.sb2");
        assert!(matches!(reason, Refusal::Ratio { expanded, .. } if expanded == 8 << 20));
        assert!(message.contains("zip bomb"), "{message}");

        // A header that claims 458 B: caught while inflating.
        let mut liar = zip_of(&[("P0S3-8-12-00.loads".into(), zeros)]);
        claim_size(&mut liar, 458);
        let (_, entry, reason, message) = refused("liar.zip", &liar);
        assert_eq!(entry, "P0S3-8-12-00.loads");
        assert_eq!(reason, Refusal::LargerThanClaimed { claimed: 458 });
        assert!(message.contains("claims"), "{message}");
    }

    #[test]
    fn oversized_entries() {
        // A tar header claiming 65 MiB: refused before reading a byte.
        let mut header = tar::Header::new_gnu();
        header.set_path("P0S3-8-12-00.sb2").unwrap();
        header.set_size(65 << 20);
        header.set_cksum();
        let (_, entry, reason, message) = refused("huge.tar", header.as_bytes());
        assert_eq!(entry, "P0S3-8-12-00.sb2");
        assert_eq!(reason, Refusal::TooLarge { size: 65 << 20 });
        assert!(message.contains("64 MiB"), "{message}");
    }

    #[test]
    fn limits_hold_while_reading() {
        let shared = Shared::default();
        let read = |limited: &mut dyn Read| io::copy(limited, &mut io::sink());
        let big = io::repeat(0).take(MAX_ENTRY_SIZE + 1);
        assert!(read(&mut Limited::new(big, &shared, None, "a", "e")).is_err());
        assert!(matches!(
            shared.refusal.take(),
            Some(ImportError::Refused {
                reason: Refusal::TooLarge { .. },
                ..
            })
        ));
        shared.expanded.set(MAX_EXPANSION - 10);
        assert!(read(&mut Limited::new(&[0u8; 11][..], &shared, None, "a", "e")).is_err());
        assert!(matches!(
            shared.refusal.take(),
            Some(ImportError::Refused {
                reason: Refusal::ArchiveTooLarge,
                ..
            })
        ));
        shared.expanded.set(0);
        let inflating = io::repeat(0).take(RATIO_FREE_SIZE + 1);
        let mut limited = Limited::new(inflating, &shared, None, "a", "e").ratio(10);
        assert!(read(&mut limited).is_err());
        shared.expanded.set(0);
        let small = Limited::new(&[0u8; 1000][..], &shared, Some(1000), "a", "e");
        assert_eq!(read(&mut small.ratio(1)).unwrap(), 1000);
    }

    #[test]
    fn nesting_deeper_than_one_level() {
        let innermost = tar_of(&package(&SIP_8_12[3..4]));
        let middle = tar_of(&[("inner.tar".into(), innermost)]);
        let zip = zip_of(&[("middle.tar".into(), middle)]);
        let (archive, entry, reason, message) = refused("nested.zip", &zip);
        assert_eq!(
            (archive.as_deref(), &*entry, reason),
            (
                Some("nested.zip > middle.tar"),
                "inner.tar",
                Refusal::TooDeep
            )
        );
        assert!(message.contains("one level"), "{message}");
        // A zip inside a zip is one level, and fine.
        let tree = Tree::new();
        let inner = zip_of(&package(&SIP_8_12[..4]));
        let outer = tree.source("outer.zip", &zip_of(&[("sip.zip".into(), inner)]));
        assert_eq!(tree.import(&outer, false).unwrap().len(), 4);
    }

    #[test]
    fn a_corrupted_zip_entry_fails_its_crc_even_past_the_tar_end() {
        let tar = tar_of(&package(&SIP_8_12));
        let mut zip = zip::ZipWriter::new(Cursor::new(Vec::new()));
        let stored =
            SimpleFileOptions::default().compression_method(zip::CompressionMethod::Stored);
        zip.start_file("P0S3-8-12-00.tar", stored).unwrap();
        zip.write_all(&tar).unwrap();
        let mut zip = zip.finish().unwrap().into_inner();
        // The last byte of the tar's end marker, after every image.
        zip[30 + "P0S3-8-12-00.tar".len() + tar.len() - 1] ^= 1;
        let tree = Tree::new();
        let error = tree
            .import(&tree.source("sip.zip", &zip), false)
            .unwrap_err();
        assert!(
            matches!(&error, ImportError::Invalid { format: "zip", .. }),
            "{error}"
        );
        assert!(error.to_string().contains("checksum"), "{error}");
        assert_eq!(tree.written(), ["firmware", "src"]);
    }

    #[test]
    fn encrypted_entries() {
        let mut zip = zip_of(&package(&SIP_8_12[2..3]));
        // Set bit 0 of the general purpose flags, local and central.
        zip[6] |= 1;
        let central = zip.windows(4).position(|w| w == b"PK\x01\x02").unwrap();
        zip[central + 8] |= 1;
        let (_, entry, reason, _) = refused("locked.zip", &zip);
        assert_eq!(
            (&*entry, reason),
            ("P0S3-8-12-00.loads", Refusal::Encrypted)
        );
    }

    #[test]
    fn too_many_entries() {
        let entries: Vec<(String, Vec<u8>)> = (0..=MAX_ENTRIES)
            .map(|i| (format!("readme-{i}.txt"), Vec::new()))
            .collect();
        let (_, entry, reason, _) = refused("many.tar", &tar_of(&entries));
        assert_eq!(entry, format!("readme-{MAX_ENTRIES}.txt"));
        assert_eq!(reason, Refusal::TooManyEntries);
    }

    #[test]
    fn progress_follows_the_source() {
        struct Recorder(Vec<(u64, u64)>);
        impl Progress for Recorder {
            fn start(&mut self, _source: &Path, len: u64) {
                self.0.push((len, 0));
            }
            fn advance(&mut self, done: u64) {
                let len = self.0.last().unwrap().0;
                self.0.push((len, done));
            }
        }
        let tree = Tree::new();
        let zip = cisco_sip_zip();
        let source = tree.source("sip.zip", &zip);
        let mut recorder = Recorder(Vec::new());
        import(&tree.firmware(), &source, false, &mut recorder).unwrap();
        let done: Vec<u64> = recorder.0.iter().map(|(_, done)| *done).collect();
        assert_eq!(recorder.0[0], (zip.len() as u64, 0));
        assert!(done.windows(2).all(|w| w[0] <= w[1]), "{done:?}");
        assert!(
            *done.last().unwrap() >= zip.len() as u64 * 9 / 10,
            "{done:?}"
        );
    }

    #[test]
    fn duplicate_names_once_folders_are_stripped() {
        let zip = zip_of(&[
            ("a/P0S3-8-12-00.loads".into(), noise("a", 458)),
            ("b/P0S3-8-12-00.loads".into(), noise("b", 458)),
        ]);
        let (_, entry, reason, _) = refused("dup.zip", &zip);
        assert_eq!(entry, "b/P0S3-8-12-00.loads");
        assert_eq!(reason, Refusal::Duplicate("a/P0S3-8-12-00.loads".into()));
    }

    #[test]
    fn invalid_and_empty_archives() {
        let tree = Tree::new();
        let import_error = |name: &str, content: &[u8]| {
            tree.import(&tree.source(name, content), false).unwrap_err()
        };
        let mut broken = cisco_sip_zip();
        broken.truncate(broken.len() / 2);
        let error = import_error("broken.zip", &broken);
        assert!(
            matches!(error, ImportError::Invalid { format: "zip", .. }),
            "{error}"
        );
        assert!(error
            .to_string()
            .contains("broken.zip is not a valid zip archive"));

        let mut tar = tar_of(&package(&SIP_8_12));
        tar.truncate(100_000);
        let error = import_error("short.tar", &tar);
        assert!(
            matches!(error, ImportError::Invalid { format: "tar", .. }),
            "{error}"
        );

        let error = import_error("notes.tar.gz", b"plain text");
        assert!(matches!(error, ImportError::Invalid { .. }), "{error}");

        let readme = zip_of(&[("README.txt".into(), b"hello".to_vec())]);
        let error = import_error("readme.zip", &readme);
        assert!(matches!(error, ImportError::NoImages { .. }), "{error}");

        let error = tree
            .import(&tree.0.path().join("src/absent.zip"), false)
            .unwrap_err();
        assert!(error.to_string().contains("absent.zip"), "{error}");
        let error = tree.import(&tree.0.path().join("src"), false).unwrap_err();
        assert!(
            error.to_string().contains("pass the files in it"),
            "{error}"
        );
        assert!(tree
            .written()
            .iter()
            .all(|path| !path.starts_with("firmware/")));
    }
}
