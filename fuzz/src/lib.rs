//! The bodies of the fuzz targets, in two halves that the crates under test
//! replay separately: `tftp.rs` (used by `crates/tftp/tests/it/fuzz_replay.rs`)
//! and `cisco.rs` (used by `crates/cisco/tests/it/fuzz_replay.rs`). They are
//! split because phoneprov-tftp may not depend on phoneprov-cisco, so its
//! tests cannot compile the cisco checks; each half uses only `std` and its
//! own crate (phoneprov-cisco's tests reach nothing of phoneprov-tftp).
//!
//! The cargo-fuzz binaries in `fuzz_targets/` call the functions re-exported
//! here.

mod cisco;
mod tftp;

pub use cisco::{cisco_cnf, cisco_load_name, cisco_mac_and_files, cisco_params};
pub use tftp::{tftp_client, tftp_packet, tftp_server};
