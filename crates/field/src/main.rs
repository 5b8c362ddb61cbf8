//! `vouch-field`: the technician's engine without a window. Register this install with an
//! invite, scan labels into the offline queue, list and export the queue, sync it, review
//! devices (supervisors), and decode label photos.
//!
//! Exit codes: 0 done; 1 error; 2 bad command line; 3 offline (nothing lost); 4 refused by the
//! server or by role (for `sync`: some records refused, or held back by the server because an
//! earlier record of this install is missing); 5 bad input (label, invite, image) or a repeated scan; 6 TLS or CA
//! problems.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use clap::{Args, Parser, Subcommand};
use indicatif::{ProgressBar, ProgressStyle};
use serde_json::Value;
use vouch_field::{Decision, Error, Field, QueueEntry, RecordState, ScanOptions, SyncEvent};
use vouch_protocol::wire::QueueState;

/// Vouch field engine: register, scan into the offline queue, sync, review.
#[derive(Parser)]
#[command(name = "vouch-field", version)]
struct Cli {
    /// The data folder (identity, queue, config.toml). Default: the platform's data folder.
    #[arg(long, global = true, env = "VOUCH_FIELD_DATA", value_name = "DIR")]
    data: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Register this install with an invite (VOUCH-INVITE:1:...): makes its key, checks and pins
    /// the server CA, stores the staff certificate.
    Register {
        /// The invite text, as scanned or pasted.
        #[arg(long)]
        invite: String,
    },
    /// Show this install's name, role, key fingerprint, server and certificate expiry.
    Whoami {
        /// Also ask the server (GET /v1/me), proving the certificate still works.
        #[arg(long)]
        online: bool,
        /// JSON output.
        #[arg(long)]
        json: bool,
    },
    /// Scan a label into the queue; confirmed only once it is durably on disk.
    Scan(ScanArgs),
    /// List the queue and each record's state.
    Queue {
        /// Only records in this state (queued, syncing, held, accepted, duplicate, refused).
        #[arg(long)]
        state: Option<String>,
        /// JSON lines output.
        #[arg(long)]
        json: bool,
    },
    /// Write the queue as JSON lines (for backup): to a file, or to standard output.
    Export {
        /// The file to write (atomically). Default: standard output.
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
    },
    /// Renew this install's staff certificate now (same key; sync does it by itself within 30
    /// days of the expiry).
    Renew,
    /// Send the queue to the server.
    Sync {
        /// JSON report on standard output.
        #[arg(long)]
        json: bool,
    },
    /// Review devices (supervisors only).
    #[command(subcommand)]
    Review(ReviewCommand),
    /// Decode QR codes in image files; one JSON line per file: {"file","text","label","error"}.
    Decode {
        /// Image files (JPEG, PNG, WebP).
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
}

#[derive(Args)]
#[group(id = "source", required = true, multiple = false)]
struct ScanSource {
    /// The label text (compact, manual line or DPP URI).
    #[arg(long, group = "source")]
    text: Option<String>,
    /// A photo of the label.
    #[arg(long, group = "source", value_name = "FILE")]
    image: Option<PathBuf>,
}

#[derive(Args)]
struct ScanArgs {
    #[command(flatten)]
    source: ScanSource,
    /// Site or work order.
    #[arg(long, default_value = "")]
    site: String,
    /// A note.
    #[arg(long)]
    note: Option<String>,
    /// Queue it even if the same device was the last one scanned.
    #[arg(long)]
    again: bool,
    /// JSON output (the queued record).
    #[arg(long)]
    json: bool,
}

#[derive(Subcommand)]
enum ReviewCommand {
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
    /// Show a device with its evidence (JSON).
    Show {
        /// The serial.
        serial: String,
    },
    /// Approve a device.
    Approve(DecisionArgs),
    /// Reject a device.
    Reject(DecisionArgs),
    /// Revoke a device.
    Revoke(DecisionArgs),
    /// Let an enrolled device enroll again with its label key (its certificate is revoked).
    Reenroll(DecisionArgs),
    /// Accept a tablet's chain gap: its missing records are declared lost and its held records
    /// are accepted at its next sync (`scanner_problems` of `review show` lists the gaps).
    AcceptGap {
        /// The install's key id (hex).
        key_id: String,
        /// The sequence number the server expected (the gap's `expected`).
        #[arg(long)]
        expected: u64,
        /// Why (recorded in the audit log).
        #[arg(long)]
        reason: String,
    },
}

#[derive(Args)]
struct DecisionArgs {
    /// The serial.
    serial: String,
    /// Why (recorded in the audit log).
    #[arg(long)]
    reason: String,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            eprintln!("vouch-field: {e:#}");
            ExitCode::from(e.downcast_ref::<Error>().map_or(1, Error::exit_code))
        }
    }
}

fn open(data: Option<PathBuf>) -> anyhow::Result<Field> {
    let data = match data {
        Some(d) => d,
        None => Field::default_data_dir()?,
    };
    Ok(Field::open(&data)?)
}

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")
}

fn print_json(value: &impl serde::Serialize) -> anyhow::Result<()> {
    println!("{}", serde_json::to_string(value)?);
    Ok(())
}

fn run(cli: Cli) -> anyhow::Result<u8> {
    if let Command::Decode { files } = &cli.command {
        return Ok(decode(files));
    }
    let field = open(cli.data)?;
    match cli.command {
        Command::Register { invite } => {
            let who = runtime()?.block_on(field.register(&invite))?;
            println!(
                "registered as {} ({}) with {}",
                who.name, who.role, who.server_url
            );
            println!("key fingerprint {}", who.fingerprint);
            println!("certificate valid until {}", format_ms(who.not_after_ms));
        }
        Command::Whoami { online, json } => whoami(&field, online, json)?,
        Command::Scan(args) => return scan(&field, &args),
        Command::Renew => {
            let who = runtime()?.block_on(field.renew_certificate())?;
            println!(
                "staff certificate renewed: valid until {}",
                format_ms(who.not_after_ms)
            );
        }
        Command::Queue { state, json } => list_queue(&field, state.as_deref(), json)?,
        Command::Export { out } => match out {
            Some(path) => {
                let n = field.export_to_file(&path)?;
                eprintln!("wrote {n} records to {}", path.display());
            }
            None => {
                let stdout = std::io::stdout();
                field.export(&mut stdout.lock())?;
            }
        },
        Command::Sync { json } => return sync(&field, json),
        Command::Review(cmd) => review(&field, cmd)?,
        Command::Decode { .. } => {}
    }
    Ok(0)
}

fn whoami(field: &Field, online: bool, json: bool) -> anyhow::Result<()> {
    let who = field.whoami()?;
    let counts = field.counts()?;
    let server = if online {
        Some(runtime()?.block_on(field.whoami_online())?)
    } else {
        None
    };
    if json {
        return print_json(&serde_json::json!({
            "identity": who, "queue": counts, "server": server,
        }));
    }
    let days_left = who.not_after_ms.saturating_sub(vouch_field::now_ms()) / 86_400_000;
    println!("name:        {}", who.name);
    println!("role:        {}", who.role);
    println!("key:         {} (key id {})", who.fingerprint, who.key_id);
    println!("server:      {}", who.server_url);
    println!(
        "certificate: valid until {} ({days_left} days left)",
        format_ms(who.not_after_ms)
    );
    println!(
        "queue:       {} unsynced, {} synced, {} refused",
        counts.unsynced(),
        counts.accepted + counts.duplicate,
        counts.refused
    );
    if let Some(server) = server {
        println!("server says: {server}");
    }
    Ok(())
}

fn scan(field: &Field, args: &ScanArgs) -> anyhow::Result<u8> {
    let options = ScanOptions {
        site: &args.site,
        note: args.note.as_deref(),
        allow_repeat: args.again,
    };
    let result = match (&args.source.text, &args.source.image) {
        (Some(text), _) => field.scan_text(text, &options),
        (None, Some(image)) => field.scan_image(image, &options),
        (None, None) => return Err(anyhow::anyhow!("give --text LABEL or --image FILE")),
    };
    let entry = match result {
        Ok(entry) => entry,
        Err(e @ Error::RepeatScan { .. }) => {
            eprintln!("warning: {e}");
            return Ok(e.exit_code());
        }
        Err(e) => return Err(e.into()),
    };
    if args.json {
        print_json(&entry)?;
    } else {
        // One line, one write: printed only after the record is durably on disk.
        println!(
            "queued #{} {}{} key {} site {:?}: durable on disk",
            entry.sequence,
            entry.serial,
            entry
                .model
                .as_deref()
                .map(|m| format!(" ({m})"))
                .unwrap_or_default(),
            entry.key_fingerprint,
            entry.site
        );
    }
    Ok(0)
}

fn state_detail(state: &RecordState) -> String {
    match state {
        RecordState::Refused { code, message } | RecordState::Held { code, message } => {
            format!("{code}: {message}")
        }
        _ => String::new(),
    }
}

fn list_queue(field: &Field, state: Option<&str>, json: bool) -> anyhow::Result<()> {
    let wanted = match state {
        None => None,
        Some(s) => Some(QueueState::parse(s).ok_or_else(|| {
            let names: Vec<&str> = QueueState::ALL.iter().map(|q| q.as_str()).collect();
            Error::BadArgument(format!(
                "there is no record state {s:?}; use one of {}",
                names.join(", ")
            ))
        })?),
    };
    let entries: Vec<QueueEntry> = field
        .queue()?
        .into_iter()
        .filter(|e| wanted.is_none_or(|w| e.state.kind() == w))
        .collect();
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    if json {
        for e in &entries {
            serde_json::to_writer(&mut out, e)?;
            writeln!(out)?;
        }
        return Ok(());
    }
    writeln!(
        out,
        "{:>6}  {:<9}  {:<20}  {:<16}  {:<20}  detail",
        "#", "state", "serial", "site", "scanned"
    )?;
    for e in &entries {
        writeln!(
            out,
            "{:>6}  {:<9}  {:<20}  {:<16}  {:<20}  {}",
            e.sequence,
            e.state.name(),
            e.serial,
            e.site,
            format_ms(e.scanned_at_ms),
            state_detail(&e.state)
        )?;
    }
    let c = field.counts()?;
    writeln!(
        out,
        "{} records: {} queued, {} syncing, {} accepted, {} duplicate, {} refused",
        c.total(),
        c.queued,
        c.syncing,
        c.accepted,
        c.duplicate,
        c.refused
    )?;
    Ok(())
}

fn sync(field: &Field, json: bool) -> anyhow::Result<u8> {
    let bar = ProgressBar::new(0);
    bar.set_style(
        ProgressStyle::with_template("{spinner} sync [{bar:30}] {pos}/{len} records {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
    );
    let progress = |p: &vouch_field::SyncProgress| {
        bar.set_length(p.total as u64);
        bar.set_position(p.done as u64);
        match &p.event {
            SyncEvent::Retrying {
                attempt, wait_ms, ..
            } => bar.set_message(format!("(retry {attempt} in {wait_ms} ms)")),
            _ => bar.set_message(format!(
                "({} accepted, {} duplicate, {} refused)",
                p.accepted, p.duplicate, p.refused
            )),
        }
    };
    let result = runtime()?.block_on(field.sync(&progress));
    bar.finish_and_clear();
    match result {
        Ok(report) => {
            if json {
                print_json(&report)?;
            } else {
                println!(
                    "synced {} records: {} accepted, {} duplicate (already on the server), {} held, {} refused; {} left in the queue",
                    report.sent,
                    report.accepted,
                    report.duplicate,
                    report.held,
                    report.refused.len(),
                    report.remaining
                );
                if report.certificate_renewed {
                    println!("  the staff certificate was renewed first (it was near its expiry)");
                }
                if let Some(why) = &report.renewal_error {
                    println!("  renewing the staff certificate failed ({why}); run `vouch-field renew` later");
                }
                if report.held > 0 {
                    println!("  {} records are held: an earlier record of this install never reached the server; they are sent again at each sync until a supervisor accepts the gap", report.held);
                }
                for r in &report.refused {
                    println!("  refused #{}: {}: {}", r.sequence, r.code, r.message);
                }
            }
            Ok(if report.refused.is_empty() && report.held == 0 {
                0
            } else {
                4
            })
        }
        Err(e) => {
            let left = field.counts().map(|c| c.unsynced()).unwrap_or(0);
            eprintln!("vouch-field: {e}");
            eprintln!("{left} records are still queued");
            Ok(e.exit_code())
        }
    }
}

fn review(field: &Field, cmd: ReviewCommand) -> anyhow::Result<()> {
    let rt = runtime()?;
    let (serial, decision, reason) = match cmd {
        ReviewCommand::List { state, json } => {
            let devices = rt.block_on(field.review_list(state.as_deref()))?;
            if json {
                return print_json(&devices);
            }
            println!(
                "{:<20}  {:<10}  {:<19}  {:>5}  updated",
                "serial", "state", "key", "scans"
            );
            for d in &devices {
                println!(
                    "{:<20}  {:<10}  {:<19}  {:>5}  {}",
                    d.serial,
                    d.state,
                    d.key_fingerprint,
                    d.scans,
                    format_ms(d.updated_at_ms)
                );
            }
            println!("{} devices", devices.len());
            return Ok(());
        }
        ReviewCommand::Show { serial } => {
            let device = rt.block_on(field.review_show(&serial))?;
            println!("{}", serde_json::to_string_pretty(&device)?);
            return Ok(());
        }
        ReviewCommand::Approve(a) => (a.serial, Decision::Approve, a.reason),
        ReviewCommand::Reject(a) => (a.serial, Decision::Reject, a.reason),
        ReviewCommand::Revoke(a) => (a.serial, Decision::Revoke, a.reason),
        ReviewCommand::Reenroll(a) => (a.serial, Decision::Reenroll, a.reason),
        ReviewCommand::AcceptGap {
            key_id,
            expected,
            reason,
        } => {
            let answer = rt.block_on(field.review_accept_gap(&key_id, expected, &reason))?;
            println!(
                "gap at record {expected} of {} accepted: the chain resumes at record {}",
                answer["name"].as_str().unwrap_or(&key_id),
                answer["gap"]["found"]
            );
            return Ok(());
        }
    };
    let device = rt.block_on(field.review_decide(&serial, decision, &reason))?;
    let state = device
        .get("state")
        .and_then(Value::as_str)
        .or_else(|| device.pointer("/device/state").and_then(Value::as_str))
        .unwrap_or("?");
    println!("{serial}: {} (now {state})", decision.as_str());
    Ok(())
}

/// `decode FILE...`: one JSON line per file; exit 1 if a file could not be read.
fn decode(files: &[PathBuf]) -> u8 {
    let mut failed = false;
    for file in files {
        let line = decode_one(file);
        failed |= !line.get("error").is_none_or(Value::is_null);
        println!("{line}");
    }
    u8::from(failed)
}

fn decode_one(file: &Path) -> Value {
    vouch_field::scan::decode_file_json(file)
}

/// `YYYY-MM-DD HH:MM:SSZ` for milliseconds since the Unix epoch (UTC).
fn format_ms(ms: u64) -> String {
    let format =
        time::macros::format_description!("[year]-[month]-[day] [hour]:[minute]:[second]Z");
    i64::try_from(ms / 1000)
        .ok()
        .and_then(|secs| time::OffsetDateTime::from_unix_timestamp(secs).ok())
        .and_then(|t| t.format(&format).ok())
        .unwrap_or_else(|| format!("{ms} ms since the Unix epoch"))
}

#[cfg(test)]
mod tests {
    use super::format_ms;

    #[test]
    fn dates() {
        assert_eq!(format_ms(0), "1970-01-01 00:00:00Z");
        assert_eq!(format_ms(1_790_000_000_000), "2026-09-21 14:13:20Z");
        assert_eq!(format_ms(951_782_400_000), "2000-02-29 00:00:00Z");
    }
}
