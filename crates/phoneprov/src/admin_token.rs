//! The HTTP server's admin token: `<state_dir>/admin-token`, owner only,
//! made by `phoneprov init` or the first `phoneprov serve` that needs it.
//! It is never printed; its path is.

use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

use anyhow::{bail, Context};
use phoneprov_server::http::AdminToken;
use rand::Rng;

const FILE: &str = "admin-token";

/// The token kept in `state_dir`, made now when there is none (then the
/// flag is true).
pub(crate) fn admin_token(state_dir: &Path) -> anyhow::Result<(AdminToken, bool)> {
    let path = state_dir.join(FILE);
    let made = match std::fs::read_to_string(&path) {
        Ok(_) => false,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            crate::config::create_state_dir(state_dir)?;
            let token: String = rand::rng()
                .random::<[u8; 24]>()
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect();
            std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(&path)
                .and_then(|mut file| writeln!(file, "{token}"))
                .with_context(|| format!("cannot write the admin token {}", path.display()))?;
            true
        }
        Err(e) => bail!("cannot read the admin token {}: {e}", path.display()),
    };
    let value = std::fs::read_to_string(&path)
        .with_context(|| format!("cannot read the admin token {}", path.display()))?
        .trim()
        .to_string();
    if value.is_empty() {
        bail!(
            "the admin token {} is empty; delete it and phoneprov makes a new one",
            path.display()
        );
    }
    Ok((AdminToken { value, path }, made))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn made_once_owner_only_then_kept() {
        let dir = tempfile::tempdir().unwrap();
        let state = dir.path().join("state");
        let (first, made) = admin_token(&state).unwrap();
        assert!(made);
        assert_eq!(first.value.len(), 48);
        let mode = std::fs::metadata(&first.path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        let (again, made) = admin_token(&state).unwrap();
        assert!(!made);
        assert_eq!(again.value, first.value);
        std::fs::write(&first.path, "\n").unwrap();
        let empty = admin_token(&state).err().unwrap().to_string();
        assert!(empty.contains("is empty; delete it"), "{empty}");
    }
}
