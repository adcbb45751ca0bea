//! Hostile and broken requests, by raw UDP, with exact reply bytes: every
//! traversal pattern the name rules refuse, every TFTP case of
//! `shared/reference/security.md` §1 (the CVE is in the test's name), WRQ,
//! unknown modes and opcodes, out-of-range options, packets of 0–3 bytes, a
//! client ERROR mid-transfer and a stray packet from another port.
//!
//! The served root has a sibling folder `outside/` with a secret file, so
//! `../outside/secret.txt` is a real path to it; every datagram any test
//! receives is checked for the secret's marker and for the first lines of
//! the real /etc/passwd and /etc/group (see `harness::Raw`).
//!
//! Each case runs alone on a fresh server as its own test, and all of them
//! run again in a row on one server (`every_case_in_a_row_on_one_server`);
//! either way the server must then still serve a normal file correctly and
//! stop cleanly: no crash, no hang.

use phoneprov_tftp::Printable;

use crate::harness::{assert_same, wire, Raw, Server, Tree, SECRET};

/// The server's retransmission timeout here: short, so transfers that a case
/// abandons end quickly.
const TIMEOUT: &str = "0.2";

const LEAVES_ROOT: &str = "DENIED (the name would leave the TFTP root";
const PERCENT: &str = "DENIED (the name contains a percent escape";
const ABSOLUTE: &str = "DENIED (the name is an absolute or network path)";
const COLON: &str = "DENIED (the name contains ':'";
const CONTROL: &str = "DENIED (the name contains a control character)";
const SYMLINK_OUT: &str = "DENIED (it is a symlink to a file outside the TFTP root)";
const NOT_FOUND: &str = "NOT FOUND (no file of that name, in any case)";

struct Ctx {
    tree: Tree,
    server: Server,
    small: Vec<u8>,
    medium: Vec<u8>,
    healthy: Vec<u8>,
}

impl Ctx {
    fn new() -> Ctx {
        let tree = Tree::new();
        let small = tree.write("small.txt", b"small\0");
        let medium = tree.random("medium.bin", 3000);
        let healthy = tree.random("healthy.bin", 70_000);
        tree.random("combo.bin", 1000);
        tree.random("big.bin", 200_000);
        tree.write("sub/file.txt", b"in a sub-directory\n");
        tree.write("etc/motd", b"the motd inside the root\n");
        tree.write("%s%n.cfg", b"a name with format characters\n");
        let root = tree.root();
        let link = |target: &std::path::Path, name: &str| {
            std::os::unix::fs::symlink(target, root.join(name)).unwrap()
        };
        link(&tree.outside().join("secret.txt"), "leak");
        link(&tree.outside(), "leakdir");
        link(std::path::Path::new("/etc"), "etc_link");
        link(std::path::Path::new("small.txt"), "alias.txt");
        let server = Server::start(&root, &["--timeout", TIMEOUT]);
        Ctx {
            tree,
            server,
            small,
            medium,
            healthy,
        }
    }

    fn raw(&self) -> Raw {
        Raw::new(self.server.addr)
    }

    /// `request` gets exactly `reply` (from the listening port when
    /// `from_listener`), and the server prints `outcome` for `name`.
    fn answered(
        &self,
        request: &[u8],
        reply: &[u8],
        from_listener: bool,
        name: &str,
        outcome: &str,
    ) {
        let mark = self.server.mark();
        let raw = self.raw();
        let (got, from) = raw.request(request);
        assert_same(
            &got,
            reply,
            &format!("the reply to {}", wire::show(request)),
        );
        if from_listener {
            assert_eq!(
                from, self.server.addr,
                "the reply should come from the listening port"
            );
        }
        self.server.wait_request(mark, name, outcome);
    }

    /// An RRQ (octet, no options) for `name` gets exactly `reply`.
    fn rrq_refused(&self, name: &[u8], reply: Vec<u8>, outcome: &str) {
        let printed = match name {
            b"" => "-".to_string(),
            name => Printable(name).to_string(),
        };
        self.answered(
            &wire::rrq(name, "octet", &[]),
            &reply,
            false,
            &printed,
            outcome,
        );
    }

    fn leaves_root(&self, name: &str) {
        self.rrq_refused(name.as_bytes(), wire::access_violation(), LEAVES_ROOT);
    }

    /// A datagram that is no TFTP request: ERROR 4 from the listening port.
    fn malformed(&self, datagram: &[u8], reason: &str) {
        let outcome = format!("ILLEGAL REQUEST (malformed packet: {reason})");
        self.answered(datagram, &wire::illegal(), true, "-", &outcome);
    }

    /// A datagram that gets no reply at all.
    fn ignored(&self, datagram: &[u8]) {
        let raw = self.raw();
        raw.send(datagram);
        raw.expect_silence(&wire::show(datagram));
    }

    /// `request` is served normally and the download equals `expected`.
    fn served(&self, request: &[u8], expected: &[u8]) -> crate::harness::Fetched {
        let fetched = self.raw().fetch(request);
        assert_same(
            &fetched.data,
            expected,
            &format!("download by {}", wire::show(request)),
        );
        fetched
    }

    /// After a case: a normal file is still served correctly, plain and
    /// with options, and the secret is untouched.
    fn healthy(&self) {
        self.served(&wire::rrq(b"healthy.bin", "octet", &[]), &self.healthy);
        let options = [("blksize", "1024"), ("windowsize", "4"), ("tsize", "0")];
        let fetched = self.served(&wire::rrq(b"healthy.bin", "octet", &options), &self.healthy);
        assert_eq!(
            fetched.oack.unwrap(),
            wire::oack(&[("blksize", "1024"), ("windowsize", "4"), ("tsize", "70000")])
        );
        let secret = std::fs::read_to_string(self.tree.outside().join("secret.txt")).unwrap();
        assert_eq!(
            secret,
            format!("{SECRET}\n").repeat(64),
            "the secret file changed"
        );
    }

    fn finish(self) {
        self.healthy();
        let lines = self.server.stop();
        // A hostile name can never forge a line: whatever it holds comes out escaped.
        for line in &lines {
            assert!(
                !line.starts_with("forged") && !line.contains('\x1b'),
                "a request forged or coloured a line: {line:?}"
            );
        }
    }
}

/// Declares each case as its own test, and lists them all for the run in a row.
macro_rules! cases {
    ($($(#[$meta:meta])* $name:ident => $body:expr,)*) => {
        $(
            $(#[$meta])*
            #[test]
            fn $name() {
                let ctx = Ctx::new();
                let case: fn(&Ctx) = $body;
                case(&ctx);
                ctx.finish();
            }
        )*

        fn all_cases() -> Vec<(&'static str, fn(&Ctx))> {
            vec![$((stringify!($name), $body as fn(&Ctx))),*]
        }
    };
}

#[test]
fn every_case_in_a_row_on_one_server() {
    let ctx = Ctx::new();
    for (name, case) in all_cases() {
        eprintln!("case {name}");
        case(&ctx);
    }
    ctx.finish();
}

fn long_name(len: usize) -> Vec<u8> {
    b"A".repeat(len)
}

fn too_long(c: &Ctx, len: usize) {
    let outcome = format!("DENIED (the name is {len} bytes long; the limit is 255)");
    c.rrq_refused(&long_name(len), wire::access_violation(), &outcome);
}

/// A transfer of medium.bin started by `raw`: its first DATA and the TID.
fn start_medium(raw: &Raw) -> (Vec<u8>, std::net::SocketAddr) {
    let (first, tid) = raw.request(&wire::rrq(b"medium.bin", "octet", &[]));
    assert_eq!(&first[..4], &[0, 3, 0, 1], "{}", wire::show(&first));
    (first, tid)
}

/// After a client ERROR, the transfer is over: with a 0.2 s retransmission
/// timeout a live transfer would resend DATA within the silence window.
/// Resends from before the ERROR arrived are already queued once the line is
/// printed (loopback delivers at send), so they are drained first.
fn client_gives_up(c: &Ctx, code: u16, text: &[u8]) -> String {
    let raw = c.raw();
    let mark = c.server.mark();
    let (_, tid) = start_medium(&raw);
    raw.send_to(tid, &wire::error(code, text));
    let line = c
        .server
        .wait_request(mark, "medium.bin", "CLIENT GAVE UP (error ");
    raw.drain();
    raw.expect_silence("DATA after the client's ERROR");
    line
}

fn option_refused(c: &Ctx, name: &str, value: &str, reason: &str) {
    let request = wire::rrq(b"small.txt", "octet", &[(name, value)]);
    let outcome = format!("REFUSED OPTIONS ({reason})");
    c.answered(
        &request,
        &wire::option_refused(),
        false,
        "small.txt",
        &outcome,
    );
}

fn unknown_mode(c: &Ctx, mode: &str) {
    let outcome = format!("ILLEGAL REQUEST (unsupported transfer mode \"{mode}\")");
    c.answered(
        &wire::rrq(b"small.txt", mode, &[]),
        &wire::illegal(),
        false,
        "small.txt",
        &outcome,
    );
}

cases! {
    // ---- traversal ----------------------------------------------------------
    dotdot_to_the_sibling_secret => |c| c.leaves_root("../outside/secret.txt"),
    dotdot_alone => |c| c.leaves_root(".."),
    dotdot_after_a_subdirectory => |c| c.leaves_root("sub/../../outside/secret.txt"),
    dotdot_at_the_end => |c| c.leaves_root("sub/.."),
    single_dot_component => |c| c.leaves_root("sub/./file.txt"),
    dots_and_space_component => |c| c.leaves_root(".. /outside/secret.txt"),
    four_dots => |c| c.leaves_root("...."),
    /// CVE-2002-1209 (SolarWinds TFTP): `..\`.
    cve_2002_1209_solarwinds_dotdot_backslash => |c| c.leaves_root("..\\outside\\secret.txt"),
    /// CVE-2005-1813 (FutureSoft TFTP): `../` and `..\` mixed.
    cve_2005_1813_futuresoft_mixed_separators => |c| c.leaves_root("sub/..\\../outside/secret.txt"),
    /// CVE-2006-1951 (SolarWinds TFTP): `....//`, which its filter collapsed into `../`.
    cve_2006_1951_solarwinds_four_dots_double_slash => |c| c.leaves_root("....//outside/secret.txt"),
    /// CVE-2006-1952 (WinAgents TFTP): `...`.
    cve_2006_1952_winagents_three_dots => |c| c.leaves_root(".../outside/secret.txt"),
    /// CVE-2008-1620 (2X ThinClientServer TFTPd): `...` chains.
    cve_2008_1620_2x_thinclient_three_dot_chain => |c| c.leaves_root("...\\...\\outside\\secret.txt"),
    /// CVE-2007-0888 (Kiwi CatTools TFTP): `..//`.
    cve_2007_0888_kiwi_cattools_dotdot_double_slash => |c| c.leaves_root("..//outside//secret.txt"),
    /// CVE-2009-0288 (TFTPUtil GUI): traversal in GET.
    cve_2009_0288_tftputil_get_traversal => |c| c.leaves_root("sub/file.txt/../../../outside/secret.txt"),
    /// CVE-2011-4722 (Ipswitch WhatsUp Gold TFTP): `..` to /etc/passwd.
    cve_2011_4722_whatsup_gold_dotdot_to_etc_passwd => |c| c.leaves_root("../../../../../../../../etc/passwd"),
    /// CVE-2012-6664 (Distinct Intranet Servers TFTP): `..\` to /etc/passwd.
    cve_2012_6664_distinct_dotdot_backslash => |c| c.leaves_root("..\\..\\..\\..\\..\\..\\etc\\passwd"),
    /// CVE-2026-21620 (Erlang/OTP tftp_file): relative traversal after "./".
    cve_2026_21620_erlang_relative_traversal => |c| c.leaves_root("./../outside/secret.txt"),
    percent_encoded_dotdot => |c| c.rrq_refused(b"%2e%2e%2foutside%2fsecret.txt", wire::access_violation(), PERCENT),
    percent_encoded_backslash => |c| c.rrq_refused(b"..%5coutside%5csecret.txt", wire::access_violation(), PERCENT),
    double_percent_encoding => |c| c.rrq_refused(b"%252e%252e%252fetc%252fpasswd", wire::access_violation(), PERCENT),
    double_slash_is_absolute => |c| c.rrq_refused(b"//etc/passwd", wire::access_violation(), ABSOLUTE),
    unc_path_is_absolute => |c| c.rrq_refused(b"\\\\host\\share\\secret.txt", wire::access_violation(), ABSOLUTE),
    drive_letter => |c| c.rrq_refused(b"C:\\boot.ini", wire::access_violation(), COLON),
    ntfs_stream => |c| c.rrq_refused(b"small.txt::$DATA", wire::access_violation(), COLON),
    /// One leading "/" is the phone's empty locale folder: "/etc/passwd" is
    /// etc/passwd inside the root, which does not exist. The real one never leaks.
    absolute_etc_passwd_is_looked_up_inside_the_root => |c| c.rrq_refused(b"/etc/passwd", wire::not_found(), NOT_FOUND),
    absolute_path_of_the_secret_is_not_found => |c| {
        let name = format!("{}/secret.txt", c.tree.outside().display());
        c.rrq_refused(name.as_bytes(), wire::not_found(), NOT_FOUND);
    },
    absolute_name_serves_the_copy_inside_the_root => |c| {
        c.served(&wire::rrq(b"/etc/motd", "octet", &[]), b"the motd inside the root\n");
    },
    symlink_to_a_file_outside => |c| c.rrq_refused(b"leak", wire::access_violation(), SYMLINK_OUT),
    symlink_outside_matched_case_insensitively => |c| c.rrq_refused(b"LEAK", wire::access_violation(), SYMLINK_OUT),
    symlinked_folder_outside => |c| c.rrq_refused(b"leakdir/secret.txt", wire::access_violation(), SYMLINK_OUT),
    symlink_to_etc => |c| c.rrq_refused(b"etc_link/passwd", wire::access_violation(), SYMLINK_OUT),
    /// Files are held in memory while sent; anything over 256 MiB is refused
    /// (a sparse file, so the test writes nothing).
    file_over_256_mib_is_refused => |c| {
        let file = std::fs::File::create(c.tree.root().join("huge.bin")).unwrap();
        file.set_len((256 << 20) + 1).unwrap();
        c.rrq_refused(b"huge.bin", wire::access_violation(),
            "DENIED (huge.bin is 268435457 bytes, over the 256 MiB limit)");
        std::fs::remove_file(c.tree.root().join("huge.bin")).unwrap();
    },
    symlink_inside_the_root_is_served => |c| {
        c.served(&wire::rrq(b"alias.txt", "octet", &[]), &c.small);
    },

    // ---- odd bytes in names -------------------------------------------------
    empty_name => |c| c.rrq_refused(b"", wire::access_violation(), "DENIED (the name is empty)"),
    newline_in_name_cannot_forge_a_line => |c| c.rrq_refused(b"small.txt\nforged line", wire::access_violation(), CONTROL),
    terminal_escape_in_name => |c| c.rrq_refused(b"\x1b[2Jsmall.txt", wire::access_violation(), CONTROL),
    invalid_utf8_name => |c| c.rrq_refused(b"secret\xff.txt", wire::access_violation(), "DENIED (the name is not valid UTF-8)"),
    /// A NUL inside the name ends it; what follows is read as the mode.
    embedded_nul_ends_the_name => |c| {
        let request = b"\x00\x01small.txt\x00../outside/secret.txt\x00";
        c.answered(request, &wire::illegal(), false, "small.txt",
            "ILLEGAL REQUEST (unsupported transfer mode \"../outside/secret.txt\")");
    },
    /// Juniper IDP signature TFTP:FNAME-NOT-T2: a name without its NUL.
    name_without_nul_terminator => |c| c.malformed(b"\x00\x01small.txt", "the file name is not terminated by a NUL byte"),
    mode_without_nul_terminator => |c| c.malformed(b"\x00\x01small.txt\x00octet", "the mode is not terminated by a NUL byte"),

    // ---- over-long names and requests ---------------------------------------
    /// The longest name allowed is only not found, and the reply is the
    /// exact short text: dnsmasq 2.78 mis-sized ERROR packets past 500
    /// characters and leaked memory; ours never echo the name.
    dnsmasq_2_78_longest_name_gets_an_exact_short_error => |c| c.rrq_refused(&long_name(255), wire::not_found(), NOT_FOUND),
    name_of_256_bytes => |c| too_long(c, 256),
    /// CVE-2006-6141 (Tftpd32 3.01): long GET name overflowed the window title.
    cve_2006_6141_tftpd32_long_name => |c| too_long(c, 300),
    /// Snort SID 1941 (atftp 0.6): remote overflow with an over-long file name.
    /// (CVE-2002-2396, atftp's local `-g` overflow, is client-side: no server case.)
    snort_1941_atftp_long_file_name => |c| too_long(c, 1500),
    /// CVE-2006-6184 (AT-TFTP 1.9) / CVE-2013-0145 (Serva32): long names past PATH_MAX.
    cve_2006_6184_and_2013_0145_name_past_path_max => |c| too_long(c, 4097),
    rrq_name_padded_to_65000_bytes => |c| too_long(c, 65000),
    /// Some stacks pad requests with NULs: a valid RRQ followed by 65 000
    /// NUL bytes is served.
    rrq_nul_padded_to_65000_bytes_is_served => |c| {
        let mut request = wire::rrq(b"small.txt", "octet", &[]);
        request.resize(65000, 0);
        c.served(&request, &c.small);
    },
    /// CVE-2009-2957 (dnsmasq < 2.50): heap overflow in the TFTP code. A
    /// request that fills a datagram with unknown options is served, no OACK.
    cve_2009_2957_dnsmasq_request_filling_a_datagram => |c| {
        let names: Vec<String> = (0..3000).map(|i| format!("opt{i:05}")).collect();
        let options: Vec<(&str, &str)> = names.iter().map(|n| (n.as_str(), "0123456789")).collect();
        let request = wire::rrq(b"small.txt", "octet", &options);
        assert!(request.len() > 60_000);
        assert!(c.served(&request, &c.small).oack.is_none());
    },
    /// CVE-2009-2958 (dnsmasq < 2.50): a malformed request crashed it.
    cve_2009_2958_dnsmasq_option_without_value => |c| c.malformed(b"\x00\x01small.txt\x00octet\x00tsize\x00", "option \"tsize\" has no value"),

    // ---- format strings -----------------------------------------------------
    /// CVE-2006-0328 (Tftpd32 <= 2.81): '%' in names reached a format
    /// string. Here they are ordinary characters: not found, no crash.
    cve_2006_0328_tftpd32_format_string_name => |c| c.rrq_refused(b"%s%s%s%n%n%n%p%x", wire::not_found(), NOT_FOUND),
    format_characters_in_an_existing_name_are_served => |c| {
        c.served(&wire::rrq(b"%s%n.cfg", "octet", &[]), b"a name with format characters\n");
    },
    /// CVE-2013-6809 (Tftpd32 client): "%08x" has two hex digits after '%',
    /// which our rules take for a percent escape: refused, not formatted.
    cve_2013_6809_tftpd32_format_width => |c| c.rrq_refused(b"%08x%08x%08x", wire::access_violation(), PERCENT),

    // ---- ERROR texts from the client ----------------------------------------
    /// CVE-2019-11365 (atftpd 0.7): overflow copying a client ERROR's text.
    /// 60 000 bytes without a NUL: the transfer ends, the line is bounded.
    cve_2019_11365_atftpd_long_client_error_text => |c| {
        let line = client_gives_up(c, 0, &long_name(60_000)[..]);
        assert!(line.contains("CLIENT GAVE UP (error 0: AAAA"), "{line}");
        assert!(line.len() < 2000, "the client's text was not bounded: {} chars", line.len());
    },
    /// CVE-2008-2161 (TFTP Server SP 1.4): overflow from a long ERROR. Sent
    /// to the listening port it belongs to no transfer and gets no reply.
    cve_2008_2161_long_error_to_the_listening_port => |c| c.ignored(&wire::error(0, &long_name(60_000))),
    client_error_text_is_logged_escaped => |c| {
        let line = client_gives_up(c, 65535, b"\x1b[31mred\nforged");
        assert!(line.ends_with("CLIENT GAVE UP (error 65535: \\u{1b}[31mred\\nforged)"), "{line}");
    },
    client_error_mid_transfer_stops_the_transfer => |c| {
        let line = client_gives_up(c, 0, b"user abort");
        assert!(line.ends_with("CLIENT GAVE UP (error 0: user abort)"), "{line}");
    },

    // ---- options ------------------------------------------------------------
    blksize_7 => |c| option_refused(c, "blksize", "7", "option blksize 7 is outside 8-65464"),
    blksize_65465 => |c| option_refused(c, "blksize", "65465", "option blksize 65465 is outside 8-65464"),
    timeout_0 => |c| option_refused(c, "timeout", "0", "option timeout 0 is outside 1-255"),
    timeout_256 => |c| option_refused(c, "timeout", "256", "option timeout 256 is outside 1-255"),
    windowsize_0 => |c| option_refused(c, "windowsize", "0", "option windowsize 0 is outside 1-65535"),
    windowsize_65536 => |c| option_refused(c, "windowsize", "65536", "option windowsize 65536 is outside 1-65535"),
    blksize_not_a_number => |c| option_refused(c, "blksize", "-512", "option blksize has a value that is not a decimal number: \"-512\""),
    tsize_of_twenty_digits => |c| option_refused(c, "tsize", "99999999999999999999", "option tsize has a value that is not a decimal number: \"99999999999999999999\""),
    /// CVE-2021-41054 (atftp <= 0.7.4): buffer sizing ignored the mix of
    /// data, OACK and options. blksize 8 + tsize + windowsize 65535: the
    /// window is lowered to 64 and the file arrives in 8-byte blocks.
    cve_2021_41054_atftp_blksize_8_tsize_windowsize_65535 => |c| {
        let options = [("blksize", "8"), ("tsize", "0"), ("windowsize", "65535")];
        let fetched = c.served(&wire::rrq(b"combo.bin", "octet", &options), &std::fs::read(c.tree.root().join("combo.bin")).unwrap());
        assert_eq!(fetched.oack.unwrap(), wire::oack(&[("blksize", "8"), ("tsize", "1000"), ("windowsize", "64")]));
        assert_eq!(fetched.blocks, 126);
    },
    /// The same with the largest block: blksize is lowered to 1468.
    cve_2021_41054_atftp_blksize_65464_with_windowsize => |c| {
        let options = [("blksize", "65464"), ("windowsize", "65535"), ("tsize", "0")];
        let fetched = c.served(&wire::rrq(b"big.bin", "octet", &options), &std::fs::read(c.tree.root().join("big.bin")).unwrap());
        assert_eq!(fetched.oack.unwrap(), wire::oack(&[("blksize", "1468"), ("windowsize", "64"), ("tsize", "200000")]));
    },
    /// CVE-2021-46671 (atftp < 0.7.5): options.c read past an array's end and
    /// leaked /etc/group. An option list ending in a name without a value is
    /// malformed; a long list of unknown options before tsize gets an OACK of
    /// tsize alone (and the leak check looks at every reply).
    cve_2021_46671_atftp_option_list_ends_without_value => |c| c.malformed(b"\x00\x01small.txt\x00octet\x00tsize\x000\x00blksize\x00", "option \"blksize\" has no value"),
    cve_2021_46671_atftp_many_unknown_options_then_tsize => |c| {
        let names: Vec<String> = (0..2000).map(|i| format!("x{i}")).collect();
        let mut options: Vec<(&str, &str)> = names.iter().map(|n| (n.as_str(), "y")).collect();
        options.push(("tsize", "0"));
        let fetched = c.served(&wire::rrq(b"medium.bin", "octet", &options), &c.medium);
        assert_eq!(fetched.oack.unwrap(), wire::oack(&[("tsize", "3000")]));
    },
    /// CVE-2011-2199 (tftp-hpa < 5.1): overflow through the `utimeout`
    /// option. Unknown here: ignored, so no OACK at all.
    cve_2011_2199_tftp_hpa_utimeout_is_ignored => |c| {
        let request = wire::rrq(b"small.txt", "octet", &[("utimeout", "99999999999999999999999999")]);
        assert!(c.served(&request, &c.small).oack.is_none());
        let request = wire::rrq(b"small.txt", "octet", &[("utimeout", "1"), ("timeout", "1")]);
        assert_eq!(c.served(&request, &c.small).oack.unwrap(), wire::oack(&[("timeout", "1")]));
    },
    /// CVE-2020-6097 (atftpd < 0.7.3): RRQs with the RFC 2090 multicast
    /// option tripped an assert. Unknown here: served as plain RRQs.
    cve_2020_6097_atftpd_multicast_option_is_ignored => |c| {
        for _ in 0..10 {
            let request = wire::rrq(b"medium.bin", "octet", &[("multicast", "")]);
            assert!(c.served(&request, &c.medium).oack.is_none());
        }
    },
    /// CVE-2019-11366 (atftpd 0.7): a DoS around its transfer bookkeeping.
    /// 40 transfers left hanging do not stop others, and all end cleanly.
    cve_2019_11366_atftpd_many_unfinished_transfers => |c| {
        let mark = c.server.mark();
        let hanging: Vec<(Raw, std::net::SocketAddr)> = (0..40)
            .map(|_| {
                let raw = c.raw();
                let (_, tid) = start_medium(&raw);
                (raw, tid)
            })
            .collect();
        c.healthy();
        for (raw, tid) in &hanging {
            raw.send_to(*tid, &wire::error(0, b"bye"));
        }
        // Each hanging transfer ends with its own line.
        c.server.wait_count(mark, "  medium.bin  CLIENT GAVE UP (error 0: bye)", 40);
    },

    // ---- requests that are not reads ----------------------------------------
    /// Read-only by design: a WRQ is refused from the listening port.
    /// (The text is "Read-only server", not the generic "Access violation".)
    wrq_is_refused_from_the_listening_port => |c| {
        c.answered(&wire::wrq(b"small.txt", "octet", &[]), &wire::error(2, b"Read-only server"), true,
            "small.txt", "DENIED (uploads (WRQ) are refused: phoneprov is read-only)");
    },
    /// tqftpserv: WRQ path traversal made arbitrary writes. Nothing is
    /// written, wherever the DATA is sent.
    tqftpserv_wrq_traversal_writes_nothing => |c| {
        let before = listing(c);
        let raw = c.raw();
        let (reply, from) = raw.request(&wire::wrq(b"../outside/secret.txt", "octet", &[]));
        assert_same(&reply, &wire::error(2, b"Read-only server"), "WRQ reply");
        assert_eq!(from, c.server.addr);
        raw.send(&wire::data(1, b"owned"));
        raw.expect_silence("DATA to the listening port");
        assert_eq!(listing(c), before, "a WRQ changed the files");
    },
    unknown_mode_ascii => |c| unknown_mode(c, "ascii"),
    unknown_mode_binary => |c| unknown_mode(c, "binary"),
    unknown_mode_mail => |c| unknown_mode(c, "mail"),
    unknown_mode_locale => |c| unknown_mode(c, "en_US.UTF-8"),
    mode_is_case_insensitive => |c| {
        c.served(&wire::rrq(b"small.txt", "OcTeT", &[]), &c.small);
    },
    unknown_opcode_7 => |c| c.malformed(b"\x00\x07small.txt\x00octet\x00", "unknown opcode 7"),
    unknown_opcode_0 => |c| c.malformed(b"\x00\x00small.txt\x00octet\x00", "unknown opcode 0"),
    unknown_opcode_65535 => |c| c.malformed(b"\xff\xffsmall.txt\x00octet\x00", "unknown opcode 65535"),
    packet_of_0_bytes => |c| {
        let mark = c.server.mark();
        c.ignored(b"");
        c.server.wait_request(mark, "-", "ILLEGAL REQUEST (malformed packet: datagram of 0 bytes is too short");
    },
    packet_of_1_byte => |c| c.ignored(b"\x01"),
    packet_of_2_bytes => |c| c.malformed(b"\x01\x02", "unknown opcode 258"),
    packet_of_3_bytes => |c| c.malformed(b"\x01\x02\x03", "unknown opcode 258"),
    rrq_of_2_bytes => |c| c.malformed(b"\x00\x01", "the file name is not terminated by a NUL byte"),
    ack_of_3_bytes => |c| c.malformed(b"\x00\x04\x00", "datagram of 3 bytes is too short for a TFTP packet"),
    /// DATA, ACK, ERROR and OACK belong to transfers, not to the listening port.
    transfer_packets_to_the_listening_port_are_ignored => |c| {
        c.ignored(&wire::ack(1));
        c.ignored(&wire::data(1, b"x"));
        c.ignored(&wire::error(0, b"x"));
        c.ignored(&wire::oack(&[("blksize", "512")]));
    },

    // ---- transfers disturbed ------------------------------------------------
    /// RFC 1350 §4: a packet from another port gets ERROR 5, and the
    /// transfer goes on to the end.
    stray_packet_from_another_port_gets_error_5 => |c| {
        let mark = c.server.mark();
        let raw = c.raw();
        let (first, tid) = start_medium(&raw);
        let stray = c.raw();
        stray.send_to(tid, &wire::ack(1));
        let (reply, from) = stray.recv();
        assert_same(&reply, &wire::unknown_tid(), "the reply to a stray ACK");
        assert_eq!(from, tid);
        stray.send_to(tid, &wire::error(0, b"not yours"));
        assert_same(&stray.recv().0, &wire::unknown_tid(), "the reply to a stray ERROR");
        let fetched = raw.fetch_from(first, tid);
        assert_same(&fetched.data, &c.medium, "the transfer after a stray packet");
        c.server.wait_request(mark, "medium.bin", "sent 2.9 KiB in 6 blocks");
    },
    /// A repeated RRQ from the same address and port, while its transfer
    /// runs, starts nothing new: every packet comes from one TID.
    repeated_rrq_is_absorbed => |c| {
        let mark = c.server.mark();
        let raw = c.raw();
        let request = wire::rrq(b"medium.bin", "octet", &[]);
        let (first, tid) = raw.request(&request);
        // DATA 1 is unacknowledged, so the transfer runs. Repeat the RRQ,
        // then send a 1-byte datagram from elsewhere: the listener takes
        // datagrams in order, so once that one's line is printed the repeats
        // have been handled, all while the transfer ran.
        raw.send(&request);
        raw.send(&request);
        c.raw().send(b"\x01");
        c.server.wait_request(mark, "-", "ILLEGAL REQUEST (malformed packet: datagram of 1 bytes");
        let fetched = raw.fetch_from(first, tid);
        assert_same(&fetched.data, &c.medium, "the transfer after repeated RRQs");
        c.server.wait_request(mark, "medium.bin", "sent ");
        // Resends of the last block before our ACK arrived are already
        // queued; a second transfer would send a DATA 1 from a new port.
        while let Some((packet, from)) = raw.recv_within(crate::harness::SILENCE) {
            assert_eq!(from, tid, "a second transfer answered: {}", wire::show(&packet));
        }
        let lines = c.server.lines();
        let count = lines[mark..].iter().filter(|l| l.starts_with("127.0.0.1  medium.bin  ")).count();
        assert_eq!(count, 1, "repeated RRQs made {count} lines");
    },
}

/// Every file under the tree (root and outside), with contents.
fn listing(c: &Ctx) -> Vec<(String, Vec<u8>)> {
    let mut files = Vec::new();
    let mut dirs = vec![c.tree.root(), c.tree.outside()];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let entry = entry.unwrap();
            let kind = entry.file_type().unwrap();
            if kind.is_dir() {
                dirs.push(entry.path());
            } else if kind.is_file() {
                files.push((
                    entry.path().display().to_string(),
                    std::fs::read(entry.path()).unwrap(),
                ));
            }
        }
    }
    files.sort();
    files
}

/// A flood of junk at the listening port is answered only up to the refusal
/// budget; the rest is dropped unanswered and counted in one line, and the
/// server goes on serving.
#[test]
fn junk_flood_is_answered_within_a_budget_and_counted() {
    let ctx = Ctx::new();
    let raw = ctx.raw();
    let mark = ctx.server.mark();
    for i in 0..2000u32 {
        raw.send(&[0, 9, (i >> 8) as u8, i as u8]);
    }
    // Then uploads with names to look for, until one is answered. The server
    // reads its socket in order, and an answered refusal is the first of its
    // second or follows no drop, so the lines up to it account for everything
    // the server read of the flood (the kernel may drop some of a burst
    // before the server sees them: those count nowhere).
    let mut probes = 0;
    let seen = loop {
        probes += 1;
        assert!(probes <= 60, "none of {probes} uploads was ever answered");
        let name = format!("  probe-{probes}  ");
        raw.send(&wire::wrq(name.trim().as_bytes(), "octet", &[]));
        std::thread::sleep(std::time::Duration::from_millis(500));
        let lines = ctx.server.lines();
        if let Some(at) = lines[mark..].iter().position(|line| line.contains(&name)) {
            break lines[mark..=mark + at].to_vec();
        }
    };
    let count = |text: &str| seen.iter().filter(|line| line.contains(text)).count();
    let answered = count("(malformed packet:") + count("DENIED (uploads");
    let reports: Vec<&String> = seen
        .iter()
        .filter(|line| line.contains("were dropped unanswered (over 50 a second)"))
        .collect();
    let dropped: usize = reports
        .iter()
        .map(|line| {
            line.split_whitespace()
                .find_map(|word| word.trim_start_matches('(').parse::<usize>().ok())
                .unwrap_or_else(|| panic!("no count in {line:?}"))
        })
        .sum();
    assert!(
        dropped > 0,
        "{answered} refusals answered, none dropped: no budget"
    );
    assert!(
        answered + dropped <= 2000 + probes,
        "{answered} answered + {dropped} dropped is more than was sent"
    );
    // Each answered refusal got exactly one reply; the dropped ones none.
    assert_eq!(raw.drain(), answered, "{reports:?}");
    ctx.finish();
}
