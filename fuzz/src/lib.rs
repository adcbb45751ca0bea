//! The bodies of the fuzz targets, in one file per crate under test, each
//! replayed by that crate's tests: `tftp.rs` (by
//! `crates/tftp/tests/it/fuzz_replay.rs`), `cisco.rs` (by
//! `crates/cisco/tests/it/fuzz_replay.rs`) and `dhcp.rs` (by
//! `crates/dhcp/tests/it/fuzz_replay.rs`) and `sip.rs` (by
//! `crates/sip/tests/it/fuzz_replay.rs`). They are split because the
//! protocol crates may not depend on phoneprov-cisco or on each other, so a
//! crate's tests cannot compile the others' checks; each file uses only
//! `std` and its own crate. `replay.rs` is not part of this library: it is
//! the corpus-replay loop that the crates' tests include with `#[path]`.
//!
//! The cargo-fuzz binaries in `fuzz_targets/` call the functions re-exported
//! here.

mod cisco;
mod dhcp;
mod sip;
mod tftp;

pub use cisco::{cisco_cnf, cisco_ladder, cisco_load_name, cisco_mac_and_files, cisco_params};
pub use dhcp::dhcp_engine;
pub use sip::{sip_message, sip_registrar};
pub use tftp::{tftp_client, tftp_packet, tftp_server};
