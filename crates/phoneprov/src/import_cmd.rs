//! `phoneprov import-tftp DIR`: a hand-made TFTP tree (SIPDefault.cnf,
//! SIP<MAC>.cnf, XMLDefault.cnf.xml, OS79XX.TXT, SEP<MAC>.cnf.xml) read into a
//! new, commented phoneprov.toml, so people can migrate.
//!
//! Nothing is dropped silently: a value phoneprov derives itself is left out
//! with a note, and a value it cannot take is kept as a comment with a
//! warning. The result is loaded with the same validation as `config check`
//! before it is written.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use clap::Args;
use phoneprov_cisco::cnf;
use phoneprov_cisco::export::cfg_folder;
use phoneprov_cisco::load::{LoadName, Protocol};
use phoneprov_cisco::params::{self, Kind, RawValue};
use phoneprov_cisco::{Mac, Model, PhoneFile};
use toml_edit::{Array, ArrayOfTables, DocumentMut, InlineTable, Item, Table, Value};

use crate::config;
use crate::export_cmd::write_atomically;

/// Read a hand-made TFTP folder into a new phoneprov.toml, so you can
/// migrate: SIPDefault.cnf becomes [defaults], each SIP<MAC>.cnf a [[phone]]
/// with its lines and parameters, image_version / loadInformation /
/// OS79XX.TXT the [firmware] targets.
///
/// Values phoneprov derives itself (proxy1_address and port, proxy_register,
/// image_version, sync) are left out with a note; unknown parameters are kept as
/// comments with a warning. The result is checked like `phoneprov config
/// check` before it is written; read the printed list of what needs a human.
///
/// Example: phoneprov import-tftp /srv/tftp --output phoneprov.toml
#[derive(Args)]
pub struct ImportArgs {
    /// The TFTP folder to read.
    dir: PathBuf,
    /// The phoneprov.toml to write.
    #[arg(long, short, default_value = "phoneprov.toml", value_name = "FILE")]
    output: PathBuf,
    /// Replace the output file if it exists.
    #[arg(long)]
    force: bool,
}

/// How much a note matters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Severity {
    /// Something was kept as a comment or could not be carried over.
    Warning,
    /// A guess a human must confirm.
    Check,
    /// What happened, for the record.
    Info,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Note {
    severity: Severity,
    text: String,
}

/// One .cnf file: its name on disk and its entries, the last of a repeated
/// name winning (as the phone reads them in order).
#[derive(Debug, Default)]
struct CnfFile {
    name: String,
    entries: Vec<(String, String)>,
}

impl CnfFile {
    fn get(&self, name: &str) -> Option<&str> {
        self.entries
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// What `SEP<MAC>.cnf.xml` or `XMLDefault.cnf.xml` says.
#[derive(Debug, Default)]
struct XmlFile {
    name: String,
    /// `deviceProtocol`.
    protocol: Option<String>,
    /// `processNodeName`.
    node: Option<String>,
    /// `(model attribute or loadInformationN number, load)`.
    loads: Vec<(Option<Model>, String)>,
}

#[derive(Debug, Default)]
struct OldPhone {
    sip: Option<CnfFile>,
    sep: Option<XmlFile>,
}

/// The files of a hand-made tree that phoneprov generates itself.
#[derive(Debug, Default)]
struct OldTree {
    sip_default: Option<CnfFile>,
    xml_default: Option<XmlFile>,
    os79xx: Option<(String, String)>,
    phones: BTreeMap<Mac, OldPhone>,
    notes: Vec<Note>,
}

pub fn run(args: ImportArgs) -> anyhow::Result<()> {
    if args.output.exists() && !args.force {
        bail!(
            "{} exists already; pass --force to replace it, or --output another file",
            args.output.display()
        );
    }
    let tree = read_tree(&args.dir)?;
    if tree.sip_default.is_none() && tree.phones.is_empty() && tree.xml_default.is_none() {
        bail!(
            "{} holds none of SIPDefault.cnf, SIP<MAC>.cnf, SEP<MAC>.cnf.xml, XMLDefault.cnf.xml; \
             is it the TFTP folder?",
            args.dir.display()
        );
    }
    let (document, notes) = convert(tree, &args.dir);
    let draft = draft_path(&args.output);
    write_atomically(&draft, document.to_string().as_bytes(), 0o600)?;
    let config = match config::load(&draft) {
        Ok(config) => config,
        Err(error) => {
            print!("{}", summary(&notes, None));
            bail!(
                "the imported file does not pass `phoneprov config check`; it is kept as {} for \
                 you to fix, then rename:\n{error:#}",
                draft.display()
            );
        }
    };
    std::fs::rename(&draft, &args.output)
        .with_context(|| format!("writing {}", args.output.display()))?;
    print!("{}", summary(&notes, Some(&config)));
    println!(
        "wrote {}; read its comments (TODO and WARNING), then run `phoneprov config check`",
        args.output.display()
    );
    Ok(())
}

fn draft_path(output: &Path) -> PathBuf {
    let mut name = output.file_name().unwrap_or_default().to_os_string();
    name.push(".draft");
    output.with_file_name(name)
}

/// What was imported and what needs a human, most important first.
fn summary(notes: &[Note], config: Option<&config::Config>) -> String {
    let mut out = String::new();
    if let Some(config) = config {
        let site = &config.site;
        let lines: usize = site.phones.iter().map(|p| p.lines.len()).sum();
        out += &format!(
            "imported {} phone{} with {lines} line{}, {} default parameter{}\n",
            site.phones.len(),
            if site.phones.len() == 1 { "" } else { "s" },
            if lines == 1 { "" } else { "s" },
            site.defaults.len(),
            if site.defaults.len() == 1 { "" } else { "s" },
        );
        for warning in &config.warnings {
            out += &format!("WARNING: {warning}\n");
        }
    }
    let mut sorted: Vec<&Note> = notes.iter().collect();
    sorted.sort_by_key(|n| n.severity);
    for note in sorted {
        let label = match note.severity {
            Severity::Warning => "WARNING",
            Severity::Check => "TODO",
            Severity::Info => "note",
        };
        out += &format!("{label}: {}\n", note.text);
    }
    out
}

// ---------------------------------------------------------------------------
// Reading the tree

/// A hand-made file as text: UTF-8, else Latin-1 (Windows editors), without
/// a byte-order mark.
fn text_of(bytes: &[u8]) -> String {
    let text = match std::str::from_utf8(bytes) {
        Ok(text) => text.to_string(),
        Err(_) => bytes.iter().map(|&b| char::from(b)).collect(),
    };
    text.trim_start_matches('\u{feff}').to_string()
}

fn read_tree(dir: &Path) -> anyhow::Result<OldTree> {
    let mut tree = OldTree::default();
    read_folder(dir, None, &mut tree)?;
    // Phones ask for SIP<MAC>.cnf under tftp_cfg_dir when SIPDefault.cnf sets it.
    let folder = tree
        .sip_default
        .as_ref()
        .and_then(|f| cfg_folder(f.get("tftp_cfg_dir")?));
    if let Some(folder) = folder {
        if dir.join(&folder).is_dir() {
            read_folder(&dir.join(&folder), Some(&folder), &mut tree)?;
        } else {
            tree.notes.push(Note {
                severity: Severity::Warning,
                text: format!(
                    "SIPDefault.cnf sets tftp_cfg_dir to the folder {folder}, which is not there"
                ),
            });
        }
    }
    Ok(tree)
}

/// Reads the files of `dir` that phoneprov generates: in the TFTP root
/// (`sub` none) all of them, in the tftp_cfg_dir folder `sub` only SIP<MAC>.cnf.
fn read_folder(dir: &Path, sub: Option<&str>, tree: &mut OldTree) -> anyhow::Result<()> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .with_context(|| format!("cannot read the TFTP folder {}", dir.display()))?
        .filter_map(|entry| entry.ok()?.file_name().into_string().ok())
        .collect();
    // Exact spellings last, so they win over a case variant, as on a
    // case-sensitive TFTP server.
    names.sort_by_key(|name| {
        (
            ["SIPDefault.cnf", "XMLDefault.cnf.xml", "OS79XX.TXT"].contains(&name.as_str()),
            name.clone(),
        )
    });
    for name in names {
        let path = dir.join(&name);
        if !path.is_file() {
            continue;
        }
        let read = || -> anyhow::Result<String> {
            Ok(text_of(&std::fs::read(&path).with_context(|| {
                format!("cannot read {}", path.display())
            })?))
        };
        let replaced = |old: Option<&str>, notes: &mut Vec<Note>| {
            if let Some(old) = old {
                notes.push(Note {
                    severity: Severity::Warning,
                    text: format!("{old} and {name} differ only in case; read {name}"),
                });
            }
        };
        let phone_file = PhoneFile::parse(&name);
        if let Some(sub) = sub {
            if let Some((PhoneFile::SipCnf, mac)) = phone_file {
                let shown = format!("{sub}/{name}");
                let file = read_cnf(&shown, &read()?, &mut tree.notes);
                tree.phones.entry(mac).or_default().sip = Some(file);
            }
        } else if name.eq_ignore_ascii_case("SIPDefault.cnf") {
            let old = tree.sip_default.as_ref().map(|f| f.name.clone());
            replaced(old.as_deref(), &mut tree.notes);
            tree.sip_default = Some(read_cnf(&name, &read()?, &mut tree.notes));
        } else if name.eq_ignore_ascii_case("XMLDefault.cnf.xml") {
            let old = tree.xml_default.as_ref().map(|f| f.name.clone());
            replaced(old.as_deref(), &mut tree.notes);
            tree.xml_default = Some(read_xml(&name, &read()?));
        } else if name.eq_ignore_ascii_case("OS79XX.TXT") {
            let first = read()?
                .lines()
                .next()
                .unwrap_or_default()
                .trim()
                .to_string();
            tree.os79xx = Some((name, first));
        } else if name.eq_ignore_ascii_case("dialplan.xml") {
            tree.notes.push(Note {
                severity: Severity::Check,
                text: format!(
                    "{name} is not imported: phoneprov generates it from [[dialplan]]; copy its \
                     rules there (docs/configuration.md)"
                ),
            });
        } else if let Some((kind, mac)) = phone_file {
            let phone = tree.phones.entry(mac).or_default();
            match kind {
                PhoneFile::SipCnf => {
                    phone.sip = Some(read_cnf(&name, &read()?, &mut tree.notes));
                }
                PhoneFile::SepXml => phone.sep = Some(read_xml(&name, &read()?)),
                _ => tree.notes.push(Note {
                    severity: Severity::Info,
                    text: format!("{name}: phoneprov does not generate this kind of file; ignored"),
                }),
            }
        }
    }
    Ok(())
}

fn read_cnf(name: &str, text: &str, notes: &mut Vec<Note>) -> CnfFile {
    let mut file = CnfFile {
        name: name.to_string(),
        entries: Vec::new(),
    };
    for result in cnf::parse_lines(text) {
        match result {
            Ok(entry) => {
                if let Some(slot) = file.entries.iter_mut().find(|(n, _)| *n == entry.name) {
                    notes.push(Note {
                        severity: Severity::Info,
                        text: format!(
                            "{name} line {}: {} is set again; the phone keeps the last value",
                            entry.line, entry.name
                        ),
                    });
                    slot.1 = entry.value;
                } else {
                    file.entries.push((entry.name, entry.value));
                }
            }
            Err(error) => notes.push(Note {
                severity: Severity::Warning,
                text: format!("{name} {error}; the line was skipped"),
            }),
        }
    }
    file
}

/// The few elements phoneprov needs from a 79xx XML file, read without an
/// XML library: these files are a handful of flat elements.
fn read_xml(name: &str, text: &str) -> XmlFile {
    let text = without_comments(text);
    let mut file = XmlFile {
        name: name.to_string(),
        ..XmlFile::default()
    };
    for (tag, attributes, inner) in elements(&text) {
        let inner = inner.trim();
        match tag {
            "deviceProtocol" => file.protocol = Some(inner.to_string()),
            "processNodeName" => file.node = Some(inner.to_string()),
            _ if tag.starts_with("loadInformation") && !inner.is_empty() => {
                let model = attribute(attributes, "model")
                    .and_then(|m| m.parse().ok())
                    .or_else(|| {
                        let number = tag.trim_start_matches("loadInformation");
                        Model::ALL
                            .into_iter()
                            .find(|m| m.device_type().to_string() == number)
                    });
                file.loads.push((model, inner.to_string()));
            }
            _ => {}
        }
    }
    file
}

fn without_comments(text: &str) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(start) = rest.find("<!--") {
        out += &rest[..start];
        rest = rest[start..]
            .find("-->")
            .map_or("", |end| &rest[start + end + 3..]);
    }
    out + rest
}

/// Every `<tag attributes>inner</tag>` with text inside, in order.
fn elements(text: &str) -> Vec<(&str, &str, &str)> {
    let mut found = Vec::new();
    let mut rest = text;
    while let Some(open) = rest.find('<') {
        rest = &rest[open + 1..];
        let Some(close) = rest.find('>') else { break };
        let head = &rest[..close];
        if head.starts_with(['/', '?', '!']) || head.ends_with('/') {
            continue;
        }
        let tag = head.split_whitespace().next().unwrap_or_default();
        let attributes = &head[tag.len()..];
        let body = &rest[close + 1..];
        if let Some(end) = body.find(&format!("</{tag}>")) {
            if !body[..end].contains('<') {
                found.push((tag, attributes, &body[..end]));
            }
        }
    }
    found
}

fn attribute<'a>(attributes: &'a str, name: &str) -> Option<&'a str> {
    let at = attributes.find(&format!("{name}="))? + name.len() + 1;
    let rest = &attributes[at..];
    let quote = rest.chars().next().filter(|c| *c == '"' || *c == '\'')?;
    let rest = &rest[1..];
    Some(&rest[..rest.find(quote)?])
}

// ---------------------------------------------------------------------------
// Building phoneprov.toml

/// Parameters of SIPDefault.cnf that phoneprov writes itself.
const DERIVED: [&str; 5] = [
    "proxy1_address",
    "proxy1_port",
    "proxy_register",
    "image_version",
    "sync",
];

/// The notes of one import: what happened and what needs a human.
struct Collector {
    notes: Vec<Note>,
}

impl Collector {
    fn note(&mut self, severity: Severity, text: impl Into<String>) {
        self.notes.push(Note {
            severity,
            text: text.into(),
        });
    }
}

fn convert(mut tree: OldTree, dir: &Path) -> (DocumentMut, Vec<Note>) {
    let mut out = Collector {
        notes: std::mem::take(&mut tree.notes),
    };
    let mut document = DocumentMut::new();
    let empty = CnfFile::default();
    let sip_default = tree.sip_default.as_ref().unwrap_or(&empty);

    // [site]
    let mut site = Table::new();
    let folder = dir
        .canonicalize()
        .unwrap_or_else(|_| dir.to_path_buf())
        .display()
        .to_string();
    site.insert("name", toml_edit::value(format!("Imported from {folder}")));
    let unicast = sip_default
        .get("sntp_mode")
        .is_some_and(|m| m.eq_ignore_ascii_case("unicast"));
    let ntp = sip_default.get("sntp_server").filter(|s| !s.is_empty());
    if let (Some(ntp), true) = (ntp, unicast) {
        site.insert("ntp", toml_edit::value(ntp));
    }
    if sip_default.get("time_zone").is_some() {
        out.note(
            Severity::Check,
            "time_zone and the dst_* rules were copied into [defaults]; phoneprov derives them \
             from [site] timezone (an IANA name such as \"Europe/Berlin\"): set it and remove them",
        );
    }
    site.decor_mut().set_prefix(format!(
        "# phoneprov.toml imported by `phoneprov import-tftp` from {folder}.\n\
         # Read the TODO and WARNING comments, then run `phoneprov config check`.\n\
         # Reference: docs/configuration.md; what carried over: docs/migrating.md.\n\n"
    ));
    document.insert("site", Item::Table(site));

    // [server] and [sip]
    let node = tree
        .xml_default
        .as_ref()
        .and_then(|x| x.node.clone())
        .filter(|n| n.parse::<IpAddr>().is_ok());
    let proxy = sip_default
        .get("proxy1_address")
        .filter(|p| !p.is_empty())
        .map(str::to_string);
    let port: u16 = sip_default
        .get("proxy1_port")
        .and_then(|p| p.trim().parse().ok())
        .unwrap_or(5060);
    let from_proxy = proxy.clone().filter(|p| p.parse::<IpAddr>().is_ok());
    let (address, source) = match (&node, &from_proxy) {
        (Some(node), _) => (node.clone(), "XMLDefault.cnf.xml processNodeName"),
        (None, Some(proxy)) => (proxy.clone(), "SIPDefault.cnf proxy1_address"),
        (None, None) => ("192.0.2.1".to_string(), "nowhere: no file names it"),
    };
    let mut server = Table::new();
    server.insert("address", toml_edit::value(&address));
    server.decor_mut().set_prefix(format!(
        "\n# TODO check: the address phones reach phoneprov at (taken from {source}).\n"
    ));
    if node.is_none() && from_proxy.is_none() {
        out.note(
            Severity::Check,
            "[server] address: no file names the server; set the address phones reach phoneprov at",
        );
    } else {
        out.note(
            Severity::Check,
            format!("[server] address = {address} (from {source}): check it is this machine"),
        );
    }
    document.insert("server", Item::Table(server));
    let mut sip = Table::new();
    match &proxy {
        Some(proxy) if *proxy != address => {
            sip.insert("registrar", toml_edit::value(false));
            sip.insert("proxy", toml_edit::value(format!("{proxy}:{port}")));
            sip.decor_mut().set_prefix(format!(
                "\n# The old files sent phones to {proxy}:{port} to register; they still will.\n"
            ));
            out.note(
                Severity::Info,
                format!("phones keep registering with {proxy}:{port} ([sip] proxy)"),
            );
        }
        _ => {
            if port != 5060 {
                sip.insert("bind", toml_edit::value(format!("0.0.0.0:{port}")));
            }
            sip.decor_mut().set_prefix(format!(
                "\n# TODO check: the old files sent phones to {address}:{port} to register, so \
                 phoneprov's own\n# registrar takes them. If an existing PBX (Asterisk, FreePBX…) \
                 listens there, write\n# registrar = false and proxy = \"{address}:{port}\" instead.\n"
            ));
            out.note(
                Severity::Check,
                format!(
                    "[sip]: phones registered with {address}:{port}, the server itself; if a PBX \
                     runs there, set registrar = false and proxy = \"{address}:{port}\""
                ),
            );
        }
    }
    if sip_default
        .get("proxy_register")
        .is_some_and(|v| v.trim() != "1")
    {
        out.note(
            Severity::Warning,
            "SIPDefault.cnf has proxy_register 0; phoneprov always writes proxy_register 1",
        );
    }
    document.insert("sip", Item::Table(sip));

    // Phones first: their models and protocols decide the firmware targets.
    let xml_default_model = tree.xml_default.as_ref().and_then(|x| {
        let mut models: Vec<Model> = x.loads.iter().filter_map(|(m, _)| *m).collect();
        models.dedup();
        (models.len() == 1).then(|| models[0])
    });
    let mut phones = ArrayOfTables::new();
    let mut told: Vec<(Model, Protocol, LoadName, Mac)> = Vec::new();
    for (mac, old) in &tree.phones {
        let (table, target) = phone(*mac, old, xml_default_model, &mut out);
        if let Some((model, load)) = target {
            told.push((model, load.protocol, load, *mac));
        }
        phones.push(table);
    }

    // [firmware]
    document.insert(
        "firmware",
        Item::Table(firmware(&tree, sip_default, &told, &folder, &mut out)),
    );

    // [defaults]
    let mut defaults = Table::new();
    let mut commented = Vec::new();
    for (name, value) in &sip_default.entries {
        let derived = DERIVED.contains(&name.as_str())
            || (unicast && ntp.is_some() && (name == "sntp_server" || name == "sntp_mode"));
        if derived {
            continue;
        }
        if name.starts_with("line") && params::lookup(name).is_some() {
            commented.push(format!(
                "# {name} = {value:?}   WARNING: a line setting in SIPDefault.cnf; describe lines per [[phone]]"
            ));
            out.note(
                Severity::Warning,
                format!(
                    "SIPDefault.cnf {name}: line settings belong to a phone; kept as a comment"
                ),
            );
            continue;
        }
        parameter(
            &mut defaults,
            &mut commented,
            "SIPDefault.cnf",
            name,
            value,
            &mut out,
        );
    }
    let mut prefix = String::from("\n");
    if let Some(file) = &tree.sip_default {
        prefix += &format!(
            "# From {}, without what phoneprov writes itself (proxy1_address, proxy1_port,\n\
             # proxy_register, image_version, sync{}).\n",
            file.name,
            if ntp.is_some() && unicast {
                ", and sntp_server/sntp_mode: see [site] ntp"
            } else {
                ""
            }
        );
    }
    if sip_default.get("time_zone").is_some() {
        prefix += "# TODO: time_zone and dst_* are derived from [site] timezone = \"Region/City\" when it is\n\
                   # set; set it and remove them here.\n";
    }
    for line in &commented {
        prefix += line;
        prefix += "\n";
    }
    defaults.decor_mut().set_prefix(prefix);
    document.insert("defaults", Item::Table(defaults));
    if !phones.is_empty() {
        document.insert("phone", Item::ArrayOfTables(phones));
    }
    (document, out.notes)
}

/// The [firmware] section: the target per protocol from the phones' files,
/// SIPDefault.cnf's image_version, XMLDefault.cnf.xml and OS79XX.TXT, and
/// per-model targets where all phones of a model agree on another load.
fn firmware(
    tree: &OldTree,
    sip_default: &CnfFile,
    told: &[(Model, Protocol, LoadName, Mac)],
    folder: &str,
    out: &mut Collector,
) -> Table {
    let mut table = Table::new();
    table.insert("dir", toml_edit::value(folder));
    table.decor_mut().set_prefix(format!(
        "\n# TODO check: firmware is served from the old folder ({folder}); phoneprov generates the\n\
         # config files itself and ignores the old ones there. To keep firmware apart, run\n\
         # `phoneprov firmware import` into a folder of its own and point dir at it.\n"
    ));
    out.note(
        Severity::Check,
        format!("[firmware] dir is the old folder {folder}; move firmware with `phoneprov firmware import` if you like"),
    );
    let mut global: Vec<(LoadName, String)> = Vec::new();
    let mut consider = |name: &str, from: &str, out: &mut Collector| match LoadName::parse(name) {
        Ok(load) => global.push((load, from.to_string())),
        Err(e) => out.note(
            Severity::Warning,
            format!("{from}: {e}; not used as a target"),
        ),
    };
    if let Some(image) = sip_default.get("image_version").filter(|v| !v.is_empty()) {
        consider(image, "SIPDefault.cnf image_version", out);
    }
    if let Some(xml) = &tree.xml_default {
        for (_, load) in &xml.loads {
            consider(load, &format!("{} loadInformation", xml.name), out);
        }
    }
    let mut loader_in_os79xx = None;
    if let Some((name, load)) = &tree.os79xx {
        match LoadName::parse(load) {
            Ok(parsed) if parsed.protocol == Protocol::Loader => loader_in_os79xx = Some(parsed),
            _ => consider(load, name, out),
        }
    }
    for (key, protocol) in [("sip", Protocol::Sip), ("sccp", Protocol::Sccp)] {
        // The load most phones were told, else the first site-wide one.
        let mut counts: Vec<(&LoadName, usize)> = Vec::new();
        for (_, _, load, _) in told.iter().filter(|t| t.1 == protocol) {
            match counts.iter_mut().find(|(l, _)| *l == load) {
                Some((_, n)) => *n += 1,
                None => counts.push((load, 1)),
            }
        }
        let most = counts
            .iter()
            .max_by_key(|(_, n)| *n)
            .map(|(l, _)| (*l).clone());
        let target = most.or_else(|| {
            global
                .iter()
                .find(|(l, _)| l.protocol == protocol)
                .map(|(l, _)| l.clone())
        });
        let Some(target) = target else { continue };
        table.insert(key, toml_edit::value(target.as_str()));
        for (load, from) in global.iter().filter(|(l, _)| l.protocol == protocol) {
            if *load != target {
                out.note(
                    Severity::Warning,
                    format!("{from} named {load}, but the target for {key} is {target}; check which you want"),
                );
            }
        }
        if let Some(loader) = &loader_in_os79xx {
            if target.loader().as_deref() == Some(loader.as_str()) {
                table.insert("os79xx", toml_edit::value("loader"));
            }
        }
        per_model(&mut table, key, protocol, &target, told, out);
    }
    for (load, from) in global
        .iter()
        .filter(|(l, _)| !matches!(l.protocol, Protocol::Sip | Protocol::Sccp))
    {
        out.note(
            Severity::Warning,
            format!(
                "{from} named {load}, a {} load, which phoneprov does not target",
                load.protocol
            ),
        );
    }
    if let Some(loader) = loader_in_os79xx.filter(|_| !table.contains_key("os79xx")) {
        out.note(
            Severity::Warning,
            format!("OS79XX.TXT named the loader {loader}, which belongs to no target; check [firmware]"),
        );
    }
    table
}

/// `[firmware.model.N]` where every phone of a model was told the same load,
/// other than the site's; a warning for phones that disagree with their model.
fn per_model(
    table: &mut Table,
    key: &str,
    protocol: Protocol,
    target: &LoadName,
    told: &[(Model, Protocol, LoadName, Mac)],
    out: &mut Collector,
) {
    for model in Model::ALL {
        let of_model: Vec<&(Model, Protocol, LoadName, Mac)> = told
            .iter()
            .filter(|t| t.0 == model && t.1 == protocol)
            .collect();
        let Some(first) = of_model.first() else {
            continue;
        };
        let all_same = of_model.iter().all(|t| t.2 == first.2);
        if all_same && first.2 != *target {
            let models = table
                .entry("model")
                .or_insert(Item::Table(Table::new()))
                .as_table_mut()
                .expect("model is a table");
            models.set_implicit(true);
            let entry = models
                .entry(model.number())
                .or_insert(Item::Table(Table::new()))
                .as_table_mut()
                .expect("a model entry is a table");
            entry.insert(key, toml_edit::value(first.2.as_str()));
        } else if !all_same {
            for (_, _, load, mac) in of_model.iter().filter(|t| t.2 != *target) {
                out.note(
                    Severity::Warning,
                    format!(
                        "{} was told {load}; phoneprov tells every {model} {key} phone {target}; \
                         check it",
                        mac.colons()
                    ),
                );
            }
        }
    }
}

/// One `[[phone]]`, and the model and load it was told, if any.
fn phone(
    mac: Mac,
    old: &OldPhone,
    xml_default_model: Option<Model>,
    out: &mut Collector,
) -> (Table, Option<(Model, LoadName)>) {
    let empty = CnfFile::default();
    let sip = old.sip.as_ref().unwrap_or(&empty);
    let file = old
        .sip
        .as_ref()
        .map_or_else(|| PhoneFile::SepXml.name(mac), |f| f.name.clone());
    let mut table = Table::new();
    let mut comments: Vec<String> = vec![format!("\n# From {file}")];
    table.insert("mac", toml_edit::value(mac.colons()));

    // The model: SEP's loadInformation, the line slots, XMLDefault, else 7960.
    let slots = sip
        .entries
        .iter()
        .filter_map(|(name, _)| {
            let rest = name.strip_prefix("line")?;
            let digit = rest.chars().next()?.to_digit(10)?;
            rest[1..].starts_with('_').then_some(digit as usize)
        })
        .max()
        .unwrap_or(0);
    let sep_model = old
        .sep
        .as_ref()
        .and_then(|sep| sep.loads.iter().find_map(|(m, _)| *m));
    let (model, why) = match (sep_model, slots, xml_default_model) {
        (Some(model), _, _) => (model, None),
        (None, 3.., _) => (Model::Cp7960, None),
        (None, _, Some(model)) => (
            model,
            Some("guessed from XMLDefault.cnf.xml, which names only this model"),
        ),
        (None, _, None) => (
            Model::Cp7960,
            Some("unknown: no file says; a 7960 has room for all 6 lines"),
        ),
    };
    table.insert("model", toml_edit::value(model.number()));
    if let Some(why) = why {
        comments.push(format!("# TODO check the model: {why}"));
        out.note(
            Severity::Check,
            format!("{}: model {model} {why}", mac.colons()),
        );
    }

    // The protocol: SEP's deviceProtocol, else that of the load it was told.
    let image = sip
        .get("image_version")
        .filter(|v| !v.is_empty())
        .map(|v| (v.to_string(), format!("{file} image_version")))
        .or_else(|| {
            let sep = old.sep.as_ref()?;
            let (_, load) = sep.loads.first()?;
            Some((load.clone(), format!("{} loadInformation", sep.name)))
        });
    let load = image.and_then(|(name, from)| match LoadName::parse(&name) {
        Ok(load) if matches!(load.protocol, Protocol::Sip | Protocol::Sccp) => Some(load),
        Ok(load) => {
            out.note(
                Severity::Warning,
                format!(
                    "{from}: {load} is a {} load, not a target phoneprov can give",
                    load.protocol
                ),
            );
            None
        }
        Err(e) => {
            out.note(Severity::Warning, format!("{from}: {e}; ignored"));
            None
        }
    });
    let sccp = match old.sep.as_ref().and_then(|s| s.protocol.as_deref()) {
        Some(protocol) => protocol.eq_ignore_ascii_case("SCCP"),
        None => load.as_ref().is_some_and(|l| l.protocol == Protocol::Sccp),
    };
    if sccp {
        table.insert("protocol", toml_edit::value("sccp"));
    }

    // Lines, without gaps.
    let mut lines = Array::new();
    for n in 1..=params::MAX_LINES {
        let get = |key: &str| sip.get(&format!("line{n}_{key}")).filter(|v| !v.is_empty());
        let unused = |v: &&str| !v.eq_ignore_ascii_case("UNPROVISIONED");
        let Some(name) = get("name").filter(unused) else {
            if get("authname").filter(unused).is_some() {
                out.note(
                    Severity::Warning,
                    format!("{file}: line{n}_authname is set but line{n}_name is empty; the line is left out"),
                );
            }
            continue;
        };
        if n > model.lines() {
            comments.push(format!(
                "# line{n}_name = {name:?}   WARNING: a {model} has {} lines; left out",
                model.lines()
            ));
            out.note(
                Severity::Warning,
                format!("{file}: line {n} ({name}) does not fit a {model}; kept as a comment"),
            );
            continue;
        }
        if name.contains(['"', ' ', '@', ':']) {
            comments.push(format!(
                "# line{n}_name = {name:?}   WARNING: not a SIP user name; left out"
            ));
            out.note(
                Severity::Warning,
                format!("{file}: line{n}_name {name:?} is not a SIP user name; kept as a comment"),
            );
            continue;
        }
        let mut line = InlineTable::new();
        line.insert("name", name.into());
        if let Some(display) = get("displayname") {
            line.insert("display", display.into());
        }
        if let Some(authname) = get("authname").filter(|a| *a != name) {
            line.insert("authname", authname.into());
        }
        match get("password").filter(unused) {
            Some(password) => {
                line.insert("password", password.into());
            }
            None => out.note(
                Severity::Check,
                format!(
                    "{file}: line {n} ({name}) has no password; phoneprov generates one \
                     (`phoneprov config check --show-secrets`); set it on the PBX too"
                ),
            ),
        }
        if let Some(label) = get("shortname") {
            line.insert("label", label.into());
        }
        if lines.len() + 1 != n {
            out.note(
                Severity::Check,
                format!(
                    "{file}: line {n} ({name}) becomes line {} (phoneprov lists lines without gaps)",
                    lines.len() + 1
                ),
            );
        }
        line.decor_mut().set_prefix("\n    ");
        lines.push_formatted(Value::InlineTable(line));
    }
    if !lines.is_empty() {
        lines.set_trailing("\n");
        lines.set_trailing_comma(true);
        table.insert("lines", toml_edit::value(lines));
    }

    // Every other parameter, as the phone's own.
    let mut values = Table::new();
    for (name, value) in &sip.entries {
        let is_line = name
            .strip_prefix("line")
            .and_then(|rest| rest.chars().next())
            .is_some_and(|c| c.is_ascii_digit())
            && params::lookup(name).is_some();
        if name == "image_version" || is_line {
            continue;
        }
        parameter(&mut values, &mut comments, &file, name, value, out);
    }
    if !values.is_empty() {
        table.insert("params", Item::Table(values));
    }
    table.decor_mut().set_prefix(comments.join("\n") + "\n");
    (table, load.map(|l| (model, l)))
}

/// Adds `name = value` to `table` when the parameter table takes it, else
/// keeps it as a comment with a warning.
fn parameter(
    table: &mut Table,
    comments: &mut Vec<String>,
    file: &str,
    name: &str,
    value: &str,
    out: &mut Collector,
) {
    let Some(param) = params::lookup(name) else {
        comments.push(format!(
            "# {name} = {value:?}   WARNING: not a parameter phoneprov knows; kept as a comment"
        ));
        out.note(
            Severity::Warning,
            format!(
                "{file}: unknown parameter {name}{}; kept as a comment",
                params::nearest(name).map_or(String::new(), |n| format!(" (did you mean {n}?)"))
            ),
        );
        return;
    };
    let numeric = matches!(
        param.kind,
        Kind::Switch | Kind::Feature | Kind::Number { .. }
    );
    let (raw, item) = match value.trim().parse::<i64>() {
        Ok(number) if numeric => (RawValue::Integer(number), toml_edit::value(number)),
        _ => (RawValue::Text(value.to_string()), toml_edit::value(value)),
    };
    match param.check(name, &raw) {
        Ok(_) => {
            table.insert(name, item);
        }
        Err(problem) => {
            comments.push(format!(
                "# {name} = {value:?}   WARNING: {}; kept as a comment",
                problem.problem
            ));
            out.note(
                Severity::Warning,
                format!(
                    "{file}: {name} = {value:?}: {}; kept as a comment",
                    problem.problem
                ),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tree(files: &[(&str, &str)]) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        for (name, text) in files {
            std::fs::write(dir.path().join(name), text).unwrap();
        }
        dir
    }

    fn converted(files: &[(&str, &str)]) -> (String, Vec<Note>) {
        let dir = tree(files);
        let (document, notes) = convert(read_tree(dir.path()).unwrap(), dir.path());
        (document.to_string(), notes)
    }

    fn has(notes: &[Note], text: &str) -> bool {
        notes.iter().any(|n| n.text.contains(text))
    }

    #[test]
    fn xml_elements_without_comments() {
        let xml = read_xml(
            "XMLDefault.cnf.xml",
            "<Default>\r\n<processNodeName>10.0.0.5</processNodeName>\r\n\
             <!-- <loadInformation7 model=\"IP Phone 7960\">P0S3-8-11-00</loadInformation7> -->\r\n\
             <loadInformation8 model='IP Phone 7940'>P0S3-8-12-00</loadInformation8>\r\n\
             <loadInformation7>P0S3-08-11-00</loadInformation7>\r\n</Default>",
        );
        assert_eq!(xml.node.as_deref(), Some("10.0.0.5"));
        assert_eq!(
            xml.loads,
            [
                (Some(Model::Cp7940), "P0S3-8-12-00".to_string()),
                (Some(Model::Cp7960), "P0S3-08-11-00".to_string())
            ]
        );
    }

    #[test]
    fn nothing_is_dropped_silently() {
        let (text, notes) = converted(&[
            (
                "SIPDefault.cnf",
                "proxy1_address: 10.0.0.9\nfoo_bar: 1\nline1_name: shared\ntelnet_level: 7\ndst_start_day: \"\"\n",
            ),
            ("sip0018b9ffffff.cnf", "line1_name: 100 1\nline3_name: 103\nnat_enable: 1\n"),
        ]);
        for line in [
            "# foo_bar = \"1\"   WARNING: not a parameter",
            "# line1_name = \"shared\"   WARNING",
            "# telnet_level = \"7\"   WARNING: expected a whole number from 0 to 2",
            "# dst_start_day = \"\"   WARNING",
            "# line1_name = \"100 1\"   WARNING: not a SIP user name",
            "nat_enable = 1",
            "lines = [\n    { name = \"103\" },\n]",
        ] {
            assert!(text.contains(line), "{line:?} missing from:\n{text}");
        }
        assert!(has(&notes, "unknown parameter foo_bar"));
        assert!(has(&notes, "line 3 (103) becomes line 1"));
        assert!(has(&notes, "no password"));
    }

    #[test]
    fn model_from_sep_then_lines_then_xmldefault() {
        let sep = "<device><deviceProtocol>SCCP</deviceProtocol>\
                   <loadInformation model=\"IP Phone 7940\">P00308010200</loadInformation></device>";
        let (text, notes) = converted(&[
            ("SEP0018B9000001.cnf.xml", sep),
            ("SIP0018B9000002.cnf", "line3_name: 3\n"),
            ("SIP0018B9000003.cnf", "line1_name: 1\n"),
        ]);
        let phones: Vec<&str> = text.split("# From ").skip(1).collect();
        assert!(
            phones[0].contains("model = \"7940\"") && phones[0].contains("protocol = \"sccp\"")
        );
        assert!(phones[1].contains("model = \"7960\"") && !phones[1].contains("TODO"));
        assert!(
            phones[2].contains("model = \"7960\"") && phones[2].contains("TODO check the model")
        );
        assert!(text.contains("sccp = \"P00308010200\""), "{text}");
        assert!(has(&notes, "00:18:B9:00:00:03: model 7960 unknown"));
    }

    #[test]
    fn phone_files_under_tftp_cfg_dir() {
        let dir = tree(&[("SIPDefault.cnf", "tftp_cfg_dir: \"./sip_phone/\"\n")]);
        std::fs::create_dir(dir.path().join("sip_phone")).unwrap();
        std::fs::write(
            dir.path().join("sip_phone/SIP0018B9000001.cnf"),
            "line1_name: 7\n",
        )
        .unwrap();
        let (document, _) = convert(read_tree(dir.path()).unwrap(), dir.path());
        let text = document.to_string();
        assert!(
            text.contains("# From sip_phone/SIP0018B9000001.cnf"),
            "{text}"
        );
        assert!(text.contains("tftp_cfg_dir = \"./sip_phone/\""), "{text}");
    }

    #[test]
    fn a_loader_in_os79xx() {
        let (text, _) = converted(&[
            ("OS79XX.TXT", "P003-8-12-00\r\n"),
            ("SIPDefault.cnf", "image_version: P0S3-8-12-00\n"),
        ]);
        assert!(text.contains("sip = \"P0S3-8-12-00\""), "{text}");
        assert!(text.contains("os79xx = \"loader\""), "{text}");
    }
}
