//! Sync: sending the queue to the server.
//!
//! At least once from the app, idempotent on the server (the record id), so a crash or a cut
//! connection at any point loses nothing and duplicates nothing:
//!
//! 1. Take up to `batch_size` unsynced records after the resume point (the highest sequence up
//!    to which every record has an answer), in sequence order. Mark them `syncing`, and make
//!    the queue durable, so nothing reaches the server that a crash could still take back (a
//!    scan running in another thread may have committed a record it has not yet fsynced).
//! 2. `POST /v1/records` over mTLS. A network failure, a timeout, a 5xx or a 429 is retried with
//!    exponential backoff and full jitter ([`Backoff`]), up to `max_attempts` per batch; a 413
//!    halves the batch. When the attempts run out the batch goes back to `queued` and sync
//!    reports the failure ([`crate::Error::Offline`] when the server could not be reached).
//! 3. Check that the server answered every record, in order; store each record's outcome
//!    (accepted, duplicate, refused with code and message) and move the resume point past the
//!    batch, in one transaction, made durable.
//!
//! A crash between 2 and 3 leaves the batch `syncing`; the next sync sends it again and the
//! server answers `duplicate` for what it already holds, which counts as synced.

use std::time::Duration;
use vouch_protocol::wire::{ErrorCode, RecordOutcome, RecordResult, UploadAnswer};

use rand_core::RngCore;
use serde::{Deserialize, Serialize};
use serde_json::Value;

pub use vouch_support::retry::Backoff;

/// The longest `retry-after` a sync honours: a server's hint raises a wait up to this.
const MAX_RETRY_AFTER: Duration = Duration::from_secs(60);

use crate::config::SyncConfig;
use crate::error::{Error, Result};
use crate::net::Api;
use crate::queue::{Pending, Queue, RecordState};

/// What happened, for the progress callback.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum SyncEvent {
    /// Sync started; `total` records are waiting.
    Started,
    /// A batch of `size` records is being sent.
    Sending {
        /// Records in the batch.
        size: usize,
    },
    /// The last attempt failed; the next starts after `wait_ms`.
    Retrying {
        /// The attempt that comes next (2 for the first retry).
        attempt: u32,
        /// The wait, in milliseconds.
        wait_ms: u64,
        /// Why the last attempt failed.
        reason: String,
    },
    /// The server answered a batch and the answers are stored.
    Answered {
        /// Records in the batch.
        size: usize,
    },
    /// Nothing is left to send.
    Finished,
}

/// Where a sync stands: passed to the progress callback after every step.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct SyncProgress {
    /// Records to send in this sync (grows if scans are queued meanwhile).
    pub total: usize,
    /// Records answered so far.
    pub done: usize,
    /// Of those, accepted.
    pub accepted: usize,
    /// Of those, already on the server.
    pub duplicate: usize,
    /// Of those, refused.
    pub refused: usize,
    /// The step that just happened.
    #[serde(flatten)]
    pub event: SyncEvent,
}

/// A record the server refused.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Refusal {
    /// Its sequence number.
    pub sequence: u64,
    /// Its record id.
    pub record_id: String,
    /// The server's code.
    pub code: ErrorCode,
    /// The server's message.
    pub message: String,
}

/// What a finished sync did.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SyncReport {
    /// Records answered.
    pub sent: usize,
    /// Accepted by the server.
    pub accepted: usize,
    /// Already on the server (sent before, answer lost): as good as accepted.
    pub duplicate: usize,
    /// Held back by the server (an earlier record of this install is missing): sent again at
    /// the next sync.
    pub held: usize,
    /// Refused, with the reasons.
    pub refused: Vec<Refusal>,
    /// Uploads made.
    pub batches: usize,
    /// Attempts that failed and were retried.
    pub retries: u32,
    /// Unsynced records left (scans queued during the sync may be sent by the next one).
    pub remaining: usize,
    /// The staff certificate was renewed before this sync (it was within 30 days of expiry).
    pub certificate_renewed: bool,
    /// Why that renewal failed, if it did (the sync went on with the current certificate).
    pub renewal_error: Option<String>,
}

/// A progress callback.
pub type ProgressFn<'a> = &'a (dyn Fn(&SyncProgress) + Send + Sync);

#[derive(Serialize)]
struct Upload<'a> {
    records: Vec<&'a Value>,
}

/// Pairs the server's answers with the batch; any mismatch is a protocol error.
fn match_answers(
    batch: &[Pending],
    results: Vec<RecordResult>,
) -> Result<Vec<(Pending, RecordState)>> {
    if results.len() != batch.len() {
        return Err(Error::Protocol(format!(
            "sent {} records, got {} answers",
            batch.len(),
            results.len()
        )));
    }
    batch
        .iter()
        .zip(results)
        .map(|(p, r)| {
            if r.record_id != p.record_id {
                return Err(Error::Protocol(format!(
                    "answer for record {:?} where {} was expected",
                    r.record_id, p.record_id
                )));
            }
            let message = r.message.unwrap_or_default();
            let state = match (r.outcome, r.code) {
                (RecordOutcome::Accepted, _) => RecordState::Accepted,
                (RecordOutcome::Duplicate, _) => RecordState::Duplicate,
                (RecordOutcome::Refused, Some(code)) if code.holds_record() => {
                    RecordState::Held { code, message }
                }
                (RecordOutcome::Refused, code) => RecordState::Refused {
                    code: code.unwrap_or(ErrorCode::Refused),
                    message,
                },
            };
            Ok((p.clone(), state))
        })
        .collect()
}

/// Sends every unsynced record; see the module documentation.
pub(crate) async fn run(
    queue: &Queue,
    api: &Api,
    config: &SyncConfig,
    now_ms: &(dyn Fn() -> u64 + Send + Sync),
    progress: ProgressFn<'_>,
) -> Result<SyncReport> {
    let backoff = Backoff {
        base: Duration::from_millis(config.backoff_base_ms),
        cap: Duration::from_millis(config.backoff_cap_ms),
        max_retry_after: MAX_RETRY_AFTER,
    };
    let mut report = SyncReport::default();
    let mut state = SyncProgress {
        total: queue.counts()?.unsynced(),
        done: 0,
        accepted: 0,
        duplicate: 0,
        refused: 0,
        event: SyncEvent::Started,
    };
    progress(&state);
    let mut batch_size = config.batch_size.clamp(1, crate::config::MAX_BATCH);
    // Each record is sent at most once per sync: a record the server holds back waits for the
    // next sync (by then a supervisor may have accepted the gap).
    let mut from = queue.acked()?.saturating_add(1);
    'batches: loop {
        let batch = queue.pending_from(from, batch_size)?;
        let Some(last) = batch.last() else {
            break;
        };
        let next_from = last.sequence.saturating_add(1);
        state.total = state.total.max(state.done + batch.len());
        queue.mark(&batch, true, now_ms())?;
        // Send only what is durable: a scan committed by another thread but not yet fsynced
        // could otherwise reach the server and then be lost here in a crash, and the chain
        // would fork. Everything read above was committed before this fsync.
        queue.make_durable()?;
        let body = Upload {
            records: batch.iter().map(|p| &p.wire).collect(),
        };
        let mut attempt = 1u32;
        let results = loop {
            state.event = SyncEvent::Sending { size: batch.len() };
            progress(&state);
            match api.post_json::<_, UploadAnswer>("/v1/records", &body).await {
                Ok(answer) => break answer.results,
                Err(failure) => {
                    if matches!(&failure.error, Error::Server { status: 413, .. }) && batch_size > 1
                    {
                        queue.mark(&batch, false, now_ms())?;
                        batch_size = (batch.len() / 2).max(1);
                        continue 'batches;
                    }
                    if failure.error.is_retryable() && attempt < config.max_attempts {
                        // `attempt` counts from 1; the backoff counts failures from 0.
                        let wait = backoff.delay(
                            attempt - 1,
                            rand_core::OsRng.next_u64(),
                            failure.retry_after,
                        );
                        attempt += 1;
                        report.retries += 1;
                        state.event = SyncEvent::Retrying {
                            attempt,
                            wait_ms: u64::try_from(wait.as_millis()).unwrap_or(u64::MAX),
                            reason: failure.error.to_string(),
                        };
                        progress(&state);
                        tokio::time::sleep(wait).await;
                        continue;
                    }
                    queue.mark(&batch, false, now_ms())?;
                    return Err(failure.error);
                }
            }
        };
        let answers = match match_answers(&batch, results) {
            Ok(a) => a,
            Err(e) => {
                queue.mark(&batch, false, now_ms())?;
                return Err(e);
            }
        };
        queue.store_outcomes(&answers, now_ms())?;
        from = next_from;
        report.batches += 1;
        for (p, outcome) in &answers {
            report.sent += 1;
            state.done += 1;
            match outcome {
                RecordState::Accepted => {
                    report.accepted += 1;
                    state.accepted += 1;
                }
                RecordState::Duplicate => {
                    report.duplicate += 1;
                    state.duplicate += 1;
                }
                RecordState::Held { .. } => report.held += 1,
                RecordState::Refused { code, message } => {
                    state.refused += 1;
                    report.refused.push(Refusal {
                        sequence: p.sequence,
                        record_id: p.record_id.clone(),
                        code: code.clone(),
                        message: message.clone(),
                    });
                }
                RecordState::Queued | RecordState::Syncing => {}
            }
        }
        state.event = SyncEvent::Answered {
            size: answers.len(),
        };
        progress(&state);
    }
    report.remaining = queue.counts()?.unsynced();
    state.event = SyncEvent::Finished;
    progress(&state);
    Ok(report)
}
