//! The continuous scanning loop: frames are submitted from the capture side, decoded on a worker
//! thread, latest frame wins (a slot of one that a new frame replaces: never a backlog), each code
//! is reported once until it has left the view (or, in a batch, once for the whole batch: see
//! [`Report`]), and the corners of every code in view are kept for an overlay. Several codes in
//! one frame are each reported, Vouch labels first.
//!
//! A decode is bounded (sizes, time budget), but the loop does not depend on that: when the
//! worker has been busy on one frame for longer than [`ScannerConfig::abandon_after`], the next
//! submission abandons it (its result is dropped when it finishes) and starts a fresh worker.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, Sender};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use super::source::{Frame, FrameSource};
use super::{decode_luma, DecodeOptions, Decoded, FrameDecoder, ScanError};

/// How the loop behaves.
#[derive(Clone, Copy, Debug)]
pub struct ScannerConfig {
    /// Options for each frame's decode: with `frame_mode` (as [`DecodeOptions::stream`]) the
    /// frames are a stream ([`FrameDecoder`]: the costlier hypotheses spread over consecutive
    /// frames); without it each frame is decoded as a still image.
    pub options: DecodeOptions,
    /// A code counts as having left the view after this many decoded frames without it; only
    /// then is it reported again.
    pub lost_after_frames: u32,
    /// A worker busy on one frame for longer than this is abandoned at the next submission.
    pub abandon_after: Duration,
    /// At most this many abandoned workers may still be running; beyond that frames wait.
    pub max_abandoned: usize,
    /// When a code is reported again (changed later with [`Scanner::start_batch`] and
    /// [`Scanner::end_batch`]).
    pub report: Report,
}

/// When the loop reports a code it has reported before.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Report {
    /// Again each time it comes back into view (after `lost_after_frames` frames without it):
    /// scanning labels one at a time.
    #[default]
    EachAppearance,
    /// Once for the whole batch, however often it leaves the view and comes back (a rack or a
    /// pallet scanned in one go), until [`Scanner::forget`] or a new batch.
    OncePerBatch,
}

/// A batch remembers at most this many codes; beyond that the oldest are forgotten (and would
/// be reported again if they came back into view).
pub const MAX_BATCH_CODES: usize = 100_000;

impl Default for ScannerConfig {
    fn default() -> Self {
        ScannerConfig {
            options: DecodeOptions::stream(),
            lost_after_frames: 8,
            abandon_after: Duration::from_millis(1500),
            max_abandoned: 2,
            report: Report::EachAppearance,
        }
    }
}

/// What the loop reports.
#[derive(Clone, Debug, PartialEq)]
pub enum ScanEvent {
    /// A code came into view (reported once until it leaves).
    Code {
        /// The code.
        decoded: Decoded,
        /// The frame it was read in.
        frame_seq: u64,
    },
    /// A code left the view (not seen for `lost_after_frames` decoded frames).
    Lost {
        /// Its text.
        text: String,
    },
}

/// Progress counters.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct ScanStats {
    /// Frames handed to [`Scanner::submit`].
    pub submitted: u64,
    /// Frames replaced in the slot by a newer one before they were decoded.
    pub replaced: u64,
    /// Frames decoded.
    pub decoded: u64,
    /// Frames in which at least one code was read.
    pub frames_with_code: u64,
    /// [`ScanEvent::Code`] events sent.
    pub codes_reported: u64,
    /// Total decode time, microseconds (wall).
    pub decode_micros: u64,
    /// Longest single decode, microseconds (wall).
    pub max_decode_micros: u64,
    /// Workers abandoned because one decode took too long.
    pub abandoned_workers: u64,
    /// Panics inside the decoder contained so far (process-wide).
    pub panics_contained: u64,
}

/// The corners of the codes in the most recently decoded frame.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Overlay {
    /// The frame these belong to.
    pub frame_seq: u64,
    /// Frame size, for scaling the overlay.
    pub frame_size: (usize, usize),
    /// Text and corners of each code in view.
    pub codes: Vec<(String, [(f32, f32); 4])>,
}

#[derive(Default)]
struct Slot {
    frame: Option<Frame>,
    stop: bool,
    paused: bool,
}

struct Tracker {
    /// text -> decoded frames since last seen
    in_view: HashMap<String, u32>,
    report: Report,
    /// In a batch: every code reported so far (and the order, to forget the oldest first).
    batch: HashSet<String>,
    batch_order: VecDeque<String>,
    stats: ScanStats,
    overlay: Overlay,
}

struct Shared {
    slot: Mutex<Slot>,
    wake: Condvar,
    tracker: Mutex<Tracker>,
    events: Mutex<Sender<ScanEvent>>,
    config: ScannerConfig,
}

struct Worker {
    handle: Option<JoinHandle<()>>,
    busy_since: Arc<Mutex<Option<Instant>>>,
    abandoned: Arc<AtomicBool>,
}

/// Locks a mutex, recovering the data if a thread panicked while holding it (nothing here
/// leaves the data half-updated).
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// The scanning loop. Dropping it stops the worker.
pub struct Scanner {
    shared: Arc<Shared>,
    events: Receiver<ScanEvent>,
    worker: Worker,
    abandoned: Vec<Worker>,
}

impl std::fmt::Debug for Scanner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Scanner")
            .field("stats", &self.stats())
            .finish()
    }
}

fn spawn_worker(shared: Arc<Shared>) -> Worker {
    let busy_since = Arc::new(Mutex::new(None));
    let abandoned = Arc::new(AtomicBool::new(false));
    let (busy, gone) = (busy_since.clone(), abandoned.clone());
    let handle = std::thread::Builder::new()
        .name("vouch-scan".into())
        .spawn(move || worker_loop(&shared, &busy, &gone))
        .ok();
    Worker {
        handle,
        busy_since,
        abandoned,
    }
}

fn worker_loop(shared: &Shared, busy: &Mutex<Option<Instant>>, abandoned: &AtomicBool) {
    let options = shared.config.options;
    let mut stream = FrameDecoder::new(options);
    loop {
        let frame = {
            let mut slot = lock(&shared.slot);
            loop {
                if slot.stop || abandoned.load(Ordering::SeqCst) {
                    return;
                }
                if !slot.paused {
                    if let Some(f) = slot.frame.take() {
                        break f;
                    }
                }
                slot = shared.wake.wait(slot).unwrap_or_else(|e| e.into_inner());
            }
        };
        let started = Instant::now();
        *lock(busy) = Some(started);
        let codes = if options.frame_mode {
            stream.decode(frame.view())
        } else {
            decode_luma(frame.view(), &options)
        };
        let micros = started.elapsed().as_micros().min(u128::from(u64::MAX)) as u64;
        *lock(busy) = None;
        if abandoned.load(Ordering::SeqCst) {
            return;
        }
        record(shared, &frame, codes, micros);
    }
}

fn record(shared: &Shared, frame: &Frame, codes: Vec<Decoded>, micros: u64) {
    let mut t = lock(&shared.tracker);
    t.stats.decoded += 1;
    t.stats.decode_micros += micros;
    t.stats.max_decode_micros = t.stats.max_decode_micros.max(micros);
    t.stats.panics_contained = super::panics_contained();
    if !codes.is_empty() {
        t.stats.frames_with_code += 1;
    }
    let mut events = Vec::new();
    for age in t.in_view.values_mut() {
        *age += 1;
    }
    for d in &codes {
        let appeared = t.in_view.insert(d.text.clone(), 0).is_none();
        if appeared && t.first_in_batch(&d.text) {
            events.push(ScanEvent::Code {
                decoded: d.clone(),
                frame_seq: frame.seq,
            });
        }
    }
    let limit = shared.config.lost_after_frames.max(1);
    let lost: Vec<String> = t
        .in_view
        .iter()
        .filter(|(_, &age)| age >= limit)
        .map(|(k, _)| k.clone())
        .collect();
    for text in lost {
        t.in_view.remove(&text);
        events.push(ScanEvent::Lost { text });
    }
    t.stats.codes_reported += events
        .iter()
        .filter(|e| matches!(e, ScanEvent::Code { .. }))
        .count() as u64;
    t.overlay = Overlay {
        frame_seq: frame.seq,
        frame_size: (frame.width(), frame.height()),
        codes: codes.iter().map(|d| (d.text.clone(), d.corners)).collect(),
    };
    // The events go out before the tracker is released: whoever sees this frame counted as
    // decoded (`Scanner::stats`) then finds its events waiting too.
    let tx = lock(&shared.events);
    for e in events {
        // the receiver lives in the Scanner; if it is gone we are shutting down anyway
        let _ = tx.send(e);
    }
    drop(tx);
    drop(t);
}

impl Tracker {
    /// Whether a code that came into view is to be reported: always outside a batch; in a
    /// batch only the first time (it is remembered then).
    fn first_in_batch(&mut self, text: &str) -> bool {
        if self.report == Report::EachAppearance {
            return true;
        }
        if !self.batch.insert(text.to_string()) {
            return false;
        }
        self.batch_order.push_back(text.to_string());
        while self.batch_order.len() > MAX_BATCH_CODES {
            if let Some(oldest) = self.batch_order.pop_front() {
                self.batch.remove(&oldest);
            }
        }
        true
    }
}

impl Scanner {
    /// Starts the worker.
    pub fn start(config: ScannerConfig) -> Self {
        let (tx, rx) = std::sync::mpsc::channel();
        let shared = Arc::new(Shared {
            slot: Mutex::new(Slot::default()),
            wake: Condvar::new(),
            tracker: Mutex::new(Tracker {
                in_view: HashMap::new(),
                report: config.report,
                batch: HashSet::new(),
                batch_order: VecDeque::new(),
                stats: ScanStats::default(),
                overlay: Overlay::default(),
            }),
            events: Mutex::new(tx),
            config,
        });
        let worker = spawn_worker(shared.clone());
        Scanner {
            shared,
            events: rx,
            worker,
            abandoned: Vec::new(),
        }
    }

    /// Hands a frame to the worker, replacing any frame still waiting (latest frame wins).
    /// Never blocks on decoding.
    pub fn submit(&mut self, frame: Frame) -> Result<(), ScanError> {
        self.check_worker()?;
        let replaced = {
            let mut slot = lock(&self.shared.slot);
            if slot.stop {
                return Err(ScanError::Stopped);
            }
            slot.frame.replace(frame).is_some()
        };
        {
            let mut t = lock(&self.shared.tracker);
            t.stats.submitted += 1;
            if replaced {
                t.stats.replaced += 1;
            }
        }
        self.shared.wake.notify_all();
        Ok(())
    }

    /// Abandons a worker stuck on one frame and starts a fresh one.
    fn check_worker(&mut self) -> Result<(), ScanError> {
        self.abandoned
            .retain(|w| w.handle.as_ref().is_some_and(|h| !h.is_finished()));
        let stuck = lock(&self.worker.busy_since)
            .is_some_and(|t| t.elapsed() > self.shared.config.abandon_after);
        let dead = self.worker.handle.as_ref().is_none_or(|h| h.is_finished());
        if (stuck && self.abandoned.len() < self.shared.config.max_abandoned) || dead {
            self.worker.abandoned.store(true, Ordering::SeqCst);
            let fresh = spawn_worker(self.shared.clone());
            if fresh.handle.is_none() {
                return Err(ScanError::Stopped);
            }
            let old = std::mem::replace(&mut self.worker, fresh);
            if !dead {
                lock(&self.shared.tracker).stats.abandoned_workers += 1;
                self.abandoned.push(old);
            }
            self.shared.wake.notify_all();
        }
        Ok(())
    }

    /// Stops taking frames from the slot (frames submitted meanwhile still replace each other).
    pub fn pause(&self) {
        lock(&self.shared.slot).paused = true;
    }

    /// Resumes after [`Scanner::pause`].
    pub fn resume(&self) {
        lock(&self.shared.slot).paused = false;
        self.shared.wake.notify_all();
    }

    /// Starts a new batch: from now on each code is reported once ([`Report::OncePerBatch`]),
    /// the codes of any earlier batch forgotten. Codes in view now are reported again if they
    /// stay there (they are new to this batch).
    pub fn start_batch(&self) {
        let mut t = lock(&self.shared.tracker);
        t.report = Report::OncePerBatch;
        t.batch.clear();
        t.batch_order.clear();
        t.in_view.clear();
    }

    /// Ends the batch: codes are reported each time they come into view again
    /// ([`Report::EachAppearance`]).
    pub fn end_batch(&self) {
        let mut t = lock(&self.shared.tracker);
        t.report = Report::EachAppearance;
        t.batch.clear();
        t.batch_order.clear();
    }

    /// Forgets one code of the batch (its scan was undone): it is reported again the next
    /// time it comes into view, once it has left it (an undone label still in front of the
    /// camera is not queued again at once). Returns whether the batch had it.
    pub fn forget(&self, text: &str) -> bool {
        let mut t = lock(&self.shared.tracker);
        let had = t.batch.remove(text);
        t.batch_order.retain(|c| c != text);
        had
    }

    /// How many codes this batch has reported (0 outside a batch).
    pub fn batch_len(&self) -> usize {
        lock(&self.shared.tracker).batch.len()
    }

    /// The next event, if one is waiting.
    pub fn try_event(&self) -> Option<ScanEvent> {
        self.events.try_recv().ok()
    }

    /// Waits up to `timeout` for the next event.
    pub fn next_event(&self, timeout: Duration) -> Option<ScanEvent> {
        self.events.recv_timeout(timeout).ok()
    }

    /// The counters so far.
    pub fn stats(&self) -> ScanStats {
        let mut s = lock(&self.shared.tracker).stats;
        s.panics_contained = super::panics_contained();
        s
    }

    /// Corners of the codes in the last decoded frame.
    pub fn overlay(&self) -> Overlay {
        lock(&self.shared.tracker).overlay.clone()
    }

    /// Whether a frame is waiting or being decoded.
    pub fn is_busy(&self) -> bool {
        lock(&self.shared.slot).frame.is_some() || lock(&self.worker.busy_since).is_some()
    }

    /// Pulls frames from `source` on this thread and submits them until the source ends,
    /// `keep_going` returns false, or the source fails (that error is returned; an unplugged
    /// camera ends here). Events are passed to `on_event` as they come.
    pub fn run_source(
        &mut self,
        source: &mut dyn FrameSource,
        mut on_event: impl FnMut(ScanEvent),
        mut keep_going: impl FnMut(&ScanStats) -> bool,
    ) -> Result<(), ScanError> {
        loop {
            while let Some(e) = self.try_event() {
                on_event(e);
            }
            if !keep_going(&self.stats()) {
                return Ok(());
            }
            match source.next_frame() {
                Ok(frame) => self.submit(frame)?,
                Err(ScanError::EndOfFrames) => return Ok(()),
                Err(e) => return Err(e),
            }
        }
    }

    /// Stops the worker and waits for it (an abandoned or stuck worker is left to finish on its
    /// own; its result is dropped).
    pub fn stop(mut self) -> ScanStats {
        self.shutdown();
        self.stats()
    }

    fn shutdown(&mut self) {
        lock(&self.shared.slot).stop = true;
        self.shared.wake.notify_all();
        let stuck = lock(&self.worker.busy_since)
            .is_some_and(|t| t.elapsed() > self.shared.config.abandon_after);
        if let Some(h) = self.worker.handle.take() {
            if !stuck {
                let _ = h.join();
            }
        }
    }
}

impl Drop for Scanner {
    fn drop(&mut self) {
        self.shutdown();
    }
}
