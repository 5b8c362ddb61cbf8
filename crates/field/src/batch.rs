//! Batch scanning: a rack or a pallet scanned in one go (issue 18, point 2).
//!
//! The technician sets the site once; every label the camera reads is then checked and queued
//! on its own ([`Field::batch_scan`]). A [`Batch`] remembers what it queued, so that a label
//! still in view, or seen again when the camera sweeps back, is ignored quietly; a label whose
//! serial or key clashes with one queued in this batch stops the flow
//! ([`Error::BatchConflict`]), as a label that does not parse does ([`Error::BadLabel`]).
//! [`Field::undo_scan`] takes a record back out of the queue before it is sent, and
//! [`Batch::forget`] makes the batch skip that label from then on: a camera sweeping along a
//! rack sees it again, and the technician took it back on purpose (a label of the next rack, a
//! device going elsewhere). Scanned on its own, outside the batch, it is queued as usual.

use std::sync::{Mutex, MutexGuard};

use serde::Serialize;
use vouch_protocol::key::hex;
use vouch_protocol::Label;

use crate::error::{Error, Result};
use crate::field::{Field, ScanOptions};
use crate::queue::QueueEntry;

/// One label queued in a batch.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct BatchItem {
    /// Its record's sequence number in the queue.
    pub sequence: u64,
    /// The device serial.
    pub serial: String,
    /// The label key, compressed SEC1, hex.
    pub device_key: String,
}

/// A batch: the site every record gets, and the labels queued so far, oldest first.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Batch {
    site: String,
    items: Vec<BatchItem>,
    /// Labels taken back during this batch: serial and key.
    undone: Vec<(String, String)>,
}

/// What became of one label read during a batch.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum BatchStep {
    /// Checked and durably queued.
    Queued {
        /// The queued record (boxed: it is much larger than the other answers).
        entry: Box<QueueEntry>,
        /// Labels queued in this batch so far, this one included.
        count: usize,
    },
    /// Already queued (in this batch, or as the install's last record): nothing was written.
    AlreadyQueued {
        /// The device serial.
        serial: String,
        /// The sequence number of the record that holds it.
        sequence: u64,
    },
    /// Taken back earlier in this batch: skipped, nothing was written.
    Undone {
        /// The device serial.
        serial: String,
    },
}

impl Batch {
    /// Starts a batch for `site` (checked as a scan's site is: at most 128 bytes, one line).
    pub fn new(site: &str) -> Result<Self> {
        let site = site.trim();
        crate::field::check_site(site)?;
        Ok(Self {
            site: site.to_string(),
            items: Vec::new(),
            undone: Vec::new(),
        })
    }

    /// The site every record of the batch gets.
    pub fn site(&self) -> &str {
        &self.site
    }

    /// The labels queued so far, oldest first.
    pub fn items(&self) -> &[BatchItem] {
        &self.items
    }

    /// How the batch stands with a label: `Ok(None)` when it is new, `Ok(Some(item))` when
    /// this very label (serial and key) is already queued, and [`Error::BatchConflict`] when
    /// its serial or its key was queued with another key or serial.
    pub fn check(&self, label: &Label) -> Result<Option<&BatchItem>> {
        let serial = label.serial().as_str();
        let key = hex(&label.key().to_sec1_compressed());
        for item in &self.items {
            let same_serial = item.serial == serial;
            let same_key = item.device_key == key;
            if same_serial && same_key {
                return Ok(Some(item));
            }
            if same_serial || same_key {
                return Err(Error::BatchConflict {
                    serial: serial.to_string(),
                    other_serial: item.serial.clone(),
                    sequence: item.sequence,
                    same_serial,
                });
            }
        }
        Ok(None)
    }

    /// Whether this label was taken back earlier in this batch.
    pub fn was_undone(&self, label: &Label) -> bool {
        let key = hex(&label.key().to_sec1_compressed());
        self.undone
            .iter()
            .any(|(serial, k)| serial == label.serial().as_str() && *k == key)
    }

    /// Forgets the label of record `sequence` (after [`Field::undo_scan`]): read again in this
    /// batch, it is skipped. Answers whether the batch held it.
    pub fn forget(&mut self, sequence: u64) -> bool {
        let before = self.items.len();
        if let Some(i) = self.items.iter().position(|i| i.sequence == sequence) {
            let item = self.items.remove(i);
            self.undone.push((item.serial, item.device_key));
        }
        // Undoing a record renumbers the records after it (their chain is rebuilt).
        for item in &mut self.items {
            if item.sequence > sequence {
                item.sequence -= 1;
            }
        }
        self.items.len() != before
    }

    fn remember(&mut self, entry: &QueueEntry, label: &Label) {
        self.items.push(BatchItem {
            sequence: entry.sequence,
            serial: entry.serial.clone(),
            device_key: hex(&label.key().to_sec1_compressed()),
        });
    }
}

impl Field {
    /// Checks a label read during `batch` and queues it with the batch's site.
    ///
    /// A label that does not parse fails with [`Error::BadLabel`], one that clashes with a label
    /// of this batch with [`Error::BatchConflict`]; nothing is queued then and the caller stops
    /// the flow. A label already queued in this batch, or the install's last record, answers
    /// [`BatchStep::AlreadyQueued`] and writes nothing.
    pub fn batch_scan(&self, batch: &mut Batch, text: &str) -> Result<BatchStep> {
        let text = text.trim();
        let label = Label::parse(text).map_err(Error::BadLabel)?;
        if batch.was_undone(&label) {
            return Ok(BatchStep::Undone {
                serial: label.serial().as_str().to_string(),
            });
        }
        if let Some(item) = batch.check(&label)? {
            return Ok(BatchStep::AlreadyQueued {
                serial: item.serial.clone(),
                sequence: item.sequence,
            });
        }
        let options = ScanOptions {
            site: batch.site(),
            note: None,
            allow_repeat: false,
        };
        match self.scan_text(text, &options) {
            Ok(entry) => {
                batch.remember(&entry, &label);
                Ok(BatchStep::Queued {
                    count: batch.items().len(),
                    entry: Box::new(entry),
                })
            }
            // Queued just before the batch began: already in the queue, so quietly skipped.
            Err(Error::RepeatScan { serial, sequence }) => {
                Ok(BatchStep::AlreadyQueued { serial, sequence })
            }
            Err(e) => Err(e),
        }
    }
}

/// The batch an app runs, if any: what the shell keeps between its commands, so each of them
/// stays one line over the engine.
#[derive(Debug, Default)]
pub struct BatchSlot(Mutex<Option<Batch>>);

impl BatchSlot {
    fn lock(&self) -> MutexGuard<'_, Option<Batch>> {
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Starts a batch for `site`, replacing any batch that runs; answers the new batch.
    pub fn start(&self, site: &str) -> Result<Batch> {
        let batch = Batch::new(site)?;
        *self.lock() = Some(batch.clone());
        Ok(batch)
    }

    /// The batch that runs, if any.
    pub fn current(&self) -> Option<Batch> {
        self.lock().clone()
    }

    /// Checks and queues a label read during the running batch ([`Field::batch_scan`]);
    /// [`Error::NoBatch`] when none runs.
    pub fn scan(&self, field: &Field, text: &str) -> Result<BatchStep> {
        let mut slot = self.lock();
        let batch = slot.as_mut().ok_or(Error::NoBatch)?;
        field.batch_scan(batch, text)
    }

    /// Takes record `sequence` back out of the queue ([`Field::undo_scan`]) and out of the
    /// running batch, if it was one of its labels; answers the batch (`None` when none runs).
    pub fn undo(&self, field: &Field, sequence: u64) -> Result<Option<Batch>> {
        let mut slot = self.lock();
        field.undo_scan(sequence)?;
        if let Some(batch) = slot.as_mut() {
            batch.forget(sequence);
        }
        Ok(slot.clone())
    }

    /// Ends the running batch; answers it as it ended.
    pub fn end(&self) -> Option<Batch> {
        self.lock().take()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use p256::ecdsa::SigningKey;
    use vouch_protocol::key::public_key_of;
    use vouch_protocol::{Model, Serial};

    fn label(serial: &str, key: u8) -> Label {
        let device = SigningKey::from_slice(&[key; 32]).unwrap();
        Label::new(
            Model::new("M").unwrap(),
            Serial::new(serial).unwrap(),
            public_key_of(&device),
        )
    }

    fn item(sequence: u64, l: &Label) -> BatchItem {
        BatchItem {
            sequence,
            serial: l.serial().as_str().to_string(),
            device_key: hex(&l.key().to_sec1_compressed()),
        }
    }

    #[test]
    fn a_batch_knows_new_repeated_and_clashing_labels() {
        let mut batch = Batch::new("  Rack 7 ").unwrap();
        assert_eq!(batch.site(), "Rack 7");
        let (a, b) = (label("SN-A", 1), label("SN-B", 2));
        batch.items.push(item(4, &a));
        batch.items.push(item(5, &b));
        assert_eq!(batch.check(&label("SN-C", 3)).unwrap(), None);
        assert_eq!(batch.check(&a).unwrap().unwrap().sequence, 4);
        let e = batch.check(&label("SN-A", 9)).unwrap_err();
        assert_eq!(e.code(), "batch_conflict");
        assert!(e.to_string().contains("SN-A"), "{e}");
        let e = batch.check(&label("SN-Z", 2)).unwrap_err();
        assert!(
            matches!(&e, Error::BatchConflict { other_serial, same_serial: false, .. }
                if other_serial == "SN-B"),
            "{e:?}"
        );
        assert!(e.to_string().contains("SN-B"), "{e}");
    }

    #[test]
    fn forgetting_a_record_renumbers_the_later_ones() {
        let mut batch = Batch::new("R").unwrap();
        let labels = [label("S1", 1), label("S2", 2), label("S3", 3)];
        for (i, l) in labels.iter().enumerate() {
            batch.items.push(item(10 + i as u64, l));
        }
        assert!(batch.forget(11));
        assert!(!batch.forget(11 + 100));
        let left: Vec<_> = batch
            .items()
            .iter()
            .map(|i| (i.sequence, i.serial.as_str()))
            .collect();
        assert_eq!(left, [(10, "S1"), (11, "S3")]);
        assert_eq!(batch.check(&labels[1]).unwrap(), None);
        assert!(batch.was_undone(&labels[1]) && !batch.was_undone(&labels[0]));
        assert!(!batch.was_undone(&label("S2", 9)));
    }

    #[test]
    fn the_slot_refuses_batch_work_when_no_batch_runs() {
        let dir = tempfile::tempdir().unwrap();
        let field = Field::open(dir.path()).unwrap();
        let slot = BatchSlot::default();
        let text = label("SN-A", 1).to_compact().unwrap();
        assert_eq!(slot.scan(&field, &text).unwrap_err().code(), "no_batch");
        assert!(slot.end().is_none());
        assert_eq!(slot.start(" Bay 3 ").unwrap().site(), "Bay 3");
        assert_eq!(slot.current().unwrap().site(), "Bay 3");
        // A batch runs, but this install is not registered: the engine's refusal comes through.
        assert_eq!(
            slot.scan(&field, &text).unwrap_err().code(),
            "not_registered"
        );
        assert_eq!(slot.undo(&field, 1).unwrap_err().code(), "not_registered");
        assert!(slot.end().is_some() && slot.current().is_none());
    }

    #[test]
    fn a_bad_site_is_refused() {
        assert_eq!(Batch::new("a\nb").unwrap_err().code(), "bad_field");
        let long = "x".repeat(vouch_protocol::record::MAX_SITE + 1);
        assert_eq!(Batch::new(&long).unwrap_err().code(), "bad_field");
    }
}
