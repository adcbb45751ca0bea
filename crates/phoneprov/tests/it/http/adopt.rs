//! Adopting a discovered phone over the API (`POST
//! /api/discovered/{mac}/adopt`), asked by curl: the `[[phone]]` is added
//! to phoneprov.toml with every other byte of the file kept, the file keeps
//! its permissions, serve reloads it and lists the phone; a listed MAC and a
//! bad model are refused and the file stays as it was.

use std::os::unix::fs::PermissionsExt;

use serde_json::Value;

use super::{Answer, Site};
use crate::harness::{poll, require, tftp_hpa_get, REPLY_WAIT};

const LOBBY: &str = "00:18:B9:00:00:AA";

impl Site {
    /// `POST /api/discovered/{mac}/adopt` with `body` as JSON.
    fn adopt(&self, mac: &str, body: &str) -> Answer {
        let options = [
            "-X",
            "POST",
            "-H",
            "Content-Type: application/json",
            "-d",
            body,
        ];
        self.curl(&options, &format!("/api/discovered/{mac}/adopt"))
    }
}

#[test]
fn adopting_a_discovered_phone_adds_it_to_phoneprov_toml_keeping_every_comment() {
    if !require("curl") || !require("tftp") {
        return;
    }
    let site = Site::start(
        "# The office's phone book.\n\
         [[directory]]\nname = \"Pizza Roma\" # lunch\nnumber = \"0301234567\"\n",
    );
    let config = site.tree.base().join("phoneprov.toml");
    std::fs::set_permissions(&config, std::fs::Permissions::from_mode(0o640)).unwrap();
    let before = std::fs::read_to_string(&config).unwrap();

    // A phone not in phoneprov.toml asks for its file: it is discovered.
    let out = site.tree.out("SEP0018B90000AA.cnf.xml");
    tftp_hpa_get(&site.server, "binary", "SEP0018B90000AA.cnf.xml", &out);
    let listed = |phones: &Value| {
        phones["phones"]
            .as_array()
            .unwrap()
            .iter()
            .find(|phone| phone["phone"] == LOBBY)
            .map(|phone| phone["listed"].clone())
    };
    poll(REPLY_WAIT, std::time::Duration::from_millis(50), || {
        (listed(&site.get("/api/phones").json(200)) == Some(Value::Null)).then_some(())
    })
    .expect("the phone is discovered");

    let mark = site.server.mark();
    let adopted = site
        .adopt(
            "0018b90000aa",
            r#"{"model": "7940", "description": "Lobby"}"#,
        )
        .json(201);
    let added = "# Adopted through phoneprov's HTTP API.\n[[phone]]\n\
                 mac = \"00:18:B9:00:00:AA\"\nmodel = \"7940\"\ndescription = \"Lobby\"\n";
    assert_eq!(adopted["phone"], LOBBY, "{adopted}");
    assert_eq!(adopted["added"], added, "{adopted}");
    assert_eq!(adopted["file"], config.to_str().unwrap(), "{adopted}");
    // Every byte of the file kept, comments too; the phone after the last.
    let after = std::fs::read_to_string(&config).unwrap();
    assert_eq!(after, format!("{before}\n{added}"));
    let mode = std::fs::metadata(&config).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o640);
    let siblings: Vec<String> = std::fs::read_dir(site.tree.base())
        .unwrap()
        .map(|entry| entry.unwrap().file_name().into_string().unwrap())
        .filter(|name| name.starts_with('.'))
        .collect();
    assert_eq!(siblings, Vec::<String>::new(), "no temporary file is left");

    // serve reloads the file and lists the phone.
    let reloaded = site
        .server
        .wait_line(mark, "the reload", |line| line.contains(": reloaded "));
    assert_eq!(
        reloaded,
        format!(
            "phoneprov serve: reloaded {}: 2 phones; files changed for {LOBBY}",
            config.display()
        )
    );
    let phones = site.get("/api/phones").json(200);
    assert_eq!(listed(&phones), Some(Value::from("Lobby")), "{phones}");
    let phone = site.get("/api/phones/0018b90000aa").json(200);
    assert_eq!(phone["phone"]["model"], "7940", "{phone}");

    // Refused, and the file stays as it is.
    for (mac, body, status, error) in [
        (
            "0018B90000AA",
            r#"{"model": "7940"}"#,
            409,
            "00:18:B9:00:00:AA is already in phoneprov.toml",
        ),
        (
            "0018.b900.0001",
            r#"{"model": "7960"}"#,
            409,
            "00:18:B9:00:00:01 is already in phoneprov.toml",
        ),
        (
            "0018B90000BB",
            r#"{"model": "7970"}"#,
            400,
            "\"7970\" is not a supported model; use \"7940\" or \"7960\"",
        ),
        (
            "0018B90000BB",
            r#"{"description": "no model"}"#,
            400,
            "the request is not a phone to adopt: ",
        ),
        (
            "nonsense",
            r#"{"model": "7940"}"#,
            400,
            "\"nonsense\" is not a MAC address",
        ),
    ] {
        let refused = site.adopt(mac, body).json(status);
        let said = refused["error"].as_str().unwrap();
        assert!(said.starts_with(error), "{mac} {body}: {refused}");
        assert!(!refused["fix"].as_str().unwrap().is_empty(), "{refused}");
    }
    assert_eq!(std::fs::read_to_string(&config).unwrap(), after);
}
