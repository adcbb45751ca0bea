//! phoneprov.toml: finding it, reading it in two steps (wire structs, then
//! validated settings), and reporting every mistake with its line and fix.

mod secrets;
mod validate;
mod wire;

use std::fmt;
use std::path::{Path, PathBuf};

use phoneprov_cisco::site::Site;
use phoneprov_server::TftpSettings;

pub use secrets::Secrets;

/// The environment variable that names the config file.
pub const CONFIG_ENV: &str = "PHONEPROV_CONFIG";

/// One mistake (or warning) in the file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub line: Option<usize>,
    /// Where in the file, e.g. `phone[2].model`.
    pub key: String,
    pub problem: String,
    pub fix: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(line) = self.line {
            write!(f, "{line}: ")?;
        }
        write!(f, "{}: {}\n    fix: {}", self.key, self.problem, self.fix)
    }
}

/// Everything wrong with a config file.
#[derive(Debug)]
pub struct ConfigErrors {
    pub path: PathBuf,
    pub problems: Vec<Problem>,
}

impl fmt::Display for ConfigErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let count = self.problems.len();
        write!(
            f,
            "{} has {count} mistake{}:",
            self.path.display(),
            if count == 1 { "" } else { "s" }
        )?;
        let mut problems: Vec<&Problem> = self.problems.iter().collect();
        problems.sort_by_key(|p| p.line);
        for problem in problems {
            write!(f, "\n  {}:{problem}", self.path.display())?;
        }
        Ok(())
    }
}

impl std::error::Error for ConfigErrors {}

/// A loaded, validated configuration.
pub struct Config {
    pub path: PathBuf,
    pub site: Site,
    pub tftp: TftpSettings,
    pub firmware_dir: PathBuf,
    pub state_dir: PathBuf,
    /// Template overrides, when configured.
    pub templates: Option<PathBuf>,
    pub warnings: Vec<Problem>,
}

/// Finds the config file: `--config`, then `$PHONEPROV_CONFIG`, then
/// `./phoneprov.toml`, then `/etc/phoneprov/phoneprov.toml`.
pub fn locate(explicit: Option<&Path>) -> anyhow::Result<PathBuf> {
    if let Some(path) = explicit {
        return Ok(path.to_path_buf());
    }
    if let Some(path) = std::env::var_os(CONFIG_ENV).filter(|p| !p.is_empty()) {
        return Ok(PathBuf::from(path));
    }
    let candidates = [
        PathBuf::from("phoneprov.toml"),
        PathBuf::from("/etc/phoneprov/phoneprov.toml"),
    ];
    candidates
        .iter()
        .find(|path| path.is_file())
        .cloned()
        .ok_or_else(|| {
            anyhow::anyhow!(
                "no phoneprov.toml found (looked for --config, ${CONFIG_ENV}, ./phoneprov.toml and \
                 /etc/phoneprov/phoneprov.toml); create one with `phoneprov init`"
            )
        })
}

/// Reads and validates `path`. Lines without a password get one from the
/// state directory's secrets (generated and saved on first use).
pub fn load(path: &Path) -> anyhow::Result<Config> {
    let source = std::fs::read_to_string(path)
        .map_err(|e| anyhow::anyhow!("cannot read {}: {e}", path.display()))?;
    let base = path.parent().unwrap_or(Path::new("."));
    let mut checker = validate::Checker::new(&source);
    let file: wire::File = match toml::from_str(&source) {
        Ok(file) => file,
        Err(e) => {
            checker.errors.push(syntax_problem(&e, &checker));
            return Err(ConfigErrors {
                path: path.to_path_buf(),
                problems: checker.errors,
            }
            .into());
        }
    };
    let state_dir = state_dir(base, file.server.state_dir.as_deref());
    let templates = file.server.templates.as_ref().map(|dir| base.join(dir));
    let mut secrets = Secrets::open(&state_dir)?;
    let validated = validate::validate(file, &mut checker, &mut |mac, line| {
        secrets.password(mac, line)
    });
    let Some(validated) = validated else {
        return Err(ConfigErrors {
            path: path.to_path_buf(),
            problems: checker.errors,
        }
        .into());
    };
    secrets.save()?;
    Ok(Config {
        path: path.to_path_buf(),
        site: validated.site,
        tftp: validated.tftp,
        firmware_dir: base.join(validated.firmware_dir),
        state_dir,
        templates,
        warnings: checker.warnings,
    })
}

/// Where observed state and generated secrets live: `state_dir` from the
/// file (relative to it), else `/var/lib/phoneprov` for a config under /etc,
/// else a `state` folder beside the config.
fn state_dir(base: &Path, configured: Option<&str>) -> PathBuf {
    match configured {
        Some(dir) => base.join(dir),
        None if base.starts_with("/etc") => PathBuf::from("/var/lib/phoneprov"),
        None => base.join("state"),
    }
}

/// A TOML or shape error, with the nearest valid key for an unknown one.
fn syntax_problem(error: &toml::de::Error, checker: &validate::Checker<'_>) -> Problem {
    let line = error.span().map(|span| checker.line(span.start));
    let message = error.message().trim().to_string();
    let backticked = |text: &str| -> Vec<String> {
        text.split('`')
            .skip(1)
            .step_by(2)
            .map(str::to_string)
            .collect()
    };
    if let Some(rest) = message.strip_prefix("unknown field ") {
        let names = backticked(rest);
        if let Some((unknown, expected)) = names.split_first() {
            let nearest = expected
                .iter()
                .min_by_key(|name| phoneprov_cisco::params::edit_distance(unknown, name));
            let fix = match nearest {
                Some(near) => format!("did you mean {near}? (valid here: {})", expected.join(", ")),
                None => "remove it".into(),
            };
            return Problem {
                line,
                key: unknown.clone(),
                problem: format!("{unknown} is not a key phoneprov knows here"),
                fix,
            };
        }
    }
    if let Some(rest) = message.strip_prefix("missing field ") {
        let field = backticked(rest).into_iter().next().unwrap_or_default();
        return Problem {
            line,
            key: field.clone(),
            problem: format!("{field} is required here"),
            fix: format!("add {field} = … (see docs/configuration.md)"),
        };
    }
    Problem {
        line,
        key: "toml".into(),
        problem: message,
        fix: "fix the TOML syntax at that line (see docs/configuration.md for examples)".into(),
    }
}
