//! `phoneprov export DIR`: the whole tree a phone could fetch, written to a
//! folder for operators who keep their own TFTP server.

use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use clap::Args;
use phoneprov_cisco::export::{ExportTree, Os79xxExport, OS79XX};

use crate::config;
use crate::serve_cmd::{phone_files, print_warnings};

/// Write every file phoneprov would serve into DIR, for a TFTP server of
/// your own: each generated file as served (SIPDefault.cnf, the generic
/// XMLDefault.cnf.xml, dialplan.xml, syncinfo.xml, and SEP<MAC>.cnf.xml and
/// SIP<MAC>.cnf for each listed phone), and every firmware and static file
/// of the firmware folder, sub-folders kept.
///
/// phoneprov answers OS79XX.TXT and the loadInformation of XMLDefault.cnf.xml
/// per phone: it names a load only to phones it identifies. A plain TFTP
/// server gives every phone the same file, so they cannot be exported as
/// such: XMLDefault.cnf.xml is written without loadInformation (each listed
/// phone's SEP<MAC>.cnf.xml, read first, still names its load), and
/// OS79XX.TXT is written only when every listed phone that reads it would be
/// told the same load. Any phone that reaches your TFTP server then gets that
/// load too: keep the server on the phones' network only.
///
/// Example: phoneprov export /srv/tftp
#[derive(Args)]
pub struct ExportArgs {
    /// The folder to write; it must be empty or missing, unless --force.
    dir: PathBuf,
    /// Write into a folder that holds files already: files of the same name
    /// are replaced, others are left alone, except a stale OS79XX.TXT, which
    /// is removed when the export does not write one.
    #[arg(long)]
    force: bool,
}

pub fn run(args: ExportArgs, explicit: Option<&Path>) -> anyhow::Result<()> {
    let config = config::load(&config::locate(explicit)?)?;
    print_warnings(&config);
    check_target(&args.dir, args.force)?;
    let files = phone_files(
        &config,
        crate::sip_cmd::SyncFile::open(&config.state_dir)?.value,
        Box::new(phoneprov_server::neighbours::mac_of),
        // A static export cannot step phones along a ladder: targets only.
        None,
    )?;
    if let Some(inside) = std::path::absolute(&args.dir)
        .ok()
        .filter(|dir| dir.starts_with(files.firmware().root()))
    {
        bail!(
            "{} is inside the firmware folder {}; export into a folder of its own",
            inside.display(),
            files.firmware().root().display()
        );
    }
    let tree = files.export().context("building the tree to export")?;
    for file in &tree.files {
        write_atomically(&args.dir.join(&file.path), &file.content, 0o644)?;
    }
    let stale = args.dir.join(OS79XX);
    let removed_stale = !matches!(tree.os79xx, Os79xxExport::Written { .. })
        && std::fs::symlink_metadata(&stale).is_ok();
    if removed_stale {
        std::fs::remove_file(&stale)
            .with_context(|| format!("removing the stale {}", stale.display()))?;
    }
    print!("{}", summary(&tree, &args.dir, removed_stale));
    Ok(())
}

/// Refuses a folder with files in it, unless forced.
fn check_target(dir: &Path, force: bool) -> anyhow::Result<()> {
    match std::fs::read_dir(dir) {
        Ok(mut entries) => {
            if entries.next().is_some() && !force {
                bail!(
                    "{} is not empty; export into an empty folder, or pass --force to replace \
                     files of the same name",
                    dir.display()
                );
            }
            Ok(())
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e).with_context(|| format!("cannot open {}", dir.display())),
    }
}

/// Writes `content` to `path` through a temporary file in the same folder
/// and a rename, so a reader sees the old file or the new one, never half.
/// The file gets `mode` (e.g. 0o644 so a TFTP server's own user can read it).
pub(crate) fn write_atomically(path: &Path, content: &[u8], mode: u32) -> anyhow::Result<()> {
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let name = path.file_name().unwrap_or_default().to_string_lossy();
    let temporary = dir.join(format!(".{name}.phoneprov-tmp"));
    let written = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(mode)
        .open(&temporary)
        .and_then(|mut file| {
            file.write_all(content)?;
            file.set_permissions(std::fs::Permissions::from_mode(mode))?;
            file.sync_all()
        })
        .and_then(|()| std::fs::rename(&temporary, path));
    if let Err(e) = written {
        let _ = std::fs::remove_file(&temporary);
        return Err(e).with_context(|| format!("writing {}", path.display()));
    }
    Ok(())
}

/// What was written, and what the operator must know about it.
fn summary(tree: &ExportTree, dir: &Path, removed_stale: bool) -> String {
    let generated = tree.files.iter().filter(|f| f.generated).count();
    let copied = tree.files.len() - generated;
    let bytes: usize = tree.files.iter().map(|f| f.content.len()).sum();
    let mut out = format!(
        "exported {} files ({generated} generated, {copied} from the firmware folder, {bytes} bytes) to {}\n",
        tree.files.len(),
        dir.display()
    );
    let macs = |phones: &[phoneprov_cisco::Mac]| {
        phones
            .iter()
            .map(|m| m.colons())
            .collect::<Vec<_>>()
            .join(", ")
    };
    out += &match &tree.os79xx {
        Os79xxExport::Written { load, phones } => format!(
            "OS79XX.TXT: written, naming {load}: every listed phone that reads it ({}) is told that load. \
             Any other phone reaching this TFTP server is told it too.\n",
            macs(phones)
        ),
        Os79xxExport::Unread => {
            "OS79XX.TXT: not written: no listed phone would be told a load through it.\n".into()
        }
        Os79xxExport::Differs(groups) => {
            let mut text = String::from(
                "OS79XX.TXT: not written: phoneprov tells listed phones different loads through it, \
                 and a plain TFTP server has one file for all:\n",
            );
            for (load, phones) in groups {
                text += &format!("  {load}: {}\n", macs(phones));
            }
            text += "  upgrade these phones with `phoneprov serve`, or one group at a time.\n";
            text
        }
    };
    if removed_stale {
        out +=
            "OS79XX.TXT: removed the one already in the folder, which phoneprov would not serve.\n";
    }
    out += "XMLDefault.cnf.xml: the generic one, without loadInformation (phoneprov names a load only to \
            phones it identifies); each listed phone's SEP<MAC>.cnf.xml names its load.\n";
    if !tree.left_out.is_empty() {
        out += &format!(
            "left out {} file{} of the firmware folder:\n",
            tree.left_out.len(),
            if tree.left_out.len() == 1 { "" } else { "s" }
        );
        for left in &tree.left_out {
            out += &format!("  {}: {}\n", left.path, left.reason);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_a_folder_with_files_unless_forced() {
        let dir = tempfile::tempdir().unwrap();
        check_target(dir.path(), false).unwrap();
        check_target(&dir.path().join("new"), false).unwrap();
        std::fs::write(dir.path().join("x"), "x").unwrap();
        let error = check_target(dir.path(), false).unwrap_err();
        assert!(error.to_string().contains("--force"), "{error}");
        check_target(dir.path(), true).unwrap();
    }

    #[test]
    fn atomic_write_creates_folders_and_replaces() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("US/7960-tones.xml");
        write_atomically(&path, b"one", 0o600).unwrap();
        write_atomically(&path, b"two", 0o644).unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"two");
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o644);
        assert_eq!(
            std::fs::read_dir(path.parent().unwrap()).unwrap().count(),
            1
        );
    }
}
