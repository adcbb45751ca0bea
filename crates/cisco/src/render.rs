//! The files phones ask for, generated on the fly from the site (reference
//! §2, §4, §5), each linted before it is served.
//!
//! Safety rule: a file whose name carries no MAC (`OS79XX.TXT`,
//! `XMLDefault.cnf.xml`) changes the firmware of whichever phone reads it, so
//! it names a load only for a phone identified as one of the site's; every
//! other phone gets nothing that changes its firmware. A MAC-named file
//! (`SEP<MAC>.cnf.xml`, `SIP<MAC>.cnf`) exists only for the site's phones.

use std::path::Path;
use std::sync::Arc;

use bytes::Bytes;
use minijinja::{context, Environment};
use serde::Serialize;

use crate::cnf;
use crate::ladder::{self, FirmwareWatch, Plan, Reader};
use crate::load::LoadName;
use crate::params::{self, ParamValue, RawValue};
use crate::phone::{Mac, PhoneFile};
use crate::ring;
use crate::services;
use crate::site::{DialUser, Os79xxName, Phone, Site, TargetProtocol};

/// The generated files, by the name phones use (matched case-insensitively).
pub const GENERATED: [&str; 6] = [
    "OS79XX.TXT",
    "SIPDefault.cnf",
    "XMLDefault.cnf.xml",
    "RINGLIST.DAT",
    "dialplan.xml",
    "syncinfo.xml",
];

/// Every file phoneprov generates for the phone `mac`, by the names it asks
/// for: its own two (`SEP<MAC>.cnf.xml`, `SIP<MAC>.cnf`), then [`GENERATED`].
pub fn generated_for(mac: Mac) -> Vec<String> {
    [PhoneFile::SepXml.name(mac), PhoneFile::SipCnf.name(mac)]
        .into_iter()
        .chain(GENERATED.iter().map(|name| name.to_string()))
        .collect()
}

/// The embedded templates; a templates folder may override any of them.
const TEMPLATES: [(&str, &str); 7] = [
    (
        "SIPDefault.cnf",
        include_str!("../templates/SIPDefault.cnf"),
    ),
    ("SIPMAC.cnf", include_str!("../templates/SIPMAC.cnf")),
    (
        "SEPMAC.cnf.xml",
        include_str!("../templates/SEPMAC.cnf.xml"),
    ),
    (
        "XMLDefault.cnf.xml",
        include_str!("../templates/XMLDefault.cnf.xml"),
    ),
    ("RINGLIST.DAT", include_str!("../templates/RINGLIST.DAT")),
    ("dialplan.xml", include_str!("../templates/dialplan.xml")),
    ("syncinfo.xml", include_str!("../templates/syncinfo.xml")),
];

/// What the generator says about a requested name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    /// A generated file.
    File(GeneratedFile),
    /// A name the generator owns, with nothing for this requester.
    NotFound(String),
    /// Not a generated name: look in the firmware folder.
    NotGenerated,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GeneratedFile {
    /// The canonical name, e.g. `SIP0018B9FFFFFF.cnf`.
    pub name: String,
    pub content: Bytes,
}

#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    #[error("template {name}: {source}")]
    Template {
        name: String,
        #[source]
        source: minijinja::Error,
    },
    #[error("cannot read the templates folder {path}: {source}")]
    Folder {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{file} would hold an invalid value: {problem}")]
    Value { file: String, problem: String },
    #[error("{file} failed its lint: {problems}")]
    Lint { file: String, problems: String },
}

/// The file generator of one site.
pub struct Provisioning {
    env: Environment<'static>,
    site: Site,
    sync: SyncValue,
    /// What the phones run and which loads are on hand, for their rungs.
    watch: Option<Arc<dyn FirmwareWatch>>,
}

/// The `sync` value every phone is given in SIPDefault.cnf and finds in
/// syncinfo.xml, shared between the server that serves the files and the
/// code that reboots phones (reference §9.2): a phone told to check-sync
/// reboots when syncinfo.xml's SYNC differs from the `sync` it runs with,
/// and after the reboot runs with the new value, so it reboots once.
#[derive(Debug, Clone)]
pub struct SyncValue(std::sync::Arc<std::sync::atomic::AtomicU32>);

impl SyncValue {
    pub fn new(value: u32) -> SyncValue {
        SyncValue(std::sync::Arc::new(value.into()))
    }

    pub fn get(&self) -> u32 {
        self.0.load(std::sync::atomic::Ordering::SeqCst)
    }

    /// A value no phone runs with yet; returns it.
    pub fn advance(&self) -> u32 {
        self.0.fetch_add(1, std::sync::atomic::Ordering::SeqCst) + 1
    }
}

#[derive(Serialize)]
struct Rendered {
    name: String,
    value: String,
}

#[derive(Serialize)]
struct LoadEntry {
    device_type: u16,
    model_string: &'static str,
    name: String,
}

impl Provisioning {
    /// A generator for `site`, with the embedded templates overridden by any
    /// file of the same name in `templates`.
    pub fn new(site: Site, templates: Option<&Path>) -> Result<Provisioning, RenderError> {
        let mut env = Environment::new();
        env.set_keep_trailing_newline(true);
        for (name, embedded) in TEMPLATES {
            let source = match templates.map(|dir| dir.join(name)).filter(|p| p.is_file()) {
                Some(path) => {
                    std::fs::read_to_string(&path).map_err(|source| RenderError::Folder {
                        path: path.display().to_string(),
                        source,
                    })?
                }
                None => embedded.to_string(),
            };
            env.add_template_owned(name, source)
                .map_err(|source| RenderError::Template {
                    name: name.into(),
                    source,
                })?;
        }
        let provisioning = Provisioning {
            env,
            site,
            sync: SyncValue::new(1),
            watch: None,
        };
        // Render everything once so a broken template or value fails at start.
        provisioning.render_all()?;
        Ok(provisioning)
    }

    /// Renders `sync` from `value`, which the reboot code advances.
    pub fn with_sync(mut self, value: SyncValue) -> Provisioning {
        self.sync = value;
        self
    }

    /// Chooses each phone's rung from what `watch` saw and has on hand
    /// (without one, every phone is told its target).
    pub fn with_watch(mut self, watch: Arc<dyn FirmwareWatch>) -> Provisioning {
        self.watch = Some(watch);
        self
    }

    pub fn watch(&self) -> Option<Arc<dyn FirmwareWatch>> {
        self.watch.clone()
    }

    pub fn sync(&self) -> &SyncValue {
        &self.sync
    }

    pub fn site(&self) -> &Site {
        &self.site
    }

    /// Answers a request for `path` from `requester` (the phone's MAC when
    /// known from the name or the network).
    pub fn answer(&self, path: &str, requester: Option<Mac>) -> Answer {
        match self.try_answer(path, requester) {
            Ok(answer) => answer,
            Err(e) => Answer::NotFound(format!("phoneprov could not generate it: {e}")),
        }
    }

    fn try_answer(&self, path: &str, requester: Option<Mac>) -> Result<Answer, RenderError> {
        let file_name = path.rsplit('/').next().unwrap_or(path);
        if let Some((kind, mac)) = PhoneFile::parse(file_name) {
            let Some(phone) = self.site.phone(mac) else {
                return Ok(Answer::NotFound(format!(
                    "{} is not in phoneprov.toml",
                    mac.colons()
                )));
            };
            return match kind {
                PhoneFile::SepXml => self.file(kind.name(mac), self.sep_xml(phone)),
                PhoneFile::SipCnf => self.file(kind.name(mac), self.sip_cnf(phone)),
                PhoneFile::TrustList => Ok(Answer::NotFound(
                    "no trust list: phoneprov provisions phones in non-secure mode".into(),
                )),
                PhoneFile::SepBinary | PhoneFile::MgcpCnf => Ok(Answer::NotFound(
                    "phoneprov does not generate the old binary SCCP or the MGCP file".into(),
                )),
            };
        }
        let Some(name) = GENERATED
            .into_iter()
            .find(|name| name.eq_ignore_ascii_case(file_name))
        else {
            return Ok(Answer::NotGenerated);
        };
        let phone = requester.and_then(|mac| self.site.phone(mac));
        match name {
            "OS79XX.TXT" => match phone.and_then(|p| self.os79xx(p)) {
                Some(content) => self.file(name.into(), Ok(content)),
                None => Ok(Answer::NotFound(
                    "OS79XX.TXT names a load only for a phone listed in phoneprov.toml".into(),
                )),
            },
            "SIPDefault.cnf" => self.file(name.into(), self.sip_default()),
            "XMLDefault.cnf.xml" => self.file(name.into(), self.xml_default(phone)),
            // Empty without rings: RINGLIST.DAT has no comment syntax.
            "RINGLIST.DAT" => self.file(
                name.into(),
                self.render("RINGLIST.DAT", context! { rings => &self.site.rings }),
            ),
            "dialplan.xml" => self.file(name.into(), self.dialplan()),
            _ => self.file(name.into(), self.syncinfo()),
        }
    }

    fn file(
        &self,
        name: String,
        content: Result<String, RenderError>,
    ) -> Result<Answer, RenderError> {
        let content = content?;
        let problems = lint(&name, &content);
        if !problems.is_empty() {
            return Err(RenderError::Lint {
                file: name,
                problems: problems.join("; "),
            });
        }
        Ok(Answer::File(GeneratedFile {
            name,
            content: Bytes::from(content),
        }))
    }

    /// Every file for every phone, for `export` and the start-up check.
    pub fn render_all(&self) -> Result<Vec<GeneratedFile>, RenderError> {
        let mut names: Vec<(String, Option<Mac>)> = GENERATED
            .iter()
            .filter(|name| **name != "OS79XX.TXT")
            .map(|name| (name.to_string(), None))
            .collect();
        for phone in &self.site.phones {
            names.push((PhoneFile::SepXml.name(phone.mac), None));
            names.push((PhoneFile::SipCnf.name(phone.mac), None));
        }
        let mut files = Vec::new();
        for (name, requester) in names {
            if let Answer::File(file) = self.try_answer(&name, requester)? {
                files.push(file);
            }
        }
        Ok(files)
    }

    fn render(&self, template: &str, ctx: minijinja::Value) -> Result<String, RenderError> {
        self.env
            .get_template(template)
            .and_then(|t| t.render(ctx))
            .map_err(|source| RenderError::Template {
                name: template.into(),
                source,
            })
    }

    /// The load `phone` should end up running.
    pub fn target(&self, phone: &Phone) -> Option<&LoadName> {
        self.site.firmware.target(phone.model, phone.protocol)
    }

    /// `phone`'s way to its target, from what it was seen running (else its
    /// declared `current`, else what `reader` implies); None without a target.
    /// Without a watch (a static export, which cannot step phones along a
    /// ladder) the way is the target alone.
    pub fn plan(&self, phone: &Phone, reader: Reader) -> Option<Plan> {
        let target = self.target(phone)?;
        let Some(watch) = &self.watch else {
            return Some(Plan {
                target: target.clone(),
                rungs: vec![target.clone()],
                stop: None,
            });
        };
        let observed = watch.running(phone.mac);
        let from = ladder::position(observed.as_ref(), phone.current.as_ref(), reader);
        Some(self.site.ladder.plan(&from, target, &watch.loads()))
    }

    /// The load to tell `phone` about in the file `reader` reads: the next
    /// rung of its plan. None leaves its firmware as it is.
    fn rung(&self, phone: &Phone, reader: Reader) -> Option<LoadName> {
        self.plan(phone, reader)?.next().cloned()
    }

    fn sip_default(&self) -> Result<String, RenderError> {
        let (host, port) = self.site.proxy();
        let mut built_in: Vec<(&str, RawValue)> = vec![
            ("proxy1_address", RawValue::Text(host)),
            ("proxy1_port", RawValue::Integer(i64::from(port))),
            ("proxy_register", RawValue::Integer(1)),
            ("sync", RawValue::Text(self.sync.get().to_string())),
        ];
        if let Some(clock) = &self.site.clock {
            built_in.extend(clock.params());
        }
        if let Some(ntp) = &self.site.ntp {
            built_in.push(("sntp_server", RawValue::Text(ntp.clone())));
            built_in.push(("sntp_mode", RawValue::Text("unicast".into())));
        }
        // The phones' own XML services; [defaults] may point elsewhere.
        for (param, path) in [
            ("directory_url", services::DIRECTORY),
            ("services_url", services::MENU),
        ] {
            if let Some(url) = self.site.services_url(path) {
                built_in.push((param, RawValue::Text(url)));
            }
        }
        let params = merge(checked("SIPDefault.cnf", built_in)?, &self.site.defaults);
        self.render(
            "SIPDefault.cnf",
            context! { site => self.site.name.clone(), params => params },
        )
    }

    fn sip_cnf(&self, phone: &Phone) -> Result<String, RenderError> {
        let file = PhoneFile::SipCnf.name(phone.mac);
        let mut values: Vec<(String, RawValue)> = Vec::new();
        if let Some(load) = self.rung(phone, Reader::SipApplication) {
            values.push(("image_version".into(), RawValue::Text(load.to_string())));
        }
        for n in 1..=phone.model.lines() {
            let text = |s: &str| RawValue::Text(s.to_string());
            match phone.lines.get(n - 1) {
                Some(line) => {
                    values.push((format!("line{n}_name"), text(&line.name)));
                    values.push((format!("line{n}_authname"), text(line.authname())));
                    values.push((format!("line{n}_password"), text(line.password.reveal())));
                    if let Some(display) = &line.display {
                        values.push((format!("line{n}_displayname"), text(display)));
                    }
                    if let Some(label) = &line.label {
                        values.push((format!("line{n}_shortname"), text(label)));
                    }
                }
                None => {
                    values.push((format!("line{n}_name"), text("")));
                    values.push((format!("line{n}_authname"), text("UNPROVISIONED")));
                    values.push((format!("line{n}_password"), text("UNPROVISIONED")));
                }
            }
        }
        let named: Vec<(&str, RawValue)> = values
            .iter()
            .map(|(n, v)| (n.as_str(), v.clone()))
            .collect();
        let params = merge(checked(&file, named)?, &phone.params);
        self.render(
            "SIPMAC.cnf",
            context! {
                file => file,
                model => phone.model.number(),
                description => phone.description.clone(),
                params => params,
            },
        )
    }

    fn sep_xml(&self, phone: &Phone) -> Result<String, RenderError> {
        self.render(
            "SEPMAC.cnf.xml",
            context! {
                protocol => match phone.protocol {
                    TargetProtocol::Sip => "SIP",
                    TargetProtocol::Sccp => "SCCP",
                },
                model_string => phone.model.model_string(),
                load => self.rung(phone, Reader::Loader).map(|l| l.to_string()),
            },
        )
    }

    fn xml_default(&self, phone: Option<&Phone>) -> Result<String, RenderError> {
        let loads: Vec<LoadEntry> = phone
            .and_then(|phone| {
                self.rung(phone, Reader::Loader).map(|load| LoadEntry {
                    device_type: phone.model.device_type(),
                    model_string: phone.model.model_string(),
                    name: load.to_string(),
                })
            })
            .into_iter()
            .collect();
        let (_, sip_port) = self.site.proxy();
        self.render(
            "XMLDefault.cnf.xml",
            context! { server => self.site.server.to_string(), sip_port => sip_port, loads => loads },
        )
    }

    /// OS79XX.TXT for a phone on the old boot path: one load name and CR LF.
    fn os79xx(&self, phone: &Phone) -> Option<String> {
        let load = self.rung(phone, Reader::OldBoot)?;
        let name = match self.site.firmware.os79xx {
            Os79xxName::Application => load.to_string(),
            Os79xxName::Loader => load.loader().unwrap_or_else(|| load.to_string()),
        };
        Some(format!("{name}\r\n"))
    }

    fn dialplan(&self) -> Result<String, RenderError> {
        #[derive(Serialize)]
        struct Rule {
            pattern: String,
            timeout: u8,
            user: Option<&'static str>,
            rewrite: Option<String>,
        }
        let rules: Vec<Rule> = if self.site.dialplan.is_empty() {
            // Dial whatever was typed after 5 seconds, or at once on #.
            vec![Rule {
                pattern: "*".into(),
                timeout: 5,
                user: None,
                rewrite: None,
            }]
        } else {
            self.site
                .dialplan
                .iter()
                .map(|rule| Rule {
                    pattern: rule.pattern.clone(),
                    timeout: rule.timeout,
                    user: rule.user.map(|u| match u {
                        DialUser::Phone => "Phone",
                        DialUser::Ip => "IP",
                    }),
                    rewrite: rule.rewrite.clone(),
                })
                .collect()
        };
        self.render("dialplan.xml", context! { rules => rules })
    }

    fn syncinfo(&self) -> Result<String, RenderError> {
        self.render(
            "syncinfo.xml",
            context! { sync => self.sync.get().to_string() },
        )
    }
}

/// Checks built-in values against the parameter table.
fn checked(
    file: &str,
    values: Vec<(&str, RawValue)>,
) -> Result<Vec<(String, ParamValue)>, RenderError> {
    values
        .into_iter()
        .map(|(name, value)| {
            let param = params::lookup(name).ok_or_else(|| RenderError::Value {
                file: file.into(),
                problem: format!("{name} is not a known parameter"),
            })?;
            param
                .check(name, &value)
                .map(|(checked, _)| (name.to_string(), checked))
                .map_err(|problem| RenderError::Value {
                    file: file.into(),
                    problem: problem.to_string(),
                })
        })
        .collect()
}

/// `base` with `overrides` applied: a name set in both takes the override's
/// value, in the base's place; new names follow.
fn merge(base: Vec<(String, ParamValue)>, overrides: &[(String, ParamValue)]) -> Vec<Rendered> {
    let mut merged = base;
    for (name, value) in overrides {
        match merged.iter_mut().find(|(n, _)| n == name) {
            Some(slot) => slot.1 = value.clone(),
            None => merged.push((name.clone(), value.clone())),
        }
    }
    merged
        .into_iter()
        .map(|(name, value)| Rendered {
            name,
            value: value.rendered(),
        })
        .collect()
}

/// What is wrong with a generated file, if anything: trailing spaces, CR in
/// a .cnf or XML file, unknown parameters, an OS79XX.TXT that is not one
/// load name.
pub fn lint(name: &str, content: &str) -> Vec<String> {
    let mut problems = Vec::new();
    if name == "OS79XX.TXT" {
        let body = content.strip_suffix("\r\n").unwrap_or(content);
        if body.contains(char::is_whitespace) || LoadName::parse(body).is_err() {
            problems.push(format!("OS79XX.TXT must hold one load name, not {body:?}"));
        }
        return problems;
    }
    for (index, line) in content.split('\n').enumerate() {
        if line.ends_with([' ', '\t']) {
            problems.push(format!("line {} ends in a space", index + 1));
        }
        if line.contains('\r') {
            problems.push(format!("line {} holds a carriage return", index + 1));
        }
    }
    if name.ends_with(".cnf") {
        match cnf::parse(content) {
            Ok(entries) => {
                for entry in entries {
                    if params::lookup(&entry.name).is_none() {
                        problems.push(format!(
                            "line {}: unknown parameter {}",
                            entry.line, entry.name
                        ));
                    }
                }
            }
            Err(e) => problems.push(e.to_string()),
        }
    } else if name == "RINGLIST.DAT" {
        problems.extend(ring::lint(content));
    } else if !content.trim_start().starts_with('<') {
        problems.push("an XML file must start with an element".into());
    }
    problems
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::params::{Kind, PARAMS};
    use crate::site::{FirmwareTargets, Line, Secret, SipTarget};
    use crate::Model;

    fn load(name: &str) -> LoadName {
        LoadName::parse(name).unwrap()
    }

    fn phone(mac: &str, model: Model, protocol: TargetProtocol, lines: usize) -> Phone {
        Phone {
            mac: mac.parse().unwrap(),
            model,
            protocol,
            description: Some(format!("{model} {protocol}")),
            lines: (1..=lines)
                .map(|n| Line {
                    name: format!("10{n:02}"),
                    display: Some(format!("Desk {n}")),
                    authname: None,
                    password: Secret::new(format!("pw{n}")),
                    label: (n == 1).then(|| "Main".into()),
                })
                .collect(),
            params: Vec::new(),
            current: None,
        }
    }

    fn site() -> Site {
        Site {
            name: "Head office".into(),
            clock: Some(crate::clock::ClockSettings::for_zone("Europe/Berlin", 2026).unwrap()),
            ntp: Some("10.0.0.1".into()),
            server: "10.0.0.1".parse().unwrap(),
            sip: SipTarget::Registrar { port: 5060 },
            firmware: FirmwareTargets {
                sip: Some(load("P0S3-8-12-00")),
                sccp: Some(load("P00308010200")),
                ..FirmwareTargets::default()
            },
            defaults: Vec::new(),
            dialplan: Vec::new(),
            rings: Vec::new(),
            ladder: Default::default(),
            services: Default::default(),
            phones: vec![
                phone("0018B9000040", Model::Cp7940, TargetProtocol::Sip, 2),
                phone("0018B9000060", Model::Cp7960, TargetProtocol::Sip, 3),
                phone("0018B9000041", Model::Cp7940, TargetProtocol::Sccp, 1),
                phone("0018B9000061", Model::Cp7960, TargetProtocol::Sccp, 0),
            ],
        }
    }

    fn text(answer: Answer) -> String {
        match answer {
            Answer::File(file) => String::from_utf8(file.content.to_vec()).unwrap(),
            other => panic!("not a file: {other:?}"),
        }
    }

    #[test]
    fn every_file_for_each_model_and_protocol() {
        let provisioning = Provisioning::new(site(), None).unwrap();
        for phone in &provisioning.site().phones {
            let mac = phone.mac;
            let label = format!("{}-{}", phone.model, phone.protocol);
            for name in [PhoneFile::SipCnf.name(mac), PhoneFile::SepXml.name(mac)] {
                insta::assert_snapshot!(
                    format!("{label}-{}", &name[..3]),
                    text(provisioning.answer(&name, None))
                );
            }
            insta::assert_snapshot!(
                format!("{label}-XMLDefault"),
                text(provisioning.answer("XMLDefault.cnf.xml", Some(mac)))
            );
            insta::assert_snapshot!(
                format!("{label}-OS79XX"),
                text(provisioning.answer("OS79XX.TXT", Some(mac)))
            );
        }
        for name in ["SIPDefault.cnf", "dialplan.xml", "syncinfo.xml"] {
            insta::assert_snapshot!(name, text(provisioning.answer(name, None)));
        }
    }

    #[test]
    fn ringlist_lists_the_rings_or_nothing() {
        let empty = Provisioning::new(site(), None).unwrap();
        assert_eq!(text(empty.answer("ringlist.dat", None)), "");
        let mut site = site();
        for (name, file) in [("Old phone", "rings/old-phone.raw"), ("Bell", "bell.raw")] {
            let name = ring::RingName::new(name).unwrap();
            site.rings.push(ring::Ring::new(name, file).unwrap());
        }
        let provisioning = Provisioning::new(site, None).unwrap();
        insta::assert_snapshot!(
            "RINGLIST.DAT",
            text(provisioning.answer("RINGLIST.DAT", None))
        );
    }

    #[test]
    fn unknown_phones_get_nothing_that_changes_firmware() {
        let provisioning = Provisioning::new(site(), None).unwrap();
        let stranger: Mac = "0018B9123456".parse().unwrap();
        for name in ["SIP0018B9123456.cnf", "SEP0018B9123456.cnf.xml"] {
            assert!(
                matches!(provisioning.answer(name, None), Answer::NotFound(_)),
                "{name}"
            );
        }
        for requester in [None, Some(stranger)] {
            assert!(matches!(
                provisioning.answer("OS79XX.TXT", requester),
                Answer::NotFound(_)
            ));
            let default = text(provisioning.answer("XMLDefault.cnf.xml", requester));
            assert!(!default.contains("loadInformation"), "{default}");
            assert!(
                !text(provisioning.answer("SIPDefault.cnf", requester)).contains("image_version")
            );
        }
    }

    #[test]
    fn names_match_in_any_case_and_with_a_directory() {
        let provisioning = Provisioning::new(site(), None).unwrap();
        let Answer::File(file) = provisioning.answer("./sip0018b9000040.CNF", None) else {
            panic!()
        };
        assert_eq!(file.name, "SIP0018B9000040.cnf");
        assert!(matches!(
            provisioning.answer("xmlDefault.CNF.XML", None),
            Answer::File(_)
        ));
        assert_eq!(
            provisioning.answer("P0S3-8-12-00.sb2", None),
            Answer::NotGenerated
        );
        assert!(matches!(
            provisioning.answer("CTLSEP0018B9000040.tlv", None),
            Answer::NotFound(_)
        ));
    }

    #[test]
    fn os79xx_can_name_the_loader() {
        let mut site = site();
        site.firmware.os79xx = Os79xxName::Loader;
        let provisioning = Provisioning::new(site, None).unwrap();
        let mac = "0018B9000040".parse().unwrap();
        assert_eq!(
            text(provisioning.answer("OS79XX.TXT", Some(mac))),
            "P003-8-12-00\r\n"
        );
    }

    /// A valid sample value for every parameter of the table.
    fn sample(kind: Kind) -> RawValue {
        match kind {
            Kind::Switch | Kind::Feature => RawValue::Integer(1),
            Kind::Number { min, .. } => RawValue::Integer(min),
            Kind::Choice(choices) => RawValue::Text(choices[0].into()),
            Kind::Text { .. } => RawValue::Text("x".into()),
            Kind::DottedIp => RawValue::Text("10.0.0.9".into()),
            Kind::Host => RawValue::Text("pbx.example".into()),
            Kind::Url => RawValue::Text("http://10.0.0.1/x".into()),
            Kind::Load => RawValue::Text("P0S3-8-12-00".into()),
        }
    }

    #[test]
    fn a_config_that_sets_every_parameter() {
        let mut site = site();
        // `sync` is phoneprov's own (see SyncValue): the config refuses it.
        site.defaults = PARAMS
            .iter()
            .filter(|p| !p.name.starts_with("lineN_") && p.name != "sync")
            .map(|p| {
                let name = p.name.replace('N', "1");
                let value = p.check(&name, &sample(p.kind)).unwrap().0;
                (name, value)
            })
            .collect();
        let provisioning = Provisioning::new(site, None).unwrap();
        let default = text(provisioning.answer("SIPDefault.cnf", None));
        for param in PARAMS.iter().filter(|p| !p.name.starts_with("lineN_")) {
            assert!(
                default.contains(&format!("\n{}: ", param.name.replace('N', "1"))),
                "{}",
                param.name
            );
        }
        insta::assert_snapshot!("SIPDefault-every-parameter", default);
    }

    #[test]
    fn service_urls_point_at_phoneprov_unless_the_operator_set_them() {
        let default = |site: &Site| {
            let provisioning = Provisioning::new(site.clone(), None).unwrap();
            text(provisioning.answer("SIPDefault.cnf", None))
        };
        let mut site = site();
        assert!(!default(&site).contains("_url"), "{}", default(&site));
        site.services.http = Some("10.0.0.1:8080".parse().unwrap());
        let served = default(&site);
        let directory = "\ndirectory_url: \"http://10.0.0.1:8080/services/directory\"\n";
        assert!(served.contains(directory), "{served}");
        let menu = "\nservices_url: \"http://10.0.0.1:8080/services/menu\"\n";
        assert!(served.contains(menu), "{served}");
        let own = RawValue::Text("http://10.0.0.9/phonebook.xml".into());
        let own = params::lookup("directory_url")
            .unwrap()
            .check("directory_url", &own);
        site.defaults = vec![("directory_url".into(), own.unwrap().0)];
        let chosen = default(&site);
        assert!(!chosen.contains("/services/directory"), "{chosen}");
        assert!(chosen.contains("\ndirectory_url: \"http://10.0.0.9/phonebook.xml\"\n"));
        assert!(chosen.contains(menu), "{chosen}");
    }

    #[test]
    fn a_new_sync_value_reaches_sipdefault_and_syncinfo_together() {
        let sync = SyncValue::new(41);
        let provisioning = Provisioning::new(site(), None)
            .unwrap()
            .with_sync(sync.clone());
        let both = || {
            (
                text(provisioning.answer("SIPDefault.cnf", None)),
                text(provisioning.answer("syncinfo.xml", None)),
            )
        };
        let (default, syncinfo) = both();
        assert!(default.contains("\nsync: \"41\"\n"), "{default}");
        assert!(syncinfo.contains("SYNC=\"41\""), "{syncinfo}");
        assert_eq!(sync.advance(), 42);
        let (default, syncinfo) = both();
        assert!(default.contains("\nsync: \"42\"\n"), "{default}");
        assert!(syncinfo.contains("SYNC=\"42\""), "{syncinfo}");
    }

    #[test]
    fn broken_override_template_fails_at_start() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("SIPDefault.cnf"),
            "{% for p in params %}{{ p.name }}: {{ p.value }}  \n{% endfor %}",
        )
        .unwrap();
        let error = Provisioning::new(site(), Some(dir.path())).err().unwrap();
        assert!(error.to_string().contains("ends in a space"), "{error}");
        std::fs::write(dir.path().join("SIPDefault.cnf"), "{% for %}").unwrap();
        assert!(matches!(
            Provisioning::new(site(), Some(dir.path())),
            Err(RenderError::Template { .. })
        ));
    }

    #[test]
    fn lint_catches_what_phones_trip_on() {
        assert!(lint("OS79XX.TXT", "P0S3-8-12-00 \r\n")[0].contains("one load name"));
        assert!(lint("OS79XX.TXT", "P0S3-8-12-00\r\n").is_empty());
        assert!(lint("SIPDefault.cnf", "telnet_lvl: 0\n")[0].contains("unknown parameter"));
        assert!(lint("SIPDefault.cnf", "telnet_level: 0\r\n")[0].contains("carriage return"));
        assert!(lint("dialplan.xml", "oops")[0].contains("XML"));
    }
}
