//! `phoneprov firmware`: bring Cisco's firmware packages into the firmware
//! folder safely, and show which loads it holds and what each still lacks.

use std::fmt::Write as _;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use clap::{Args, Subcommand};
use indicatif::{ProgressBar, ProgressStyle};
use phoneprov_cisco::firmware::import::{self, ImportError, Outcome, Progress};
use phoneprov_cisco::firmware::{Catalog, Load};
use phoneprov_cisco::{Era, Protocol};

use crate::firmware_dir::FirmwareDirArg;

/// Import Cisco 7940/7960 firmware and list what the firmware folder holds.
///
/// Firmware is Cisco's: download the packages with your own Cisco account
/// (e.g. cmterm-7940-7960-sccp.8-1-2.zip), then import them here. The firmware
/// folder is the one the TFTP server serves.
#[derive(Args)]
pub struct FirmwareArgs {
    #[command(subcommand)]
    command: FirmwareCommand,
}

#[derive(Subcommand)]
enum FirmwareCommand {
    Import(ImportArgs),
    List(ListArgs),
}

/// Copy firmware into the firmware folder from Cisco's zip files, tar files
/// or loose image files, and say for each load whether it is complete.
///
/// Archives may hold a tar (as SIP 8.12 ships); their folders are ignored and
/// only load images (.loads, .sb2, .sbn, .bin named after a load) are taken.
/// An archive is refused whole if an entry has ".." or an absolute path,
/// is a link or a device, is over 64 MiB, inflates more than 200:1, or is an
/// archive two levels deep. A file already in the folder with other content
/// is never replaced without --force.
///
/// Example: phoneprov firmware import ~/Downloads/cmterm-7940-7960-sccp.8-1-2.zip
#[derive(Args)]
struct ImportArgs {
    #[command(flatten)]
    dir: FirmwareDirArg,
    /// Replace files in the folder whose content differs from the import.
    #[arg(long)]
    force: bool,
    /// Zip or tar (.tar, .tar.gz) packages from Cisco, or single image files.
    #[arg(value_name = "FILE", required = true)]
    files: Vec<PathBuf>,
}

/// Show each load in the firmware folder: protocol, version, boot era,
/// signed or not, its files with sizes, and what it still lacks.
#[derive(Args)]
struct ListArgs {
    #[command(flatten)]
    dir: FirmwareDirArg,
}

pub fn run(args: FirmwareArgs, explicit_config: Option<&Path>) -> anyhow::Result<()> {
    match args.command {
        FirmwareCommand::Import(args) => run_import(args, explicit_config),
        FirmwareCommand::List(args) => run_list(args, explicit_config),
    }
}

fn run_import(args: ImportArgs, explicit_config: Option<&Path>) -> anyhow::Result<()> {
    let dir = args.dir.resolve(explicit_config)?;
    let mut progress = Bar::new();
    let mut imported = Vec::new();
    let mut failed = 0;
    for source in &args.files {
        match import::import(&dir, source, args.force, &mut progress) {
            Ok(files) => {
                progress.done();
                println!("{}:", source.display());
                for file in &files {
                    println!("  {:<20} {:>9} B  {}", file.name, file.size, file.outcome);
                }
                imported.extend(
                    files
                        .into_iter()
                        .filter(|file| !matches!(file.outcome, Outcome::Skipped(_)))
                        .map(|file| file.name),
                );
            }
            Err(error) => {
                progress.done();
                eprintln!("phoneprov: {}", explain(&error));
                failed += 1;
            }
        }
    }
    if !imported.is_empty() {
        let catalog = Catalog::scan(&dir)?;
        println!("\nLoads in {}:", dir.display());
        for load in catalog
            .loads()
            .iter()
            .filter(|load| touches(load, &imported))
        {
            println!("  {}", summary(load));
            for problem in load.size_problems() {
                println!("    warning: {problem}");
            }
        }
    }
    if failed > 0 {
        bail!(
            "{failed} of {} file{} not imported (see above)",
            args.files.len(),
            if args.files.len() == 1 {
                " was"
            } else {
                "s were"
            }
        );
    }
    Ok(())
}

/// The error, with what to do about it when that is not obvious.
fn explain(error: &ImportError) -> String {
    match error {
        ImportError::Refused { .. } => format!("{error}\n  {}", error.fix()),
        _ => error.to_string(),
    }
}

/// Whether `load` has one of `names`, or needs one as its loader.
fn touches(load: &Load, names: &[String]) -> bool {
    let own = load.name.as_str();
    let loader = load.loader.as_ref().map(|l| l.as_str());
    names.iter().any(|name| {
        let base = name.rsplit_once('.').map_or(&**name, |(base, _)| base);
        base == own || Some(base) == loader
    })
}

/// `P0S3-8-12-00 (SIP 8.12): complete` or what is missing.
fn summary(load: &Load) -> String {
    let status = if load.is_complete() {
        "complete".to_string()
    } else {
        format!("incomplete, missing {}", load.missing.join(", "))
    };
    format!(
        "{} ({} {}): {status}",
        load.name, load.name.protocol, load.name.version
    )
}

fn run_list(args: ListArgs, explicit_config: Option<&Path>) -> anyhow::Result<()> {
    let dir = args.dir.resolve(explicit_config)?;
    if !dir.exists() {
        bail!(
            "the firmware folder {} does not exist yet; import Cisco's packages with \
             `phoneprov firmware import --dir {} FILE...`",
            dir.display(),
            dir.display()
        );
    }
    let catalog = Catalog::scan(&dir).context("listing the firmware")?;
    print!("{}", table(&dir, &catalog));
    Ok(())
}

/// The `firmware list` view of a catalog.
fn table(dir: &Path, catalog: &Catalog) -> String {
    let mut out = String::new();
    let loads = catalog.loads();
    let others = catalog.other_files();
    let plural = |n: usize, what: &str| format!("{n} {what}{}", if n == 1 { "" } else { "s" });
    let _ = writeln!(
        out,
        "{}: {}, {}",
        dir.display(),
        plural(loads.len(), "load"),
        plural(others.len(), "other file")
    );
    if loads.is_empty() {
        let _ = writeln!(
            out,
            "\nNo firmware yet. Download the packages from Cisco with your account, then:\n  \
             phoneprov firmware import --dir {} FILE...",
            dir.display()
        );
    } else {
        let rows: Vec<[String; 6]> = loads
            .iter()
            .map(|load| {
                [
                    load.name.to_string(),
                    load.name.protocol.to_string(),
                    load.name.version.to_string(),
                    match load.name.era() {
                        Era::Ual => "UAL",
                        Era::Os79xx => "OS79XX.TXT",
                    }
                    .to_string(),
                    if load.name.signed() { "yes" } else { "no" }.to_string(),
                    status(load),
                ]
            })
            .collect();
        let header = ["LOAD", "PROTOCOL", "VERSION", "ERA", "SIGNED", "STATUS"];
        let widths: Vec<usize> = (0..5)
            .map(|i| {
                rows.iter()
                    .map(|r| r[i].len())
                    .fold(header[i].len(), usize::max)
            })
            .collect();
        let line = |cells: [&str; 6]| {
            let mut text = String::new();
            for (cell, width) in cells.iter().zip(&widths) {
                let _ = write!(text, "{cell:<width$}  ");
            }
            text + cells[5]
        };
        let _ = writeln!(out, "\n{}", line(header));
        for (load, row) in loads.iter().zip(&rows) {
            let _ = writeln!(out, "{}", line(row.each_ref().map(String::as_str)));
            for file in &load.files {
                let _ = writeln!(out, "    {:<22} {:>9} B", file.name, file.size);
            }
            for problem in load.size_problems() {
                let _ = writeln!(out, "    warning: {problem}");
            }
        }
    }
    if !others.is_empty() {
        let _ = writeln!(out, "\nOther files:");
        for file in others {
            let _ = write!(out, "    {:<22} {:>9} B", file.name, file.size);
            if let Some(note) = &file.note {
                let _ = write!(out, "  ({note})");
            }
            out.push('\n');
        }
    }
    out
}

/// The STATUS cell: complete, or what is missing, and the loader it uses.
fn status(load: &Load) -> String {
    let mut status = if load.is_complete() {
        "complete".to_string()
    } else {
        format!("missing {}", load.missing.join(", "))
    };
    let warnings = load.size_problems().count();
    if warnings > 0 {
        let _ = write!(
            status,
            ", but see the warning{} below",
            if warnings == 1 { "" } else { "s" }
        );
    }
    if let Some(loader) = &load.loader {
        let _ = write!(status, " (loader {loader})");
    }
    if load.name.protocol == Protocol::Loader {
        status += " (the loader of UAL loads)";
    }
    status
}

/// A progress bar on a terminal; otherwise only the lines printed per file.
struct Bar {
    terminal: bool,
    bar: Option<ProgressBar>,
}

impl Bar {
    fn new() -> Bar {
        Bar {
            terminal: std::io::stderr().is_terminal(),
            bar: None,
        }
    }

    fn done(&mut self) {
        if let Some(bar) = self.bar.take() {
            bar.finish_and_clear();
        }
    }
}

impl Progress for Bar {
    fn start(&mut self, source: &Path, len: u64) {
        if !self.terminal {
            return;
        }
        let bar = ProgressBar::new(len).with_message(source.display().to_string());
        bar.set_style(
            ProgressStyle::with_template("{msg} [{bar:30}] {bytes}/{total_bytes}")
                .expect("a valid template")
                .progress_chars("=> "),
        );
        self.bar = Some(bar);
    }

    fn advance(&mut self, done: u64) {
        if let Some(bar) = &self.bar {
            bar.set_position(done.min(bar.length().unwrap_or(done)));
        }
    }
}
