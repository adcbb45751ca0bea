//! What `phoneprov doctor` finds, one finding a check: the command prints
//! them, the API (`GET /api/doctor`) answers them and the dashboard's
//! `/doctor` shows them. The checks themselves are the binary's.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    Ok,
    Warning,
    Problem,
}

impl Level {
    /// As the command prints it: `OK`, `WARNING`, `PROBLEM`.
    pub fn word(self) -> &'static str {
        match self {
            Level::Ok => "OK",
            Level::Warning => "WARNING",
            Level::Problem => "PROBLEM",
        }
    }
}

/// One line of the doctor's report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Finding {
    pub level: Level,
    /// `config`, `firmware`, `ladder`, `files`, `address`, `tftp port`,
    /// `dhcp port`, `sip port`, `firewall` or `dhcp`.
    pub check: String,
    pub what: String,
    /// How to fix it; None when it is OK.
    pub fix: Option<String>,
}
