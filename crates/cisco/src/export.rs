//! `phoneprov export`: the whole tree a phone could fetch, for operators who
//! keep their own TFTP server. Every file is resolved through [`PhoneFiles`],
//! the resolver TFTP serves from, so the tree holds exactly what phoneprov
//! would send.
//!
//! Two things cannot be one file on a plain TFTP server, because phoneprov
//! answers them per phone and names a load only to the phones it identifies:
//! `OS79XX.TXT`, and the `loadInformation` of `XMLDefault.cnf.xml`. The tree
//! gets the generic `XMLDefault.cnf.xml` (the one unidentified phones get),
//! and `OS79XX.TXT` only when every listed phone that reads it would be told
//! the same load. Each listed phone's `SEP<MAC>.cnf.xml`, which the
//! application loader reads before `XMLDefault.cnf.xml`, still names its load.

use std::fs;
use std::io;
use std::net::SocketAddr;
use std::path::Path;

use bytes::Bytes;
use phoneprov_tftp::{RequestName, Resolution};

use crate::files::PhoneFiles;
use crate::load::Era;
use crate::phone::{Mac, PhoneFile};
use crate::render::{Answer, RenderError};

/// The name phoneprov answers per phone, written only when all agree.
pub const OS79XX: &str = "OS79XX.TXT";

/// One file of the tree.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExportedFile {
    /// Relative path with `/` separators, as a phone asks for it.
    pub path: String,
    pub content: Bytes,
    /// Generated from the site, not copied from the firmware folder.
    pub generated: bool,
}

/// A file of the firmware folder that the tree leaves out, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeftOut {
    pub path: String,
    pub reason: String,
}

/// What became of `OS79XX.TXT`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Os79xxExport {
    /// Every phone that reads it is told the same load: it is in the tree.
    Written { load: String, phones: Vec<Mac> },
    /// No listed phone would read it (none has a target, or every one is
    /// known to run a loader-era load, which never asks for it).
    Unread,
    /// Phones would be told different loads: it is not in the tree.
    Differs(Vec<(String, Vec<Mac>)>),
}

/// The tree `phoneprov export` writes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExportTree {
    /// Sorted by path.
    pub files: Vec<ExportedFile>,
    pub os79xx: Os79xxExport,
    pub left_out: Vec<LeftOut>,
}

#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    #[error(transparent)]
    Render(#[from] RenderError),
    #[error("{name}: phoneprov would not serve it ({reason})")]
    NotServed { name: String, reason: String },
    #[error("cannot list {path}: {source}")]
    Folder {
        path: String,
        #[source]
        source: io::Error,
    },
}

/// The address handed to the resolver: export asks on nobody's behalf, and
/// names the requesting phone explicitly.
const NOBODY: SocketAddr =
    SocketAddr::new(std::net::IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED), 0);

impl PhoneFiles {
    /// Every file a phone could fetch: the generated files (per-phone files
    /// for each listed phone, the generic ones as an unidentified phone gets
    /// them, `OS79XX.TXT` when all its readers agree), then every firmware
    /// and static file TFTP would serve from the firmware folder.
    pub fn export(&self) -> Result<ExportTree, ExportError> {
        let mut files = Vec::new();
        // Phones ask for SIP<MAC>.cnf under tftp_cfg_dir when SIPDefault.cnf sets it.
        let provisioning = self.provisioning();
        let folder = provisioning
            .site()
            .defaults
            .iter()
            .find(|(name, _)| name == "tftp_cfg_dir")
            .and_then(|(_, value)| cfg_folder(value.as_str()));
        for generated in provisioning.render_all()? {
            let parsed = PhoneFile::parse(&generated.name);
            let content = self.served(&generated.name, parsed.map(|(_, mac)| mac))?;
            let path = match (&folder, parsed) {
                (Some(folder), Some((PhoneFile::SipCnf, _))) => {
                    format!("{folder}/{}", generated.name)
                }
                _ => generated.name,
            };
            files.push(ExportedFile {
                path,
                content,
                generated: true,
            });
        }
        let (os79xx, content) = self.os79xx();
        if let Some(content) = content {
            files.push(ExportedFile {
                path: OS79XX.into(),
                content,
                generated: true,
            });
        }
        let mut left_out = Vec::new();
        let root = self.firmware().root().to_path_buf();
        let mut found = Vec::new();
        walk(&root, "", &mut found)?;
        for path in found {
            match self.static_file(&path) {
                Ok(content) => files.push(ExportedFile {
                    path,
                    content,
                    generated: false,
                }),
                Err(reason) => left_out.push(LeftOut { path, reason }),
            }
        }
        files.sort_by(|a, b| a.path.cmp(&b.path));
        Ok(ExportTree {
            files,
            os79xx,
            left_out,
        })
    }

    /// What TFTP sends for `name` to `requester`, which must be a file.
    fn served(&self, name: &str, requester: Option<Mac>) -> Result<Bytes, ExportError> {
        let not_served = |reason: String| ExportError::NotServed {
            name: name.to_string(),
            reason,
        };
        let request = RequestName::parse(name.as_bytes()).map_err(|e| not_served(e.to_string()))?;
        match self.resolve_for(&request, requester, NOBODY) {
            Resolution::Found(file) => Ok(file.content),
            Resolution::NotFound { reason } | Resolution::Denied { reason } => {
                Err(not_served(reason))
            }
        }
    }

    /// A firmware-folder file as an unidentified phone gets it, or why the
    /// tree leaves it out.
    fn static_file(&self, path: &str) -> Result<Bytes, String> {
        let requester = PhoneFile::parse(path).map(|(_, mac)| mac);
        if self.provisioning().answer(path, requester) != Answer::NotGenerated {
            return Err(
                "phoneprov answers this name itself, so the folder's copy is never served".into(),
            );
        }
        self.served(path, requester).map_err(|e| match e {
            ExportError::NotServed { reason, .. } => reason,
            other => other.to_string(),
        })
    }

    /// Groups the listed phones that read OS79XX.TXT by what they are told;
    /// the file's content when they are all told the same.
    fn os79xx(&self) -> (Os79xxExport, Option<Bytes>) {
        let mut told: Vec<(Bytes, Vec<Mac>)> = Vec::new();
        for phone in &self.provisioning().site().phones {
            let Some(content) = reads_os79xx(phone)
                .then(|| self.served(OS79XX, Some(phone.mac)).ok())
                .flatten()
            else {
                continue;
            };
            match told.iter_mut().find(|(c, _)| *c == content) {
                Some((_, phones)) => phones.push(phone.mac),
                None => told.push((content, vec![phone.mac])),
            }
        }
        let load = |content: &Bytes| String::from_utf8_lossy(content).trim().to_string();
        match told.len() {
            0 => (Os79xxExport::Unread, None),
            1 => {
                let (content, phones) = told.remove(0);
                let load = load(&content);
                (Os79xxExport::Written { load, phones }, Some(content))
            }
            _ => (
                Os79xxExport::Differs(told.iter().map(|(c, p)| (load(c), p.clone())).collect()),
                None,
            ),
        }
    }
}

/// The folder a `tftp_cfg_dir` value names, relative to the TFTP root
/// (`"./sip_phone/"` → `sip_phone`); none for the root itself or a value a
/// TFTP server would refuse.
pub fn cfg_folder(tftp_cfg_dir: &str) -> Option<String> {
    let request = RequestName::parse(format!("{}/x", tftp_cfg_dir.trim()).as_bytes()).ok()?;
    let folder = request.path().strip_suffix('x')?.trim_end_matches('/');
    (!folder.is_empty()).then(|| folder.to_string())
}

/// A phone reads OS79XX.TXT unless it is known to run a loader-era load.
fn reads_os79xx(phone: &crate::site::Phone) -> bool {
    phone
        .current
        .as_ref()
        .is_none_or(|load| load.era() == Era::Os79xx)
}

/// Every non-directory entry under `dir`, as relative `/` paths, sorted.
/// Names that are not UTF-8 cannot be asked for over TFTP and are skipped.
fn walk(dir: &Path, prefix: &str, found: &mut Vec<String>) -> Result<(), ExportError> {
    let folder_error = |source| ExportError::Folder {
        path: dir.display().to_string(),
        source,
    };
    let mut entries: Vec<fs::DirEntry> = fs::read_dir(dir)
        .map_err(folder_error)?
        .collect::<Result<_, _>>()
        .map_err(folder_error)?;
    entries.sort_by_key(|e| e.file_name());
    for entry in entries {
        let Some(name) = entry.file_name().to_str().map(str::to_string) else {
            continue;
        };
        let path = format!("{prefix}{name}");
        if entry.file_type().map_err(folder_error)?.is_dir() {
            walk(&entry.path(), &format!("{path}/"), found)?;
        } else {
            found.push(path);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::files::FirmwareStore;
    use crate::load::LoadName;
    use crate::render::Provisioning;
    use crate::site::{FirmwareTargets, Line, Phone, Secret, SipTarget, Site, TargetProtocol};
    use crate::Model;

    fn phone(mac: &str, model: Model, protocol: TargetProtocol) -> Phone {
        Phone {
            mac: mac.parse().unwrap(),
            model,
            protocol,
            description: None,
            lines: vec![Line {
                name: "1001".into(),
                display: None,
                authname: None,
                password: Secret::new("pw"),
                label: None,
            }],
            params: Vec::new(),
            current: None,
        }
    }

    fn site(phones: Vec<Phone>) -> Site {
        Site {
            name: "Export".into(),
            clock: None,
            ntp: None,
            server: "10.0.0.1".parse().unwrap(),
            sip: SipTarget::Registrar { port: 5060 },
            firmware: FirmwareTargets {
                sip: Some(LoadName::parse("P0S3-8-12-00").unwrap()),
                sccp: Some(LoadName::parse("P00308010200").unwrap()),
                ..FirmwareTargets::default()
            },
            defaults: Vec::new(),
            dialplan: Vec::new(),
            rings: Vec::new(),
            ladder: Default::default(),
            services: Default::default(),
            phones,
        }
    }

    fn files_of(site: Site, firmware: &Path) -> PhoneFiles {
        PhoneFiles::new(
            Provisioning::new(site, None).unwrap(),
            FirmwareStore::open(firmware).unwrap(),
            Box::new(|_| None),
        )
    }

    fn firmware() -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        let write = |name: &str, content: &str| {
            let path = dir.path().join(name);
            fs::create_dir_all(path.parent().unwrap()).unwrap();
            fs::write(path, content).unwrap();
        };
        write("P0S3-8-12-00.sb2", "app");
        write("P0S3-8-12-00.loads", "loads");
        write("US/7960-tones.xml", "<tones/>");
        write("OS79XX.TXT", "P0S3-8-11-00");
        write("sipdefault.cnf", "proxy1_address: old");
        write("SIP0018B9AAAAAA.cnf", "line1_name: stranger");
        dir
    }

    fn paths(tree: &ExportTree) -> Vec<&str> {
        tree.files.iter().map(|f| f.path.as_str()).collect()
    }

    #[test]
    fn generated_and_static_files_as_served() {
        let dir = firmware();
        let sip = phone("0018B9000040", Model::Cp7940, TargetProtocol::Sip);
        let files = files_of(site(vec![sip]), dir.path());
        let tree = files.export().unwrap();
        assert_eq!(
            paths(&tree),
            [
                "OS79XX.TXT",
                "P0S3-8-12-00.loads",
                "P0S3-8-12-00.sb2",
                "RINGLIST.DAT",
                "SEP0018B9000040.cnf.xml",
                "SIP0018B9000040.cnf",
                "SIPDefault.cnf",
                "US/7960-tones.xml",
                "XMLDefault.cnf.xml",
                "dialplan.xml",
                "syncinfo.xml",
            ]
        );
        let file = |path: &str| tree.files.iter().find(|f| f.path == path).unwrap();
        assert_eq!(&file("OS79XX.TXT").content[..], b"P0S3-8-12-00\r\n");
        assert!(
            !String::from_utf8_lossy(&file("XMLDefault.cnf.xml").content)
                .contains("loadInformation")
        );
        assert!(!file("US/7960-tones.xml").generated);
        let left: Vec<&str> = tree.left_out.iter().map(|l| l.path.as_str()).collect();
        assert_eq!(
            left,
            ["OS79XX.TXT", "SIP0018B9AAAAAA.cnf", "sipdefault.cnf"]
        );
        assert!(tree.left_out[1].reason.contains("answers this name itself"));
        assert_eq!(
            tree.os79xx,
            Os79xxExport::Written {
                load: "P0S3-8-12-00".into(),
                phones: vec!["0018B9000040".parse().unwrap()],
            }
        );
    }

    #[test]
    fn os79xx_only_when_every_reader_agrees() {
        let dir = firmware();
        let sip = phone("0018B9000040", Model::Cp7940, TargetProtocol::Sip);
        let sccp = phone("0018B9000041", Model::Cp7940, TargetProtocol::Sccp);
        let tree = files_of(site(vec![sip.clone(), sccp.clone()]), dir.path())
            .export()
            .unwrap();
        assert!(!paths(&tree).contains(&"OS79XX.TXT"));
        let Os79xxExport::Differs(groups) = tree.os79xx else {
            panic!("{:?}", tree.os79xx)
        };
        assert_eq!(groups.len(), 2);
        // A phone known to run a loader-era load never reads it.
        let mut on_ual = sccp;
        on_ual.current = Some(LoadName::parse("P0S3-8-11-00").unwrap());
        let tree = files_of(site(vec![sip, on_ual.clone()]), dir.path())
            .export()
            .unwrap();
        assert!(paths(&tree).contains(&"OS79XX.TXT"));
        let tree = files_of(site(vec![on_ual]), dir.path()).export().unwrap();
        assert_eq!(tree.os79xx, Os79xxExport::Unread);
        assert!(!paths(&tree).contains(&"OS79XX.TXT"));
    }

    #[test]
    fn sip_mac_cnf_goes_where_tftp_cfg_dir_sends_phones() {
        for (value, folder) in [
            ("./sip_phone/", Some("sip_phone")),
            ("/a/b", Some("a/b")),
            ("./", None),
            ("", None),
            ("../up", None),
        ] {
            assert_eq!(cfg_folder(value).as_deref(), folder, "{value:?}");
        }
        let dir = firmware();
        let mut site = site(vec![phone(
            "0018B9000040",
            Model::Cp7940,
            TargetProtocol::Sip,
        )]);
        let param = crate::params::lookup("tftp_cfg_dir").unwrap();
        let value = param
            .check(
                "tftp_cfg_dir",
                &crate::params::RawValue::Text("./sip_phone/".into()),
            )
            .unwrap()
            .0;
        site.defaults.push(("tftp_cfg_dir".into(), value));
        let tree = files_of(site, dir.path()).export().unwrap();
        assert!(paths(&tree).contains(&"sip_phone/SIP0018B9000040.cnf"));
        assert!(paths(&tree).contains(&"SEP0018B9000040.cnf.xml"));
    }

    #[test]
    fn symlinks_out_of_the_folder_stay_out() {
        let dir = firmware();
        let outside = tempfile::tempdir().unwrap();
        fs::write(outside.path().join("secret"), "secret").unwrap();
        std::os::unix::fs::symlink(outside.path().join("secret"), dir.path().join("leak")).unwrap();
        let tree = files_of(site(Vec::new()), dir.path()).export().unwrap();
        assert!(!paths(&tree).contains(&"leak"));
        assert!(tree.left_out.iter().any(|l| l.path == "leak"));
    }

    mod cnf_round_trip {
        //! Every .cnf file of the tree, read back with the .cnf parser, holds
        //! exactly the values the site gave it, in order.

        use super::*;
        use crate::cnf;
        use crate::params::{Kind, ParamValue, RawValue, PARAMS};
        use proptest::prelude::*;

        /// Parameters phoneprov writes itself; the generated ones avoid them
        /// so the expected order stays simple.
        const BUILT_IN: [&str; 5] = [
            "image_version",
            "proxy1_address",
            "proxy1_port",
            "proxy_register",
            "sntp_server",
        ];

        /// Free text the phone takes: anything but quotes and control characters,
        /// with the .cnf syntax's own ; # : and spaces in the mix.
        fn text(max: usize) -> impl Strategy<Value = String> {
            proptest::string::string_regex(&format!("[a-zA-Z0-9 ;#:,.'!äöé*+_-]{{0,{max}}}"))
                .unwrap()
        }

        fn value(kind: Kind) -> BoxedStrategy<RawValue> {
            match kind {
                Kind::Switch => (0..=1i64).prop_map(RawValue::Integer).boxed(),
                Kind::Feature => (0..=3i64).prop_map(RawValue::Integer).boxed(),
                Kind::Number { min, max } => (min..=max).prop_map(RawValue::Integer).boxed(),
                Kind::Choice(choices) => proptest::sample::select(choices)
                    .prop_map(|c| RawValue::Text(c.to_uppercase()))
                    .boxed(),
                Kind::Text { max } => text(max.unwrap_or(40)).prop_map(RawValue::Text).boxed(),
                Kind::DottedIp | Kind::Host => any::<[u8; 4]>()
                    .prop_map(|b| RawValue::Text(std::net::Ipv4Addr::from(b).to_string()))
                    .boxed(),
                Kind::Url => "[a-z0-9/._-]{0,20}"
                    .prop_map(|p| RawValue::Text(format!("http://10.0.0.1/{p}")))
                    .boxed(),
                Kind::Load => Just(RawValue::Text("P0S3-8-11-00".into())).boxed(),
            }
        }

        /// Some parameters with valid values, each name at most once.
        fn params() -> impl Strategy<Value = Vec<(String, ParamValue)>> {
            let usable: Vec<&'static crate::params::Param> = PARAMS
                .iter()
                .filter(|p| !p.name.starts_with("lineN_") && !BUILT_IN.contains(&p.name))
                .filter(|p| !p.name.starts_with("dst_") && p.name != "time_zone")
                .collect();
            proptest::sample::subsequence(usable, 0..8).prop_flat_map(|chosen| {
                chosen
                    .into_iter()
                    .map(|param| {
                        (value(param.kind), 1..=6usize).prop_map(move |(raw, n)| {
                            let name = param.name.replace('N', &n.to_string());
                            let checked = param.check(&name, &raw).unwrap().0;
                            (name, checked)
                        })
                    })
                    .collect::<Vec<_>>()
            })
        }

        fn line() -> impl Strategy<Value = Line> {
            (
                "[0-9a-zA-Z*#+._-]{1,12}",
                proptest::option::of(text(32)),
                proptest::option::of("[0-9a-zA-Z._-]{1,12}"),
                "[ -!#-~]{0,24}",
                proptest::option::of(text(12)),
            )
                .prop_map(|(name, display, authname, password, label)| Line {
                    name,
                    display,
                    authname,
                    password: Secret::new(password),
                    label,
                })
        }

        fn phone() -> impl Strategy<Value = Phone> {
            (
                any::<[u8; 6]>(),
                prop_oneof![Just(Model::Cp7940), Just(Model::Cp7960)],
                prop_oneof![Just(TargetProtocol::Sip), Just(TargetProtocol::Sccp)],
                proptest::collection::vec(line(), 0..=6),
                params(),
            )
                .prop_map(|(mac, model, protocol, mut lines, params)| {
                    lines.truncate(model.lines());
                    Phone {
                        mac: Mac(mac),
                        model,
                        protocol,
                        description: None,
                        lines,
                        params,
                        current: None,
                    }
                })
        }

        fn sites() -> impl Strategy<Value = Site> {
            (proptest::collection::vec(phone(), 1..4), params()).prop_map(|(phones, defaults)| {
                let mut phones = phones;
                phones.sort_by_key(|p| p.mac);
                phones.dedup_by_key(|p| p.mac);
                Site {
                    defaults,
                    ..site(phones)
                }
            })
        }

        /// `base` with `overrides` applied the way a phone reads SIPDefault.cnf
        /// then SIP<MAC>.cnf: a repeated name keeps its place.
        fn merged(
            base: Vec<(String, String)>,
            overrides: &[(String, ParamValue)],
        ) -> Vec<(String, String)> {
            let mut all = base;
            for (name, value) in overrides {
                let value = value.as_str().to_string();
                match all.iter_mut().find(|(n, _)| n == name) {
                    Some(slot) => slot.1 = value,
                    None => all.push((name.clone(), value)),
                }
            }
            all
        }

        /// What the site says SIP<MAC>.cnf of `phone` holds.
        fn phone_values(site: &Site, phone: &Phone) -> Vec<(String, String)> {
            let mut values = Vec::new();
            if let Some(load) = site.firmware.target(phone.model, phone.protocol) {
                values.push(("image_version".to_string(), load.to_string()));
            }
            for n in 1..=phone.model.lines() {
                let mut set = |key: &str, value: &str| {
                    values.push((format!("line{n}_{key}"), value.to_string()))
                };
                match phone.lines.get(n - 1) {
                    Some(line) => {
                        set("name", &line.name);
                        set("authname", line.authname());
                        set("password", line.password.reveal());
                        if let Some(display) = &line.display {
                            set("displayname", display);
                        }
                        if let Some(label) = &line.label {
                            set("shortname", label);
                        }
                    }
                    None => {
                        set("name", "");
                        set("authname", "UNPROVISIONED");
                        set("password", "UNPROVISIONED");
                    }
                }
            }
            merged(values, &phone.params)
        }

        fn default_values(site: &Site) -> Vec<(String, String)> {
            let (host, port) = site.proxy();
            let base = vec![
                ("proxy1_address".to_string(), host),
                ("proxy1_port".to_string(), port.to_string()),
                ("proxy_register".to_string(), "1".to_string()),
                ("sync".to_string(), "1".to_string()),
            ];
            merged(base, &site.defaults)
        }

        fn read_back(file: &ExportedFile) -> Vec<(String, String)> {
            let text = std::str::from_utf8(&file.content).unwrap();
            cnf::parse(text)
                .unwrap_or_else(|e| panic!("{}: {e}\n{text}", file.path))
                .into_iter()
                .map(|entry| (entry.name, entry.value))
                .collect()
        }

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(64))]

            #[test]
            fn every_cnf_file_reads_back_to_the_site(site in sites()) {
                let dir = tempfile::tempdir().unwrap();
                let tree = files_of(site.clone(), dir.path()).export().unwrap();
                let mut checked = 0;
                for file in tree.files.iter().filter(|f| f.path.ends_with(".cnf")) {
                    let expected = match PhoneFile::parse(&file.path) {
                        Some((_, mac)) => phone_values(&site, site.phone(mac).unwrap()),
                        None => default_values(&site),
                    };
                    prop_assert_eq!(read_back(file), expected, "{}", file.path);
                    checked += 1;
                }
                prop_assert_eq!(checked, site.phones.len() + 1);
            }
        }
    }
}
