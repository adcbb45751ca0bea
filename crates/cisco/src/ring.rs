//! Custom rings (reference §5.5): converting a recording to the phones'
//! format, the list of rings phoneprov keeps in the firmware folder, and the
//! RINGLIST.DAT lines phones read.
//!
//! A ring is raw, headerless 8 kHz 8-bit µ-law, 240 to 16 080 samples long
//! (a multiple of 240), starting and ending at a zero crossing. The rings
//! live in the firmware folder under `rings/`: the audio (`rings/<slug>.raw`)
//! and phoneprov's index `rings/rings.toml`, whose order is RINGLIST.DAT's:
//!
//! ```toml
//! [[ring]]
//! name = "Old phone"
//! file = "rings/old-phone.raw"
//! ```

pub mod mulaw;
mod resample;
mod shape;
mod wav;

use std::fmt;
use std::fs;
use std::io::{self, Write as _};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

pub use shape::{Adjustment, BLOCK, MAX_SAMPLES, RATE};
pub use wav::ACCEPTED;

/// The folder of rings, inside the firmware folder.
pub const RINGS_DIR: &str = "rings";
/// phoneprov's index of rings, relative to the firmware folder.
pub const INDEX: &str = "rings/rings.toml";
/// The longest display name: what Cisco documents for phone ring lists.
pub const MAX_NAME_CHARS: usize = 25;

#[derive(Debug, thiserror::Error)]
pub enum RingError {
    #[error(
        "{path} is not a WAV file{}; phoneprov reads {ACCEPTED}. Convert other formats first, e.g. `sox in.mp3 out.wav`",
        looks_like.map(|l| format!(" (it looks like {l})")).unwrap_or_default()
    )]
    NotWav {
        path: String,
        looks_like: Option<&'static str>,
    },
    #[error("{path}: {problem}")]
    Wav { path: String, problem: String },
    #[error("{path} holds no audio")]
    Silent { path: String },
    #[error("the ring name {name:?} {problem}")]
    Name { name: String, problem: String },
    #[error("the ring file {file:?} {problem}")]
    File { file: String, problem: String },
    #[error("{path} is damaged: {problem}")]
    Index { path: String, problem: String },
    #[error("{path}: {source}")]
    Io {
        path: String,
        #[source]
        source: io::Error,
    },
    #[error("there is already a ring named {name:?}; add --force to replace it")]
    Exists { name: String },
    #[error("there is no ring named {name:?}; the rings are: {known}")]
    Unknown { name: String, known: String },
}

/// A ring's display name: 1 to 25 printable ASCII characters, no leading or
/// trailing space (RINGLIST.DAT separates the name from the file by
/// whitespace, and which character set the 7940/7960 expect is not known).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct RingName(String);

impl RingName {
    pub fn new(name: &str) -> Result<RingName, RingError> {
        let problem = |problem: String| RingError::Name {
            name: name.into(),
            problem,
        };
        let chars = name.chars().count();
        if name.trim().is_empty() {
            return Err(problem("is empty".into()));
        }
        if chars > MAX_NAME_CHARS {
            return Err(problem(format!(
                "is {chars} characters long; phones show at most {MAX_NAME_CHARS} (the limit Cisco documents for ring lists), so shorten it"
            )));
        }
        if let Some(c) = name.chars().find(|c| !matches!(c, ' '..='~')) {
            return Err(problem(format!(
                "holds {c:?}; use printable ASCII only (letters, digits, spaces, punctuation): no tabs, line breaks or accents"
            )));
        }
        if name.trim() != name {
            return Err(problem(
                "starts or ends with a space; phones split RINGLIST.DAT lines at spaces".into(),
            ));
        }
        Ok(RingName(name.into()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether two names are the same ring (names ignore case).
    pub fn matches(&self, other: &str) -> bool {
        self.0.eq_ignore_ascii_case(other.trim())
    }

    /// A file name for this ring: lower case, `-` between words.
    fn slug(&self) -> String {
        let mut slug = String::new();
        for c in self.0.chars() {
            if c.is_ascii_alphanumeric() {
                slug.push(c.to_ascii_lowercase());
            } else if !slug.is_empty() && !slug.ends_with('-') {
                slug.push('-');
            }
        }
        let slug = slug.trim_end_matches('-');
        if slug.is_empty() {
            "ring".into()
        } else {
            slug.into()
        }
    }
}

impl fmt::Display for RingName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// One ring: its display name and its audio file, relative to the firmware
/// folder (the name phones ask the TFTP server for).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Ring {
    name: RingName,
    file: String,
}

impl Ring {
    pub fn new(name: RingName, file: &str) -> Result<Ring, RingError> {
        check_file_name(file).map_err(|problem| RingError::File {
            file: file.into(),
            problem,
        })?;
        Ok(Ring {
            name,
            file: file.into(),
        })
    }

    pub fn name(&self) -> &RingName {
        &self.name
    }

    pub fn file(&self) -> &str {
        &self.file
    }

    /// The size of the ring's audio in `firmware_dir`, or why phones could
    /// not play it (missing, or a length the phones refuse).
    pub fn check_audio(&self, firmware_dir: &Path) -> Result<u64, String> {
        let path = firmware_dir.join(&self.file);
        let metadata = fs::metadata(&path)
            .map_err(|e| format!("its file {} cannot be read: {e}", path.display()))?;
        let len = metadata.len();
        let samples = usize::try_from(len).unwrap_or(usize::MAX);
        if !metadata.is_file()
            || !samples.is_multiple_of(BLOCK)
            || !(BLOCK..=MAX_SAMPLES).contains(&samples)
        {
            return Err(format!(
                "its file {} is {len} bytes; a ring is {BLOCK} to {MAX_SAMPLES} bytes, a multiple of {BLOCK}",
                path.display()
            ));
        }
        Ok(len)
    }
}

/// Why `file` cannot name a ring file: it must be a relative path of
/// letters, digits, `.`, `_`, `-` and `/`, without `.` or `..` steps.
fn check_file_name(file: &str) -> Result<(), String> {
    if file.is_empty() {
        return Err("is empty".into());
    }
    if let Some(c) = file
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | '/')))
    {
        return Err(format!(
            "holds {c:?}; use letters, digits, '.', '_', '-' and '/' only"
        ));
    }
    if file
        .split('/')
        .any(|step| step.is_empty() || step == "." || step == "..")
    {
        return Err(
            "must be a plain path inside the firmware folder (no leading '/', '.' or '..')".into(),
        );
    }
    Ok(())
}

/// rings/rings.toml as written.
#[derive(Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct IndexFile {
    #[serde(default)]
    ring: Vec<IndexEntry>,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct IndexEntry {
    name: String,
    file: String,
}

/// The rings of a firmware folder, in RINGLIST.DAT order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RingList {
    rings: Vec<Ring>,
}

impl RingList {
    /// Reads `<firmware_dir>/rings/rings.toml`; no file means no rings.
    pub fn load(firmware_dir: &Path) -> Result<RingList, RingError> {
        let path = firmware_dir.join(INDEX);
        let text = match fs::read_to_string(&path) {
            Ok(text) => text,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(RingList::default()),
            Err(source) => {
                return Err(RingError::Io {
                    path: path.display().to_string(),
                    source,
                })
            }
        };
        let damaged = |problem: String| RingError::Index {
            path: path.display().to_string(),
            problem,
        };
        let file: IndexFile = toml::from_str(&text).map_err(|e| damaged(e.to_string()))?;
        let mut list = RingList::default();
        for (n, entry) in file.ring.into_iter().enumerate() {
            let ring = RingName::new(&entry.name)
                .and_then(|name| Ring::new(name, &entry.file))
                .map_err(|e| damaged(format!("ring {}: {e}", n + 1)))?;
            if list.find(ring.name.as_str()).is_some() {
                return Err(damaged(format!(
                    "ring {}: the name {:?} appears twice",
                    n + 1,
                    entry.name
                )));
            }
            list.rings.push(ring);
        }
        Ok(list)
    }

    /// Writes the index (replacing it whole, never half-written).
    pub fn save(&self, firmware_dir: &Path) -> Result<(), RingError> {
        let file = IndexFile {
            ring: self
                .rings
                .iter()
                .map(|ring| IndexEntry {
                    name: ring.name.0.clone(),
                    file: ring.file.clone(),
                })
                .collect(),
        };
        let text = format!(
            "# The rings phones are offered in RINGLIST.DAT, in this order.\n\
             # Kept by `phoneprov ring import/remove`; see docs/rings.md.\n\n{}",
            toml::to_string(&file).expect("plain strings always serialize")
        );
        write_whole(&firmware_dir.join(INDEX), text.as_bytes())
    }

    pub fn rings(&self) -> &[Ring] {
        &self.rings
    }

    pub fn into_rings(self) -> Vec<Ring> {
        self.rings
    }

    /// The ring named `name`, in any case.
    pub fn find(&self, name: &str) -> Option<&Ring> {
        self.rings.iter().find(|ring| ring.name.matches(name))
    }

    /// The names, for messages.
    fn names(&self) -> String {
        if self.rings.is_empty() {
            return "(none)".into();
        }
        let names: Vec<String> = self
            .rings
            .iter()
            .map(|r| format!("{:?}", r.name.0))
            .collect();
        names.join(", ")
    }
}

/// The result of an import.
#[derive(Debug)]
pub struct Imported {
    pub ring: Ring,
    /// Whether a ring of that name was replaced.
    pub replaced: bool,
    /// e.g. `44100 Hz, 2 channels, 16-bit integer, 3.20 s`.
    pub source: String,
    /// Samples (= bytes) of ring audio written.
    pub samples: usize,
    /// What was done besides the format conversion.
    pub adjustments: Vec<Adjustment>,
}

/// Converts the WAV recording at `source` into a ring named `name` in
/// `firmware_dir` (a ring of the same name is replaced only with `force`).
pub fn import(
    firmware_dir: &Path,
    source: &Path,
    name: &str,
    force: bool,
) -> Result<Imported, RingError> {
    let name = RingName::new(name)?;
    let mut list = RingList::load(firmware_dir)?;
    let existing = list
        .rings
        .iter()
        .position(|r| r.name.matches(name.as_str()));
    if let Some(index) = existing.filter(|_| !force) {
        return Err(RingError::Exists {
            name: list.rings[index].name.0.clone(),
        });
    }
    let (audio, recording, adjustments) = convert(source)?;
    let file = match existing {
        Some(index) => list.rings[index].file.clone(),
        None => free_file_name(firmware_dir, &list, &name.slug()),
    };
    let ring = Ring::new(name, &file)?;
    write_whole(&firmware_dir.join(&file), &audio)?;
    match existing {
        Some(index) => list.rings[index] = ring.clone(),
        None => list.rings.push(ring.clone()),
    }
    list.save(firmware_dir)?;
    Ok(Imported {
        ring,
        replaced: existing.is_some(),
        source: format!(
            "{} Hz, {} channel{}, {}, {:.2} s",
            recording.rate,
            recording.channels,
            if recording.channels == 1 { "" } else { "s" },
            recording.encoding,
            recording.frames as f64 / f64::from(recording.rate)
        ),
        samples: audio.len(),
        adjustments,
    })
}

/// Removes the ring named `name` from the index, and its file unless
/// another ring uses it.
pub fn remove(firmware_dir: &Path, name: &str) -> Result<Ring, RingError> {
    let mut list = RingList::load(firmware_dir)?;
    let Some(index) = list.rings.iter().position(|r| r.name.matches(name)) else {
        return Err(RingError::Unknown {
            name: name.into(),
            known: list.names(),
        });
    };
    let ring = list.rings.remove(index);
    list.save(firmware_dir)?;
    if list.rings.iter().all(|r| r.file != ring.file) {
        let path = firmware_dir.join(&ring.file);
        match fs::remove_file(&path) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => {
                return Err(RingError::Io {
                    path: path.display().to_string(),
                    source: e,
                })
            }
            _ => {}
        }
    }
    Ok(ring)
}

/// `rings/<slug>.raw`, or `rings/<slug>-2.raw`… when taken by another ring
/// or by a file already in the folder.
fn free_file_name(firmware_dir: &Path, list: &RingList, slug: &str) -> String {
    (1..)
        .map(|n| match n {
            1 => format!("{RINGS_DIR}/{slug}.raw"),
            n => format!("{RINGS_DIR}/{slug}-{n}.raw"),
        })
        .find(|file| {
            list.rings.iter().all(|r| &r.file != file) && !firmware_dir.join(file).exists()
        })
        .expect("some suffix is free")
}

/// The recording at `source` as ring audio (µ-law bytes), with what was
/// read and what was done to fit the rules.
fn convert(source: &Path) -> Result<(Vec<u8>, wav::Recording, Vec<Adjustment>), RingError> {
    // Read only what can end up in the ring: the longest ring, plus a little
    // to find a zero crossing and to fill the resampler's window.
    let recording = wav::read(source, (MAX_SAMPLES + 1) as f64 / f64::from(RATE) + 0.1)?;
    if recording.frames == 0 {
        return Err(RingError::Silent {
            path: source.display().to_string(),
        });
    }
    let audio = resample::resample(&recording.mono, recording.rate, RATE, MAX_SAMPLES + 1);
    let seconds = recording.frames as f64 / f64::from(recording.rate);
    let (audio, adjustments) = shape::shape(audio, seconds);
    Ok((encode(&audio), recording, adjustments))
}

/// Samples from -1.0 to 1.0 as µ-law codes.
fn encode(samples: &[f32]) -> Vec<u8> {
    samples
        .iter()
        .map(|s| mulaw::encode((s * 32_767.0).round().clamp(-32_768.0, 32_767.0) as i16))
        .collect()
}

/// Writes `path` through a temporary file, so a reader never sees half of it.
fn write_whole(path: &Path, content: &[u8]) -> Result<(), RingError> {
    let io = |path: &Path| {
        let path = path.display().to_string();
        move |source| RingError::Io { path, source }
    };
    if let Some(dir) = path.parent() {
        fs::create_dir_all(dir).map_err(io(dir))?;
    }
    let mut temporary = PathBuf::from(path);
    temporary.as_mut_os_string().push(".part");
    let mut out = fs::File::create(&temporary).map_err(io(&temporary))?;
    out.write_all(content)
        .and_then(|()| out.sync_all())
        .map_err(io(&temporary))?;
    fs::rename(&temporary, path).map_err(io(path))
}

/// What is wrong with RINGLIST.DAT text: every line `<name><TAB><file>`,
/// each ending in a line feed. (Trailing spaces and carriage returns are
/// checked with every file.)
pub fn lint(content: &str) -> Vec<String> {
    let mut problems = Vec::new();
    if !content.is_empty() && !content.ends_with('\n') {
        problems.push("the last line does not end with a line feed".into());
    }
    for (index, line) in content.lines().enumerate() {
        let n = index + 1;
        match line.split_once('\t') {
            None => problems.push(format!("line {n} is not <name><TAB><file>")),
            Some((name, file)) => {
                if let Err(e) = RingName::new(name).and_then(|name| Ring::new(name, file)) {
                    problems.push(format!("line {n}: {e}"));
                }
            }
        }
    }
    problems
}

#[cfg(test)]
mod tests {
    use super::*;
    use hound::{SampleFormat, WavSpec, WavWriter};
    use proptest::prelude::*;

    /// A WAV of `seconds` of a 440 Hz tone at half scale.
    fn wav(path: &Path, rate: u32, channels: u16, bits: u16, format: SampleFormat, seconds: f64) {
        let spec = WavSpec {
            channels,
            sample_rate: rate,
            bits_per_sample: bits,
            sample_format: format,
        };
        let mut writer = WavWriter::create(path, spec).unwrap();
        let frames = (f64::from(rate) * seconds) as usize;
        for i in 0..frames {
            let x = 0.5 * (2.0 * std::f64::consts::PI * 440.0 * i as f64 / f64::from(rate)).sin();
            for _ in 0..channels {
                match (format, bits) {
                    (SampleFormat::Float, _) => writer.write_sample(x as f32).unwrap(),
                    (_, 8) => writer.write_sample((x * 127.0) as i8).unwrap(),
                    (_, 16) => writer.write_sample((x * 32_767.0) as i16).unwrap(),
                    (_, 24) => writer.write_sample((x * 8_388_607.0) as i32).unwrap(),
                    _ => writer.write_sample((x * 2_147_483_647.0) as i32).unwrap(),
                }
            }
        }
        writer.finalize().unwrap();
    }

    fn assert_playable(audio: &[u8]) {
        assert!(audio.len().is_multiple_of(BLOCK), "{}", audio.len());
        assert!(
            (BLOCK..=MAX_SAMPLES).contains(&audio.len()),
            "{}",
            audio.len()
        );
        assert!(mulaw::is_zero(audio[0]), "starts at {:#04x}", audio[0]);
        assert!(
            mulaw::is_zero(audio[audio.len() - 1]),
            "ends at {:#04x}",
            audio[audio.len() - 1]
        );
    }

    #[test]
    fn every_wav_variant_imports() {
        let dir = tempfile::tempdir().unwrap();
        let firmware = dir.path().join("firmware");
        let cases = [
            (8_000, 1, 8, SampleFormat::Int),
            (8_000, 1, 16, SampleFormat::Int),
            (48_000, 1, 24, SampleFormat::Int),
            (48_000, 2, 32, SampleFormat::Int),
            (44_100, 2, 16, SampleFormat::Int),
            (48_000, 2, 32, SampleFormat::Float),
            (8_000, 2, 32, SampleFormat::Float),
        ];
        for (n, (rate, channels, bits, format)) in cases.into_iter().enumerate() {
            let source = dir.path().join(format!("in{n}.wav"));
            wav(&source, rate, channels, bits, format, 1.0);
            let name = format!("Tone {n}");
            let imported = import(&firmware, &source, &name, false).unwrap();
            assert_eq!(imported.ring.file(), format!("rings/tone-{n}.raw"));
            assert!(imported
                .source
                .starts_with(&format!("{rate} Hz, {channels} channel")));
            // One second of audio: 8 000 samples, padded to 8 160.
            assert_eq!(imported.samples, 8_160, "{}", imported.source);
            let audio = fs::read(firmware.join(imported.ring.file())).unwrap();
            assert_eq!(audio.len(), 8_160);
            assert_playable(&audio);
            // The tone is there at about half scale.
            let peak = audio.iter().map(|c| mulaw::decode(*c).abs()).max().unwrap();
            assert!(
                (15_000..17_500).contains(&peak),
                "{}: peak {peak}",
                imported.source
            );
        }
        let list = RingList::load(&firmware).unwrap();
        assert_eq!(list.rings().len(), cases.len());
        assert_eq!(list.rings()[3].name().as_str(), "Tone 3");
    }

    #[test]
    fn a_long_recording_is_cut_and_says_so() {
        let dir = tempfile::tempdir().unwrap();
        let source = dir.path().join("long.wav");
        wav(&source, 22_050, 1, 16, SampleFormat::Int, 5.0);
        let imported = import(dir.path(), &source, "Long", false).unwrap();
        assert_eq!(imported.samples, MAX_SAMPLES);
        assert!(matches!(imported.adjustments[0], Adjustment::Cut { seconds } if seconds == 5.0));
        assert_playable(&fs::read(dir.path().join("rings/long.raw")).unwrap());
    }

    #[test]
    fn names_replacing_and_removing() {
        let dir = tempfile::tempdir().unwrap();
        let source = dir.path().join("in.wav");
        wav(&source, 8_000, 1, 16, SampleFormat::Int, 0.1);
        let long = "A name far too long for a phone";
        let error = import(dir.path(), &source, long, false).unwrap_err();
        assert!(
            error.to_string().contains("is 31 characters long"),
            "{error}"
        );
        assert!(RingName::new("Tab\there").is_err());
        assert!(RingName::new("Line\nbreak").is_err());
        assert!(RingName::new(" Old").is_err());
        assert!(RingName::new("Sonnerie é").is_err());
        assert_eq!(RingName::new("--").unwrap().slug(), "ring");
        assert_eq!(
            RingName::new("Old Phone (1970)!").unwrap().slug(),
            "old-phone-1970"
        );

        import(dir.path(), &source, "Old phone", false).unwrap();
        let error = import(dir.path(), &source, "old PHONE", false).unwrap_err();
        assert!(error.to_string().contains("named \"Old phone\""), "{error}");
        let replaced = import(dir.path(), &source, "Old Phone", true).unwrap();
        assert!(replaced.replaced);
        assert_eq!(replaced.ring.file(), "rings/old-phone.raw");
        // A file of the same slug that phoneprov does not know is left alone.
        fs::write(dir.path().join("rings/bell.raw"), b"mine").unwrap();
        let bell = import(dir.path(), &source, "Bell", false).unwrap();
        assert_eq!(bell.ring.file(), "rings/bell-2.raw");

        let list = RingList::load(dir.path()).unwrap();
        let names: Vec<&str> = list.rings().iter().map(|r| r.name().as_str()).collect();
        assert_eq!(names, ["Old Phone", "Bell"]);
        assert_eq!(list.rings()[1].check_audio(dir.path()), Ok(960));

        let removed = remove(dir.path(), "old phone").unwrap();
        assert_eq!(removed.file(), "rings/old-phone.raw");
        assert!(!dir.path().join("rings/old-phone.raw").exists());
        let error = remove(dir.path(), "Old phone").unwrap_err().to_string();
        assert!(error.contains("\"Bell\""), "{error}");
        fs::remove_file(dir.path().join("rings/bell-2.raw")).unwrap();
        let problem = RingList::load(dir.path()).unwrap().rings()[0]
            .check_audio(dir.path())
            .unwrap_err();
        assert!(problem.contains("bell-2.raw cannot be read"), "{problem}");
    }

    #[test]
    fn refuses_what_is_not_a_wav() {
        let dir = tempfile::tempdir().unwrap();
        let source = dir.path().join("song.mp3");
        fs::write(&source, b"ID3\x04\0\0\0\0\0\0 not really").unwrap();
        let error = import(dir.path(), &source, "Song", false)
            .unwrap_err()
            .to_string();
        assert!(
            error.contains("not a WAV file (it looks like MP3)"),
            "{error}"
        );
        assert!(
            error.contains("sox in.mp3 out.wav") && error.contains("24"),
            "{error}"
        );
        assert!(!dir.path().join(INDEX).exists());
        let empty = dir.path().join("empty.wav");
        wav(&empty, 8_000, 1, 16, SampleFormat::Int, 0.0);
        let error = import(dir.path(), &empty, "Empty", false).unwrap_err();
        assert!(matches!(error, RingError::Silent { .. }), "{error}");
    }

    #[test]
    fn a_damaged_index_is_refused_with_its_name() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(RingList::load(dir.path()).unwrap(), RingList::default());
        fs::create_dir(dir.path().join(RINGS_DIR)).unwrap();
        let cases = [
            ("[[ring]]\nname = \"x\"\n", "missing field"),
            (
                "[[ring]]\nname = \"x\"\nfile = \"../x.raw\"\n",
                "inside the firmware folder",
            ),
            ("[[ring]]\nname = \"x\"\nfile = \"a b.raw\"\n", "holds ' '"),
            (
                "[[ring]]\nname = \"x\"\nfile = \"x\"\ncolour = 1\n",
                "unknown field",
            ),
            (
                "[[ring]]\nname = \"x\"\nfile = \"x\"\n[[ring]]\nname = \"X\"\nfile = \"y\"\n",
                "appears twice",
            ),
        ];
        for (text, expected) in cases {
            fs::write(dir.path().join(INDEX), text).unwrap();
            let error = RingList::load(dir.path()).unwrap_err().to_string();
            assert!(error.contains("rings/rings.toml is damaged"), "{error}");
            assert!(error.contains(expected), "{expected}: {error}");
        }
        let list = RingList {
            rings: vec![Ring::new(RingName::new("Bell \"2\"").unwrap(), "rings/b.raw").unwrap()],
        };
        list.save(dir.path()).unwrap();
        assert_eq!(RingList::load(dir.path()).unwrap(), list);
    }

    #[test]
    fn ringlist_lint() {
        assert!(lint("").is_empty());
        assert!(lint("Old phone\trings/old-phone.raw\nBell\tbell.raw\n").is_empty());
        assert!(lint("Old phone rings/x.raw\n")[0].contains("not <name><TAB><file>"));
        assert!(lint("Bell\tbell.raw")[0].contains("line feed"));
        assert!(lint("Bell\t/etc/passwd\n")[0].contains("line 1"));
        assert!(lint("A name far too long for a phone\tx.raw\n")[0].contains("characters"));
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        /// Whatever comes in, what goes out is a ring phones play.
        #[test]
        fn shaped_audio_is_always_playable(
            samples in prop::collection::vec(-1.5f32..1.5, 0..24_000),
            offset in -0.5f32..0.5,
            rate in prop::sample::select(vec![8_000u32, 11_025, 16_000, 44_100, 48_000]),
        ) {
            let samples: Vec<f32> = samples.into_iter().map(|s| s + offset).collect();
            let resampled = resample::resample(&samples, rate, RATE, MAX_SAMPLES + 1);
            let (shaped, _) = shape::shape(resampled, 0.0);
            let audio = encode(&shaped);
            prop_assert!(audio.len().is_multiple_of(BLOCK));
            prop_assert!((BLOCK..=MAX_SAMPLES).contains(&audio.len()));
            prop_assert!(mulaw::is_zero(audio[0]));
            prop_assert!(mulaw::is_zero(audio[audio.len() - 1]));
        }
    }

    /// sox, an independent µ-law decoder, reads our ring back to the same
    /// length and the same samples.
    #[test]
    fn sox_reads_the_ring_back() {
        if std::process::Command::new("sox")
            .arg("--version")
            .output()
            .is_err()
        {
            eprintln!("skipped: sox is not installed (apt-get install sox)");
            return;
        }
        let dir = tempfile::tempdir().unwrap();
        let source = dir.path().join("in.wav");
        wav(&source, 44_100, 2, 16, SampleFormat::Int, 1.5);
        let imported = import(dir.path(), &source, "Tone", false).unwrap();
        let raw = dir.path().join(imported.ring.file());
        let out = dir.path().join("out.wav");
        let status = std::process::Command::new("sox")
            .args(["-t", "ul", "-r", "8000", "-c", "1"])
            .arg(&raw)
            .args(["-b", "16", "-e", "signed-integer"])
            .arg(&out)
            .status()
            .unwrap();
        assert!(status.success());
        let reader = hound::WavReader::open(&out).unwrap();
        assert_eq!(reader.spec().sample_rate, 8_000);
        assert_eq!(reader.duration() as usize, imported.samples);
        assert_eq!(imported.samples, 12_000);
        let ours: Vec<i16> = fs::read(&raw)
            .unwrap()
            .into_iter()
            .map(mulaw::decode)
            .collect();
        let theirs: Vec<i16> = reader.into_samples::<i16>().map(Result::unwrap).collect();
        assert_eq!(ours, theirs);
    }
}
