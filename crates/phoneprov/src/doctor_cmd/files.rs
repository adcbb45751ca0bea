//! phoneprov's files: who may read and write them.

use std::ffi::CString;
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use super::Report;
use crate::config::Config;

const CHECK: &str = "files";

/// phoneprov.toml is private, the state directory can be written (or
/// made) and is private, the firmware folder's files can be read.
pub(super) fn check(report: &mut Report, config: &Config) {
    check_config_file(report, &config.path);
    check_state_dir(report, &config.state_dir);
    check_firmware_files(report, &config.firmware_dir);
}

/// Whether this user may `mode` (libc::R_OK, W_OK, X_OK) `path`.
fn may(path: &Path, mode: libc::c_int) -> io::Result<()> {
    let path = CString::new(path.as_os_str().as_bytes())?;
    // SAFETY: a NUL-terminated path that lives across the call.
    if unsafe { libc::access(path.as_ptr(), mode) } == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

fn mode(path: &Path) -> io::Result<u32> {
    Ok(std::fs::metadata(path)?.permissions().mode() & 0o7777)
}

fn check_config_file(report: &mut Report, path: &Path) {
    let Ok(mode) = mode(path) else {
        return; // it loaded: it was there a moment ago
    };
    if mode & 0o077 == 0 {
        report.ok(
            CHECK,
            format!("{} is private (mode {mode:04o})", path.display()),
        );
    } else {
        report.warning(
            CHECK,
            format!(
                "other users of this machine can open {} (mode {mode:04o}), which holds the \
                 phones' SIP passwords",
                path.display()
            ),
            format!("`chmod 600 {}`", path.display()),
        );
    }
}

fn check_state_dir(report: &mut Report, dir: &Path) {
    let what = "`phoneprov serve` keeps the leases, the registrations and its control socket there";
    let Ok(mode) = mode(dir) else {
        // Not there yet: `serve` makes it, where this user may write.
        let parent = dir
            .ancestors()
            .skip(1)
            .map(|a| {
                if a.as_os_str().is_empty() {
                    Path::new(".")
                } else {
                    a
                }
            })
            .find(|a| a.exists())
            .unwrap_or(Path::new("/"));
        return match may(parent, libc::W_OK | libc::X_OK) {
            Ok(()) => report.ok(
                CHECK,
                format!("state directory {} does not exist yet; `phoneprov serve` makes it", dir.display()),
            ),
            Err(error) => report.problem(
                CHECK,
                format!(
                    "state directory {} does not exist, and this user cannot make it in {}: {error}; {what}",
                    dir.display(),
                    parent.display()
                ),
                format!(
                    "`sudo mkdir -p {0} && sudo chown $(id -un) {0} && sudo chmod 700 {0}`, or run \
                     phoneprov as a user who may",
                    dir.display()
                ),
            ),
        };
    };
    if let Err(error) = may(dir, libc::W_OK | libc::X_OK) {
        return report.problem(
            CHECK,
            format!(
                "this user cannot write in state directory {}: {error}; {what}",
                dir.display()
            ),
            format!(
                "`sudo chown -R $(id -un) {}`, or run phoneprov as the user who owns it",
                dir.display()
            ),
        );
    }
    if mode & 0o007 == 0 {
        report.ok(
            CHECK,
            format!(
                "state directory {} can be written, and is private (mode {mode:04o})",
                dir.display()
            ),
        );
    } else {
        report.warning(
            CHECK,
            format!(
                "other users of this machine can look into state directory {} (mode {mode:04o}); {what}",
                dir.display()
            ),
            format!("`chmod o-rwx {}`", dir.display()),
        );
    }
}

/// The firmware folder's files this user cannot read: a phone asking for
/// one gets an error. (A folder that cannot be read is the firmware
/// check's PROBLEM.)
fn check_firmware_files(report: &mut Report, dir: &Path) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let unreadable: Vec<String> = entries
        .flatten()
        .filter(|e| e.path().is_file() && may(&e.path(), libc::R_OK).is_err())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    if unreadable.is_empty() {
        report.ok(
            CHECK,
            format!(
                "every file in firmware folder {} can be read",
                dir.display()
            ),
        );
    } else {
        report.problem(
            CHECK,
            format!(
                "this user cannot read {} in firmware folder {}: a phone asking for such a file gets an error",
                unreadable.join(", "),
                dir.display()
            ),
            format!(
                "`sudo chmod a+r {}/*`, or run phoneprov as the user who owns them",
                dir.display()
            ),
        );
    }
}
