//! `vouch-device`: the device agent's command line (see `crates/device/README.md`).

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, SystemTime};

use anyhow::Context as _;
use clap::{ArgGroup, Args, Parser, Subcommand};
use vouch_device::{exit, EnrollMode, EnrollOptions, Server, WaitPolicy};
use vouch_protocol::{Model, Serial};

const EXIT_CODES: &str = "\
Exit codes:
  0  ok
  1  other error (I/O, corrupt device directory, unexpected server answer)
  2  bad arguments (also: key already exists, device not enrolled / already enrolled)
  3  not yet approved, or rate limited: try again later
  4  refused by the server (unknown device, bad proof, rejected, revoked, already enrolled)
  5  server unreachable (connection failed, timeout, 502/503/504)
  6  bad CA file, or the server's certificate did not verify against it";

/// The Vouch device agent: device keys, printable labels, enrollment and mTLS calls.
#[derive(Debug, Parser)]
#[command(name = "vouch-device", version, about, after_help = EXIT_CODES)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Make the device's P-256 label key and device.json in DIR; print the label text.
    #[command(after_help = EXIT_CODES)]
    Keygen {
        /// The device directory (created if missing; an existing key is never overwritten).
        #[arg(long)]
        dir: PathBuf,
        // The alphabets end in '.', which clap would drop as a sentence's full stop: hence
        // the words after them.
        /// The model: 1 to 24 characters from 0-9 A-Z - . (digits, capitals, hyphen, dot)
        #[arg(long)]
        model: String,
        /// The serial: 1 to 32 characters from 0-9 A-Z - . (digits, capitals, hyphen, dot),
        /// not only dots
        #[arg(long)]
        serial: String,
    },
    /// Render the device's printable label (QR code, manual-entry line, key fingerprint):
    /// give --png, --svg or both.
    #[command(after_help = EXIT_CODES)]
    // One required group, so that usage and the error name both outputs as the alternatives.
    #[command(group = ArgGroup::new("output").required(true).multiple(true))]
    Label {
        /// The device directory.
        #[arg(long)]
        dir: PathBuf,
        /// Write a PNG label here (600 dpi).
        #[arg(long, group = "output")]
        png: Option<PathBuf>,
        /// Write an SVG label here (millimetre units).
        #[arg(long, group = "output")]
        svg: Option<PathBuf>,
    },
    /// Render one SVG sheet with a label per device, for a production line.
    #[command(after_help = EXIT_CODES)]
    LabelSheet {
        /// A CSV with lines `model,serial,key_dir` (header optional; key_dir relative to the CSV).
        #[arg(long, required_unless_present = "dirs", conflicts_with = "dirs")]
        csv: Option<PathBuf>,
        /// A folder whose subfolders are device directories.
        #[arg(long)]
        dirs: Option<PathBuf>,
        /// With --csv: make the key of any row whose key_dir has none yet.
        #[arg(long, requires = "csv")]
        keygen: bool,
        /// The SVG sheet to write.
        #[arg(long)]
        svg: PathBuf,
    },
    /// Enroll: prove the label key over server-verified TLS and store the certificate in DIR.
    #[command(after_help = EXIT_CODES)]
    Enroll {
        #[command(flatten)]
        target: Target,
        /// Get the certificate for a fresh operational key (operational.key.pem), bound by the
        /// label key's signature.
        #[arg(long)]
        rekey: bool,
        /// Retry with exponential backoff and jitter while not approved or unreachable.
        #[arg(long)]
        wait: bool,
        /// With --wait: give up after this many seconds.
        #[arg(long, value_name = "SECS", default_value_t = 900, requires = "wait")]
        deadline: u64,
        /// Send no channel binding (imitates a TLS stack without exporter).
        #[arg(long, hide = true)]
        no_channel_binding: bool,
        /// Enroll although a certificate is stored: a supervisor let this device enroll again
        /// (its certificate expired, or it was reset); the certificate is replaced on success.
        #[arg(long)]
        again: bool,
    },
    /// Call GET /v1/device/hello over mTLS and print the server's JSON answer.
    #[command(after_help = EXIT_CODES)]
    Hello {
        #[command(flatten)]
        target: Target,
    },
    /// Renew the certificate over mTLS with a fresh key; the old one stays unless it succeeds.
    /// A renewal left pending by an interrupted run is finished first, whatever --within or
    /// --when-due say.
    #[command(after_help = EXIT_CODES)]
    Renew {
        #[command(flatten)]
        target: Target,
        /// Only renew if the certificate expires within this many seconds.
        #[arg(long, value_name = "SECS", conflicts_with = "when_due")]
        within: Option<u64>,
        /// Only renew from when the server would like it (`renew_after_ms` of hello, from its
        /// `certificates.renew_before_days`).
        #[arg(long)]
        when_due: bool,
    },
}

#[derive(Debug, Args)]
struct Target {
    /// The device directory.
    #[arg(long)]
    dir: PathBuf,
    /// The server's base URL, e.g. https://vouch.example:8443
    #[arg(long, env = "VOUCH_SERVER")]
    server: String,
    /// The Vouch CA certificate (PEM): the only trust anchor for the server.
    #[arg(long, value_name = "CA.pem", env = "VOUCH_CA")]
    ca: PathBuf,
    /// Verify the server certificate for this name instead of the URL's host.
    #[arg(long)]
    server_name: Option<String>,
}

impl Target {
    fn server(&self) -> anyhow::Result<Server> {
        let mut server = Server::new(&self.server, &self.ca)?;
        if let Some(name) = &self.server_name {
            server = server.with_server_name(name)?;
        }
        Ok(server)
    }
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() {
                exit::BAD_ARGUMENTS
            } else {
                exit::OK
            });
        }
    };
    match run(cli) {
        Ok(()) => ExitCode::from(exit::OK),
        Err(e) => {
            eprintln!("error: {e:#}");
            let code = e
                .chain()
                .find_map(|cause| cause.downcast_ref::<vouch_device::Error>())
                .map_or(exit::OTHER, vouch_device::Error::exit_code);
            ExitCode::from(code)
        }
    }
}

fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Keygen { dir, model, serial } => {
            let model = Model::new(&model).map_err(bad_argument("--model"))?;
            let serial = Serial::new(&serial).map_err(bad_argument("--serial"))?;
            let device = vouch_device::keygen(&dir, &model, &serial)?;
            let label = device.label();
            println!("{}", label.to_compact()?);
            eprintln!("key fingerprint: {}", label.key().fingerprint());
        }
        Command::Label { dir, png, svg } => {
            let label = vouch_device::load(&dir)?.label();
            if let Some(path) = png {
                vouch_device::label_png(&label, &path)?;
                eprintln!("wrote {}", path.display());
            }
            if let Some(path) = svg {
                vouch_device::label_svg(&label, &path)?;
                eprintln!("wrote {}", path.display());
            }
        }
        Command::LabelSheet {
            csv,
            dirs,
            keygen,
            svg,
        } => {
            let labels = match (csv, dirs) {
                (Some(csv), _) => vouch_device::labels_from_csv(&csv, keygen)?,
                (None, Some(dirs)) => vouch_device::labels_from_dirs(&dirs)?,
                (None, None) => anyhow::bail!(vouch_device::Error::InvalidArgument {
                    what: "arguments",
                    reason: "give --csv or --dirs".into(),
                }),
            };
            vouch_device::write_label_sheet(&labels, &svg)?;
            eprintln!("wrote {} labels to {}", labels.len(), svg.display());
        }
        Command::Enroll {
            target,
            rekey,
            wait,
            deadline,
            no_channel_binding,
            again,
        } => {
            let server = target.server()?;
            let options = EnrollOptions {
                mode: if rekey {
                    EnrollMode::Rekey
                } else {
                    EnrollMode::SameKey
                },
                channel_binding: if no_channel_binding {
                    vouch_device::ChannelBinding::None
                } else {
                    vouch_device::ChannelBinding::TlsExporter
                },
                again,
            };
            let issued = runtime()?.block_on(async {
                if wait {
                    let policy = WaitPolicy {
                        deadline: Duration::from_secs(deadline),
                        ..WaitPolicy::default()
                    };
                    vouch_device::enroll_wait(&target.dir, &server, &options, &policy, |e, d| {
                        eprintln!("{e}; retrying in {:.1} s", d.as_secs_f64());
                    })
                    .await
                } else {
                    vouch_device::enroll(&target.dir, &server, &options).await
                }
            })?;
            println!(
                "enrolled: {} valid until {}",
                target.dir.join(vouch_device::store::CERT_FILE).display(),
                iso8601(issued.cert.not_after_ms)
            );
        }
        Command::Hello { target } => {
            let server = target.server()?;
            let hello = runtime()?.block_on(vouch_device::hello(&target.dir, &server))?;
            println!("{}", serde_json::to_string_pretty(&hello)?);
        }
        Command::Renew {
            target,
            within,
            when_due,
        } => {
            // A renewal whose answer was lost is finished at once, whatever the expiry says:
            // the server may already have superseded the stored certificate.
            let finish = vouch_device::renewal_pending(&target.dir)?;
            if finish {
                eprintln!("finishing the renewal left pending by an earlier run");
            }
            if let Some(secs) = within.filter(|_| !finish) {
                if !vouch_device::renewal_due(&target.dir, Duration::from_secs(secs))? {
                    println!("not due: the certificate is valid for more than {secs} s");
                    return Ok(());
                }
            }
            let server = target.server()?;
            if when_due && !finish {
                let hello = runtime()?.block_on(vouch_device::hello(&target.dir, &server))?;
                let now_ms = u64::try_from(
                    SystemTime::now()
                        .duration_since(SystemTime::UNIX_EPOCH)
                        .unwrap_or_default()
                        .as_millis(),
                )
                .unwrap_or(u64::MAX);
                if let Some(from) = hello.renew_after_ms.filter(|from| now_ms < *from) {
                    println!(
                        "not due: the server asks for renewal from {}",
                        iso8601(from)
                    );
                    return Ok(());
                }
            }
            let issued = runtime()?.block_on(vouch_device::renew(&target.dir, &server))?;
            println!(
                "renewed: {} valid until {}",
                target.dir.join(vouch_device::store::CERT_FILE).display(),
                iso8601(issued.cert.not_after_ms)
            );
        }
    }
    Ok(())
}

fn bad_argument(what: &'static str) -> impl Fn(vouch_protocol::Error) -> vouch_device::Error {
    move |e| vouch_device::Error::InvalidArgument {
        what,
        reason: e.to_string(),
    }
}

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")
}

/// `YYYY-MM-DDTHH:MM:SSZ` for milliseconds since the Unix epoch.
fn iso8601(ms: u64) -> String {
    let format =
        time::macros::format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]Z");
    i64::try_from(ms / 1000)
        .ok()
        .and_then(|secs| time::OffsetDateTime::from_unix_timestamp(secs).ok())
        .and_then(|t| t.format(&format).ok())
        .unwrap_or_else(|| format!("{ms} ms since the Unix epoch"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iso_dates() {
        assert_eq!(iso8601(0), "1970-01-01T00:00:00Z");
        assert_eq!(iso8601(951_782_400_000), "2000-02-29T00:00:00Z");
        assert_eq!(iso8601(1_700_000_000_123), "2023-11-14T22:13:20Z");
    }

    #[test]
    fn cli_is_well_formed() {
        use clap::CommandFactory;
        Cli::command().debug_assert();
    }
}
