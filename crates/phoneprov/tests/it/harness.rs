//! What every module of the system tests shares: a folder tree with a served
//! root and a secret beside it, the real `phoneprov tftp` binary on
//! 127.0.0.1 port 0 with its per-request lines collected, a raw UDP client
//! that checks every reply for leaked bytes, TFTP packet builders, and the
//! helpers that run the third-party clients under `timeout`.
//!
//! Waits are bounded everywhere; a receive timeout is only ever used to decide
//! that no reply came. No test asserts a wall-clock duration.

use std::ffi::OsStr;
use std::io::{BufRead, BufReader, Read};
use std::net::{SocketAddr, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::sync::{Arc, Condvar, Mutex, OnceLock, RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::time::{Duration, Instant};

/// The binary under test.
pub const BIN: &str = env!("CARGO_BIN_EXE_phoneprov");

/// Marker written into a file outside the served root. No reply may ever
/// contain it.
pub const SECRET: &str = "PHONEPROV-SECRET-OUTSIDE-THE-ROOT-7f3a91";

/// How long to wait for a reply that must come, and for a server line.
pub const REPLY_WAIT: Duration = Duration::from_secs(15);

/// How long to listen before deciding that no reply came.
pub const SILENCE: Duration = Duration::from_millis(1500);

/// Wrapper timeout for every third-party client process, in seconds.
pub const CLIENT_TIMEOUT: &str = "120";

// ---------------------------------------------------------------------------
// Load isolation

/// Tests that start hundreds of client processes run alone; every other test
/// shares this lock, so a load test cannot starve a test that counts packets.
static LOAD: RwLock<()> = RwLock::new(());

pub enum LoadGuard {
    Shared(#[allow(dead_code)] RwLockReadGuard<'static, ()>),
    Exclusive(#[allow(dead_code)] RwLockWriteGuard<'static, ()>),
}

fn shared_load() -> LoadGuard {
    LoadGuard::Shared(LOAD.read().unwrap_or_else(|e| e.into_inner()))
}

fn exclusive_load() -> LoadGuard {
    LoadGuard::Exclusive(LOAD.write().unwrap_or_else(|e| e.into_inner()))
}

// ---------------------------------------------------------------------------
// Files

/// A temporary tree: `root/` is served, `outside/secret.txt` lies next to it
/// (so `../outside/secret.txt` from the root is a real path to it), `out/`
/// takes what clients download.
pub struct Tree {
    dir: tempfile::TempDir,
}

impl Tree {
    pub fn new() -> Tree {
        let dir = tempfile::Builder::new()
            .prefix("phoneprov-it-")
            .tempdir()
            .expect("temp dir");
        for sub in ["root", "outside", "out"] {
            std::fs::create_dir(dir.path().join(sub)).unwrap();
        }
        let secret = format!("{SECRET}\n").repeat(64);
        std::fs::write(dir.path().join("outside/secret.txt"), secret).unwrap();
        Tree { dir }
    }

    pub fn base(&self) -> &Path {
        self.dir.path()
    }

    pub fn root(&self) -> PathBuf {
        self.dir.path().join("root")
    }

    pub fn outside(&self) -> PathBuf {
        self.dir.path().join("outside")
    }

    /// A path for a client's download.
    pub fn out(&self, name: &str) -> PathBuf {
        self.dir.path().join("out").join(name)
    }

    /// Writes `content` as `name` under the root (creating folders).
    pub fn write(&self, name: &str, content: &[u8]) -> Vec<u8> {
        let path = self.root().join(name);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).unwrap();
        }
        std::fs::write(&path, content).unwrap();
        content.to_vec()
    }

    /// Writes `len` pseudo-random bytes as `name` and returns them.
    pub fn random(&self, name: &str, len: usize) -> Vec<u8> {
        self.write(name, &random_bytes(len, name))
    }

    /// A tree holding a random file of each (name, length) of `sizes`, and
    /// those files with their contents.
    pub fn with_random_files(sizes: &[(&'static str, usize)]) -> (Tree, Files) {
        let tree = Tree::new();
        let files = sizes
            .iter()
            .map(|&(name, len)| (name, tree.random(name, len)))
            .collect();
        (tree, files)
    }
}

/// Files by name, with their contents.
pub type Files = Vec<(&'static str, Vec<u8>)>;

/// `len` bytes of xorshift noise, different for each `seed` (a file name).
pub fn random_bytes(len: usize, seed: &str) -> Vec<u8> {
    let mut state = seed
        .bytes()
        .fold(0x9e37_79b9_7f4a_7c15_u64 ^ len as u64, |h, b| {
            (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
        })
        | 1;
    let mut out = Vec::with_capacity(len + 8);
    while out.len() < len {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        out.extend_from_slice(&state.to_le_bytes());
    }
    out.truncate(len);
    out
}

/// 64-bit FNV-1a, to name contents in failure messages.
pub fn digest(bytes: &[u8]) -> String {
    let hash = bytes.iter().fold(0xcbf2_9ce4_8422_2325_u64, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    });
    format!("{} B, fnv1a {hash:016x}", bytes.len())
}

/// Asserts that `got` is exactly `expected`, saying where they first differ.
pub fn assert_same(got: &[u8], expected: &[u8], what: &str) {
    if got == expected {
        return;
    }
    let first = got
        .iter()
        .zip(expected)
        .position(|(a, b)| a != b)
        .unwrap_or(got.len().min(expected.len()));
    panic!(
        "{what}: got {} but expected {}; first difference at byte {first}",
        digest(got),
        digest(expected)
    );
}

/// Asserts that the file a client wrote is exactly `expected`.
pub fn assert_file(path: &Path, expected: &[u8], what: &str) {
    let got = std::fs::read(path)
        .unwrap_or_else(|e| panic!("{what}: the client wrote no {}: {e}", path.display()));
    assert_same(&got, expected, what);
}

// ---------------------------------------------------------------------------
// The server

#[derive(Default)]
struct Lines {
    lines: Vec<String>,
    closed: bool,
}

#[derive(Default)]
struct Collected {
    state: Mutex<Lines>,
    changed: Condvar,
}

impl Collected {
    fn reader(self: Arc<Self>, stream: impl Read + Send + 'static) {
        std::thread::spawn(move || {
            for line in BufReader::new(stream).lines() {
                let Ok(line) = line else { break };
                let mut state = self.state.lock().unwrap();
                state.lines.push(line);
                self.changed.notify_all();
            }
            self.state.lock().unwrap().closed = true;
            self.changed.notify_all();
        });
    }

    fn snapshot(&self) -> Vec<String> {
        self.state.lock().unwrap().lines.clone()
    }
}

/// The head of a phoneprov.toml whose services all listen on the loopback
/// on ports the kernel picks, DHCP in its test mode (answers go back to the
/// sender) for 127.0.0.100-110. Tests add `[dhcp]` keys, `[firmware]` and
/// their phones after it.
pub const LOOPBACK_SERVE: &str = r#"[server]
address = "127.0.0.1"
[tftp]
bind = "127.0.0.1:0"
[sip]
bind = "127.0.0.1:0"
[dhcp]
mode = "known"
port = 0
netmask = "255.0.0.0"
pool = ["127.0.0.100", "127.0.0.110"]
"#;

/// A running `phoneprov tftp`. Dropping it kills the process (a test that
/// failed halfway must not leave servers behind); [`Server::stop`] stops it
/// the proper way and checks that it exited cleanly.
pub struct Server {
    child: Child,
    pub addr: SocketAddr,
    stdout: Arc<Collected>,
    stderr: Arc<Collected>,
    /// The command line, to start it again after a crash.
    argv: Vec<std::ffi::OsString>,
    banner: String,
    /// Taken only by [`Server::restart`], which hands it on.
    load: Option<LoadGuard>,
}

impl Server {
    /// Starts the server on `root`, on 127.0.0.1 port 0, with extra `args`.
    pub fn start(root: &Path, args: &[&str]) -> Server {
        Server::launch(root, args, shared_load())
    }

    /// Like [`Server::start`], for a test that puts the machine under heavy
    /// load: no other test runs meanwhile.
    pub fn start_alone(root: &Path, args: &[&str]) -> Server {
        Server::launch(root, args, exclusive_load())
    }

    /// Starts the server through `wrapper` (e.g. setpriv), then the binary.
    pub fn start_wrapped(wrapper: &[&str], root: &Path, args: &[&str]) -> Server {
        let mut command = Command::new(wrapper[0]);
        command.args(&wrapper[1..]).arg(BIN);
        Server::spawn(command, root, args, shared_load())
    }

    fn launch(root: &Path, args: &[&str], load: LoadGuard) -> Server {
        Server::spawn(Command::new(BIN), root, args, load)
    }

    /// Starts `phoneprov serve` with `config`, whose [tftp] bind must be
    /// "127.0.0.1:0". Drop it to stop it ([`Server::stop`] expects `tftp`).
    pub fn serve(config: &Path) -> Server {
        Server::serve_wrapped(&[], config)
    }

    /// [`Server::serve`] through `wrapper`, e.g. `ip netns exec NS`, which
    /// must exec the binary (so the pid is phoneprov's, and a kill kills it).
    pub fn serve_wrapped(wrapper: &[&str], config: &Path) -> Server {
        Server::serve_with(wrapper, config, shared_load())
    }

    /// [`Server::serve`] with options after `serve`, e.g. `--apply-on-change`.
    pub fn serve_args(config: &Path, args: &[&str]) -> Server {
        let mut command = Command::new(BIN);
        command.arg("--config").arg(config).arg("serve").args(args);
        Server::run(command, "phoneprov serve: ", shared_load())
    }

    /// Like [`Server::serve_wrapped`], for a test that puts the machine
    /// under heavy load: no other test runs meanwhile.
    pub fn serve_wrapped_alone(wrapper: &[&str], config: &Path) -> Server {
        Server::serve_with(wrapper, config, exclusive_load())
    }

    fn serve_with(wrapper: &[&str], config: &Path, load: LoadGuard) -> Server {
        let mut command = match wrapper.split_first() {
            Some((program, args)) => {
                let mut command = Command::new(program);
                command.args(args).arg(BIN);
                command
            }
            None => Command::new(BIN),
        };
        command.arg("--config").arg(config).arg("serve");
        Server::run(command, "phoneprov serve: ", load)
    }

    fn spawn(mut command: Command, root: &Path, args: &[&str], load: LoadGuard) -> Server {
        command
            .arg("tftp")
            .arg("--root")
            .arg(root)
            .args(["--bind", "127.0.0.1:0"])
            .args(args);
        Server::run(command, "phoneprov tftp: serving ", load)
    }

    /// Runs `command` and waits for its first line, which starts with
    /// `banner` and ends "on ADDR (Ctrl-C to stop)".
    fn run(mut command: Command, banner: &str, load: LoadGuard) -> Server {
        command
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let argv = std::iter::once(command.get_program())
            .chain(command.get_args())
            .map(OsStr::to_os_string)
            .collect();
        let mut child = command.spawn().expect("starting phoneprov");
        let stdout = Arc::new(Collected::default());
        let stderr = Arc::new(Collected::default());
        stdout.clone().reader(child.stdout.take().unwrap());
        stderr.clone().reader(child.stderr.take().unwrap());
        let mut server = Server {
            child,
            addr: "127.0.0.1:0".parse().unwrap(),
            stdout,
            stderr,
            argv,
            banner: banner.to_owned(),
            load: Some(load),
        };
        let first = server.wait_line(0, "the serving line", |l| l.starts_with(banner));
        let addr = first
            .split(" on ")
            .last()
            .and_then(|rest| rest.split(' ').next())
            .and_then(|addr| addr.parse().ok())
            .unwrap_or_else(|| panic!("no address in the first line {first:?}"));
        server.addr = addr;
        server
    }

    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// The DHCP port of `phoneprov serve`, from its "DHCP on ADDR" line.
    pub fn dhcp_port(&self) -> u16 {
        self.port_of("DHCP")
    }

    /// The SIP port of `phoneprov serve`, from its "SIP on ADDR" line.
    pub fn sip_port(&self) -> u16 {
        self.port_of("SIP")
    }

    /// The HTTP port of `phoneprov serve`, from its "HTTP on ADDR" line.
    pub fn http_port(&self) -> u16 {
        self.port_of("HTTP")
    }

    /// The port in serve's "`service` on ADDR" line.
    fn port_of(&self, service: &str) -> u16 {
        let line = self.wait_text(0, &format!(": {service} on "));
        line.split(" on ")
            .nth(1)
            .and_then(|rest| rest.split([' ', ',']).next())
            .and_then(|addr| addr.parse::<SocketAddr>().ok())
            .map(|addr| addr.port())
            .unwrap_or_else(|| panic!("no address in {line:?}"))
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Every stdout line so far.
    pub fn lines(&self) -> Vec<String> {
        self.stdout.snapshot()
    }

    /// Every stderr line so far (warnings and errors).
    pub fn stderr_lines(&self) -> Vec<String> {
        self.stderr.snapshot()
    }

    /// A position in the lines: later waits look only at lines after it.
    pub fn mark(&self) -> usize {
        self.stdout.state.lock().unwrap().lines.len()
    }

    /// Waits (bounded) until `found` finds something in the stdout lines and
    /// returns it; panics with `failure(lines)` if the server's stdout closes
    /// or [`REPLY_WAIT`] passes first.
    fn wait_for<T>(
        &self,
        mut found: impl FnMut(&[String]) -> Option<T>,
        failure: impl FnOnce(&[String]) -> String,
    ) -> T {
        let deadline = Instant::now() + REPLY_WAIT;
        let mut state = self.stdout.state.lock().unwrap();
        loop {
            if let Some(value) = found(&state.lines) {
                return value;
            }
            let now = Instant::now();
            if state.closed || now >= deadline {
                let lines = state.lines.clone();
                drop(state);
                panic!("{}", failure(&lines));
            }
            state = self
                .stdout
                .changed
                .wait_timeout(state, deadline - now)
                .unwrap()
                .0;
        }
    }

    /// Waits for a stdout line at index `after` or later that satisfies
    /// `wanted`, and returns it. Fails if the server exits or nothing comes.
    pub fn wait_line(&self, after: usize, what: &str, wanted: impl Fn(&str) -> bool) -> String {
        self.wait_for(
            |lines| lines.iter().skip(after).find(|l| wanted(l)).cloned(),
            |lines| {
                format!(
                    "no line for {what} (server {}); stdout:\n{}\nstderr:\n{}",
                    if lines.is_empty() { "silent" } else { "ran" },
                    lines.join("\n"),
                    self.stderr.snapshot().join("\n")
                )
            },
        )
    }

    /// Waits until `count` lines at index `after` or later contain `text`.
    pub fn wait_count(&self, after: usize, text: &str, count: usize) {
        let seen = |lines: &[String]| {
            lines
                .iter()
                .skip(after)
                .filter(|l| l.contains(text))
                .count()
        };
        self.wait_for(
            |lines| (seen(lines) >= count).then_some(()),
            |lines| {
                format!(
                    "{} lines, not {count}, contain {text:?}:\n{}",
                    seen(lines),
                    lines.join("\n")
                )
            },
        )
    }

    /// Waits for the line of the request for `name` (as the server prints
    /// it) whose outcome starts with `outcome`, e.g. "DENIED (".
    pub fn wait_request(&self, after: usize, name: &str, outcome: &str) -> String {
        let prefix = format!("127.0.0.1  {name}  {outcome}");
        self.wait_line(after, &prefix.clone(), move |l| l.starts_with(&prefix))
    }

    /// Waits for a line after `after` that contains `text`.
    pub fn wait_text(&self, after: usize, text: &str) -> String {
        self.wait_line(after, text, |l| l.contains(text))
    }

    /// Sends a signal ("INT", "TERM") to the server.
    pub fn signal(&self, signal: &str) {
        let status = Command::new("kill")
            .args(["-s", signal, &self.pid().to_string()])
            .status()
            .expect("running kill");
        assert!(status.success(), "kill -s {signal} failed");
    }

    /// Kills the server with SIGKILL, as a crash or a power cut would stop
    /// it, and reaps it.
    pub fn crash(&mut self) {
        let _ = self.child.kill();
        self.child.wait().expect("reaping phoneprov");
    }

    /// Starts the same command line again once the server has exited (after
    /// [`Server::crash`]), keeping this server's place in the load lock.
    pub fn restart(mut self) -> Server {
        assert!(!self.running(), "restart: the server still runs");
        let load = self.load.take().expect("the load guard");
        let mut command = Command::new(&self.argv[0]);
        command.args(&self.argv[1..]);
        Server::run(command, &self.banner.clone(), load)
    }

    /// Waits (bounded) for the process to exit.
    pub fn wait_exit(&mut self) -> ExitStatus {
        if let Some(status) = self.exited_within(Duration::from_secs(60)) {
            return status;
        }
        let _ = self.child.kill();
        panic!(
            "phoneprov did not exit within 60 s; stdout:\n{}",
            self.lines().join("\n")
        );
    }

    /// True while the process runs.
    pub fn running(&mut self) -> bool {
        self.child
            .try_wait()
            .expect("waiting for phoneprov")
            .is_none()
    }

    /// The exit status, if the process exits within `wait`.
    pub fn exited_within(&mut self, wait: Duration) -> Option<ExitStatus> {
        poll(wait, Duration::from_millis(10), || {
            self.child.try_wait().expect("waiting for phoneprov")
        })
    }

    /// Stops the server with SIGINT and checks that it exits 0 after
    /// printing "stopped"; returns every stdout line.
    pub fn stop(mut self) -> Vec<String> {
        assert!(
            self.running(),
            "the server died before it was stopped; stdout:\n{}\nstderr:\n{}",
            self.lines().join("\n"),
            self.stderr.snapshot().join("\n")
        );
        self.signal("INT");
        self.stop_after_signal()
    }

    /// For a server already signalled: waits for it to exit 0 after
    /// printing "stopped"; returns every stdout line.
    pub fn stop_after_signal(mut self) -> Vec<String> {
        let status = self.wait_exit();
        self.wait_line(0, "the stopped line", |l| l == "phoneprov tftp: stopped");
        assert!(
            status.success(),
            "phoneprov exited with {status}; stderr:\n{}",
            self.stderr.snapshot().join("\n")
        );
        self.lines()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// Calls `ready` every `interval` until it gives a value, or until `wait` has
/// passed (then None): a bounded wait for something outside the server's lines.
pub fn poll<T>(
    wait: Duration,
    interval: Duration,
    mut ready: impl FnMut() -> Option<T>,
) -> Option<T> {
    let deadline = Instant::now() + wait;
    loop {
        if let Some(value) = ready() {
            return Some(value);
        }
        if Instant::now() >= deadline {
            return None;
        }
        std::thread::sleep(interval);
    }
}

/// Runs the binary with `args` to its exit (bounded), for start-up errors.
pub fn run_binary(args: &[&str]) -> Output {
    Command::new("timeout")
        .arg("30")
        .arg(BIN)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("running phoneprov")
}

// ---------------------------------------------------------------------------
// Third-party clients

/// True when `program` is on PATH. When it is not, the test says why it
/// skips, unless PHONEPROV_REQUIRE_PEERS=1 (CI), where that is a failure.
pub fn require(program: &str) -> bool {
    let found = std::env::var_os("PATH").is_some_and(|path| {
        std::env::split_paths(&path).any(|dir| {
            std::fs::metadata(dir.join(program)).is_ok_and(|m| {
                use std::os::unix::fs::PermissionsExt;
                m.is_file() && m.permissions().mode() & 0o111 != 0
            })
        })
    });
    available(
        found,
        &format!("{program} is not installed"),
        "Debian: .ci/install-peers.sh installs every peer",
    )
}

/// `met`, after saying why a test skips when it is not: `missing` and a
/// `hint` on stderr, or a panic when PHONEPROV_REQUIRE_PEERS=1 (CI), where
/// nothing may skip.
pub fn available(met: bool, missing: &str, hint: &str) -> bool {
    if !met {
        if std::env::var("PHONEPROV_REQUIRE_PEERS").as_deref() == Ok("1") {
            panic!("{missing} and PHONEPROV_REQUIRE_PEERS=1 (CI must provide it; {hint})");
        }
        eprintln!(
            "SKIPPED: {missing}; this test needs it ({hint}). \
             Set PHONEPROV_REQUIRE_PEERS=1 to make this fail."
        );
    }
    met
}

/// A client command line, run under `timeout 120` so nothing can hang.
fn client<S: AsRef<OsStr>>(program: &str, args: &[S]) -> Command {
    let mut command = Command::new("timeout");
    command
        .arg(CLIENT_TIMEOUT)
        .arg(program)
        .args(args)
        .stdin(Stdio::null());
    command
}

/// Runs a client to its end and returns what it did.
pub fn run_client<S: AsRef<OsStr>>(program: &str, args: &[S]) -> Output {
    client(program, args)
        .output()
        .unwrap_or_else(|e| panic!("running {program}: {e}"))
}

/// Starts a client with its output captured; `wait_with_output` collects it.
pub fn spawn_client<S: AsRef<OsStr>>(program: &str, args: &[S]) -> Child {
    client(program, args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("starting {program}: {e}"))
}

/// A started client's stdout, a line at a time as it comes, read on a
/// thread of its own (which ends when the client does or the receiver goes).
pub fn stdout_lines(client: &mut Child) -> std::sync::mpsc::Receiver<String> {
    let (lines, received) = std::sync::mpsc::channel();
    let stdout = client.stdout.take().expect("a piped stdout");
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if lines.send(line).is_err() {
                return;
            }
        }
    });
    received
}

/// A path as a command-line argument.
pub fn arg(path: &Path) -> &str {
    path.to_str().unwrap()
}

/// `tftp -m MODE 127.0.0.1 PORT -c get NAME OUT`: tftp-hpa without
/// options, as a phone asks.
pub fn tftp_hpa_get(server: &Server, mode: &str, name: &str, out: &Path) -> Output {
    let port = server.port().to_string();
    run_client(
        "tftp",
        &["-m", mode, "127.0.0.1", &port, "-c", "get", name, arg(out)],
    )
}

/// The tftp:// URL of `name` on `server`.
pub fn tftp_url(server: &Server, name: &str) -> String {
    format!("tftp://127.0.0.1:{}/{name}", server.port())
}

/// `curl -sS --max-time MAX_TIME -o OUT [OPTIONS] URL` for `name` on `server`.
pub fn curl_args(
    server: &Server,
    max_time: &str,
    options: &[&str],
    name: &str,
    out: &Path,
) -> Vec<String> {
    let mut args = vec!["-sS", "--max-time", max_time, "-o", arg(out)];
    args.extend(options);
    let url = tftp_url(server, name);
    args.push(&url);
    args.into_iter().map(String::from).collect()
}

/// Runs curl with [`curl_args`].
pub fn curl_get(
    server: &Server,
    max_time: &str,
    options: &[&str],
    name: &str,
    out: &Path,
) -> Output {
    run_client("curl", &curl_args(server, max_time, options, name, out))
}

/// Runs `count` downloads by `program` at once, the i-th into
/// `out/{program}-{i}.bin` with the arguments `args(out)`; waits for them
/// all and asserts that each exited 0 and wrote exactly `expected` (failures
/// name "{label} #i"). Returns what each printed.
pub fn parallel_downloads(
    tree: &Tree,
    program: &str,
    count: usize,
    args: impl Fn(&Path) -> Vec<String>,
    expected: &[u8],
    label: &str,
) -> Vec<String> {
    let outs: Vec<_> = (0..count)
        .map(|i| tree.out(&format!("{program}-{i}.bin")))
        .collect();
    let children: Vec<_> = outs
        .iter()
        .map(|out| spawn_client(program, &args(out)))
        .collect();
    let printed: Vec<_> = children
        .into_iter()
        .enumerate()
        .map(|(i, child)| {
            let output = child.wait_with_output().unwrap();
            assert_exit(&output, 0, &format!("{label} #{i}"))
        })
        .collect();
    for (i, out) in outs.iter().enumerate() {
        assert_file(out, expected, &format!("{label} #{i}"));
    }
    printed
}

/// Asserts that exactly `count` of the server's `lines` say `name` was sent.
pub fn assert_sent_count(lines: &[String], name: &str, count: usize) {
    let prefix = format!("127.0.0.1  {name}  sent ");
    let sent = lines.iter().filter(|l| l.starts_with(&prefix)).count();
    assert_eq!(
        sent,
        count,
        "expected {count} sent lines:\n{}",
        lines.join("\n")
    );
}

/// Everything a client printed, for assertions and failure messages.
pub fn printed(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// Asserts a client's exit code (124 would mean `timeout` killed it), and
/// returns what it printed.
pub fn assert_exit(output: &Output, code: i32, what: &str) -> String {
    let text = printed(output);
    assert_eq!(
        output.status.code(),
        Some(code),
        "{what}: exit status {} (124 = killed by timeout); output:\n{text}",
        output.status,
    );
    text
}

/// Asserts that `text` contains every one of `expected`.
pub fn assert_contains(text: &str, expected: &[&str]) {
    for wanted in expected {
        assert!(text.contains(wanted), "{wanted:?} not in:\n{text}");
    }
}

// ---------------------------------------------------------------------------
// Raw UDP

/// Byte strings that must never appear in any reply: the secret beside the
/// root, and the first line of the machine's real /etc/passwd and /etc/group.
fn forbidden() -> &'static [Vec<u8>] {
    static FORBIDDEN: OnceLock<Vec<Vec<u8>>> = OnceLock::new();
    FORBIDDEN.get_or_init(|| {
        let mut list = vec![SECRET.as_bytes().to_vec()];
        for file in ["/etc/passwd", "/etc/group"] {
            if let Ok(text) = std::fs::read_to_string(file) {
                if let Some(first) = text.lines().next().filter(|l| l.len() >= 8) {
                    list.push(first.as_bytes().to_vec());
                }
            }
        }
        list
    })
}

fn assert_no_leak(datagram: &[u8]) {
    for secret in forbidden() {
        assert!(
            !datagram.windows(secret.len()).any(|w| w == &secret[..]),
            "a reply leaked {:?} from outside the root",
            String::from_utf8_lossy(secret)
        );
    }
}

/// A bare UDP socket that speaks TFTP by hand.
pub struct Raw {
    socket: UdpSocket,
    pub server: SocketAddr,
}

impl Raw {
    pub fn new(server: SocketAddr) -> Raw {
        let socket = UdpSocket::bind("127.0.0.1:0").expect("client socket");
        Raw::on(socket, server)
    }

    /// Over a socket of the caller's, e.g. one opened in a network namespace.
    pub fn on(socket: UdpSocket, server: SocketAddr) -> Raw {
        Raw { socket, server }
    }

    /// Sends to the server's listening port.
    pub fn send(&self, datagram: &[u8]) {
        self.send_to(self.server, datagram);
    }

    pub fn send_to(&self, to: SocketAddr, datagram: &[u8]) {
        self.socket.send_to(datagram, to).expect("send");
    }

    /// The next datagram within `wait`, if any. Every datagram is checked
    /// for leaked bytes.
    pub fn recv_within(&self, wait: Duration) -> Option<(Vec<u8>, SocketAddr)> {
        self.socket.set_read_timeout(Some(wait)).unwrap();
        let mut buf = vec![0u8; 65536];
        match self.socket.recv_from(&mut buf) {
            Ok((len, from)) => {
                buf.truncate(len);
                assert_no_leak(&buf);
                Some((buf, from))
            }
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                None
            }
            // ICMP port unreachable from an earlier send shows up here.
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionRefused => None,
            Err(e) => panic!("recv: {e}"),
        }
    }

    /// Discards every datagram already queued on the socket; returns how many.
    pub fn drain(&self) -> usize {
        let mut count = 0;
        while self.recv_within(Duration::from_millis(1)).is_some() {
            count += 1;
        }
        count
    }

    /// The next datagram, which must come.
    pub fn recv(&self) -> (Vec<u8>, SocketAddr) {
        self.recv_within(REPLY_WAIT)
            .unwrap_or_else(|| panic!("no reply within {REPLY_WAIT:?}"))
    }

    /// Asserts that nothing arrives for [`SILENCE`].
    pub fn expect_silence(&self, what: &str) {
        if let Some((datagram, from)) = self.recv_within(SILENCE) {
            panic!(
                "{what}: expected no reply, got {} from {from}",
                wire::show(&datagram)
            );
        }
    }

    /// Sends `datagram` to the listening port and returns the reply.
    pub fn request(&self, datagram: &[u8]) -> (Vec<u8>, SocketAddr) {
        self.send(datagram);
        self.recv()
    }

    /// Downloads with a request, handling OACK, windows and rollover.
    pub fn fetch(&self, request: &[u8]) -> Fetched {
        let (first, tid) = self.request(request);
        self.fetch_from(first, tid)
    }

    /// Continues a download whose first reply (OACK or DATA 1) is `first`,
    /// from `tid`. ACKs every full window and the last block; a packet from
    /// any other address fails the test.
    pub fn fetch_from(&self, first: Vec<u8>, tid: SocketAddr) -> Fetched {
        let mut blksize = 512usize;
        let mut window = 1u32;
        let mut oack = None;
        let mut pending = Some(first);
        if pending.as_ref().is_some_and(|p| p.starts_with(&[0, 6])) {
            let reply = pending.take().unwrap();
            for (name, value) in wire::parse_options(&reply[2..]) {
                match name.to_ascii_lowercase().as_str() {
                    "blksize" => blksize = value.parse().unwrap(),
                    "windowsize" => window = value.parse().unwrap(),
                    _ => {}
                }
            }
            oack = Some(reply);
            self.send_to(tid, &wire::ack(0));
        }
        let mut data = Vec::new();
        let mut expected: u16 = 1;
        let mut in_window = 0u32;
        let mut blocks = 0u64;
        loop {
            let packet = match pending.take() {
                Some(packet) => packet,
                None => {
                    let (packet, from) = self.recv();
                    assert_eq!(
                        from,
                        tid,
                        "a packet from an unexpected address: {}",
                        wire::show(&packet)
                    );
                    packet
                }
            };
            match wire::opcode(&packet) {
                3 => {
                    let block = u16::from_be_bytes([packet[2], packet[3]]);
                    if block != expected {
                        // A resend of a block we have, or a gap: ACK what we
                        // hold, so the server goes on from there (RFC 7440 §4).
                        self.send_to(tid, &wire::ack(expected.wrapping_sub(1)));
                        in_window = 0;
                        continue;
                    }
                    let payload = &packet[4..];
                    assert!(payload.len() <= blksize, "DATA larger than blksize");
                    data.extend_from_slice(payload);
                    blocks += 1;
                    in_window += 1;
                    let last = payload.len() < blksize;
                    if last || in_window == window {
                        self.send_to(tid, &wire::ack(block));
                        in_window = 0;
                    }
                    expected = expected.wrapping_add(1);
                    if last {
                        return Fetched { oack, data, blocks };
                    }
                }
                // The OACK again: our ACK 0 came after the server's timeout.
                6 if blocks == 0 && oack.as_deref() == Some(&packet[..]) => {
                    self.send_to(tid, &wire::ack(0));
                }
                _ => panic!(
                    "unexpected packet during a download: {}",
                    wire::show(&packet)
                ),
            }
        }
    }
}

/// The result of [`Raw::fetch`].
pub struct Fetched {
    pub oack: Option<Vec<u8>>,
    pub data: Vec<u8>,
    pub blocks: u64,
}

// ---------------------------------------------------------------------------
// Packets

pub mod wire {
    /// RRQ for `name` in `mode`, with options.
    pub fn rrq(name: &[u8], mode: &str, options: &[(&str, &str)]) -> Vec<u8> {
        request(1, name, mode, options)
    }

    pub fn wrq(name: &[u8], mode: &str, options: &[(&str, &str)]) -> Vec<u8> {
        request(2, name, mode, options)
    }

    fn request(opcode: u8, name: &[u8], mode: &str, options: &[(&str, &str)]) -> Vec<u8> {
        let mut p = vec![0, opcode];
        p.extend_from_slice(name);
        p.push(0);
        p.extend_from_slice(mode.as_bytes());
        p.push(0);
        for (n, v) in options {
            p.extend_from_slice(n.as_bytes());
            p.push(0);
            p.extend_from_slice(v.as_bytes());
            p.push(0);
        }
        p
    }

    pub fn data(block: u16, payload: &[u8]) -> Vec<u8> {
        let mut p = vec![0, 3];
        p.extend_from_slice(&block.to_be_bytes());
        p.extend_from_slice(payload);
        p
    }

    pub fn ack(block: u16) -> Vec<u8> {
        let mut p = vec![0, 4];
        p.extend_from_slice(&block.to_be_bytes());
        p
    }

    /// An ERROR packet: code, text, NUL.
    pub fn error(code: u16, text: &[u8]) -> Vec<u8> {
        let mut p = vec![0, 5];
        p.extend_from_slice(&code.to_be_bytes());
        p.extend_from_slice(text);
        p.push(0);
        p
    }

    pub fn oack(options: &[(&str, &str)]) -> Vec<u8> {
        let mut p = vec![0, 6];
        for (n, v) in options {
            p.extend_from_slice(n.as_bytes());
            p.push(0);
            p.extend_from_slice(v.as_bytes());
            p.push(0);
        }
        p
    }

    pub fn not_found() -> Vec<u8> {
        error(1, b"File not found")
    }

    pub fn access_violation() -> Vec<u8> {
        error(2, b"Access violation")
    }

    pub fn illegal() -> Vec<u8> {
        error(4, b"Illegal TFTP operation")
    }

    pub fn option_refused() -> Vec<u8> {
        error(8, b"Failure to negotiate RFC2347 options")
    }

    pub fn unknown_tid() -> Vec<u8> {
        error(5, b"Unknown transfer ID")
    }

    pub fn opcode(p: &[u8]) -> u16 {
        if p.len() < 2 {
            return u16::MAX;
        }
        u16::from_be_bytes([p[0], p[1]])
    }

    /// NUL-separated name/value pairs.
    pub fn parse_options(body: &[u8]) -> Vec<(String, String)> {
        let parts: Vec<&[u8]> = body.split(|&b| b == 0).collect();
        parts
            .chunks(2)
            .filter(|pair| pair.len() == 2 && !pair[0].is_empty())
            .map(|pair| {
                (
                    String::from_utf8_lossy(pair[0]).into_owned(),
                    String::from_utf8_lossy(pair[1]).into_owned(),
                )
            })
            .collect()
    }

    /// A packet, readable, for failure messages.
    pub fn show(p: &[u8]) -> String {
        let head: Vec<u8> = p.iter().take(48).copied().collect();
        format!(
            "{} bytes, opcode {}: {:?}{}",
            p.len(),
            opcode(p),
            String::from_utf8_lossy(&head),
            if p.len() > 48 { "…" } else { "" }
        )
    }
}
