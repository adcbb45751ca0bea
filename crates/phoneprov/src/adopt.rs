//! Adopting a phone (`POST /api/discovered/{mac}/adopt`, the dashboard's
//! Adopt button): a `[[phone]]` added to phoneprov.toml with toml_edit, so
//! every comment and the file's layout stay. The new file must pass what
//! `phoneprov config check` checks before it replaces the old one, through
//! a temporary file and a rename, with the old file's permissions.
//! `phoneprov serve` then reloads it (reload.rs).

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use futures_util::future::BoxFuture;
use phoneprov_cisco::Mac;
use phoneprov_server::http::Adopt;
use phoneprov_server::view::{Adopted, Adoption, Refusal, RefusalKind};
use toml_edit::{ArrayOfTables, DocumentMut, Item, Table};

use crate::config;
use crate::export_cmd::write_atomically;

/// Adds phones to one phoneprov.toml, one at a time.
#[derive(Clone)]
pub(crate) struct Adopter {
    path: PathBuf,
    writing: Arc<Mutex<()>>,
}

impl Adopter {
    pub fn new(path: &Path) -> Adopter {
        Adopter {
            path: path.to_path_buf(),
            writing: Arc::new(Mutex::new(())),
        }
    }

    fn adopt_now(&self, adoption: &Adoption) -> Result<Adopted, Refusal> {
        let _writing = self.writing.lock().unwrap_or_else(|e| e.into_inner());
        let path = &self.path;
        let failed = |what: String| {
            Refusal::new(
                RefusalKind::Failed,
                format!("{what}; {} is unchanged", path.display()),
                "see phoneprov serve's output, or add the [[phone]] by hand",
            )
        };
        let text = std::fs::read_to_string(path)
            .map_err(|e| failed(format!("cannot read {}: {e}", path.display())))?;
        let mode = std::fs::metadata(path)
            .map_err(|e| failed(format!("cannot read {}: {e}", path.display())))?
            .permissions()
            .mode()
            & 0o7777;
        let (next, added) = with_phone(&text, adoption)?;
        // Checked as serve will read it, beside it (relative paths hold).
        let name = path.file_name().unwrap_or_default().to_string_lossy();
        let draft = path.with_file_name(format!(".{name}.adopting"));
        write_atomically(&draft, next.as_bytes(), mode).map_err(|e| failed(format!("{e:#}")))?;
        if let Err(e) = config::load(&draft) {
            let _ = std::fs::remove_file(&draft);
            return Err(Refusal::new(
                RefusalKind::Malformed,
                format!(
                    "{} with this phone would not pass `phoneprov config check`, so it is unchanged: {e:#}",
                    path.display()
                ),
                "fix what it names in the description or in the file, then adopt again",
            ));
        }
        std::fs::rename(&draft, path).map_err(|e| {
            let _ = std::fs::remove_file(&draft);
            failed(format!("cannot replace {}: {e}", path.display()))
        })?;
        Ok(Adopted {
            phone: adoption.mac.colons(),
            file: path.display().to_string(),
            added,
        })
    }
}

impl Adopt for Adopter {
    fn adopt(&self, phone: Adoption) -> BoxFuture<'_, Result<Adopted, Refusal>> {
        let adopter = self.clone();
        Box::pin(async move {
            tokio::task::spawn_blocking(move || adopter.adopt_now(&phone))
                .await
                .unwrap_or_else(|e| {
                    Err(Refusal::new(
                        RefusalKind::Failed,
                        format!("adopting failed: {e}"),
                        "see phoneprov serve's output",
                    ))
                })
        })
    }
}

/// `text` with a `[[phone]]` for `adoption` after the last one (or at the
/// end), and that `[[phone]]` as written.
fn with_phone(text: &str, adoption: &Adoption) -> Result<(String, String), Refusal> {
    let mut document: DocumentMut = text.parse().map_err(|e| {
        Refusal::new(
            RefusalKind::Malformed,
            format!("phoneprov.toml is not TOML: {e}"),
            "run `phoneprov config check` and fix what it names",
        )
    })?;
    let phones = document
        .entry("phone")
        .or_insert_with(|| Item::ArrayOfTables(ArrayOfTables::new()))
        .as_array_of_tables_mut()
        .ok_or_else(|| {
            Refusal::new(
                RefusalKind::Failed,
                "phoneprov.toml writes its phones other than as [[phone]] sections",
                "add the phone by hand, or write each phone as a [[phone]] section",
            )
        })?;
    let listed = phones.iter().any(|phone| {
        phone
            .get("mac")
            .and_then(Item::as_str)
            .and_then(|text| text.parse::<Mac>().ok())
            == Some(adoption.mac)
    });
    if listed {
        return Err(Refusal::new(
            RefusalKind::Exists,
            format!("{} is already in phoneprov.toml", adoption.mac.colons()),
            "change its [[phone]] in phoneprov.toml instead",
        ));
    }
    let mut phone = Table::new();
    phone
        .decor_mut()
        .set_prefix("\n# Adopted through phoneprov's HTTP API.\n");
    phone.insert("mac", toml_edit::value(adoption.mac.colons()));
    phone.insert("model", toml_edit::value(adoption.model.number()));
    if let Some(description) = &adoption.description {
        phone.insert("description", toml_edit::value(description));
    }
    // Placed right after the last [[phone]], before whatever follows it.
    if let Some(last) = phones.iter().filter_map(Table::position).max() {
        phone.set_position(Some(last + 1));
        shift_from(&mut document, last + 1);
    }
    let added = {
        let mut alone = DocumentMut::new();
        let mut array = ArrayOfTables::new();
        array.push(phone.clone());
        alone.insert("phone", Item::ArrayOfTables(array));
        alone.to_string().trim_start().to_string()
    };
    document["phone"]
        .as_array_of_tables_mut()
        .expect("phone is an array of tables")
        .push(phone);
    Ok((document.to_string(), added))
}

/// Moves every table at `position` or later one further, making room.
fn shift_from(document: &mut DocumentMut, position: isize) {
    fn shift(table: &mut Table, position: isize) {
        if let Some(at) = table.position().filter(|at| *at >= position) {
            table.set_position(Some(at + 1));
        }
        for (_, item) in table.iter_mut() {
            match item {
                Item::Table(inner) => shift(inner, position),
                Item::ArrayOfTables(array) => {
                    array.iter_mut().for_each(|inner| shift(inner, position))
                }
                _ => {}
            }
        }
    }
    shift(document.as_table_mut(), position);
}

#[cfg(test)]
mod tests {
    use super::*;
    use phoneprov_cisco::Model;

    fn adoption(description: Option<&str>) -> Adoption {
        Adoption {
            mac: "0018.b900.00aa".parse().unwrap(),
            model: Model::Cp7940,
            description: description.map(str::to_string),
        }
    }

    #[test]
    fn the_phone_goes_after_the_last_one_and_every_comment_stays() {
        let text = "# the office\n[site]\nname = \"x\" # inline\n\n\
                    [[phone]]\nmac = \"00:18:B9:00:00:01\"\nmodel = \"7960\"\n\n\
                    # the phone book\n[[directory]]\nname = \"Pizza\"\nnumber = \"5\"\n";
        let (next, added) = with_phone(text, &adoption(Some("Lobby"))).unwrap();
        let phone = "# Adopted through phoneprov's HTTP API.\n[[phone]]\n\
                     mac = \"00:18:B9:00:00:AA\"\nmodel = \"7940\"\ndescription = \"Lobby\"\n";
        assert_eq!(added, phone);
        let (before, after) = text.split_at(text.find("\n# the phone book").unwrap());
        assert_eq!(next, format!("{before}\n{phone}{after}"));
    }

    #[test]
    fn a_file_without_phones_gets_its_first_at_the_end() {
        let text = "[site]\nname = \"x\"\n";
        let (next, added) = with_phone(text, &adoption(None)).unwrap();
        assert_eq!(next, format!("{text}\n{added}"));
        assert!(!added.contains("description"), "{added}");
    }

    #[test]
    fn a_listed_mac_in_any_notation_is_refused() {
        let text = "[[phone]]\nmac = \"0018B90000aa\"\nmodel = \"7960\"\n";
        let refusal = with_phone(text, &adoption(None)).unwrap_err();
        assert_eq!(refusal.kind, RefusalKind::Exists);
        assert_eq!(
            refusal.error,
            "00:18:B9:00:00:AA is already in phoneprov.toml"
        );
    }

    #[test]
    fn phones_written_inline_are_not_rewritten() {
        let text = "phone = [{ mac = \"00:18:B9:00:00:01\", model = \"7960\" }]\n";
        let refusal = with_phone(text, &adoption(None)).unwrap_err();
        assert_eq!(refusal.kind, RefusalKind::Failed);
    }
}
