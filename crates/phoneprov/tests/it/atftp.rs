//! The scenarios of atftp's `test/test.sh`, re-expressed with the atftp
//! client against our server: its file sizes, block sizes from 8 to 65464,
//! the out-of-range refusals with atftpd's exact message, the tsize check,
//! the windowsize runs with their packet counts, and 200 clients at once.
//! (test.sh's 101 MiB file is left out: the 40 MiB file of `clients.rs`
//! already rolls block numbers over. Its put tests do not apply: we are
//! read-only.)

use std::process::Output;

use crate::harness::{
    arg, assert_contains, assert_exit, assert_file, assert_sent_count, parallel_downloads, require,
    run_client, Files, Server, Tree,
};

/// test.sh's sizes (51 111 B is its READ_BIG).
const SIZES: &[(&str, usize)] = &[
    ("0.bin", 0),
    ("511.bin", 511),
    ("512.bin", 512),
    ("2K.bin", 2048),
    ("51111.bin", 51_111),
    ("128K.bin", 128 << 10),
    ("1M.bin", 1 << 20),
];

/// test.sh's files, and a server on them.
struct Site {
    tree: Tree,
    files: Files,
    server: Server,
}

impl Site {
    /// A server with `args`, if atftp is installed (see [`require`]).
    fn start(args: &[&str]) -> Option<Site> {
        Site::start_with(Server::start, args)
    }

    /// Like [`Site::start`], for a load test: no other test runs meanwhile.
    fn start_alone(args: &[&str]) -> Option<Site> {
        Site::start_with(Server::start_alone, args)
    }

    fn start_with(start: fn(&std::path::Path, &[&str]) -> Server, args: &[&str]) -> Option<Site> {
        if !require("atftp") {
            return None;
        }
        let (tree, files) = Tree::with_random_files(SIZES);
        let server = start(&tree.root(), args);
        Some(Site {
            tree,
            files,
            server,
        })
    }

    fn content(&self, name: &str) -> &[u8] {
        &self.files.iter().find(|(n, _)| *n == name).unwrap().1
    }

    /// `atftp [options] --get` of `name` into the out folder; checks the exit
    /// code is 0 and the copy is exact; returns the client's output.
    fn get(&self, options: &[&str], name: &str) -> String {
        let out = self.tree.out(&format!(
            "{name}-{}",
            options.join("_").replace([' ', '"'], "")
        ));
        let port = self.server.port().to_string();
        let mut args: Vec<&str> = options.to_vec();
        args.extend([
            "--get",
            "--remote-file",
            name,
            "--local-file",
            arg(&out),
            "127.0.0.1",
            &port,
        ]);
        let output = run_client("atftp", &args);
        let what = format!("atftp {} --get {name}", options.join(" "));
        let printed = assert_exit(&output, 0, &what);
        assert_file(&out, self.content(name), &what);
        printed
    }

    /// `atftp [options] --get -r NAME -l LOCAL 127.0.0.1 PORT`, as it ends.
    fn run(&self, options: &[&str], name: &str, local: &str) -> Output {
        run_client("atftp", &self.args(options, name, local))
    }

    fn args(&self, options: &[&str], name: &str, local: &str) -> Vec<String> {
        let port = self.server.port().to_string();
        let mut args = options.to_vec();
        args.extend(["--get", "-r", name, "-l", local, "127.0.0.1", &port]);
        args.into_iter().map(String::from).collect()
    }
}

#[test]
fn get_every_size() {
    let Some(site) = Site::start(&[]) else {
        return;
    };
    for (name, _) in &site.files {
        site.get(&[], name);
    }
    site.server.stop();
}

#[test]
fn blksize_8_to_65464_succeed() {
    let Some(site) = Site::start(&[]) else {
        return;
    };
    // (file, asked, granted): asks above the default maximum of 1468 are
    // lowered to it, and atftp accepts the lower value.
    let runs = [
        ("51111.bin", "8", "8"),
        ("51111.bin", "256", "256"),
        ("1M.bin", "1428", "1428"),
        ("1M.bin", "1533", "1468"),
        ("1M.bin", "16000", "1468"),
        ("1M.bin", "40000", "1468"),
        ("1M.bin", "65464", "1468"),
    ];
    for (name, asked, granted) in runs {
        let mark = site.server.mark();
        site.get(&["--option", &format!("blksize {asked}")], name);
        let line = site.server.wait_request(mark, name, "sent ");
        assert!(line.contains(&format!("[blksize {granted}]")), "{line}");
    }
    site.server.stop();
}

/// With `--max-blksize 65464` the largest block RFC 2348 allows is really
/// granted: 17 DATA packets of 65 464 bytes on loopback for 1 MiB.
#[test]
fn blksize_65464_granted_in_full() {
    let Some(site) = Site::start(&["--max-blksize", "65464"]) else {
        return;
    };
    let mark = site.server.mark();
    site.get(&["--option", "blksize 65464"], "1M.bin");
    let line = site
        .server
        .wait_request(mark, "1M.bin", "sent 1.0 MiB in 17 blocks");
    assert!(line.contains("[blksize 65464]"), "{line}");
    site.server.stop();
}

/// test.sh's rollover run: 1 MiB at blksize 8 is 131 073 blocks, so block
/// numbers wrap past 65 535 (to 0, as atftp expects); the trace shows exactly one
/// DATA per block, none sent twice.
#[test]
fn blksize_8_rolls_block_numbers_over() {
    let Some(site) = Site::start(&[]) else {
        return;
    };
    let trace = site.get(&["--option", "blksize 8", "--trace"], "1M.bin");
    assert_eq!(trace.matches("DATA <block:").count(), 131_073);
    // atftp 0.8's trace counts blocks past 65535 itself (the wire number
    // wraps to 0): the last one is the empty block 131073.
    assert!(
        trace.contains("DATA <block: 131073, size 0>"),
        "the final empty block did not arrive"
    );
    site.server
        .wait_text(0, "1M.bin  sent 1.0 MiB in 131073 blocks");
    site.server.stop();
}

#[test]
fn out_of_range_options_fail_to_negotiate() {
    let Some(site) = Site::start(&[]) else {
        return;
    };
    for (option, reason) in [
        ("blksize 7", "option blksize 7 is outside 8-65464"),
        ("blksize 65465", "option blksize 65465 is outside 8-65464"),
        ("timeout 0", "option timeout 0 is outside 1-255"),
        ("timeout 256", "option timeout 256 is outside 1-255"),
    ] {
        let mark = site.server.mark();
        let output = site.run(&["--option", option, "--trace"], "2K.bin", "/dev/null");
        let text = assert_exit(&output, 255, &format!("atftp --option {option:?}"));
        assert!(
            text.contains("<Failure to negotiate RFC2347 options>"),
            "{option}: {text}"
        );
        site.server
            .wait_request(mark, "2K.bin", &format!("REFUSED OPTIONS ({reason})"));
    }
    // And atftp's not-found check.
    let output = site.run(&["--trace"], "thisfiledoesntexist", "/dev/null");
    let text = assert_exit(&output, 255, "atftp get of a missing file");
    assert_contains(&text, &["<File not found>"]);
    site.server.stop();
}

/// test.sh strips every non-digit from the client's `OACK <tsize: N, >`
/// line: the OACK must carry tsize alone, with the real size.
#[test]
fn tsize_reports_the_real_size() {
    let Some(site) = Site::start(&[]) else {
        return;
    };
    for (name, len) in [("2K.bin", 2048), ("1M.bin", 1 << 20), ("0.bin", 0)] {
        let output = site.run(&["--option", "tsize", "--trace"], name, "/dev/null");
        let text = assert_exit(&output, 0, &format!("atftp tsize {name}"));
        let line = text
            .lines()
            .find(|l| l.contains("OACK <tsize:"))
            .unwrap_or_else(|| panic!("no OACK line:\n{text}"));
        let digits: String = line.chars().filter(char::is_ascii_digit).collect();
        assert_eq!(digits, len.to_string(), "{line}");
    }
    site.server.stop();
}

/// test.sh's windowsize runs with `--trace`: exactly tsize/blksize + 1 DATA
/// and tsize/(blksize*windowsize) + 1 ACKs (ACK 0 aside). An extra DATA
/// would be a resend, an extra ACK a window answered twice.
#[test]
fn windowsize_runs_send_each_block_once() {
    let Some(site) = Site::start(&[]) else {
        return;
    };
    let runs = [
        ("2K.bin", 1, 1024),
        ("2K.bin", 2, 512),
        ("2K.bin", 4, 256),
        ("128K.bin", 8, 1024),
        ("128K.bin", 16, 512),
        ("1M.bin", 5, 1428),
        ("1M.bin", 8, 512),
        ("1M.bin", 64, 1468),
    ];
    for (name, window, blksize) in runs {
        let windowsize = format!("windowsize {window}");
        let block = format!("blksize {blksize}");
        let options = [
            "--option",
            "tsize 0",
            "--option",
            &windowsize,
            "--option",
            &block,
            "--trace",
        ];
        let mark = site.server.mark();
        let trace = site.get(&options, name);
        let size = site.content(name).len();
        let what = format!("{name} windowsize {window} blksize {blksize}");
        assert_eq!(
            trace.matches("DATA <block:").count(),
            size / blksize + 1,
            "DATA count, {what}"
        );
        let acks =
            trace.matches("ACK <block:").count() - trace.matches("sent ACK <block: 0>").count();
        assert_eq!(acks, size / (blksize * window) + 1, "ACK count, {what}");
        let line = site.server.wait_request(mark, name, "sent ");
        assert!(!line.contains("resent"), "{what}: {line}");
    }
    site.server.stop();
}

/// test.sh's high-load test, with contents compared: 200 atftp clients
/// fetch 1 MiB at once. They all come from 127.0.0.1, and the default cap
/// of 64 transfers per client address would silently drop the excess
/// requests (a phone retries; atftp gives up), so the cap is raised to 250.
#[test]
fn two_hundred_parallel_clients() {
    let Some(site) = Site::start_alone(&["--max-per-client", "250"]) else {
        return;
    };
    let printed = parallel_downloads(
        &site.tree,
        "atftp",
        200,
        |out| site.args(&[], "1M.bin", arg(out)),
        site.content("1M.bin"),
        "atftp client",
    );
    for (i, text) in printed.iter().enumerate() {
        // test.sh: any output but a retry notice is a failure.
        assert!(
            text.lines()
                .all(|l| l.trim().is_empty() || l.contains("timeout: retrying")),
            "atftp client #{i} said:\n{text}"
        );
    }
    assert_sent_count(&site.server.stop(), "1M.bin", 200);
}
