//! `phoneprov explain`: what a message on the phone's screen means and how
//! to fix it, from the diagnostics catalog (docs/troubleshooting.md).

use clap::Args;
use phoneprov_cisco::diagnosis::{self, Diagnosis, Lookup};

/// Explain a message from a 7940/7960's screen or a TFTP log: what it
/// means, why it happens, how to fix it, and how phoneprov sees it.
///
/// Type the message as you read it: case, punctuation, typos and missing
/// words do not matter. When it fits several messages they are listed, and
/// `phoneprov explain ID` shows one.
#[derive(Args)]
#[command(after_help = EXAMPLES)]
pub struct ExplainArgs {
    /// The message, as read on the phone's screen (quotes optional).
    #[arg(required_unless_present = "list", conflicts_with = "list")]
    text: Vec<String>,
    /// List every message phoneprov knows.
    #[arg(long)]
    list: bool,
}

const EXAMPLES: &str = "Examples:
  phoneprov explain Protocol Application Invalid
  phoneprov explain \"tftp timout\"
  phoneprov explain W210
  phoneprov explain --list";

/// Where explanations are wrapped.
const WIDTH: usize = 78;

pub fn run(args: ExplainArgs) -> anyhow::Result<()> {
    let everything = || listing(diagnosis::catalog().iter());
    if args.list {
        print!("{}", everything());
        return Ok(());
    }
    let typed = args.text.join(" ");
    match diagnosis::lookup(&typed) {
        Lookup::Found(found) => print!("{}", explained(found)),
        Lookup::Ambiguous(candidates) => print!(
            "\"{typed}\" fits several messages; `phoneprov explain ID` shows one:\n{}",
            listing(candidates.into_iter())
        ),
        Lookup::Unknown => anyhow::bail!(
            "no message like \"{typed}\" is known; these are:\n{}",
            everything()
        ),
    }
    Ok(())
}

/// One line per entry: its id and what the phone shows.
fn listing<'a>(entries: impl Iterator<Item = &'a Diagnosis>) -> String {
    entries
        .map(|d| format!("  {:<30}  {}\n", d.id, d.title))
        .collect()
}

fn explained(d: &Diagnosis) -> String {
    let also: Vec<String> = d.spellings().skip(1).map(|s| format!("\"{s}\"")).collect();
    let mut out = format!("{}  ({})\n", d.title, d.id);
    if !also.is_empty() {
        out += &format!("also read as {}\n", also.join(", "));
    }
    let mut seen = d.pattern.clone();
    if d.seen_in_events() {
        seen += " `phoneprov status` then shows it under the phone.";
    }
    for (heading, text) in [
        ("What it means", &d.meaning),
        ("Fix", &d.fix),
        ("How phoneprov sees it", &seen),
    ] {
        out += &format!("\n{heading}:\n{}", wrapped(text));
    }
    out
}

/// `text` wrapped at [`WIDTH`], indented by two spaces.
fn wrapped(text: &str) -> String {
    let mut out = String::new();
    let mut line = String::new();
    for word in text.split_whitespace() {
        if !line.is_empty() && line.len() + 1 + word.len() > WIDTH - 2 {
            out += &format!("  {line}\n");
            line.clear();
        }
        if !line.is_empty() {
            line.push(' ');
        }
        line += word;
    }
    out + &format!("  {line}\n")
}
