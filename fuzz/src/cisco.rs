//! The bodies of the phoneprov-cisco fuzz targets, with every property they
//! check: the `.cnf` parser, load names, MAC notations and per-phone file
//! names, and the parameter table with its renderer and lint.
//!
//! This file is compiled twice: as the `cisco` module of the `phoneprov_fuzz`
//! library that the cargo-fuzz binaries in `fuzz_targets/` call, and as a
//! module that `crates/cisco/tests/it/fuzz_replay.rs` includes with `#[path]`,
//! so that `cargo test` replays the committed corpus through exactly these
//! checks without cargo-fuzz or a nightly compiler. It may therefore use only
//! `std` and `phoneprov_cisco`, and no `crate::` or `super::` paths.
//!
//! Every target takes arbitrary bytes (invalid UTF-8 is replaced, as a
//! reader of a hand-made file or a TFTP request name would), returns quietly
//! on input it cannot use and panics when the code under test breaks a
//! property.

use std::fmt::Write as _;

use phoneprov_cisco::cnf::{self, Entry};
use phoneprov_cisco::load::Era;
use phoneprov_cisco::params::{self, Certainty, RawValue};
use phoneprov_cisco::render::lint;
use phoneprov_cisco::{LoadName, Mac, PhoneFile, Protocol};

/// A `.cnf` file (SIPDefault.cnf, SIP<MAC>.cnf): parsing never panics; an
/// error names a line of the file; every entry has a name of letters, digits
/// and `_`, a value without a line break (LF or CR), and lines in increasing order; a
/// bare value is trimmed and holds no `;` or `#`, a quoted one no `"`; and
/// writing the entries back as `name: "value"` (quoted when they were) or
/// `name: value` and parsing again gives the same entries.
pub fn cisco_cnf(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    // CR LF, LF and a lone CR each end a line, as `cnf` reads them.
    let lines = text
        .split('\n')
        .flat_map(|line| line.strip_suffix('\r').unwrap_or(line).split('\r'))
        .count();
    let entries = match cnf::parse(&text) {
        Ok(entries) => entries,
        Err(e) => {
            assert!(
                (1..=lines).contains(&e.line),
                "error on line {} of {lines}",
                e.line
            );
            return;
        }
    };
    let mut previous = 0;
    for entry in &entries {
        assert!(
            !entry.name.is_empty()
                && entry
                    .name
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'_'),
            "name {:?}",
            entry.name
        );
        assert!(
            !entry.value.contains(['\n', '\r']),
            "line break in {entry:?}"
        );
        assert!(
            entry.line > previous && entry.line <= lines,
            "line {} after line {previous}, of {lines}",
            entry.line
        );
        previous = entry.line;
        if entry.quoted {
            assert!(!entry.value.contains('"'), "quote in {entry:?}");
        } else {
            assert!(!entry.value.contains([';', '#']), "comment in {entry:?}");
            assert_eq!(entry.value.trim(), entry.value, "untrimmed {entry:?}");
        }
    }

    let mut written = String::new();
    for entry in &entries {
        if entry.quoted {
            writeln!(written, "{}: \"{}\"", entry.name, entry.value).unwrap();
        } else {
            writeln!(written, "{}: {}", entry.name, entry.value).unwrap();
        }
    }
    let again = cnf::parse(&written)
        .unwrap_or_else(|e| panic!("the written entries do not parse: {e}\n{written}"));
    let fields = |entries: &[Entry]| -> Vec<(String, String, bool)> {
        entries
            .iter()
            .map(|e| (e.name.clone(), e.value.clone(), e.quoted))
            .collect()
    };
    assert_eq!(fields(&again), fields(&entries), "written as\n{written}");
}

/// A firmware load name (image_version, OS79XX.TXT, a file in the firmware
/// folder): parsing never panics and is deterministic; an accepted name is
/// kept byte for byte and is safe as a file stem; its version and protocol
/// print; a UAL-era load is signed; a load outside the UAL era has no
/// loader, and the loader of a UAL-era SIP or MGCP load is a load name of
/// the Loader protocol with the same version, given for every dashed name
/// (SCCP loads and loaders are their own loader).
pub fn cisco_load_name(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let parsed = LoadName::parse(&text);
    assert_eq!(parsed, LoadName::parse(&text), "parse is not deterministic");
    let load = match parsed {
        Ok(load) => load,
        Err(e) => {
            assert_eq!(e.name, text, "the error names another input");
            let _ = e.to_string();
            return;
        }
    };
    assert_eq!(load.as_str(), text);
    assert_eq!(load.to_string(), text);
    assert!(
        text.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-'),
        "{text:?} is no file stem"
    );
    let _ = (load.version.to_string(), load.protocol.to_string());
    let era = load.era();
    if era == Era::Ual {
        assert!(load.signed(), "unsigned UAL-era load {text:?}");
    }
    let Some(loader) = load.loader() else {
        // `P003` before a packed version would be an SCCP load, so only a
        // dashed SIP or MGCP name can name its loader.
        let packed = text.as_bytes()[4] != b'-';
        assert!(
            era != Era::Ual || (packed && matches!(load.protocol, Protocol::Sip | Protocol::Mgcp)),
            "no loader for the UAL-era load {text:?}"
        );
        return;
    };
    assert_eq!(
        era,
        Era::Ual,
        "a loader for {text:?}, which boots the old way"
    );
    let parsed_loader = LoadName::parse(&loader)
        .unwrap_or_else(|e| panic!("the loader of {text:?} is no load name: {e}"));
    match load.protocol {
        Protocol::Sip | Protocol::Mgcp => {
            assert_eq!(
                parsed_loader.protocol,
                Protocol::Loader,
                "the loader {loader:?} of {text:?}"
            );
            assert_eq!(
                parsed_loader.version, load.version,
                "{loader:?} of {text:?}"
            );
        }
        Protocol::Sccp | Protocol::Loader => assert_eq!(loader, text),
    }
}

/// A MAC address in any notation, and a requested file name: an accepted MAC
/// prints as 12 upper-case hex digits, and that, its `colons()` form and its
/// `SEP…` form parse back to it; a name taken for a per-phone file is the
/// name `PhoneFile::name` gives for its MAC, up to ASCII case, after the
/// last `/`, and every kind of file named for that MAC parses back.
pub fn cisco_mac_and_files(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    if let Ok(mac) = text.parse::<Mac>() {
        let printed = mac.to_string();
        assert!(
            printed.len() == 12
                && printed
                    .bytes()
                    .all(|b| b.is_ascii_digit() || (b'A'..=b'F').contains(&b)),
            "{text:?} printed as {printed:?}"
        );
        assert_eq!(printed.parse::<Mac>(), Ok(mac), "{printed:?}");
        assert_eq!(mac.colons().parse::<Mac>(), Ok(mac), "{}", mac.colons());
        assert_eq!(format!("SEP{printed}").parse::<Mac>(), Ok(mac));
    }
    if let Some((kind, mac)) = PhoneFile::parse(&text) {
        let file = text.rsplit('/').next().unwrap_or(&text);
        let name = kind.name(mac);
        assert!(
            name.eq_ignore_ascii_case(file),
            "{text:?} taken as {name:?}"
        );
        for kind in [
            PhoneFile::TrustList,
            PhoneFile::SepXml,
            PhoneFile::SepBinary,
            PhoneFile::SipCnf,
            PhoneFile::MgcpCnf,
        ] {
            let name = kind.name(mac);
            assert_eq!(PhoneFile::parse(&name), Some((kind, mac)), "{name}");
        }
    }
}

/// Parameter values as phoneprov.toml gives them. Input: lines of
/// `name=value` (split at the first `=`, nothing trimmed); lines with an
/// unknown name are skipped. Checking never panics; an accepted value
/// renders as one line, bare (a non-empty run without quotes, spaces, `;` or
/// `#`) or in quotes with no quote inside, and a warning comes only from a
/// rule the reference is unsure of; a line break or a quote added to the
/// value is always refused; and the file of every accepted `name: rendered`
/// line passes the lint of a `.cnf` file and parses back to the same values.
pub fn cisco_params(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let mut file = String::new();
    let mut expected = Vec::new();
    for record in text.split('\n') {
        let Some((name, value)) = record.split_once('=') else {
            continue;
        };
        let Some(param) = params::lookup(name) else {
            continue;
        };
        let Ok((checked, warning)) = param.check(name, &RawValue::Text(value.to_string())) else {
            continue;
        };
        if warning.is_some() {
            assert_eq!(param.certainty, Certainty::Unsure, "warning for {name}");
        }
        let rendered = checked.rendered();
        let quoted = rendered.starts_with('"');
        if quoted {
            let inner = rendered
                .strip_prefix('"')
                .and_then(|r| r.strip_suffix('"'))
                .unwrap_or_else(|| panic!("{name}: {rendered:?} is not closed"));
            assert_eq!(inner, checked.as_str());
        } else {
            assert_eq!(rendered, checked.as_str());
            assert!(
                !rendered.is_empty()
                    && !rendered.contains(['"', ';', '#'])
                    && !rendered.contains(char::is_whitespace),
                "{name}: bare {rendered:?}"
            );
        }
        assert!(
            !checked.as_str().contains('"') && !checked.as_str().contains(char::is_control),
            "{name}: {rendered:?}"
        );
        for spoiled in [
            format!("{value}\n"),
            format!("\r{value}"),
            format!("{value}\"x"),
        ] {
            assert!(
                param.check(name, &RawValue::Text(spoiled.clone())).is_err(),
                "{name} took {spoiled:?}"
            );
        }
        writeln!(file, "{name}: {rendered}").unwrap();
        expected.push((name.to_string(), checked.as_str().to_string(), quoted));
    }
    for file_name in ["SIPDefault.cnf", "SIP0018B9FFFFFF.cnf"] {
        let problems = lint(file_name, &file);
        assert!(problems.is_empty(), "{file_name}: {problems:?}\n{file}");
    }
    let entries = cnf::parse(&file).unwrap_or_else(|e| panic!("{e}\n{file}"));
    let got: Vec<_> = entries
        .into_iter()
        .map(|e| (e.name, e.value, e.quoted))
        .collect();
    assert_eq!(got, expected, "{file}");
}

/// Loads the ladder target picks from: every family's, every rung's, and a
/// packed SIP name with no known loader.
const LADDER_LOADS: [&str; 12] = [
    "P00303030300",
    "P00305000200",
    "P00307020300",
    "P00308010200",
    "P0S30203",
    "P0S3-04-4-00",
    "P0S3-05-3-00",
    "P0S3-06-3-00",
    "P0S3-07-4-00",
    "P0S3-07-5-00",
    "P0S3-8-12-00",
    "P0S30801",
];

/// Files a phone asks for during its climb.
const LADDER_FILES: [&str; 16] = [
    "CTLSEP0018B9000001.tlv",
    "SEP0018B9000001.cnf.xml",
    "SIP0018B9000001.cnf",
    "XMLDefault.cnf.xml",
    "OS79XX.TXT",
    "SIPDefault.cnf",
    "dialplan.xml",
    "US/7960-tones.xml",
    "P0S3-8-12-00.loads",
    "P003-8-12-00.sbn",
    "P0S3-8-12-00.sb2",
    "P0S3-07-4-00.loads",
    "P003-07-4-00.sbn",
    "P00305000200.sbn",
    "P0S3-05-3-00.sbn",
    "P0S3-04-4-00.bin",
];

/// The upgrade ladder: `Band::parse` and `agent_version` on the whole
/// input never panic; then the input drives a phone's history (byte 0: the
/// target, 1: the declared load or none, 2-3: which loads the folder holds,
/// 4: the file being read, then pairs: an address, a file asked for with
/// its outcome, or a registration with a User-Agent). `observed`,
/// `position` and the default ladder's `plan` never panic, and the plan
/// never leads a phone where Cisco says it cannot go: at most 12 rungs, each
/// in the folder or the target; never an unsigned load after a signed one;
/// SIP up one documented rung at a time (4.4, 5.3, 6.x, 7.x); SCCP to SIP
/// only from 5.x; SIP to SCCP only from 7.x; a plan that does not stop ends
/// on its target; `next()` is the first rung, else the target when there is
/// nothing left to do.
pub fn cisco_ladder(data: &[u8]) {
    use phoneprov_cisco::ladder::{
        agent_version, forbidden_jump, observed, position, Band, Ladder, Reader,
    };
    use phoneprov_cisco::stage::{Fetched, Observation, Seen};
    use std::time::{Duration, SystemTime};

    let text = String::from_utf8_lossy(data);
    if let Ok(band) = Band::parse(&text) {
        let _ = band.to_string();
    }
    if let Some(version) = agent_version(&text) {
        assert!(text.contains(&version.major.to_string()), "{text:?}");
    }
    let [target, declared, low, high, reader, rest @ ..] = data else {
        return;
    };
    let pick =
        |byte: u8| LoadName::parse(LADDER_LOADS[byte as usize % LADDER_LOADS.len()]).unwrap();
    let target = pick(*target);
    let declared = (*declared < 128).then(|| pick(*declared));
    let bits = u16::from_le_bytes([*low, *high]);
    let folder: Vec<LoadName> = (0..LADDER_LOADS.len())
        .filter(|i| bits & (1 << i) != 0)
        .map(|i| pick(i as u8))
        .collect();
    let reader = [
        Reader::OldBoot,
        Reader::Loader,
        Reader::SipApplication,
        Reader::Nobody,
    ][*reader as usize % 4];
    let start = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
    let history: Vec<Observation> = rest
        .chunks_exact(2)
        .enumerate()
        .map(|(i, pair)| {
            let seen = match pair[0] % 8 {
                0 => Seen::Address,
                1 => Seen::Registered {
                    line: "1001".into(),
                    agent: Some(
                        [
                            "Cisco-CP7960G/8.12",
                            "Cisco-CP7940G/2.3",
                            "Cisco-CP7960G/6.3",
                            "Linphone/1.0",
                        ][pair[1] as usize % 4]
                            .into(),
                    ),
                },
                2 => Seen::StartedOver,
                kind => Seen::Fetch {
                    name: LADDER_FILES[pair[1] as usize % LADDER_FILES.len()].into(),
                    outcome: [Fetched::Sent, Fetched::NotFound, Fetched::Failed][kind as usize % 3],
                },
            };
            Observation {
                at: start + Duration::from_millis(i as u64 * (1 + pair[1] as u64 * 97)),
                seen,
            }
        })
        .collect();
    let seen = observed(&history);
    let from = position(seen.as_ref(), declared.as_ref(), reader);
    let plan = Ladder::default().plan(&from, &target, &folder);
    assert!(plan.rungs.len() <= 12, "{plan:?}");
    let mut at = match from {
        phoneprov_cisco::ladder::Position::At(protocol, version) => Some((protocol, version)),
        _ => None,
    };
    for rung in &plan.rungs {
        assert!(
            *rung == target || folder.contains(rung),
            "{rung} is not on hand: {plan:?}"
        );
        if let Some((protocol, version)) = at {
            assert!(
                version.major < 5 || rung.signed(),
                "unsigned {rung} after {protocol} {version}: {plan:?}"
            );
            if let Some(why) = forbidden_jump(protocol, version, rung) {
                panic!("{why}: {plan:?}");
            }
        }
        at = Some((rung.protocol, rung.version));
    }
    if plan.stop.is_none() {
        if let Some(last) = plan.rungs.last() {
            assert_eq!(*last, target, "{plan:?}");
        }
    }
    let expected_next = match (plan.rungs.first(), &plan.stop) {
        (Some(first), _) => Some(first),
        (None, None) => Some(&target),
        (None, Some(_)) => None,
    };
    assert_eq!(plan.next(), expected_next);
}
