//! The Cisco 7940/7960 domain: file names, firmware, configuration files,
//! boot stages and diagnostics. No network I/O; the only disk it reads is the
//! firmware folder.

pub mod clock;
pub mod cnf;
pub mod diagnosis;
pub mod export;
pub mod files;
pub mod firmware;
pub mod ladder;
pub mod load;
pub mod params;
pub mod phone;
pub mod render;
pub mod ring;
pub mod services;
pub mod site;
pub mod stage;

pub use files::FirmwareStore;
pub use load::{Era, LoadName, Protocol, Version};
pub use phone::{Mac, Model, PhoneFile};
