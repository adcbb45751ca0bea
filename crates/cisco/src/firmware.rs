//! The firmware catalog: which loads a firmware folder holds, and what each
//! still lacks before a phone can install it (reference §2).
//!
//! A file `X.ext` is a load image when `X` parses as a [`LoadName`] and `ext`
//! is one of `.loads`, `.sb2`, `.sbn`, `.bin` (lower case, as phones ask for
//! them). Images are grouped into loads by that base name, kept verbatim:
//! `P0S3-8-12-00` and `P0S3-08-12-00` are two loads. What a load needs:
//!
//! | load | needs | optional |
//! |---|---|---|
//! | UAL SIP/MGCP app, e.g. `P0S3-8-12-00` | its `.loads` and `.sb2`, and its loader's `.sbn` (`P003-8-12-00.sbn`) | the loader's `.bin` |
//! | UAL SCCP, e.g. `P00308010200` | its `.loads`, `.sb2` and `.sbn` (it is its own loader) | its `.bin` |
//! | the loader itself, `P003-8-12-00` | its `.sbn` | its `.bin` |
//! | OS79XX.TXT era, unsigned (before 5.x), e.g. `P0S30202` | its `.bin` | — |
//! | OS79XX.TXT era, signed, e.g. `P0S3-05-3-00` | its `.sbn` | its `.bin` |
//!
//! The `.bin` loader stage only matters to phones that have never run a
//! signed load. Sizes far from any real image are reported, never refused.

pub mod import;

use std::fmt;
use std::fs;
use std::io;
use std::ops::RangeInclusive;
use std::path::{Path, PathBuf};

use crate::load::{Era, LoadName, Protocol};

/// The kinds of 7940/7960 load image, by extension (reference §2.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ImageKind {
    /// `.loads`: the small descriptor a UAL phone fetches first.
    Loads,
    /// `.sb2`: the signed application (SIP, SCCP or MGCP).
    Sb2,
    /// `.sbn`: a signed image (the loader stage on 7.x/8.x).
    Sbn,
    /// `.bin`: an unsigned image, for phones before signed loads.
    Bin,
}

impl ImageKind {
    const ALL: [ImageKind; 4] = [
        ImageKind::Loads,
        ImageKind::Sb2,
        ImageKind::Sbn,
        ImageKind::Bin,
    ];

    pub fn extension(self) -> &'static str {
        match self {
            ImageKind::Loads => "loads",
            ImageKind::Sb2 => "sb2",
            ImageKind::Sbn => "sbn",
            ImageKind::Bin => "bin",
        }
    }

    /// Sizes a real image of this kind falls within: `.loads` files are about
    /// 460 B, loaders about 130 KB, applications 680–760 KB (reference §2.3).
    pub fn plausible_sizes(self) -> RangeInclusive<u64> {
        match self {
            ImageKind::Loads => 100..=4 << 10,
            ImageKind::Sb2 => 100_000..=2 << 20,
            ImageKind::Sbn | ImageKind::Bin => 50_000..=2 << 20,
        }
    }
}

/// Splits a file name such as `P0S3-8-12-00.sb2` into its load and image
/// kind; `None` for anything else (`OS79XX.TXT`, readmes, `X.SB2`).
pub fn parse_image_name(file_name: &str) -> Option<(LoadName, ImageKind)> {
    let (base, extension) = file_name.rsplit_once('.')?;
    let kind = ImageKind::ALL
        .into_iter()
        .find(|kind| kind.extension() == extension)?;
    Some((LoadName::parse(base).ok()?, kind))
}

/// One image file of a load.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageFile {
    pub name: String,
    pub kind: ImageKind,
    pub size: u64,
}

impl ImageFile {
    /// A size no real image of this kind has.
    pub fn size_problem(&self) -> Option<SizeProblem> {
        let plausible = self.kind.plausible_sizes();
        if plausible.contains(&self.size) {
            return None;
        }
        Some(SizeProblem {
            file: self.name.clone(),
            size: self.size,
            kind: self.kind,
            too_small: self.size < *plausible.start(),
        })
    }
}

/// An image whose size is implausible: cut short by a failed download, or
/// some other file under an image's name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SizeProblem {
    pub file: String,
    pub size: u64,
    pub kind: ImageKind,
    pub too_small: bool,
}

impl fmt::Display for SizeProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let plausible = self.kind.plausible_sizes();
        write!(
            f,
            "{} is {} B: {} (a .{} file is {} to {} B)",
            self.file,
            self.size,
            if self.too_small {
                "looks truncated"
            } else {
                "not a phone image"
            },
            self.kind.extension(),
            plausible.start(),
            plausible.end()
        )
    }
}

/// A load found in the firmware folder: the files under its name and what it
/// still needs to be installable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Load {
    pub name: LoadName,
    /// The files named after this load, in the order `.loads`, `.sb2`, `.sbn`, `.bin`.
    pub files: Vec<ImageFile>,
    /// The loader this load is installed with, when it has another name
    /// (`P003-8-12-00` for `P0S3-8-12-00`).
    pub loader: Option<LoadName>,
    /// Files a phone needs that the folder lacks, e.g. `P003-8-12-00.sbn`.
    pub missing: Vec<String>,
}

impl Load {
    pub fn is_complete(&self) -> bool {
        self.missing.is_empty()
    }

    pub fn file(&self, kind: ImageKind) -> Option<&ImageFile> {
        self.files.iter().find(|file| file.kind == kind)
    }

    /// The files under this load's name whose size no real image has.
    pub fn size_problems(&self) -> impl Iterator<Item = SizeProblem> + '_ {
        self.files.iter().filter_map(ImageFile::size_problem)
    }

    /// The files a phone fetches to install this load, as (load, kind).
    fn needs(&self) -> Vec<(&LoadName, ImageKind)> {
        let own = &self.name;
        if self.name.protocol == Protocol::Loader {
            return vec![(own, ImageKind::Sbn)];
        }
        match self.name.era() {
            Era::Ual => {
                let loader = self.loader.as_ref().unwrap_or(own);
                vec![
                    (own, ImageKind::Loads),
                    (own, ImageKind::Sb2),
                    (loader, ImageKind::Sbn),
                ]
            }
            Era::Os79xx if self.name.signed() => vec![(own, ImageKind::Sbn)],
            Era::Os79xx => vec![(own, ImageKind::Bin)],
        }
    }
}

/// A file of the folder that is not a load image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OtherFile {
    pub name: String,
    pub size: u64,
    /// Why a file that looks like an image was not taken for one.
    pub note: Option<String>,
}

#[derive(Debug, thiserror::Error)]
#[error("cannot read the firmware folder {}: {source}", dir.display())]
pub struct CatalogError {
    pub dir: PathBuf,
    pub source: io::Error,
}

/// The loads and other files of a firmware folder, as scanned.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Catalog {
    /// Ordered by protocol, version, then name.
    loads: Vec<Load>,
    /// Ordered by name.
    other_files: Vec<OtherFile>,
}

impl Catalog {
    /// Reads the names and sizes of the files directly in `dir` (not its
    /// sub-folders). Hidden files (a leading `.`, e.g. an import's temporary
    /// files) are left out.
    pub fn scan(dir: &Path) -> Result<Catalog, CatalogError> {
        let fail = |source| CatalogError {
            dir: dir.to_path_buf(),
            source,
        };
        let mut files = Vec::new();
        for entry in fs::read_dir(dir).map_err(fail)? {
            let entry = entry.map_err(fail)?;
            let name = entry.file_name().to_string_lossy().into_owned();
            if name.starts_with('.') {
                continue;
            }
            // Follow symlinks, as the TFTP server does.
            match fs::metadata(entry.path()) {
                Ok(metadata) if metadata.is_file() => files.push((name, metadata.len())),
                _ => continue,
            }
        }
        Ok(Catalog::from_files(files))
    }

    /// Builds the catalog from file names and sizes.
    pub fn from_files(files: impl IntoIterator<Item = (String, u64)>) -> Catalog {
        let mut catalog = Catalog::default();
        for (name, size) in files {
            let Some((load_name, kind)) = parse_image_name(&name) else {
                let note = looks_like_image(&name);
                catalog.other_files.push(OtherFile { name, size, note });
                continue;
            };
            let file = ImageFile { name, kind, size };
            match catalog.loads.iter_mut().find(|load| load.name == load_name) {
                Some(load) => load.files.push(file),
                None => catalog.loads.push(Load {
                    loader: load_name
                        .loader()
                        .filter(|loader| loader != load_name.as_str())
                        .and_then(|loader| LoadName::parse(&loader).ok()),
                    name: load_name,
                    files: vec![file],
                    missing: Vec::new(),
                }),
            }
        }
        let present: Vec<String> = catalog
            .loads
            .iter()
            .flat_map(|load| load.files.iter().map(|file| file.name.clone()))
            .collect();
        for load in &mut catalog.loads {
            load.files.sort_by_key(|file| file.kind);
            load.missing = load
                .needs()
                .into_iter()
                .map(|(name, kind)| format!("{name}.{}", kind.extension()))
                .filter(|file| !present.contains(file))
                .collect();
        }
        catalog.loads.sort_by(|a, b| {
            (a.name.protocol, a.name.version, a.name.as_str()).cmp(&(
                b.name.protocol,
                b.name.version,
                b.name.as_str(),
            ))
        });
        catalog.other_files.sort_by(|a, b| a.name.cmp(&b.name));
        catalog
    }

    /// Every load, ordered by protocol, version, then name.
    pub fn loads(&self) -> &[Load] {
        &self.loads
    }

    /// Files that are not load images (`OS79XX.TXT`, readmes, ring files).
    pub fn other_files(&self) -> &[OtherFile] {
        &self.other_files
    }

    /// The load named exactly `name` (case-sensitive, as phones ask).
    pub fn load(&self, name: &str) -> Option<&Load> {
        self.loads.iter().find(|load| load.name.as_str() == name)
    }

    /// Whether `name` is in the folder with every file a phone needs.
    pub fn is_complete(&self, name: &str) -> bool {
        self.load(name).is_some_and(Load::is_complete)
    }

    /// The loads of one protocol, oldest version first.
    pub fn loads_of(&self, protocol: Protocol) -> impl Iterator<Item = &Load> + '_ {
        self.loads
            .iter()
            .filter(move |load| load.name.protocol == protocol)
    }
}

/// Says why a name that looks like an image is not one, if it looks like one.
fn looks_like_image(name: &str) -> Option<String> {
    let (base, extension) = name.rsplit_once('.')?;
    let kind = ImageKind::ALL
        .into_iter()
        .find(|kind| kind.extension().eq_ignore_ascii_case(extension))?;
    if LoadName::parse(base).is_ok() {
        return Some(format!(
            "not taken for an image: phones ask for a lower-case .{} extension",
            kind.extension()
        ));
    }
    Some(format!(
        "not taken for an image: {base:?} is not a 7940/7960 load name"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// SIP 8.12 as Cisco ships it (reference §2.3).
    pub(crate) const SIP_8_12: [(&str, u64); 5] = [
        ("P003-8-12-00.bin", 130_552),
        ("P003-8-12-00.sbn", 130_956),
        ("P0S3-8-12-00.loads", 458),
        ("P0S3-8-12-00.sb2", 756_524),
        ("OS79XX.TXT", 15),
    ];

    /// SCCP 8.1(2), sizes as 8.1(2)SR2 (reference §2.3).
    pub(crate) const SCCP_8_1_2: [(&str, u64); 4] = [
        ("P00308010200.bin", 130_552),
        ("P00308010200.loads", 458),
        ("P00308010200.sb2", 708_460),
        ("P00308010200.sbn", 130_956),
    ];

    fn catalog(files: &[(&str, u64)]) -> Catalog {
        Catalog::from_files(files.iter().map(|(n, s)| (n.to_string(), *s)))
    }

    fn without<'a>(files: &[(&'a str, u64)], name: &str) -> Vec<(&'a str, u64)> {
        files.iter().filter(|(n, _)| *n != name).copied().collect()
    }

    #[test]
    fn complete_sip_8_12() {
        let catalog = catalog(&SIP_8_12);
        let sip = catalog.load("P0S3-8-12-00").unwrap();
        assert_eq!(sip.name.protocol, Protocol::Sip);
        assert_eq!(sip.name.version.to_string(), "8.12");
        assert_eq!(sip.name.era(), Era::Ual);
        assert!(sip.name.signed());
        assert_eq!(sip.loader.as_ref().unwrap().as_str(), "P003-8-12-00");
        let files: Vec<(&str, u64)> = sip.files.iter().map(|f| (&*f.name, f.size)).collect();
        assert_eq!(
            files,
            [("P0S3-8-12-00.loads", 458), ("P0S3-8-12-00.sb2", 756_524)]
        );
        assert!(sip.is_complete(), "{:?}", sip.missing);
        assert_eq!(sip.size_problems().count(), 0);
        let loader = catalog.load("P003-8-12-00").unwrap();
        assert_eq!(loader.name.protocol, Protocol::Loader);
        assert!(loader.is_complete());
        assert_eq!(loader.file(ImageKind::Bin).unwrap().size, 130_552);
        assert_eq!(
            catalog.other_files(),
            [OtherFile {
                name: "OS79XX.TXT".into(),
                size: 15,
                note: None
            }]
        );
        assert!(catalog.is_complete("P0S3-8-12-00"));
        // Names are exact: the two-digit spelling is another load.
        assert!(catalog.load("P0S3-08-12-00").is_none());
        assert!(!catalog.is_complete("P0S3-08-12-00"));
    }

    #[test]
    fn incomplete_sip_8_12() {
        let no_loader = catalog(&without(&SIP_8_12, "P003-8-12-00.sbn"));
        assert_eq!(
            no_loader.load("P0S3-8-12-00").unwrap().missing,
            ["P003-8-12-00.sbn"]
        );
        assert_eq!(
            no_loader.load("P003-8-12-00").unwrap().missing,
            ["P003-8-12-00.sbn"]
        );
        // The loader's .bin is only for pre-signed phones.
        let no_bin = catalog(&without(&SIP_8_12, "P003-8-12-00.bin"));
        assert!(no_bin.is_complete("P0S3-8-12-00"));
        assert!(no_bin.is_complete("P003-8-12-00"));
        let app_only = catalog(&[("P0S3-8-12-00.sb2", 756_524)]);
        assert_eq!(
            app_only.load("P0S3-8-12-00").unwrap().missing,
            ["P0S3-8-12-00.loads", "P003-8-12-00.sbn"]
        );
        assert!(app_only.load("P003-8-12-00").is_none());
    }

    #[test]
    fn sccp_8_1_2_is_its_own_loader() {
        let complete = catalog(&SCCP_8_1_2);
        let sccp = complete.load("P00308010200").unwrap();
        assert_eq!(sccp.name.protocol, Protocol::Sccp);
        assert_eq!(sccp.name.version.to_string(), "8.1(2)");
        assert!(sccp.loader.is_none());
        assert_eq!(sccp.files.len(), 4);
        assert!(sccp.is_complete());
        let no_sbn = catalog(&without(&SCCP_8_1_2, "P00308010200.sbn"));
        assert_eq!(
            no_sbn.load("P00308010200").unwrap().missing,
            ["P00308010200.sbn"]
        );
        let no_bin = catalog(&without(&SCCP_8_1_2, "P00308010200.bin"));
        assert!(no_bin.is_complete("P00308010200"));
        let only_bin = catalog(&[("P00308010200.bin", 130_552)]);
        assert_eq!(
            only_bin.load("P00308010200").unwrap().missing,
            ["P00308010200.loads", "P00308010200.sb2", "P00308010200.sbn"]
        );
    }

    #[test]
    fn os79xx_era_loads_are_one_image() {
        let catalog = catalog(&[
            ("P0S30202.bin", 700_000),
            ("P0S3-05-3-00.sbn", 800_000),
            ("P0S3-05-3-00.bin", 800_000),
            ("P00305000200.bin", 700_000),
            ("P0S3-04-4-00.sbn", 700_000),
        ]);
        assert!(catalog.is_complete("P0S30202"));
        assert!(catalog.is_complete("P0S3-05-3-00"));
        assert_eq!(
            catalog.load("P00305000200").unwrap().missing,
            ["P00305000200.sbn"]
        );
        assert_eq!(
            catalog.load("P0S3-04-4-00").unwrap().missing,
            ["P0S3-04-4-00.bin"]
        );
        let sip: Vec<&str> = catalog
            .loads_of(Protocol::Sip)
            .map(|l| l.name.as_str())
            .collect();
        assert_eq!(sip, ["P0S30202", "P0S3-04-4-00", "P0S3-05-3-00"]);
        assert_eq!(catalog.loads_of(Protocol::Sccp).count(), 1);
        assert_eq!(catalog.loads_of(Protocol::Mgcp).count(), 0);
    }

    #[test]
    fn implausible_sizes_are_reported_not_refused() {
        let catalog = catalog(&[
            ("P0S3-8-12-00.loads", 5000),
            ("P0S3-8-12-00.sb2", 4096),
            ("P003-8-12-00.sbn", 3 << 20),
            ("P003-8-12-00.bin", 0),
        ]);
        assert!(catalog.is_complete("P0S3-8-12-00"));
        let problems: Vec<String> = catalog
            .load("P0S3-8-12-00")
            .unwrap()
            .size_problems()
            .map(|p| p.to_string())
            .collect();
        assert_eq!(
            problems,
            [
                "P0S3-8-12-00.loads is 5000 B: not a phone image (a .loads file is 100 to 4096 B)",
                "P0S3-8-12-00.sb2 is 4096 B: looks truncated (a .sb2 file is 100000 to 2097152 B)",
            ]
        );
        let loader: Vec<bool> = catalog
            .load("P003-8-12-00")
            .unwrap()
            .size_problems()
            .map(|p| p.too_small)
            .collect();
        assert_eq!(loader, [false, true]);
    }

    #[test]
    fn other_files_and_near_misses() {
        let catalog = catalog(&[
            ("P0S3-8-12-00.SB2", 756_524),
            ("P0030801SR02.txt", 174),
            ("Chirp1.raw", 2400),
            ("SIP41.8-5-4S.loads", 500),
        ]);
        assert!(catalog.loads().is_empty());
        let names: Vec<(&str, Option<&str>)> = catalog
            .other_files()
            .iter()
            .map(|f| (&*f.name, f.note.as_deref()))
            .collect();
        assert_eq!(
            names,
            [
                ("Chirp1.raw", None),
                ("P0030801SR02.txt", None),
                (
                    "P0S3-8-12-00.SB2",
                    Some("not taken for an image: phones ask for a lower-case .sb2 extension")
                ),
                (
                    "SIP41.8-5-4S.loads",
                    Some("not taken for an image: \"SIP41.8-5-4S\" is not a 7940/7960 load name")
                ),
            ]
        );
    }

    #[test]
    fn scan_reads_a_folder() {
        let dir = tempfile::tempdir().unwrap();
        for (name, size) in SIP_8_12 {
            fs::write(dir.path().join(name), vec![0; size as usize]).unwrap();
        }
        fs::write(dir.path().join(".P0S3-8-12-00.sb2.part"), b"x").unwrap();
        fs::create_dir(dir.path().join("US")).unwrap();
        std::os::unix::fs::symlink("P0S3-8-12-00.sb2", dir.path().join("P0S3-08-12-00.sb2"))
            .unwrap();
        let catalog = Catalog::scan(dir.path()).unwrap();
        assert!(catalog.is_complete("P0S3-8-12-00"));
        assert_eq!(
            catalog.load("P0S3-08-12-00").unwrap().files[0].size,
            756_524
        );
        assert_eq!(catalog.loads().len(), 3);
        assert_eq!(catalog.other_files().len(), 1);
        let error = Catalog::scan(&dir.path().join("missing")).unwrap_err();
        assert!(error.to_string().contains("missing"), "{error}");
    }
}
