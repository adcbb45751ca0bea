//! The `--dir` argument of the commands that work on the firmware folder.

use std::path::{Path, PathBuf};

use anyhow::Context;
use clap::Args;

use crate::config;

#[derive(Args)]
pub struct FirmwareDirArg {
    /// The firmware folder, the one served over TFTP [default: the one
    /// phoneprov.toml names when there is one, else ./firmware]
    #[arg(long, value_name = "DIR")]
    dir: Option<PathBuf>,
}

impl FirmwareDirArg {
    pub fn resolve(self, explicit_config: Option<&Path>) -> anyhow::Result<PathBuf> {
        if let Some(dir) = self.dir {
            return Ok(dir);
        }
        let Ok(path) = config::locate(explicit_config) else {
            return Ok(PathBuf::from("firmware"));
        };
        let config =
            config::load(&path).context("finding the firmware folder (or give it with --dir)")?;
        Ok(config.firmware_dir)
    }
}
