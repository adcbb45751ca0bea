//! `phoneprov ring`: custom rings for the phones' ring list (RINGLIST.DAT).

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use clap::{Args, Subcommand};
use phoneprov_cisco::ring::{self, RingList, RATE};

use crate::firmware_dir::FirmwareDirArg;

/// Make custom rings from recordings and manage the phones' ring list.
///
/// Rings live in the firmware folder under rings/: the audio, converted to
/// the phones' format (raw 8 kHz 8-bit µ-law, at most 2 s), and the list
/// rings/rings.toml that RINGLIST.DAT is made from. See docs/rings.md.
#[derive(Args)]
pub struct RingArgs {
    #[command(subcommand)]
    command: RingCommand,
}

#[derive(Subcommand)]
enum RingCommand {
    Import(ImportArgs),
    List(ListArgs),
    Remove(RemoveArgs),
}

/// Convert a WAV recording into a ring and add it to the ring list.
///
/// Any sample rate, mono or stereo, 8/16/24/32-bit integer or 32-bit float.
/// Longer than 2.01 s: cut at a zero crossing with a short fade-out.
///
/// Example: phoneprov ring import old-bell.wav --name "Old phone"
#[derive(Args)]
struct ImportArgs {
    /// The recording (WAV; convert other formats with `sox in.mp3 out.wav`).
    #[arg(value_name = "FILE.wav")]
    file: PathBuf,
    /// The name phones show, at most 25 characters.
    #[arg(long)]
    name: String,
    /// Replace a ring of the same name.
    #[arg(long)]
    force: bool,
    #[command(flatten)]
    dir: FirmwareDirArg,
}

/// Show the rings with their duration and size.
#[derive(Args)]
struct ListArgs {
    #[command(flatten)]
    dir: FirmwareDirArg,
}

/// Take a ring off the ring list and delete its audio.
#[derive(Args)]
struct RemoveArgs {
    /// The ring's name (any case).
    name: String,
    #[command(flatten)]
    dir: FirmwareDirArg,
}

pub fn run(args: RingArgs, explicit_config: Option<&Path>) -> anyhow::Result<()> {
    match args.command {
        RingCommand::Import(args) => {
            let dir = args.dir.resolve(explicit_config)?;
            let imported = ring::import(&dir, &args.file, &args.name, args.force)?;
            println!(
                "{} {:?} as {} ({}, {} samples) from {} ({})",
                if imported.replaced {
                    "Replaced"
                } else {
                    "Added"
                },
                imported.ring.name().as_str(),
                dir.join(imported.ring.file()).display(),
                seconds(imported.samples as u64),
                imported.samples,
                args.file.display(),
                imported.source
            );
            for adjustment in &imported.adjustments {
                println!("  {adjustment}");
            }
            println!("{}", reload_hint());
            Ok(())
        }
        RingCommand::List(args) => {
            let dir = args.dir.resolve(explicit_config)?;
            print!("{}", table(&dir, &RingList::load(&dir)?));
            Ok(())
        }
        RingCommand::Remove(args) => {
            let dir = args.dir.resolve(explicit_config)?;
            let removed = ring::remove(&dir, &args.name)?;
            println!(
                "Removed {:?} ({})\n{}",
                removed.name().as_str(),
                removed.file(),
                reload_hint()
            );
            Ok(())
        }
    }
}

fn reload_hint() -> &'static str {
    "A running `phoneprov serve` reads the ring list at start: restart it; phones read RINGLIST.DAT when they boot."
}

fn seconds(samples: u64) -> String {
    format!("{:.2} s", samples as f64 / f64::from(RATE))
}

/// The `ring list` view.
fn table(dir: &Path, list: &RingList) -> String {
    let mut out = String::new();
    let rings = list.rings();
    let _ = writeln!(
        out,
        "{}: {} ring{}",
        dir.join(ring::INDEX).display(),
        rings.len(),
        if rings.len() == 1 { "" } else { "s" }
    );
    if rings.is_empty() {
        let _ = writeln!(
            out,
            "\nNo custom rings; phones offer their built-in ones. Add one with:\n  \
             phoneprov ring import FILE.wav --name \"Old phone\""
        );
        return out;
    }
    let width = rings
        .iter()
        .map(|r| r.name().as_str().len())
        .fold("NAME".len(), usize::max);
    let file_width = rings
        .iter()
        .map(|r| r.file().len())
        .fold("FILE".len(), usize::max);
    let _ = writeln!(
        out,
        "\n{:<width$}  {:<file_width$}  {:>8}  {:>7}  STATUS",
        "NAME", "FILE", "DURATION", "SIZE"
    );
    for ring in rings {
        let (duration, size, status) = match ring.check_audio(dir) {
            Ok(len) => (seconds(len), format!("{len} B"), "ok".to_string()),
            Err(problem) => ("-".into(), "-".into(), problem),
        };
        let _ = writeln!(
            out,
            "{:<width$}  {:<file_width$}  {duration:>8}  {size:>7}  {status}",
            ring.name().as_str(),
            ring.file()
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn list_shows_duration_size_and_problems() {
        let dir = tempfile::tempdir().unwrap();
        assert!(table(dir.path(), &RingList::default()).contains("No custom rings"));
        std::fs::create_dir(dir.path().join("rings")).unwrap();
        std::fs::write(
            dir.path().join(ring::INDEX),
            "[[ring]]\nname = \"Old phone\"\nfile = \"rings/old-phone.raw\"\n\
             [[ring]]\nname = \"Gone\"\nfile = \"rings/gone.raw\"\n",
        )
        .unwrap();
        std::fs::write(dir.path().join("rings/old-phone.raw"), vec![0xFF; 8_160]).unwrap();
        let text = table(dir.path(), &RingList::load(dir.path()).unwrap());
        assert!(text.contains("2 rings"), "{text}");
        assert!(
            text.contains("Old phone  rings/old-phone.raw    1.02 s   8160 B  ok"),
            "{text}"
        );
        assert!(text.contains("gone.raw cannot be read"), "{text}");
    }
}
