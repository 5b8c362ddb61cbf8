//! [`Field`]: the engine the app and the CLI drive, opened on a data folder.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{SystemTime, UNIX_EPOCH};

use rand_core::RngCore;
use serde_json::Value;
use vouch_protocol::key::hex;
use vouch_protocol::record::{MAX_NOTE, MAX_SITE};
use vouch_protocol::{ChainHead, Label, NewScan, RecordHash, RecordId, ScanRecord};

use crate::config::Config;
use crate::error::{Error, Result};
use crate::identity::{self, Identity, Role, Whoami};
use crate::last_sync::{self, LastSync};
use crate::queue::{Counts, Queue, QueueEntry, StoredRecord};
use crate::review::{self, Decision, DeviceSummary};
use crate::sync::{self, ProgressFn, SyncReport};

/// Milliseconds since the Unix epoch, from the system clock.
pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// What goes with a scanned label.
#[derive(Clone, Debug, Default)]
pub struct ScanOptions<'a> {
    /// Site or work order (at most 128 bytes, one line).
    pub site: &'a str,
    /// Optional note (at most 1024 bytes, no control characters).
    pub note: Option<&'a str>,
    /// Queue it even if the same device was the last one scanned.
    pub allow_repeat: bool,
}

/// The field engine on one data folder: identity, queue, sync and review.
///
/// ```no_run
/// # async fn run() -> Result<(), vouch_field::Error> {
/// use vouch_field::{Field, ScanOptions};
///
/// let field = Field::open("/tmp/vouch-field")?;
/// field.register("VOUCH-INVITE:1:...").await?;
/// let entry = field.scan_text("VOUCH1:ACME-T1:SN-0001:...", &ScanOptions {
///     site: "WO-1001",
///     ..Default::default()
/// })?;
/// println!("queued #{} ({})", entry.sequence, entry.serial);
/// let report = field.sync(&|p| println!("{}/{}", p.done, p.total)).await?;
/// println!("{} accepted", report.accepted);
/// # Ok(())
/// # }
/// ```
pub struct Field {
    data: PathBuf,
    config: Config,
    queue: Queue,
    identity: RwLock<Option<Arc<Identity>>>,
    syncing: AtomicBool,
}

impl std::fmt::Debug for Field {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Field")
            .field("data", &self.data)
            .finish_non_exhaustive()
    }
}

/// Clears the "sync running" flag when a sync ends, however it ends.
struct SyncGuard<'a>(&'a AtomicBool);

impl Drop for SyncGuard<'_> {
    fn drop(&mut self) {
        self.0.store(false, Ordering::SeqCst);
    }
}

/// Checks a site or work order (at most 128 bytes, one line).
pub(crate) fn check_site(site: &str) -> Result<()> {
    check_field("site", site, MAX_SITE)
}

/// The previous-record hash a stored record names (its wire form's `prev_hash`).
fn prev_hash_of(record: &StoredRecord) -> Result<RecordHash> {
    let text = record.wire.get("prev_hash").and_then(Value::as_str);
    text.ok_or_else(|| Error::Corrupt {
        what: format!("record #{} has no prev_hash", record.sequence),
    })
    .and_then(|t| {
        RecordHash::from_hex(t).map_err(|e| Error::Corrupt {
            what: format!("the prev_hash of record #{}: {e}", record.sequence),
        })
    })
}

fn check_field(what: &'static str, text: &str, max: usize) -> Result<()> {
    if text.len() > max {
        return Err(Error::BadField {
            what,
            message: format!("{} bytes, at most {max}", text.len()),
        });
    }
    if text.chars().any(char::is_control) {
        return Err(Error::BadField {
            what,
            message: "it holds a line break, tab or other control character".into(),
        });
    }
    Ok(())
}

impl Field {
    /// The platform's data folder for vouch-field (e.g. `~/.local/share/vouch-field` on Linux).
    pub fn default_data_dir() -> Result<PathBuf> {
        directories::ProjectDirs::from("org", "Vouch", "vouch-field")
            .map(|d| d.data_dir().to_path_buf())
            .ok_or(Error::NoDataDir)
    }

    /// Opens a data folder (creating it, its `config.toml` and its queue as needed), loads the
    /// identity if the install is registered, and prunes synced records past retention.
    pub fn open(data: impl AsRef<Path>) -> Result<Self> {
        let data = data.as_ref().to_path_buf();
        vouch_support::fs::create_dir(&data, crate::DIR_MODE)?;
        let config = Config::load_or_init(&data)?;
        let queue = Queue::open(&data.join("queue"))?;
        let identity = Identity::load(&data)?.map(Arc::new);
        let field = Self {
            data,
            config,
            queue,
            identity: RwLock::new(identity),
            syncing: AtomicBool::new(false),
        };
        field.prune()?;
        Ok(field)
    }

    /// The data folder.
    pub fn data_dir(&self) -> &Path {
        &self.data
    }

    /// The settings in force.
    pub fn config(&self) -> &Config {
        &self.config
    }

    fn identity(&self) -> Result<Arc<Identity>> {
        let guard = self
            .identity
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        guard.clone().ok_or_else(|| Error::NotRegistered {
            data: self.data.clone(),
        })
    }

    /// Whether the install is registered.
    pub fn is_registered(&self) -> bool {
        self.identity().is_ok()
    }

    /// Redeems an invite: makes the install key, pins the server CA after checking it against
    /// the invite, and stores the staff certificate (see [`crate::identity`]).
    pub async fn register(&self, invite: &str) -> Result<Whoami> {
        let identity = identity::register(&self.data, invite, &self.config.sync, now_ms()).await?;
        let who = identity.whoami();
        *self
            .identity
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(Arc::new(identity));
        Ok(who)
    }

    /// Renews the staff certificate (same key; the server revokes the old one) and uses the new
    /// one from now on. A sync does it by itself within 30 days of the expiry.
    pub async fn renew_certificate(&self) -> Result<Whoami> {
        let current = self.identity()?;
        let renewed = identity::renew(&self.data, &current, &self.config.sync).await?;
        let who = renewed.whoami();
        *self
            .identity
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(Arc::new(renewed));
        Ok(who)
    }

    /// Name, role, key fingerprint, server and certificate expiry, from the stored identity.
    pub fn whoami(&self) -> Result<Whoami> {
        Ok(self.identity()?.whoami())
    }

    /// What the server says about this install (`GET /v1/me`): a check that the certificate
    /// still works.
    pub async fn whoami_online(&self) -> Result<Value> {
        let api = self.identity()?.api(&self.config.sync)?;
        api.get_json("/v1/me").await.map_err(|f| f.error)
    }

    /// Parses a label, builds the next record of this install's chain, signs it and queues it.
    /// Returns only once the record is durably on disk: that is the confirmation.
    ///
    /// A bad label is refused with the reason ([`Error::BadLabel`]) and nothing is queued. The
    /// same device as the last record is refused with [`Error::RepeatScan`] unless
    /// `allow_repeat` is set.
    pub fn scan_text(&self, text: &str, options: &ScanOptions<'_>) -> Result<QueueEntry> {
        let text = text.trim();
        let label = Label::parse(text).map_err(Error::BadLabel)?;
        check_site(options.site)?;
        if let Some(note) = options.note {
            check_field("note", note, MAX_NOTE)?;
        }
        let identity = self.identity()?;
        let device_key = hex(&label.key().to_sec1_compressed());
        loop {
            let head = self.queue.chain()?;
            if !options.allow_repeat {
                self.check_repeat(&head, &label, &device_key)?;
            }
            let mut id = [0u8; 16];
            rand_core::OsRng.fill_bytes(&mut id);
            let now = now_ms();
            let scan = NewScan {
                record_id: RecordId(id),
                chain: &head,
                scanned_at_ms: now,
                label_text: text,
                site: options.site,
                note: options.note,
            };
            let (stored, new_head) = self.signed_record(&identity, &scan, now)?;
            if self.queue.append(&head, &stored, &new_head)? {
                self.queue.make_durable()?;
                return self
                    .queue
                    .entry(stored.sequence)?
                    .ok_or_else(|| Error::Corrupt {
                        what: format!("record #{} vanished after it was written", stored.sequence),
                    });
            }
            // Another scan moved the chain head meanwhile: build on the new head.
        }
    }

    /// Builds the record of `scan` on its chain head, signs it with the install key, and
    /// answers its stored form and the head after it.
    fn signed_record(
        &self,
        identity: &Identity,
        scan: &NewScan<'_>,
        queued_at_ms: u64,
    ) -> Result<(StoredRecord, ChainHead)> {
        let record = ScanRecord::new(identity.key_id(), scan).map_err(Error::BadLabel)?;
        let new_head = ChainHead::after(&record);
        let signed = record.sign(identity.key()).map_err(|e| Error::Key {
            path: identity::Paths::of(&self.data).key,
            detail: e.to_string(),
        })?;
        let stored =
            StoredRecord::new(&signed, queued_at_ms).map_err(|e| Error::Protocol(e.to_string()))?;
        Ok((stored, new_head))
    }

    /// Takes record `sequence` back out of the queue before it is sent (a batch's undo), and
    /// answers it as it was. The records after it are signed again one place earlier in the
    /// chain (same ids, labels, times, sites and notes), so the server sees no gap.
    ///
    /// Refused with [`Error::UndoRefused`] when the record is not in the queue, when it or a
    /// record after it has been part of an upload (even one without an answer: the server may
    /// hold it), or while a sync runs; a sync started during the undo is refused with
    /// [`Error::SyncRunning`].
    pub fn undo_scan(&self, sequence: u64) -> Result<QueueEntry> {
        let refuse = |reason: &str| Error::UndoRefused {
            sequence,
            reason: reason.to_string(),
        };
        let identity = self.identity()?;
        if self.syncing.swap(true, Ordering::SeqCst) {
            return Err(refuse(
                "a sync is running and may be sending it; check the queue",
            ));
        }
        let _guard = SyncGuard(&self.syncing);
        loop {
            let (tail, head) = self.queue.tail(sequence)?;
            let Some((first, first_state)) = tail.first().filter(|(r, _)| r.sequence == sequence)
            else {
                return Err(refuse("it is not in the queue"));
            };
            let sent = |s: &crate::queue::StateEntry| {
                s.attempts > 0 || !matches!(s.state, crate::RecordState::Queued)
            };
            if sent(first_state) {
                return Err(refuse("it has already been sent to the server"));
            }
            if tail.iter().any(|(_, s)| sent(s)) {
                return Err(refuse("a later record has already been sent to the server"));
            }
            let mut running = ChainHead {
                next_sequence: sequence,
                last_hash: prev_hash_of(first)?,
            };
            let mut rebuilt = Vec::with_capacity(tail.len().saturating_sub(1));
            for (record, _) in &tail[1..] {
                let id = RecordId::from_hex(&record.record_id)
                    .map_err(|e| Error::Protocol(e.to_string()))?;
                let scan = NewScan {
                    record_id: id,
                    chain: &running,
                    scanned_at_ms: record.scanned_at_ms,
                    label_text: &record.label_text,
                    site: &record.site,
                    note: record.note.as_deref(),
                };
                let (stored, next) = self.signed_record(&identity, &scan, record.queued_at_ms)?;
                rebuilt.push(stored);
                running = next;
            }
            if self
                .queue
                .replace_tail(sequence, &head, &rebuilt, &running)?
            {
                return Ok(QueueEntry::join(first.clone(), first_state.clone()));
            }
            // A scan moved the chain head meanwhile: rebuild on the new head.
        }
    }

    fn check_repeat(&self, head: &ChainHead, label: &Label, device_key: &str) -> Result<()> {
        let last_seq = head.next_sequence.saturating_sub(1);
        if last_seq == 0 {
            return Ok(());
        }
        if let Some(last) = self.queue.record(last_seq)? {
            if last.serial == label.serial().as_str() && last.device_key == device_key {
                return Err(Error::RepeatScan {
                    serial: last.serial,
                    sequence: last.sequence,
                });
            }
        }
        Ok(())
    }

    /// Reads the first QR code in an image file and queues it as [`Self::scan_text`] does.
    pub fn scan_image(&self, path: &Path, options: &ScanOptions<'_>) -> Result<QueueEntry> {
        let codes = crate::scan::decode_file(path).map_err(|e| Error::Image {
            path: path.to_path_buf(),
            message: e.to_string(),
        })?;
        let chosen = codes
            .iter()
            .find(|c| c.label.is_some())
            .or_else(|| codes.first())
            .ok_or_else(|| Error::NoCode {
                path: path.to_path_buf(),
            })?;
        self.scan_text(&chosen.text, options)
    }

    /// Every record in the queue, oldest first, with its state.
    pub fn queue(&self) -> Result<Vec<QueueEntry>> {
        self.queue.entries()
    }

    /// How many records are in each state.
    pub fn counts(&self) -> Result<Counts> {
        self.queue.counts()
    }

    /// Writes the queue as JSON lines (one [`QueueEntry`] per line, the signed record in its wire
    /// form under `record`), for backup. Returns the number of lines.
    pub fn export(&self, out: &mut dyn Write) -> Result<usize> {
        let entries = self.queue.entries()?;
        let mut buf = Vec::new();
        for entry in &entries {
            serde_json::to_writer(&mut buf, entry).map_err(|e| Error::Protocol(e.to_string()))?;
            buf.push(b'\n');
        }
        out.write_all(&buf)
            .and_then(|()| out.flush())
            .map_err(|e| Error::io(Path::new("(output)"), e))?;
        Ok(entries.len())
    }

    /// [`Self::export`] into a file, written atomically.
    pub fn export_to_file(&self, path: &Path) -> Result<usize> {
        let mut buf = Vec::new();
        let n = self.export(&mut buf)?;
        vouch_support::fs::write_atomic(path, &buf, 0o600)?;
        Ok(n)
    }

    /// Sends every unsynced record to the server (see [`crate::sync`]), calling `progress` after
    /// every step, then prunes synced records past retention. Offline, it fails with
    /// [`Error::Offline`] and keeps everything.
    ///
    /// Its outcome is stored in the data folder ([`Self::last_sync`]), except a refusal because
    /// another sync runs (that one's outcome is the one to keep).
    pub async fn sync(&self, progress: ProgressFn<'_>) -> Result<SyncReport> {
        let result = self.sync_once(progress).await;
        if !matches!(result, Err(Error::SyncRunning)) {
            // A status line that cannot be written must not turn a finished sync into a
            // failure: the records' states in the queue are what counts.
            let _ = last_sync::store(&self.data, &LastSync::of(&result, now_ms()));
        }
        result
    }

    /// How the last sync ended (kept across restarts); `None` before the first.
    pub fn last_sync(&self) -> Option<LastSync> {
        last_sync::load(&self.data)
    }

    async fn sync_once(&self, progress: ProgressFn<'_>) -> Result<SyncReport> {
        let mut identity = self.identity()?;
        if self.syncing.swap(true, Ordering::SeqCst) {
            return Err(Error::SyncRunning);
        }
        let _guard = SyncGuard(&self.syncing);
        let mut renewal = (false, None);
        if identity.renewal_due(now_ms()) {
            // A failed renewal does not stop the sync: the current certificate still works.
            match self.renew_certificate().await {
                Ok(_) => {
                    identity = self.identity()?;
                    renewal.0 = true;
                }
                Err(e) => renewal.1 = Some(e.to_string()),
            }
        }
        let api = identity.api(&self.config.sync)?;
        let mut report = sync::run(&self.queue, &api, &self.config.sync, &now_ms, progress).await?;
        (report.certificate_renewed, report.renewal_error) = renewal;
        self.prune()?;
        Ok(report)
    }

    /// Removes synced records older than the retention setting; returns how many went.
    pub fn prune(&self) -> Result<usize> {
        let days = u64::from(self.config.queue.retention_days);
        if days == 0 {
            return Ok(0);
        }
        let cutoff = now_ms().saturating_sub(days.saturating_mul(86_400_000));
        self.queue.prune(cutoff)
    }

    fn supervisor_api(&self) -> Result<crate::net::Api> {
        let identity = self.identity()?;
        if identity.info().role != Role::Supervisor {
            return Err(Error::NotSupervisor {
                role: identity.info().role.to_string(),
            });
        }
        identity.api(&self.config.sync)
    }

    /// Devices on the server, optionally only those in one state (supervisors only).
    pub async fn review_list(&self, state: Option<&str>) -> Result<Vec<DeviceSummary>> {
        review::list(&self.supervisor_api()?, state).await
    }

    /// One device with its evidence: every scan, conflicts, scanners' chain gaps, timeline
    /// (supervisors only).
    pub async fn review_show(&self, serial: &str) -> Result<Value> {
        review::show(&self.supervisor_api()?, serial).await
    }

    /// Approves, rejects or revokes a device, with a reason (supervisors only). Returns the
    /// device as the server now holds it.
    pub async fn review_decide(
        &self,
        serial: &str,
        decision: Decision,
        reason: &str,
    ) -> Result<Value> {
        review::decide(&self.supervisor_api()?, serial, decision, reason).await
    }

    /// Imports a manifest of expected devices (CSV or JSON lines, PROTOCOL.md 11.10.5), whole
    /// or not at all, with a reason; `source` names it (its file) in the audit log
    /// (supervisors only). A bad line is refused by the server, naming it.
    pub async fn review_import(
        &self,
        manifest: &str,
        source: Option<&str>,
        reason: &str,
    ) -> Result<review::ImportAnswer> {
        review::import_manifest(&self.supervisor_api()?, manifest, source, reason).await
    }

    /// Accepts the chain gap of an install (`key_id`) recorded at sequence `expected`: its
    /// missing records are declared lost, and its held records are accepted at its next sync
    /// (supervisors only). Returns the server's answer (`gap`, `next_sequence`, ...).
    pub async fn review_accept_gap(
        &self,
        key_id: &str,
        expected: u64,
        reason: &str,
    ) -> Result<Value> {
        review::accept_gap(&self.supervisor_api()?, key_id, expected, reason).await
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn assert_send<T: Send>(_: &T) {}
    fn assert_sync<T: Send + Sync>() {}

    /// The Tauri shell keeps a `Field` in its state and awaits these futures on a
    /// multi-threaded runtime: they must be `Send`, and `Field` `Send + Sync`.
    #[test]
    fn the_engine_can_live_in_app_state() {
        assert_sync::<Field>();
        let dir = tempfile::tempdir().unwrap();
        let field = Field::open(dir.path()).unwrap();
        let progress = |_: &crate::SyncProgress| {};
        assert_send(&field.sync(&progress));
        assert_send(&field.register("x"));
        assert_send(&field.whoami_online());
        assert_send(&field.review_list(None));
        assert_send(&field.review_show("x"));
        assert_send(&field.review_decide("x", Decision::Approve, "r"));
        assert_send(&field.review_accept_gap("k", 2, "r"));
        assert_send(&field.renew_certificate());
    }

    #[test]
    fn the_last_sync_survives_reopening_the_data_folder() {
        let dir = tempfile::tempdir().unwrap();
        let field = Field::open(dir.path()).unwrap();
        assert_eq!(field.last_sync(), None);
        let progress = |_: &crate::SyncProgress| {};
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        // Not registered: the sync fails, and that outcome is what the queue screen shows.
        let e = rt.block_on(field.sync(&progress)).unwrap_err();
        let first = field.last_sync().unwrap();
        assert_eq!(first.error_code.as_deref(), Some(e.code()));
        assert!(first.at_ms > 0 && first.report.is_none());
        drop(field);

        let reopened = Field::open(dir.path()).unwrap();
        assert_eq!(reopened.last_sync(), Some(first));
        let done = LastSync::of(
            &Ok(SyncReport {
                accepted: 2,
                ..Default::default()
            }),
            7,
        );
        last_sync::store(dir.path(), &done).unwrap();
        assert_eq!(reopened.last_sync(), Some(done));
        std::fs::write(dir.path().join("last-sync.json"), b"{not json").unwrap();
        assert_eq!(reopened.last_sync(), None);
    }

    #[test]
    fn opening_writes_the_documented_config_and_scanning_needs_registration() {
        let dir = tempfile::tempdir().unwrap();
        let field = Field::open(dir.path()).unwrap();
        let text = std::fs::read_to_string(dir.path().join("config.toml")).unwrap();
        assert_eq!(text, crate::config::EXAMPLE);
        assert_eq!(field.config(), &Config::default());
        let e = field
            .scan_text("VOUCH1:bad", &ScanOptions::default())
            .unwrap_err();
        assert_eq!(e.code(), "bad_label");
        let long = "x".repeat(MAX_SITE + 1);
        let label =
            "VOUCH1:ACME-T1:SN-0001:ANJT4BODCLLGYWX6C4I3RSPTINW6T53HOAHNQENAAXCZ4L2ZYUEYO:K";
        let e = field
            .scan_text(
                label,
                &ScanOptions {
                    site: &long,
                    ..Default::default()
                },
            )
            .unwrap_err();
        assert_eq!(e.code(), "bad_field");
        let e = field
            .scan_text(
                label,
                &ScanOptions {
                    note: Some("two\nlines"),
                    ..Default::default()
                },
            )
            .unwrap_err();
        assert_eq!(e.code(), "bad_field");
        let e = field.scan_text(label, &ScanOptions::default()).unwrap_err();
        assert_eq!(e.code(), "not_registered");
        assert_eq!(field.counts().unwrap().total(), 0);
    }
}
