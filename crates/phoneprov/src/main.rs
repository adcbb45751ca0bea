//! phoneprov: convert and provision Cisco 7940/7960 phones from one binary.

mod admin_token;
mod adopt;
mod climb;
mod config;
mod config_cmd;
mod control;
mod demo_cmd;
mod dhcp_check;
mod doctor_cmd;
mod explain_cmd;
mod export_cmd;
mod firmware_cmd;
mod firmware_dir;
mod import_cmd;
mod init_cmd;
mod leases_cmd;
mod plan_cmd;
mod reload;
mod ring_cmd;
mod serve_cmd;
mod sim_cmd;
mod sip_cmd;
mod tftp_cmd;

use clap::{Parser, Subcommand};

/// Convert Cisco 7940/7960 phones from SCCP to SIP (and back) and keep them
/// provisioned: DHCP, TFTP, firmware, SIP registrar and dashboard in one binary.
#[derive(Parser)]
#[command(name = "phoneprov", version, propagate_version = true)]
struct Cli {
    /// The configuration file (default: $PHONEPROV_CONFIG, ./phoneprov.toml,
    /// then /etc/phoneprov/phoneprov.toml).
    #[arg(long, global = true, value_name = "FILE")]
    config: Option<std::path::PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    Demo(demo_cmd::DemoArgs),
    Tftp(tftp_cmd::TftpArgs),
    Config(config_cmd::ConfigArgs),
    Firmware(firmware_cmd::FirmwareArgs),
    Ring(ring_cmd::RingArgs),
    Init(init_cmd::InitArgs),
    Serve(serve_cmd::ServeArgs),
    Leases(leases_cmd::LeasesArgs),
    Registrations(sip_cmd::RegistrationsArgs),
    Reboot(sip_cmd::RebootArgs),
    Status(sip_cmd::StatusArgs),
    Plan(plan_cmd::PlanArgs),
    Show(plan_cmd::ShowArgs),
    Reprovision(plan_cmd::ReprovisionArgs),
    Render(serve_cmd::RenderArgs),
    Doctor(doctor_cmd::DoctorArgs),
    Explain(explain_cmd::ExplainArgs),
    Export(export_cmd::ExportArgs),
    ImportTftp(import_cmd::ImportArgs),
    Sim(sim_cmd::SimArgs),
}

fn main() -> std::process::ExitCode {
    // Like other Unix tools, end quietly when the reader of our output goes
    // away (`phoneprov render … | head`) instead of panicking on EPIPE.
    // SAFETY: restoring a signal's default action at start-up, before any
    // thread exists.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    let result = match cli.command {
        Command::Demo(args) => demo_cmd::run(args),
        Command::Tftp(args) => tftp_cmd::run(args),
        Command::Config(args) => config_cmd::run(args, cli.config.as_deref()),
        Command::Firmware(args) => firmware_cmd::run(args, cli.config.as_deref()),
        Command::Ring(args) => ring_cmd::run(args, cli.config.as_deref()),
        Command::Init(args) => init_cmd::run(args),
        Command::Serve(args) => serve_cmd::serve(args, cli.config.as_deref()),
        Command::Leases(args) => leases_cmd::run(args, cli.config.as_deref()),
        Command::Registrations(args) => sip_cmd::registrations(args, cli.config.as_deref()),
        Command::Reboot(args) => sip_cmd::reboot(args, cli.config.as_deref()),
        Command::Status(args) => sip_cmd::status(args, cli.config.as_deref()),
        Command::Plan(args) => plan_cmd::plan(args, cli.config.as_deref()),
        Command::Show(args) => plan_cmd::show(args, cli.config.as_deref()),
        Command::Reprovision(args) => plan_cmd::reprovision(args, cli.config.as_deref()),
        Command::Render(args) => serve_cmd::render(args, cli.config.as_deref()),
        Command::Doctor(args) => doctor_cmd::run(args, cli.config.as_deref()),
        Command::Explain(args) => explain_cmd::run(args),
        Command::Export(args) => export_cmd::run(args, cli.config.as_deref()),
        Command::ImportTftp(args) => import_cmd::run(args),
        Command::Sim(args) => sim_cmd::run(args),
    };
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("phoneprov: {error:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
