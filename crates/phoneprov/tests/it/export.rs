//! `phoneprov export` and `phoneprov import-tftp` through the real binary:
//! the exported tree is what the running server sends to tftp-hpa and curl,
//! byte for byte; an exported tree imports back to the same site; and a
//! hand-made tree in the style of real users' files imports into a config
//! that passes `config check`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Output;

use crate::harness::{
    assert_contains, assert_exit, assert_file, curl_get, printed, random_bytes, require,
    run_binary, tftp_hpa_get, Server, Tree,
};

/// A site with what export carries: per-model targets, defaults, lines with
/// and without every optional field, a generated password, an SCCP phone;
/// phones in MAC order, the order import-tftp lists them in.
const SITE: &str = r#"
[site]
ntp = "10.0.0.1"
[server]
address = "10.0.0.1"
[tftp]
bind = "127.0.0.1:0"
[firmware]
sip = "P0S3-8-12-00"
sccp = "P00308010200"
[firmware.model.7940]
sip = "P0S3-8-11-00"
[defaults]
telnet_level = 2
preferred_codec = "g711alaw"
directory_url = "http://10.0.0.1/directory.xml"
[[phone]]
mac = "00:18:B9:00:00:40"
model = "7940"
lines = [
    { name = "1001", display = "Reception", authname = "rcp", password = "s3cret;#x", label = "Desk" },
    { name = "1002", password = "two words" },
]
params = { phone_label = "Front", nat_enable = 1 }
[[phone]]
mac = "00:18:B9:00:00:41"
model = "7940"
protocol = "sccp"
[[phone]]
mac = "00:18:B9:00:00:60"
model = "7960"
lines = [{ name = "2001", password = "pw" }, { name = "2002" }, { name = "2003", password = "p3" }]
[[phone]]
mac = "00:18:B9:00:00:61"
model = "7960"
"#;

/// Every load the site targets, complete (names as Cisco ships them, noise
/// for content), and a static file in a sub-folder.
const FIRMWARE: [(&str, usize); 10] = [
    ("P0S3-8-12-00.loads", 458),
    ("P0S3-8-12-00.sb2", 7_565),
    ("P003-8-12-00.sbn", 1_309),
    ("P0S3-8-11-00.loads", 457),
    ("P0S3-8-11-00.sb2", 3_001),
    ("P003-8-11-00.sbn", 1_211),
    ("P00308010200.loads", 458),
    ("P00308010200.sb2", 7_084),
    ("P00308010200.sbn", 1_309),
    ("US/7960-tones.xml", 777),
];

/// Writes `config` as phoneprov.toml under `dir`, with a firmware folder.
fn site_folder(dir: &Path, config: &str) -> PathBuf {
    for (name, len) in FIRMWARE {
        let path = dir.join("firmware").join(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, random_bytes(len, name)).unwrap();
    }
    let path = dir.join("phoneprov.toml");
    std::fs::write(&path, config).unwrap();
    path
}

fn with_config(config: &Path, args: &[&str]) -> Output {
    let mut all = vec!["--config", config.to_str().unwrap()];
    all.extend_from_slice(args);
    run_binary(&all)
}

fn export(config: &Path, dir: &Path) -> String {
    let output = with_config(config, &["export", dir.to_str().unwrap()]);
    assert_exit(&output, 0, "export")
}

/// `import-tftp DIR --output CONFIG`.
fn import_tftp(dir: &Path, config: &Path) -> Output {
    run_binary(&[
        "import-tftp",
        dir.to_str().unwrap(),
        "--output",
        config.to_str().unwrap(),
    ])
}

/// A client's download of one file into a path.
type Download<'a> = &'a dyn Fn(&Path) -> Output;

/// Every file under `dir`, by relative path.
fn files_under(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    fn walk(root: &Path, dir: &Path, into: &mut BTreeMap<String, Vec<u8>>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(root, &path, into);
            } else {
                let relative = path.strip_prefix(root).unwrap().display().to_string();
                into.insert(relative, std::fs::read(&path).unwrap());
            }
        }
    }
    let mut files = BTreeMap::new();
    walk(dir, dir, &mut files);
    files
}

#[test]
fn export_is_what_the_server_sends_to_tftp_hpa_and_curl() {
    let (hpa, curl) = (require("tftp"), require("curl"));
    if !hpa && !curl {
        return;
    }
    let tree = Tree::new();
    // Two SIP phones on the same load: OS79XX.TXT can be exported.
    let config = site_folder(
        tree.base(),
        &(SITE
            .replace("[firmware.model.7940]\nsip = \"P0S3-8-11-00\"", "")
            .replace("protocol = \"sccp\"", "")
            // No registrar listening on a fixed port beside other tests:
            // the configs name a PBX, the same in the tree and on the wire.
            + "[sip]\nregistrar = false\nproxy = \"10.0.0.1:5060\"\n"),
    );
    let exported = tree.base().join("exported");
    let summary = export(&config, &exported);
    assert_contains(&summary, &["OS79XX.TXT: written, naming P0S3-8-12-00"]);
    let files = files_under(&exported);
    for expected in [
        "SIPDefault.cnf",
        "XMLDefault.cnf.xml",
        "dialplan.xml",
        "syncinfo.xml",
        "SEP0018B9000040.cnf.xml",
        "SIP0018B9000060.cnf",
        "US/7960-tones.xml",
        "P0S3-8-12-00.sb2",
        "OS79XX.TXT",
    ] {
        assert!(
            files.contains_key(expected),
            "{expected} not exported: {:?}",
            files.keys()
        );
    }
    // SIPDefault.cnf, XMLDefault.cnf.xml, RINGLIST.DAT (empty: no rings),
    // dialplan.xml, syncinfo.xml, OS79XX.TXT; two files per phone; firmware.
    assert_eq!(
        files.len(),
        6 + 2 * 4 + FIRMWARE.len(),
        "{:?}",
        files.keys()
    );

    let server = Server::serve(&config);
    for (name, content) in &files {
        if name == "OS79XX.TXT" {
            // Served only to a phone phoneprov identifies; loopback is none.
            continue;
        }
        let flat = name.replace('/', "_");
        // curl refuses an OACK granting "tsize 0" (see clients.rs).
        let curl_options: &[&str] = if content.is_empty() {
            &["--tftp-no-options"]
        } else {
            &[]
        };
        let clients: [(bool, &str, &str, Download); 2] = [
            (hpa, "hpa", "tftp-hpa", &|out| {
                tftp_hpa_get(&server, "binary", name, out)
            }),
            (curl, "curl", "curl", &|out| {
                curl_get(&server, "30", curl_options, name, out)
            }),
        ];
        for (wanted, prefix, client, get) in clients {
            if wanted {
                let out = tree.out(&format!("{prefix}-{flat}"));
                let what = format!("{client} get {name} against the export");
                assert_exit(&get(&out), 0, &what);
                assert_file(&out, content, &what);
            }
        }
    }
    drop(server);
    // OS79XX.TXT is what each listed phone is told once one step from the
    // target (a phone further away is told its next rung, which a static
    // export cannot do: docs/ladder.md).
    let text = std::fs::read_to_string(&config).unwrap();
    let declared = ["7940", "7960"].iter().fold(text, |text, model| {
        text.replace(
            &format!("model = \"{model}\"\n"),
            &format!("model = \"{model}\"\ncurrent = \"P0S3-8-11-00\"\n"),
        )
    });
    std::fs::write(&config, declared).unwrap();
    for mac in ["00:18:B9:00:00:40", "00:18:B9:00:00:61"] {
        let output = with_config(&config, &["render", mac, "OS79XX.TXT"]);
        assert_exit(&output, 0, "render OS79XX.TXT");
        assert_eq!(output.stdout, files["OS79XX.TXT"], "OS79XX.TXT for {mac}");
    }
}

#[test]
fn export_refuses_a_folder_with_files_and_says_what_it_cannot_carry() {
    let tree = Tree::new();
    let config = site_folder(tree.base(), SITE);
    let exported = tree.base().join("exported");
    std::fs::create_dir(&exported).unwrap();
    std::fs::write(exported.join("OS79XX.TXT"), "P0S3-8-10-00\r\n").unwrap();
    let output = with_config(&config, &["export", exported.to_str().unwrap()]);
    let printed = assert_exit(&output, 1, "export into a folder with files");
    assert_contains(&printed, &["--force"]);

    let output = with_config(&config, &["export", exported.to_str().unwrap(), "--force"]);
    let summary = assert_exit(&output, 0, "export --force");
    // Three phones told three loads: one OS79XX.TXT cannot serve them all,
    // and the stale one would tell them the wrong load.
    assert_contains(
        &summary,
        &[
            "OS79XX.TXT: not written",
            "P0S3-8-11-00: 00:18:B9:00:00:40",
            "P00308010200: 00:18:B9:00:00:41",
            "removed the one already in the folder",
            "without loadInformation",
        ],
    );
    assert!(!exported.join("OS79XX.TXT").exists());
}

/// `config check --show-secrets` without the lines that name files, folders
/// or the site, which export does not carry.
fn validated_view(config: &Path) -> String {
    let output = with_config(config, &["config", "check", "--show-secrets"]);
    assert_exit(&output, 0, &format!("config check of {}", config.display()));
    String::from_utf8(output.stdout)
        .unwrap()
        .lines()
        .filter(|l| {
            !(l.ends_with(" is valid.")
                || l.starts_with("site ")
                || l.starts_with("firmware ")
                || l.starts_with("state "))
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// Files without their `#` comment lines, which carry the site's name and
/// the phones' descriptions.
fn without_comments(files: BTreeMap<String, Vec<u8>>) -> BTreeMap<String, Vec<u8>> {
    files
        .into_iter()
        .map(|(name, content)| {
            if !name.ends_with(".cnf") {
                return (name, content);
            }
            let text = String::from_utf8(content).unwrap();
            let kept: String = text
                .split_inclusive('\n')
                .filter(|l| !l.starts_with('#'))
                .collect();
            (name, kept.into_bytes())
        })
        .collect()
}

/// Export, import-tftp, and the validated site is the same: phones, models,
/// protocols, lines, passwords (the generated one included), parameters,
/// defaults, targets and the SIP target. Export cannot carry the site's name,
/// the phones' descriptions and current loads, [site] timezone (only the
/// rules derived from it: they come back as [defaults]), the dial plan, and
/// the firmware and state folders; the round trip leaves those out.
#[test]
fn an_exported_tree_imports_back_to_the_same_site() {
    let tree = Tree::new();
    let original = site_folder(&tree.base().join("original"), SITE);
    let exported = tree.base().join("exported");
    export(&original, &exported);

    let imported = tree.base().join("imported/phoneprov.toml");
    std::fs::create_dir_all(imported.parent().unwrap()).unwrap();
    let summary = assert_exit(&import_tftp(&exported, &imported), 0, "import-tftp");
    assert_contains(&summary, &["imported 4 phones with 5 lines"]);
    assert!(!summary.contains("WARNING:"), "{summary}");
    let text = std::fs::read_to_string(&imported).unwrap();
    // [tftp] is no part of the tree: give the import the original's, so
    // the two views compare.
    std::fs::write(
        &imported,
        text.replace("[sip]", "[tftp]\nbind = \"127.0.0.1:0\"\n\n[sip]"),
    )
    .unwrap();

    assert_eq!(validated_view(&imported), validated_view(&original));
    // And the imported site exports the same tree (comments aside).
    let again = tree.base().join("again");
    export(&imported, &again);
    assert_eq!(
        without_comments(files_under(&again)),
        without_comments(files_under(&exported))
    );
}

#[test]
fn a_time_zone_comes_back_as_the_rules_it_derives() {
    let tree = Tree::new();
    let config = SITE.replace("[site]\n", "[site]\ntimezone = \"Europe/Berlin\"\n");
    let original = site_folder(&tree.base().join("original"), &config);
    let exported = tree.base().join("exported");
    export(&original, &exported);
    let imported = tree.base().join("phoneprov.toml");
    let summary = assert_exit(&import_tftp(&exported, &imported), 0, "import-tftp");
    assert_contains(&summary, &["[site] timezone"]);
    let again = tree.base().join("again");
    export(&imported, &again);
    // The same settings; [defaults] keeps them in name order.
    let settings = |dir: &Path| {
        let text = String::from_utf8(files_under(dir)["SIPDefault.cnf"].clone()).unwrap();
        let mut lines: Vec<String> = text
            .lines()
            .filter(|l| !l.starts_with('#') && !l.is_empty())
            .map(str::to_string)
            .collect();
        lines.sort();
        lines
    };
    assert_eq!(settings(&again), settings(&exported));
    assert!(settings(&again).contains(&"time_zone: \"CET\"".to_string()));
}

/// A tree as users make them by hand (see shared/seeds): CRLF, a space
/// before the colon, quoted and bare values, comments, a lower-case MAC in
/// the name, placeholders, an unknown parameter, a trailing space in
/// OS79XX.TXT, both models in XMLDefault.cnf.xml.
const HAND_MADE: [(&str, &str); 6] = [
    (
        "SIPDefault.cnf",
        "# Image Version\r\nimage_version: P0S3-8-12-00\r\n\r\n\
         # Proxy Server\r\nproxy1_address: 192.168.1.10\r\nproxy1_port:\"5060\"\r\n\
         # proxy_register tell it to connect to the SIP server\r\nproxy_register: 1\r\n\
         sntp_server: \"\"\r\nsntp_mode: unicast\r\ntime_zone: GMT\r\ndst_offset: 1\r\n\
         dst_start_month: March\r\ndst_start_day: \"\"\r\ndst_start_day_of_week: Sun\r\n\
         dst_start_week_of_month: 8\r\ndst_start_time: 01\r\ndst_auto_adjust: 1\r\n\
         time_format_24hr: 1\r\ndate_format : D/M/Y\r\n\
         cnf_join_enable : 1  ; join conferences\r\ndirectory_url: \"\"\r\n\
         messages_uri: \"8500\"\r\nphone_password: \"cisco\"\r\nmystery_knob: 3\r\n",
    ),
    (
        "sip0018b9ffffff.cnf",
        "# SIP Configuration\nimage_version: P0S3-8-12-00\n\n# Line 1 appearance\nline1_name: line1\n\
         line1_authname: \"line1\"\nline1_password: \"supersecret\"\n\
         # Asterisk overrides this\nline1_displayname: \"Caller ID\"\nline1_shortname: \"BUTTONLABEL\"\n\
         line2_name: #EXTENSION\nphone_label: \"Reception\" ; top right\n",
    ),
    (
        "SIP000E84C060A6.cnf",
        "line1_name: \"\"\r\nline1_authname: \"UNPROVISIONED\"\r\nline1_password: \"UNPROVISIONED\"\r\n\
         line2_name: 2002\r\nline2_password: two\r\nline4_name: 2004\r\nline4_authname: a2004\r\n\
         line4_password: \"four four\"\r\n",
    ),
    ("OS79XX.TXT", "P0S3-8-12-00 \r\n"),
    (
        "XMLDefault.cnf.xml",
        "<Default>\r\n<callManagerGroup><members><member priority=\"0\"><callManager>\r\n\
         <ports><ethernetPhonePort>2000</ethernetPhonePort><sipPort>5060</sipPort></ports>\r\n\
         <processNodeName>192.168.1.10</processNodeName>\r\n</callManager></member></members></callManagerGroup>\r\n\
         <loadInformation8 model=\"IP Phone 7940\">P0S3-8-12-00</loadInformation8>\r\n\
         <loadInformation7 model=\"IP Phone 7960\">P0S3-8-12-00</loadInformation7>\r\n</Default>\r\n",
    ),
    (
        "SEP000E84C060A6.cnf.xml",
        "<device>\n  <deviceProtocol>SIP</deviceProtocol>\n  \
         <loadInformation model=\"IP Phone 7960\">P0S3-8-12-00</loadInformation>\n</device>\n",
    ),
];

#[test]
fn a_hand_made_tree_imports_into_a_config_that_passes_check() {
    let tree = Tree::new();
    for (name, text) in HAND_MADE {
        tree.write(name, text.as_bytes());
    }
    for name in ["P0S3-8-12-00.loads", "P0S3-8-12-00.sb2", "P003-8-12-00.sbn"] {
        tree.write(name, &random_bytes(999, name));
    }
    let config = tree.base().join("phoneprov.toml");
    let summary = assert_exit(&import_tftp(&tree.root(), &config), 0, "import-tftp");
    assert_contains(
        &summary,
        &[
            "imported 2 phones with 3 lines",
            "unknown parameter mystery_knob",
            "dst_start_day",
            "00:18:B9:FF:FF:FF: model 7960 unknown",
            "line 2 (2002) becomes line 1",
            "[sip]: phones registered with 192.168.1.10:5060",
            "[site] timezone",
        ],
    );
    let text = std::fs::read_to_string(&config).unwrap();
    assert_contains(
        &text,
        &[
            "address = \"192.168.1.10\"",
            "sip = \"P0S3-8-12-00\"",
            "# mystery_knob = \"3\"   WARNING",
            "cnf_join_enable = 1",
            "date_format = \"D/M/Y\"",
            "{ name = \"line1\", display = \"Caller ID\", password = \"supersecret\", label = \"BUTTONLABEL\" }",
            "{ name = \"2004\", authname = \"a2004\", password = \"four four\" }",
            "phone_label = \"Reception\"",
            "TODO check the model",
        ],
    );
    assert!(!text.contains("proxy1_address ="), "{text}");

    let output = with_config(
        &config,
        &["render", "00:18:B9:FF:FF:FF", "SIP0018B9FFFFFF.cnf"],
    );
    let rendered = assert_exit(&output, 0, "render");
    // The tree's image_version became the phone's target; until phoneprov
    // knows what the phone runs, its file names no load (docs/ladder.md).
    assert!(!rendered.contains("image_version"), "{rendered}");
    let plan = assert_exit(
        &with_config(&config, &["plan", "00:18:B9:FF:FF:FF"]),
        0,
        "plan",
    );
    assert_contains(&plan, &["target P0S3-8-12-00"]);
    assert_contains(
        &rendered,
        &[
            "line1_name: \"line1\"",
            "line1_password: \"supersecret\"",
            "line2_name: \"\"",
        ],
    );
    let output = with_config(&config, &["render", "00:18:B9:FF:FF:FF", "SIPDefault.cnf"]);
    let rendered = printed(&output);
    assert_contains(
        &rendered,
        &["proxy1_address: \"192.168.1.10\"", "time_zone: \"GMT\""],
    );

    let output = import_tftp(&tree.root(), &config);
    let printed = assert_exit(&output, 1, "import-tftp over an existing file");
    assert_contains(&printed, &["--force"]);
}
