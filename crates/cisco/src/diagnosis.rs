//! The diagnostics catalog: every error a 7940/7960 shows, or a TFTP log
//! reveals, during a conversion, with what it means, the fix and how
//! phoneprov recognises it in a phone's events. The catalog is data
//! (`diagnosis.toml`): `stage` words its findings from it, `phoneprov
//! explain` looks up what the user read on the phone's screen, and
//! docs/troubleshooting.md is generated from it.

use std::sync::LazyLock;

use serde::Deserialize;

/// One entry of the catalog.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Diagnosis {
    pub id: String,
    /// The message as the phone shows it, or the problem in a few words.
    pub title: String,
    /// What the user sees or types: screen texts, log lines, spellings.
    pub screen: Vec<String>,
    pub meaning: String,
    pub fix: String,
    /// How phoneprov recognises it in a phone's events, or where it shows
    /// instead (starting with [`NOT_IN_EVENTS`]).
    pub pattern: String,
    /// The line `phoneprov status` prints, with the finding's `{fields}`;
    /// only for entries seen in events.
    problem: Option<String>,
}

/// How `pattern` starts for an entry phoneprov cannot see in events.
pub const NOT_IN_EVENTS: &str = "Not in phoneprov's events:";

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Catalog {
    diagnosis: Vec<Diagnosis>,
}

static CATALOG: LazyLock<Vec<Diagnosis>> = LazyLock::new(|| {
    toml::from_str::<Catalog>(include_str!("diagnosis.toml"))
        .expect("diagnosis.toml is checked by its tests")
        .diagnosis
});

/// Every entry, in the catalog's order.
pub fn catalog() -> &'static [Diagnosis] {
    &CATALOG
}

/// The entry `id`; the ids the code uses are checked by the tests.
pub fn get(id: &str) -> &'static Diagnosis {
    catalog()
        .iter()
        .find(|d| d.id == id)
        .unwrap_or_else(|| panic!("diagnosis {id} is not in diagnosis.toml"))
}

impl Diagnosis {
    /// The title, then the other texts the user may read or type.
    pub fn spellings(&self) -> impl Iterator<Item = &String> {
        std::iter::once(&self.title).chain(self.screen.iter().filter(|s| **s != self.title))
    }

    /// True when phoneprov can see it in a phone's events.
    pub fn seen_in_events(&self) -> bool {
        self.problem.is_some()
    }

    /// The line for one phone: the problem with `fields` filled in.
    pub fn problem(&self, fields: &[(&str, String)]) -> String {
        let template = self.problem.as_deref().unwrap_or(&self.title);
        fields
            .iter()
            .fold(template.to_owned(), |line, (key, value)| {
                line.replace(&format!("{{{key}}}"), value)
            })
    }
}

/// What a text typed from the phone's screen matches.
#[derive(Debug)]
pub enum Lookup {
    Found(&'static Diagnosis),
    /// Several entries match about as well, best first.
    Ambiguous(Vec<&'static Diagnosis>),
    Unknown,
}

/// How alike a typed text and an entry's texts must be, from 0 to 1.
const ENOUGH: f64 = 0.5;
/// Entries this close to the best are as likely.
const AS_LIKELY: f64 = 0.1;

/// The entry `typed` names: its id, or a fuzzy match of its words (typos,
/// missing words, other case and punctuation) on the entries' titles and
/// screen texts.
pub fn lookup(typed: &str) -> Lookup {
    if let Some(exact) = catalog().iter().find(|d| d.id == typed.trim()) {
        return Lookup::Found(exact);
    }
    let typed = words(typed);
    if typed.is_empty() {
        return Lookup::Unknown;
    }
    let mut scored: Vec<(f64, &Diagnosis)> = catalog()
        .iter()
        .map(|d| {
            let best = d
                .spellings()
                .map(|text| likeness(&typed, text))
                .fold(0.0, f64::max);
            (best, d)
        })
        .filter(|(score, _)| *score >= ENOUGH)
        .collect();
    scored.sort_by(|a, b| b.0.total_cmp(&a.0));
    let Some(&(best, _)) = scored.first() else {
        return Lookup::Unknown;
    };
    let likely: Vec<&Diagnosis> = scored
        .into_iter()
        .take_while(|(score, _)| best - score < AS_LIKELY)
        .map(|(_, d)| d)
        .collect();
    match likely[..] {
        [one] => Lookup::Found(one),
        _ => Lookup::Ambiguous(likely),
    }
}

/// Lower-case runs of letters and digits.
fn words(text: &str) -> Vec<String> {
    text.split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_lowercase)
        .collect()
}

/// How well the `typed` words match `text`: mostly how many of them it
/// holds, then how much of it they cover.
fn likeness(typed: &[String], text: &str) -> f64 {
    let known = words(text);
    let found: f64 = typed
        .iter()
        .map(|t| {
            known
                .iter()
                .map(|k| word_likeness(t, k))
                .fold(0.0, f64::max)
        })
        .sum();
    let covered = known
        .iter()
        .filter(|k| typed.iter().any(|t| word_likeness(t, k) > 0.0))
        .count();
    let held = found / typed.len() as f64;
    held * (0.75 + 0.25 * covered as f64 / known.len().max(1) as f64)
}

/// 1 for the same word, less for a typo or an abbreviation ("auth"), 0 for
/// another word. Short words must be exact.
fn word_likeness(typed: &str, known: &str) -> f64 {
    if typed == known {
        return 1.0;
    }
    let length = known.chars().count().max(typed.chars().count());
    if typed.chars().count() >= 3 && known.starts_with(typed) {
        return 0.9;
    }
    let allowed = match length {
        0..=3 => 0,
        4..=7 => 1,
        _ => 2,
    };
    let typos = typos(typed, known);
    if typos <= allowed {
        1.0 - typos as f64 / length as f64
    } else {
        0.0
    }
}

/// Letters added, dropped, changed or swapped with a neighbour to turn `a`
/// into `b` (optimal string alignment distance).
fn typos(a: &str, b: &str) -> usize {
    let (a, b): (Vec<char>, Vec<char>) = (a.chars().collect(), b.chars().collect());
    // rows[i][j]: typos between a[..i] and b[..j].
    let mut rows = vec![(0..=b.len()).collect::<Vec<usize>>()];
    for i in 1..=a.len() {
        let mut row = vec![i; b.len() + 1];
        for j in 1..=b.len() {
            let changed = usize::from(a[i - 1] != b[j - 1]);
            row[j] = (rows[i - 1][j] + 1)
                .min(row[j - 1] + 1)
                .min(rows[i - 1][j - 1] + changed);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                row[j] = row[j].min(rows[i - 2][j - 2] + 1);
            }
        }
        rows.push(row);
    }
    rows[a.len()][b.len()]
}

/// docs/troubleshooting.md: the catalog as a table for humans.
pub fn markdown() -> String {
    // Pipes and line ends end a cell even in code; `<MAC>` outside code
    // would be HTML.
    let cell = |text: &str| {
        let parts = text.split('`').enumerate().map(|(i, part)| {
            let part = part.replace('|', "\\|").replace('\n', " ");
            if i % 2 == 0 {
                part.replace('<', "&lt;")
            } else {
                part
            }
        });
        parts.collect::<Vec<_>>().join("`")
    };
    let mut out = String::from(
        "# Troubleshooting: what the phone says, what it means, the fix\n\n\
         Every error a Cisco 7940/7960 shows, or a TFTP log reveals, on its way \
         from SCCP to SIP and back. `phoneprov explain TEXT` looks up what you \
         read on the phone's screen, typos and all; `phoneprov status` shows \
         the problems it recognises in each phone's events, with their fix \
         ([status.md](status.md)).\n\n\
         This page is generated from `crates/cisco/src/diagnosis.toml`; edit \
         that file, then run `PHONEPROV_UPDATE_DOCS=1 cargo test -p \
         phoneprov-cisco troubleshooting`.\n\n\
         | on the screen | what it means | fix | how phoneprov sees it |\n\
         |---|---|---|---|\n",
    );
    for d in catalog() {
        let seen: Vec<String> = d.spellings().map(|s| format!("\"{}\"", cell(s))).collect();
        out += &format!(
            "| {} (`{}`) | {} | {} | {} |\n",
            seen.join(", "),
            d.id,
            cell(&d.meaning),
            cell(&d.fix),
            cell(&d.pattern),
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_entry_is_complete_and_says_whether_events_show_it() {
        let mut ids: Vec<&str> = catalog().iter().map(|d| d.id.as_str()).collect();
        assert!(ids.len() >= 16, "the catalog parses whole");
        ids.sort();
        ids.dedup();
        assert_eq!(ids.len(), catalog().len(), "ids are unique");
        for d in catalog() {
            for text in [&d.title, &d.meaning, &d.fix, &d.pattern] {
                assert!(!text.trim().is_empty(), "{}: an empty text", d.id);
            }
            assert_eq!(
                d.seen_in_events(),
                !d.pattern.starts_with(NOT_IN_EVENTS),
                "{}: a problem line exactly when events show it",
                d.id
            );
        }
        let unseen = catalog().iter().filter(|d| !d.seen_in_events()).count();
        assert!(
            unseen <= 2,
            "the list of what events cannot show stays short"
        );
    }

    fn found(typed: &str) -> &'static str {
        match lookup(typed) {
            Lookup::Found(d) => &d.id,
            other => panic!("{typed:?}: {other:?}"),
        }
    }

    #[test]
    fn typos_and_shorthand_find_their_entry() {
        for (typed, id) in [
            (
                "protocol aplication invalid",
                "protocol-application-invalid",
            ),
            (
                "PROTOCOL APPLICATION INVAILD",
                "protocol-application-invalid",
            ),
            ("tftp timout", "tftp-timeout"),
            ("W210", "w210-buffer-full"),
            ("w210 tftp error: buffer ful", "w210-buffer-full"),
            ("unprovisioned", "unprovisioned"),
            ("Unprovisoned", "unprovisioned"),
            ("image authentification failed", "image-rejected"),
            ("auth", "image-rejected"),
            ("verifying", "image-rejected"),
            ("no load specifed", "no-load-specified"),
            ("CSCdv19260", "os79xx-trailing-space"),
            ("tftp-timeout", "tftp-timeout"),
        ] {
            assert_eq!(found(typed), id, "{typed:?}");
        }
    }

    #[test]
    fn a_text_of_several_entries_lists_them_and_nonsense_matches_none() {
        let Lookup::Ambiguous(candidates) = lookup("TFTP Error") else {
            panic!("TFTP Error is on the screen for more than one cause");
        };
        let ids: Vec<&str> = candidates.iter().map(|d| d.id.as_str()).collect();
        assert!(ids.contains(&"file-not-found") && ids.contains(&"transfer-failed"));
        assert!(!ids.contains(&"w210-buffer-full"), "{ids:?}");
        for nonsense in ["", "  ", "hello world", "zzz"] {
            assert!(matches!(lookup(nonsense), Lookup::Unknown), "{nonsense:?}");
        }
    }

    #[test]
    fn typos_count_letters_added_dropped_changed_and_swapped() {
        assert_eq!(typos("timout", "timeout"), 1);
        assert_eq!(typos("invaild", "invalid"), 1);
        assert_eq!(typos("tftp", "tftp"), 0);
        assert_eq!(typos("", "abc"), 3);
        assert_eq!(typos("error", "full"), 5);
    }

    #[test]
    fn a_problem_line_fills_in_its_fields() {
        let line = get("file-not-found").problem(&[("name", "P0S3-8-12-00.sb2".into())]);
        assert_eq!(line, "asked for P0S3-8-12-00.sb2, which is not there");
    }

    /// Run with PHONEPROV_UPDATE_DOCS=1 to write the page after changing
    /// the catalog.
    #[test]
    fn troubleshooting_page_is_the_catalog() {
        let page = concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/troubleshooting.md");
        if std::env::var_os("PHONEPROV_UPDATE_DOCS").is_some() {
            std::fs::write(page, markdown()).unwrap();
        }
        let written = std::fs::read_to_string(page).unwrap_or_default();
        assert!(
            written == markdown(),
            "docs/troubleshooting.md is out of date: run PHONEPROV_UPDATE_DOCS=1 cargo test -p phoneprov-cisco troubleshooting"
        );
    }
}
