//! Synthetic firmware: the files of any 7940/7960 load, named and sized as
//! Cisco ships them (reference §2.3), filled with text that says what they
//! are. No phone could run them; a simulated phone, phoneprov's catalog and
//! its TFTP server cannot tell them from the real thing.
//!
//! Which files a load has comes from phoneprov's own catalog
//! ([`phoneprov_cisco::firmware`]): the files a phone needs to install it,
//! plus the unsigned `.bin` Cisco ships beside every signed `.sbn` for
//! phones that have never run a signed load.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use phoneprov_cisco::firmware::{parse_image_name, Catalog, ImageKind};
use phoneprov_cisco::load::LoadNameError;
use phoneprov_cisco::LoadName;

/// Published sizes of real images (reference §2.3). SCCP 8.1(2) is sized
/// as its SR2 release, whose sizes are the ones published.
const PUBLISHED: [(&str, u64); 20] = [
    ("P0S3-8-12-00.loads", 458),
    ("P0S3-8-12-00.sb2", 756_524),
    ("P003-8-12-00.sbn", 130_956),
    ("P003-8-12-00.bin", 130_552),
    ("P0030801SR02.loads", 458),
    ("P0030801SR02.sb2", 708_460),
    ("P0030801SR02.sbn", 130_956),
    ("P0030801SR02.bin", 130_552),
    ("P00308010200.loads", 458),
    ("P00308010200.sb2", 708_460),
    ("P00308010200.sbn", 130_956),
    ("P00308010200.bin", 130_552),
    ("P00308000500.loads", 458),
    ("P00308000500.sb2", 705_536),
    ("P00308000500.sbn", 130_228),
    ("P00308000500.bin", 129_824),
    ("P00307020300.loads", 461),
    ("P00307020300.sb2", 681_290),
    ("P00307020300.sbn", 129_400),
    ("P00307020300.bin", 128_996),
];

#[derive(Debug, thiserror::Error)]
pub enum FirmwareError {
    #[error(transparent)]
    Name(#[from] LoadNameError),
    #[error("cannot write {}: {source}", path.display())]
    Write { path: PathBuf, source: io::Error },
}

/// The files Cisco ships for `load`, in the order `.loads`, `.sb2`, `.sbn`,
/// `.bin` (the loader's images after the load's own), with their sizes:
/// the published ones, else typical ones within
/// [`ImageKind::plausible_sizes`].
pub fn load_files(load: &str) -> Result<Vec<(String, u64)>, LoadNameError> {
    let name = LoadName::parse(load)?;
    // The catalog lists what a load still lacks; asked twice, with a
    // different one of its files present each time, it names them all.
    let mut files: Vec<String> = [ImageKind::Loads, ImageKind::Sb2]
        .into_iter()
        .flat_map(|present| {
            let catalog = Catalog::from_files([(image(&name, present), 0)]);
            catalog
                .load(load)
                .map(|l| l.missing.clone())
                .unwrap_or_default()
        })
        .collect();
    let signed: Vec<String> = files
        .iter()
        .filter_map(|file| file.strip_suffix(".sbn"))
        .map(|base| format!("{base}.bin"))
        .collect();
    files.extend(signed);
    files.sort_by_key(|file| {
        let (image_load, kind) = parse_image_name(file).expect("the catalog names images");
        (image_load != name, kind)
    });
    files.dedup();
    Ok(files
        .into_iter()
        .map(|file| {
            let size = size_of(&file);
            (file, size)
        })
        .collect())
}

/// Writes every file of `load` into `dir` (created if needed); returns
/// their paths.
pub fn write_load(dir: &Path, load: &str) -> Result<Vec<PathBuf>, FirmwareError> {
    let fail = |path: &Path| {
        let path = path.to_path_buf();
        move |source| FirmwareError::Write { path, source }
    };
    fs::create_dir_all(dir).map_err(fail(dir))?;
    let mut written = Vec::new();
    for (file, size) in load_files(load)? {
        let path = dir.join(&file);
        fs::write(&path, filler(&file, size)).map_err(fail(&path))?;
        written.push(path);
    }
    Ok(written)
}

fn image(load: &LoadName, kind: ImageKind) -> String {
    format!("{load}.{}", kind.extension())
}

fn size_of(file: &str) -> u64 {
    if let Some(&(_, size)) = PUBLISHED.iter().find(|(name, _)| *name == file) {
        return size;
    }
    match parse_image_name(file).map(|(load, kind)| (load.era(), kind)) {
        Some((_, ImageKind::Loads)) => 460,
        Some((_, ImageKind::Sb2)) => 720_000,
        // A loader stage is about 130 KB; before the loader era the one
        // image is the whole firmware.
        Some((phoneprov_cisco::Era::Ual, _)) => 130_000,
        _ => 700_000,
    }
}

/// `size` bytes of text saying what the file is, and that it is not Cisco's.
fn filler(file: &str, size: u64) -> Vec<u8> {
    let line = format!("phoneprov synthetic firmware, not a Cisco image: {file}\n");
    line.bytes().cycle().take(size as usize).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(load: &str) -> Vec<String> {
        load_files(load)
            .unwrap()
            .into_iter()
            .map(|(name, _)| name)
            .collect()
    }

    #[test]
    fn each_family_ships_its_files() {
        assert_eq!(
            load_files("P0S3-8-12-00").unwrap(),
            [
                ("P0S3-8-12-00.loads".to_string(), 458),
                ("P0S3-8-12-00.sb2".to_string(), 756_524),
                ("P003-8-12-00.sbn".to_string(), 130_956),
                ("P003-8-12-00.bin".to_string(), 130_552),
            ]
        );
        assert_eq!(
            load_files("P00307020300").unwrap(),
            [
                ("P00307020300.loads".to_string(), 461),
                ("P00307020300.sb2".to_string(), 681_290),
                ("P00307020300.sbn".to_string(), 129_400),
                ("P00307020300.bin".to_string(), 128_996),
            ]
        );
        assert_eq!(
            names("P0S3-07-4-00"),
            [
                "P0S3-07-4-00.loads",
                "P0S3-07-4-00.sb2",
                "P003-07-4-00.sbn",
                "P003-07-4-00.bin"
            ]
        );
        assert_eq!(
            names("P00305000200"),
            ["P00305000200.sbn", "P00305000200.bin"]
        );
        assert_eq!(
            names("P0S3-05-3-00"),
            ["P0S3-05-3-00.sbn", "P0S3-05-3-00.bin"]
        );
        assert_eq!(names("P00303030300"), ["P00303030300.bin"]);
        assert_eq!(names("P0S3-04-4-00"), ["P0S3-04-4-00.bin"]);
        assert_eq!(
            names("P003-8-12-00"),
            ["P003-8-12-00.sbn", "P003-8-12-00.bin"]
        );
        assert!(load_files("P0S3-8-12").is_err());
    }

    #[test]
    fn every_family_is_complete_in_the_catalog_and_plausible() {
        let loads = [
            "P00303030300",
            "P00305000200",
            "P00307020300",
            "P00308010200",
            "P0030801SR02",
            "P0S30203",
            "P0S3-04-4-00",
            "P0S3-05-3-00",
            "P0S3-06-3-00",
            "P0S3-07-4-00",
            "P0S3-8-12-00",
            "P0M3-08-4-00",
        ];
        let dir = tempfile::tempdir().unwrap();
        for load in loads {
            let written = write_load(dir.path(), load).unwrap();
            assert!(!written.is_empty(), "{load}");
        }
        let catalog = Catalog::scan(dir.path()).unwrap();
        for load in loads {
            let found = catalog.load(load).unwrap();
            assert!(found.is_complete(), "{load}: {:?}", found.missing);
            assert_eq!(found.size_problems().count(), 0, "{load}");
        }
        // Every file is sized as a phone expects, loaders included.
        for load in catalog.loads() {
            assert_eq!(load.size_problems().count(), 0, "{}", load.name);
        }
        assert!(catalog.other_files().is_empty());
        // Every file is needed, but the unsigned twin of a signed image.
        for load in loads {
            let files = load_files(load).unwrap();
            for (gone, _) in &files {
                let twin = gone
                    .strip_suffix(".bin")
                    .is_some_and(|base| files.iter().any(|(f, _)| *f == format!("{base}.sbn")));
                let rest = files.iter().filter(|(name, _)| name != gone).cloned();
                let complete = Catalog::from_files(rest).is_complete(load);
                assert_eq!(complete, twin, "{load} without {gone}");
            }
        }
    }

    #[test]
    fn the_filler_says_what_it_is() {
        let dir = tempfile::tempdir().unwrap();
        write_load(dir.path(), "P0S3-8-12-00").unwrap();
        let sb2 = fs::read(dir.path().join("P0S3-8-12-00.sb2")).unwrap();
        assert_eq!(sb2.len(), 756_524);
        let text = String::from_utf8(sb2).unwrap();
        assert!(
            text.starts_with("phoneprov synthetic firmware, not a Cisco image: P0S3-8-12-00.sb2\n")
        );
        let error = write_load(&dir.path().join("P0S3-8-12-00.sb2"), "P0S3-8-12-00");
        assert!(matches!(error, Err(FirmwareError::Write { .. })));
    }
}
