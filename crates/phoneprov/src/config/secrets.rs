//! Generated line passwords, kept in the state directory so a phone keeps its
//! password across restarts. Written owner-only, replaced atomically.

use std::collections::BTreeMap;
use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use anyhow::Context;
use phoneprov_cisco::site::Secret;
use phoneprov_cisco::Mac;
use rand::Rng;
use serde::{Deserialize, Serialize};

const FILE: &str = "secrets.toml";
/// No 0/O, 1/l/I: the operator may have to type one into a phone.
const ALPHABET: &[u8] = b"abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";
const PASSWORD_LEN: usize = 16;

#[derive(Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    /// `"<MAC>/<line name>" = "password"`.
    #[serde(default)]
    passwords: BTreeMap<String, String>,
}

pub struct Secrets {
    path: PathBuf,
    file: File,
    changed: bool,
}

impl Secrets {
    pub fn open(state_dir: &Path) -> anyhow::Result<Secrets> {
        let path = state_dir.join(FILE);
        let file = match std::fs::read_to_string(&path) {
            Ok(text) => toml::from_str(&text)
                .with_context(|| format!("{} is damaged; fix or remove it (its passwords are then generated anew and the phones need their new config)", path.display()))?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => File::default(),
            Err(e) => return Err(e).with_context(|| format!("cannot read {}", path.display())),
        };
        Ok(Secrets {
            path,
            file,
            changed: false,
        })
    }

    /// The password of `line` on the phone `mac`, generated on first use.
    pub fn password(&mut self, mac: Mac, line: &str) -> Secret {
        let key = format!("{mac}/{line}");
        let password = self.file.passwords.entry(key).or_insert_with(|| {
            self.changed = true;
            let mut rng = rand::rng();
            (0..PASSWORD_LEN)
                .map(|_| char::from(ALPHABET[rng.random_range(0..ALPHABET.len())]))
                .collect()
        });
        Secret::new(password.clone())
    }

    /// Writes new passwords, if any, owner-readable only.
    pub fn save(&mut self) -> anyhow::Result<()> {
        if !self.changed {
            return Ok(());
        }
        let dir = self.path.parent().unwrap_or(Path::new("."));
        super::create_state_dir(dir)?;
        let text = format!(
            "# Line passwords phoneprov generated for lines without one in phoneprov.toml.\n\
             # Keep this file private. `phoneprov config check --show-secrets` prints them.\n{}",
            toml::to_string(&self.file)?
        );
        let temporary = self.path.with_extension("toml.tmp");
        let mut out = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&temporary)
            .with_context(|| format!("cannot write {}", temporary.display()))?;
        out.write_all(text.as_bytes())?;
        out.sync_all()?;
        std::fs::set_permissions(&temporary, std::fs::Permissions::from_mode(0o600))?;
        std::fs::rename(&temporary, &self.path)?;
        self.changed = false;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_once_and_kept() {
        let dir = tempfile::tempdir().unwrap();
        let mac: Mac = "0018B9FFFFFF".parse().unwrap();
        let mut secrets = Secrets::open(dir.path()).unwrap();
        let first = secrets.password(mac, "1001");
        assert_eq!(first.reveal().len(), PASSWORD_LEN);
        assert_ne!(first, secrets.password(mac, "1002"));
        secrets.save().unwrap();
        let mode = std::fs::metadata(dir.path().join(FILE))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
        let mut again = Secrets::open(dir.path()).unwrap();
        assert_eq!(again.password(mac, "1001"), first);
        assert!(!again.changed);
    }

    #[test]
    fn damaged_file_is_reported() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(FILE), "passwords = 3").unwrap();
        let error = Secrets::open(dir.path()).err().unwrap();
        assert!(format!("{error:#}").contains("damaged"));
    }
}
