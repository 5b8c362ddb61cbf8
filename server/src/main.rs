//! `vouch-server`: the companion server and its admin commands.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::{Args, Parser, Subcommand};
use reqwest::Method;
use serde_json::{json, Value};
use vouch_server::authority::files::{read_text, DataPaths};
use vouch_server::client::AdminClient;
use vouch_server::{CaKeySource, Config, ImportCa};

/// Vouch companion server: CA, staff, scan ingestion, review, device enrollment.
#[derive(Parser)]
#[command(name = "vouch-server", version, about)]
struct Cli {
    /// The server's data folder.
    #[arg(long, global = true, env = "VOUCH_DATA", default_value = "vouch-data")]
    data: PathBuf,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Create a CA (or import one), the server's TLS certificate, the operator credential and an
    /// example config. Refuses to overwrite an existing CA.
    Init(InitArgs),
    /// Serve HTTPS until SIGINT/SIGTERM.
    Serve {
        /// Address to listen on (overrides the config's `listen`).
        #[arg(long)]
        listen: Option<SocketAddr>,
    },
    /// Make a one-time staff invite (printed as text and as a QR code).
    Invite {
        /// technician or supervisor
        #[arg(long)]
        role: String,
        /// The staff member's name.
        #[arg(long)]
        name: String,
        /// Let policy approve this member's scans at once (see [policy] in the config).
        #[arg(long)]
        trusted: bool,
        /// The URL the app should use to reach this server (default: https://localhost:PORT).
        #[arg(long)]
        server_url: Option<String>,
        /// Print JSON instead of text and QR.
        #[arg(long)]
        json: bool,
    },
    /// Devices: list, show, approve, reject, revoke, reenroll.
    #[command(subcommand)]
    Device(DeviceCommand),
    /// Staff: list, revoke, accept a chain gap.
    #[command(subcommand)]
    Staff(StaffCommand),
    /// The operator credential: rotate it (the old one is revoked at once).
    #[command(subcommand)]
    Operator(OperatorCommand),
    /// Audit log: verify the hash chain, or export it as JSON lines.
    #[command(subcommand)]
    Audit(AuditCommand),
    /// Print the CA certificate (PEM), for devices and firmware builds.
    Ca,
    /// Back up the running server: its data folder's files (the CA key among them when it is
    /// a file) and a consistent snapshot of its store, taken while it serves.
    Backup {
        /// The backup file to write (not overwritten if it exists).
        #[arg(long)]
        out: PathBuf,
    },
    /// Restore a backup into --data, which must be a new or empty folder; the file is checked
    /// whole (format, length, SHA-256) before anything is written.
    Restore {
        /// The backup file.
        #[arg(long)]
        from: PathBuf,
    },
}

#[derive(Args)]
struct InitArgs {
    /// A name (DNS or IP) the server is reached by; repeat for several. localhost, 127.0.0.1 and
    /// ::1 are always added.
    #[arg(long = "hostname", required = true)]
    hostnames: Vec<String>,
    /// Import this CA certificate (PEM) instead of creating a CA (needs --ca-key).
    #[arg(long, requires = "ca_key")]
    ca_cert: Option<PathBuf>,
    /// The imported CA's private key (PKCS#8 PEM).
    #[arg(long, requires = "ca_cert")]
    ca_key: Option<PathBuf>,
    /// Keep the CA key in a PKCS#11 token: an RFC 7512 URI such as
    /// 'pkcs11:token=Vouch;object=vouch-ca'. The module and the PIN's source (a file or an
    /// environment variable, never an argument) come from config.toml [pkcs11].
    #[arg(long, conflicts_with_all = ["ca_cert", "ca_key"])]
    ca_key_uri: Option<String>,
    /// With --ca-key-uri: make a new P-256 key in the token (sensitive, never extractable)
    /// instead of using the one the URI names.
    #[arg(long, requires = "ca_key_uri")]
    new_ca_key: bool,
}

#[derive(Subcommand)]
enum DeviceCommand {
    /// List devices.
    List {
        /// Only devices in this state (expected, scanned, approved, enrolled, rejected, conflict,
        /// revoked); without it, every device but the expected ones.
        #[arg(long)]
        state: Option<String>,
        /// JSON output.
        #[arg(long)]
        json: bool,
    },
    /// Show one device with its evidence and timeline.
    Show {
        /// The serial.
        #[arg(value_parser = parse_serial)]
        serial: String,
        /// JSON output.
        #[arg(long)]
        json: bool,
    },
    /// Approve a device (it may then enroll).
    Approve(DecisionArgs),
    /// Reject a device.
    Reject(DecisionArgs),
    /// Revoke a device (and its certificate).
    Revoke(DecisionArgs),
    /// Let an enrolled device enroll again with its label key (its certificate expired unrenewed,
    /// or it was reset): the current certificate is revoked at once.
    Reenroll(DecisionArgs),
    /// Import a manifest of expected devices (CSV with a header line, or JSON lines: serial,
    /// model, key or label, batch, order), whole or not at all; importing it again changes
    /// nothing.
    Import {
        /// The manifest file.
        file: PathBuf,
        /// Why (recorded in the audit log).
        #[arg(long)]
        reason: String,
        /// JSON output.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Args)]
struct DecisionArgs {
    /// The serial.
    #[arg(value_parser = parse_serial)]
    serial: String,
    /// Why (recorded in the audit log).
    #[arg(long)]
    reason: String,
}

/// A serial as the protocol defines it, checked before it becomes a path segment: `..` would
/// otherwise be rewritten by the HTTP client into another path.
fn parse_serial(text: &str) -> Result<String, String> {
    vouch_protocol::Serial::new(text)
        .map(|serial| serial.as_str().to_string())
        .map_err(|e| e.to_string())
}

#[derive(Subcommand)]
enum StaffCommand {
    /// List staff.
    List {
        /// JSON output.
        #[arg(long)]
        json: bool,
    },
    /// Revoke a staff member: their later records are refused.
    Revoke {
        /// The member's key id (hex, from `staff list`).
        key_id: String,
        /// Why.
        #[arg(long)]
        reason: String,
    },
    /// Accept a gap in a member's record chain: the missing records are declared lost and the
    /// install's records from the one that arrived instead are accepted.
    AcceptGap {
        /// The member's key id (hex, from `staff list`).
        key_id: String,
        /// The sequence number the server expected (the gap's `expected`, from `staff list`).
        #[arg(long)]
        expected: u64,
        /// Why the records are accepted as lost (recorded in the audit log).
        #[arg(long)]
        reason: String,
    },
}

#[derive(Subcommand)]
enum OperatorCommand {
    /// Issue a new operator key and certificate into the data folder and revoke the current
    /// one (for a credential that was copied or lost).
    Rotate {
        /// Why (recorded in the audit log).
        #[arg(long)]
        reason: String,
    },
}

#[derive(Subcommand)]
enum AuditCommand {
    /// Check the audit log's hash chain.
    Verify,
    /// Print the audit log as JSON lines.
    Export,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> Result<()> {
    match cli.command {
        Command::Init(args) => init(&cli.data, args),
        Command::Serve { listen } => serve(&cli.data, listen),
        Command::Ca => {
            let pem = read_text(&DataPaths::new(&cli.data).ca_cert())?;
            print!("{pem}");
            Ok(())
        }
        Command::Restore { from } => restore(&from, &cli.data),
        command => vouch_server::client::block_on(admin(&cli.data, command))?,
    }
}

fn init(data: &std::path::Path, args: InitArgs) -> Result<()> {
    let import = match (args.ca_cert, args.ca_key) {
        (Some(cert), Some(key)) => Some(ImportCa { cert, key }),
        _ => None,
    };
    let source = match (&args.ca_key_uri, &import) {
        (Some(uri), _) => CaKeySource::Token {
            uri,
            new_key: args.new_ca_key,
        },
        (None, Some(import)) => CaKeySource::Import(import),
        (None, None) => CaKeySource::NewFile,
    };
    let report = vouch_server::init_with(data, &args.hostnames, source).context("init failed")?;
    println!("Initialised {}", data.display());
    println!("  CA certificate: {}", report.ca_cert.display());
    println!("  CA SHA-256:     {}", report.ca_sha256);
    println!("  configuration:  {}", report.config.display());
    if let Some(uri) = &args.ca_key_uri {
        println!("  CA key:         in the PKCS#11 token, {uri}");
    }
    println!(
        "Key files are mode 0600. Next: vouch-server --data {} serve",
        data.display()
    );
    Ok(())
}

fn serve(data: &std::path::Path, listen: Option<SocketAddr>) -> Result<()> {
    let config = Config::load(data).context("cannot load the configuration")?;
    init_logging(&config);
    let runtime = tokio::runtime::Runtime::new().context("cannot start the async runtime")?;
    runtime
        .block_on(vouch_server::launch(data, listen))
        .context("the server stopped with an error")
}

fn init_logging(config: &Config) {
    let filter = tracing_subscriber::EnvFilter::try_new(&config.log.level)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    if config.log.format == "json" {
        builder.json().init();
    } else {
        builder.init();
    }
}

async fn admin(data: &std::path::Path, command: Command) -> Result<()> {
    let client = AdminClient::from_data_dir(data)?;
    match command {
        Command::Invite {
            role,
            name,
            trusted,
            server_url,
            json,
        } => {
            let url = server_url.unwrap_or_else(|| client.base_url().to_string());
            let body = json!({"role": role, "name": name, "trusted": trusted, "server_url": url});
            let answer = client
                .call(Method::POST, "/v1/admin/invites", Some(body))
                .await?;
            print_invite(&answer, json)
        }
        Command::Device(d) => device(&client, d).await,
        Command::Staff(s) => staff(&client, s).await,
        Command::Operator(OperatorCommand::Rotate { reason }) => {
            let answer = client
                .call(
                    Method::POST,
                    "/v1/admin/operator/rotate",
                    Some(json!({"reason": reason})),
                )
                .await?;
            println!(
                "operator credential rotated: certificate {} revoked; the new one ({}) is in {}",
                text(&answer["revoked"]),
                text(&answer["serial"]),
                text(&answer["certificate"])
            );
            Ok(())
        }
        Command::Audit(AuditCommand::Export) => {
            print!(
                "{}",
                client
                    .call_text(Method::GET, "/v1/admin/audit", None)
                    .await?
            );
            Ok(())
        }
        Command::Audit(AuditCommand::Verify) => {
            let answer = client
                .call(Method::GET, "/v1/admin/audit/verify", None)
                .await?;
            if answer["ok"].as_bool() == Some(true) {
                println!(
                    "audit log OK: {} entries, hash chain intact",
                    answer["entries"]
                );
                Ok(())
            } else {
                anyhow::bail!(
                    "audit log BROKEN: {}",
                    answer["error"].as_str().unwrap_or("unknown problem")
                )
            }
        }
        Command::Backup { out } => backup(&client, data, &out).await,
        Command::Init(_) | Command::Serve { .. } | Command::Ca | Command::Restore { .. } => Ok(()),
    }
}

/// How long the server may take to send its snapshot.
const BACKUP_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(3600);

async fn backup(client: &AdminClient, data: &std::path::Path, out: &std::path::Path) -> Result<()> {
    if out.exists() {
        anyhow::bail!("{} exists: give a new file name", out.display());
    }
    let snapshot = client.get_bytes("/v1/admin/backup", BACKUP_TIMEOUT).await?;
    let store = vouch_server::backup::decode(&snapshot)
        .context("the server's snapshot did not arrive whole")?;
    let files = vouch_server::backup::data_files(data)?;
    let backup = vouch_server::backup::Backup {
        files,
        buckets: store.buckets,
    };
    let bytes = vouch_server::backup::encode(&backup)?;
    // A backup holds the CA key when it is a file: written 0600, never over another file.
    vouch_server::authority::files::write_file(out, &bytes, 0o600, false)?;
    let entries: usize = backup.buckets.iter().map(|(_, e)| e.len()).sum();
    println!(
        "backup written to {}: {} files, {entries} store entries, {} bytes",
        out.display(),
        backup.files.len(),
        bytes.len()
    );
    Ok(())
}

fn restore(from: &std::path::Path, data: &std::path::Path) -> Result<()> {
    let bytes = std::fs::read(from)
        .with_context(|| format!("cannot read the backup {}", from.display()))?;
    let backup = vouch_server::backup::decode(&bytes)?;
    let load = |db: &std::path::Path| {
        let store = vouch_server::store::open(&vouch_server::store::StoreConfig::Sled {
            dir: db.to_path_buf(),
            commit_delay: std::time::Duration::ZERO,
        })?;
        store.load(&backup.buckets)
    };
    vouch_server::backup::restore_into(&backup, data, &load)
        .with_context(|| format!("cannot restore into {}", data.display()))?;
    let entries: usize = backup.buckets.iter().map(|(_, e)| e.len()).sum();
    println!(
        "restored {} files and {entries} store entries into {}; start it with: vouch-server --data {} serve",
        backup.files.len(),
        data.display(),
        data.display()
    );
    Ok(())
}

fn print_invite(answer: &Value, as_json: bool) -> Result<()> {
    let invite = answer["invite"]
        .as_str()
        .context("the server's answer has no invite")?;
    if as_json {
        println!("{answer}");
        return Ok(());
    }
    let code =
        qrcode::QrCode::new(invite.as_bytes()).context("cannot render the invite as a QR code")?;
    let art = code
        .render::<qrcode::render::unicode::Dense1x2>()
        .quiet_zone(true)
        .build();
    println!("{art}");
    println!(
        "Invite for {} ({}), valid once, until {} ms since the epoch:",
        answer["name"], answer["role"], answer["expires_at_ms"]
    );
    println!("{invite}");
    Ok(())
}

async fn device(client: &AdminClient, command: DeviceCommand) -> Result<()> {
    let decide = |verb: &str, a: DecisionArgs| {
        (
            format!("/v1/devices/{}/{verb}", a.serial),
            json!({"reason": a.reason}),
        )
    };
    match command {
        DeviceCommand::List { state, json } => {
            let path = state.map_or("/v1/devices".to_string(), |s| {
                format!("/v1/devices?state={s}")
            });
            let answer = client.call(Method::GET, &path, None).await?;
            if json {
                println!("{answer}");
            } else {
                println!(
                    "{:<24} {:<10} {:<20} {:>5}  MANIFEST",
                    "SERIAL", "STATE", "KEY FINGERPRINT", "SCANS"
                );
                for d in answer["devices"].as_array().into_iter().flatten() {
                    println!(
                        "{:<24} {:<10} {:<20} {:>5}  {}",
                        text(&d["serial"]),
                        text(&d["state"]),
                        text(&d["key_fingerprint"]),
                        d["scans"],
                        manifest_word(d)
                    );
                }
            }
            Ok(())
        }
        DeviceCommand::Show { serial, json } => {
            let answer = client
                .call(Method::GET, &format!("/v1/devices/{serial}"), None)
                .await?;
            if json {
                println!("{answer}");
            } else {
                println!("{}", serde_json::to_string_pretty(&answer)?);
            }
            Ok(())
        }
        DeviceCommand::Approve(a) => post_decision(client, decide("approve", a)).await,
        DeviceCommand::Reject(a) => post_decision(client, decide("reject", a)).await,
        DeviceCommand::Revoke(a) => post_decision(client, decide("revoke", a)).await,
        DeviceCommand::Reenroll(a) => post_decision(client, decide("reenroll", a)).await,
        DeviceCommand::Import { file, reason, json } => import(client, &file, reason, json).await,
    }
}

/// How long an import may take to answer (a large manifest is one transaction).
const IMPORT_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(600);

async fn import(
    client: &AdminClient,
    file: &std::path::Path,
    reason: String,
    json: bool,
) -> Result<()> {
    let manifest = std::fs::read_to_string(file)
        .with_context(|| format!("cannot read the manifest {}", file.display()))?;
    let source = file.file_name().map(|n| n.to_string_lossy().into_owned());
    let body = json!({"manifest": manifest, "reason": reason, "source": source});
    let answer = client
        .call_with_timeout(Method::POST, "/v1/manifests", Some(body), IMPORT_TIMEOUT)
        .await?;
    if json {
        println!("{answer}");
    } else {
        println!(
            "import {}: {} devices listed, {} newly expected, {} already scanned now listed, {} unchanged",
            text(&answer["import_id"]),
            answer["lines"],
            answer["added"],
            answer["updated"],
            answer["unchanged"]
        );
    }
    Ok(())
}

async fn post_decision(client: &AdminClient, (path, body): (String, Value)) -> Result<()> {
    let answer = client.call(Method::POST, &path, Some(body)).await?;
    println!(
        "{} is now {}",
        text(&answer["serial"]),
        text(&answer["state"])
    );
    Ok(())
}

async fn staff(client: &AdminClient, command: StaffCommand) -> Result<()> {
    match command {
        StaffCommand::List { json } => {
            let answer = client.call(Method::GET, "/v1/admin/staff", None).await?;
            if json {
                println!("{answer}");
            } else {
                for m in answer["staff"].as_array().into_iter().flatten() {
                    let status = if m["revoked_at_ms"].is_null() {
                        "active"
                    } else {
                        "REVOKED"
                    };
                    println!(
                        "{}  {:<12} {:<8} {}",
                        text(&m["key_id"]),
                        text(&m["role"]),
                        status,
                        text(&m["name"])
                    );
                    for gap in m["gaps"].as_array().into_iter().flatten() {
                        let accepted = match gap["accepted"]["by"].as_str() {
                            Some(by) => format!("accepted by {by}"),
                            None => "open: `vouch-server staff accept-gap` after checking".into(),
                        };
                        println!(
                            "    chain gap: expected record {}, got {} ({accepted})",
                            gap["expected"], gap["found"]
                        );
                    }
                }
            }
            Ok(())
        }
        StaffCommand::Revoke { key_id, reason } => {
            let answer = client
                .call(
                    Method::POST,
                    &format!("/v1/admin/staff/{key_id}/revoke"),
                    Some(json!({"reason": reason})),
                )
                .await?;
            println!(
                "revoked {} ({})",
                text(&answer["name"]),
                text(&answer["key_id"])
            );
            Ok(())
        }
        StaffCommand::AcceptGap {
            key_id,
            expected,
            reason,
        } => {
            let answer = client
                .call(
                    Method::POST,
                    &format!("/v1/admin/staff/{key_id}/accept-gap"),
                    Some(json!({"expected": expected, "reason": reason})),
                )
                .await?;
            println!(
                "accepted the gap of {} at record {expected}: records {expected} to {} are lost; the chain resumes at record {}",
                text(&answer["name"]),
                answer["gap"]["found"].as_u64().map_or(0, |f| f.saturating_sub(1)),
                answer["gap"]["found"]
            );
            Ok(())
        }
    }
}

/// A device's manifest status in a word or two.
fn manifest_word(d: &Value) -> String {
    match (d["expected_from"].as_str(), d["manifest_match"].as_bool()) {
        (None, _) => "not in any manifest".into(),
        (Some(id), Some(true)) => format!("{id} (key matches)"),
        (Some(id), Some(false)) => format!("{id} (KEY DIFFERS)"),
        (Some(id), None) => format!("{id} (not scanned)"),
    }
}

fn text(v: &Value) -> String {
    v.as_str().map_or_else(|| v.to_string(), str::to_string)
}
