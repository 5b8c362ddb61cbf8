//! Group commit: one thread makes sled's committed changes durable (sled `flush`, then an
//! `fdatasync` of the database file), covering every commit made while the previous sync ran, and
//! wakes the waiters: threads block on a condition variable, async handlers await a watch
//! channel, so no handler needs a blocking thread of its own to wait for the disk.
//!
//! If a sync ever fails, the store is marked failed for good: no later commit can be promised
//! durable (the kernel may have dropped the dirty pages), so every waiter gets the error.

use std::fs::File;
use std::path::PathBuf;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use tokio::sync::watch;

use super::{Commit, SyncStats};
use crate::error::{Failure, ServerError};

/// What waiters look at: the last durable commit, or the failure that ended durability.
#[derive(Clone, Debug, Default)]
struct Progress {
    synced: u64,
    failed: Option<Arc<str>>,
}

#[derive(Default)]
struct State {
    committed: u64,
    syncs: u64,
    progress: Progress,
    stopping: bool,
}

struct Shared {
    state: Mutex<State>,
    /// Signalled on a new commit or on stop (the sync thread waits on it).
    work: Condvar,
    /// Signalled after each sync (blocking waiters wait on it).
    done: Condvar,
    /// The same progress for async waiters.
    progress: watch::Sender<Progress>,
}

/// The sync thread and its shared state; dropping it syncs what is left and joins the thread.
pub struct GroupCommit {
    shared: Arc<Shared>,
    thread: Option<JoinHandle<()>>,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        // The lock only guards counters: a panic elsewhere cannot leave them inconsistent.
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

impl GroupCommit {
    /// Starts the sync thread for `db`, whose file `db_file` is kept open for `fdatasync`; when
    /// commits arrive back to back it waits `delay` before each sync to gather more of them.
    pub fn start(db: sled::Db, db_file: PathBuf, delay: Duration) -> Result<Self, ServerError> {
        let file = File::open(&db_file)
            .map_err(|e| ServerError::io("opening for fsync", db_file.clone(), e))?;
        let shared = Arc::new(Shared {
            state: Mutex::new(State::default()),
            work: Condvar::new(),
            done: Condvar::new(),
            progress: watch::Sender::new(Progress::default()),
        });
        let worker = shared.clone();
        let thread = std::thread::Builder::new()
            .name("vouch-sync".into())
            .spawn(move || sync_loop(&worker, &db, &file, &db_file, delay))
            .map_err(|e| {
                ServerError::Storage(Failure::caused("cannot start the sync thread", e))
            })?;
        Ok(Self {
            shared,
            thread: Some(thread),
        })
    }

    /// Records that a change has been committed in memory; returns its place in commit order.
    /// Call it after the commit returned, so the next sync covers it.
    pub fn committed(&self) -> Commit {
        let mut state = self.shared.lock();
        state.committed += 1;
        let commit = Commit(state.committed);
        drop(state);
        self.shared.work.notify_one();
        commit
    }

    /// Commits and syncs so far.
    pub fn stats(&self) -> SyncStats {
        let state = self.shared.lock();
        SyncStats {
            commits: state.committed,
            syncs: state.syncs,
        }
    }

    /// Blocks the calling thread until `commit` is on disk.
    pub fn wait(&self, commit: Commit) -> Result<(), ServerError> {
        let mut state = self.shared.lock();
        loop {
            if let Some(why) = &state.progress.failed {
                return Err(ServerError::Storage(Failure::new(format!(
                    "the database cannot be synced: {why}"
                ))));
            }
            if state.progress.synced >= commit.0 {
                return Ok(());
            }
            state = self
                .shared
                .done
                .wait(state)
                .unwrap_or_else(|poisoned| poisoned.into_inner());
        }
    }

    /// Resolves once `commit` is on disk, without holding a thread.
    pub fn wait_async(
        &self,
        commit: Commit,
    ) -> impl std::future::Future<Output = Result<(), ServerError>> + Send + 'static {
        let mut progress = self.shared.progress.subscribe();
        async move {
            let reached = progress
                .wait_for(|p| p.failed.is_some() || p.synced >= commit.0)
                .await
                .map_err(|_| ServerError::Storage(Failure::new("the sync thread has stopped")))?;
            match &reached.failed {
                Some(why) => Err(ServerError::Storage(Failure::new(format!(
                    "the database cannot be synced: {why}"
                )))),
                None => Ok(()),
            }
        }
    }
}

impl Drop for GroupCommit {
    fn drop(&mut self) {
        self.shared.lock().stopping = true;
        self.shared.work.notify_one();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Commits arriving within this long of the previous sync's end mean the server is busy.
const BUSY_WINDOW: Duration = Duration::from_millis(2);

/// When busy, waits `delay` so that commits about to happen share this sync (fewer sled
/// flushes and fsyncs per commit, the dominant storage cost); idle, syncs at once. Returns the
/// commit number the sync will cover.
fn gather(shared: &Shared, delay: Duration, last_sync_end: Instant, target: u64) -> u64 {
    if delay.is_zero() || last_sync_end.elapsed() > BUSY_WINDOW {
        return target;
    }
    std::thread::sleep(delay);
    shared.lock().committed.max(target)
}

/// One sync: sled's flush (which writes the sealed log buffer on this thread), then
/// `fdatasync`. A panic inside sled's write is caught and becomes a failed sync, so that the
/// waiters get an error instead of waiting for a thread that is gone.
fn sync_once(db: &sled::Db, file: &File, db_file: &std::path::Path) -> Result<(), String> {
    let attempt = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        db.flush()
            .map_err(|e| format!("sled flush: {e}"))
            .and_then(|_| {
                file.sync_data()
                    .map_err(|e| format!("fdatasync {}: {e}", db_file.display()))
            })
    }));
    attempt.unwrap_or_else(|_| Err("sled flush panicked".into()))
}

/// Waits for commits; syncs everything committed so far; reports; until stopped with nothing
/// left to sync.
fn sync_loop(
    shared: &Shared,
    db: &sled::Db,
    file: &File,
    db_file: &std::path::Path,
    delay: Duration,
) {
    let mut last_sync_end = Instant::now();
    loop {
        let target = {
            let mut state = shared.lock();
            while state.committed == state.progress.synced && !state.stopping {
                state = shared
                    .work
                    .wait(state)
                    .unwrap_or_else(|poisoned| poisoned.into_inner());
            }
            if state.committed == state.progress.synced || state.progress.failed.is_some() {
                return;
            }
            state.committed
        };
        let target = gather(shared, delay, last_sync_end, target);
        let result = sync_once(db, file, db_file);
        let mut state = shared.lock();
        state.syncs += 1;
        match result {
            Ok(()) => state.progress.synced = target,
            Err(why) => {
                tracing::error!(error = %why, "the database could not be synced; refusing further writes");
                state.progress.failed = Some(why.into());
            }
        }
        shared.progress.send_replace(state.progress.clone());
        drop(state);
        shared.done.notify_all();
        last_sync_end = Instant::now();
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn started(delay: Duration) -> (tempfile::TempDir, sled::Db, GroupCommit) {
        let dir = tempfile::tempdir().unwrap();
        let db = sled::open(dir.path()).unwrap();
        let group = GroupCommit::start(db.clone(), dir.path().join("db"), delay).unwrap();
        (dir, db, group)
    }

    #[test]
    fn a_blocking_wait_returns_once_the_commit_is_synced() {
        let (_dir, db, group) = started(Duration::ZERO);
        db.insert(b"k", b"v").unwrap();
        let commit = group.committed();
        group.wait(commit).unwrap();
        let stats = group.stats();
        assert_eq!(stats.commits, 1);
        assert!(stats.syncs >= 1, "{stats:?}");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_async_waiters_share_syncs() {
        let (_dir, db, group) = started(Duration::from_micros(500));
        let group = Arc::new(group);
        let mut waiters = Vec::new();
        for round in 0..50u32 {
            for i in 0..8u32 {
                db.insert(format!("{round}-{i}"), b"v".as_slice()).unwrap();
                waiters.push(group.wait_async(group.committed()));
            }
        }
        for waiter in waiters {
            waiter.await.unwrap();
        }
        let stats = group.stats();
        assert_eq!(stats.commits, 400);
        assert!(stats.syncs < 400, "no commits shared a sync: {stats:?}");
    }

    #[test]
    fn dropping_syncs_what_is_left_and_stops_the_thread() {
        let (_dir, db, group) = started(Duration::from_millis(5));
        db.insert(b"k", b"v").unwrap();
        let _ = group.committed();
        let shared = group.shared.clone();
        drop(group);
        let state = shared.lock();
        assert_eq!(
            state.progress.synced, 1,
            "the last commit was synced on drop"
        );
    }

    #[test]
    fn a_sync_that_the_disk_refuses_is_an_error() {
        let (dir, db, _group) = started(Duration::ZERO);
        // fdatasync of a character device fails (EINVAL), as a failing disk would.
        let not_syncable = File::open("/dev/null").unwrap();
        let why = sync_once(&db, &not_syncable, std::path::Path::new("/dev/null")).unwrap_err();
        assert!(why.starts_with("fdatasync /dev/null"), "{why}");
        let file = File::open(dir.path().join("db")).unwrap();
        assert_eq!(sync_once(&db, &file, &dir.path().join("db")), Ok(()));
    }

    #[tokio::test]
    async fn a_failed_sync_fails_every_waiter_for_good() {
        let (_dir, _db, group) = started(Duration::ZERO);
        // What the sync thread records when a flush or fsync fails.
        {
            let mut state = group.shared.lock();
            state.progress.failed = Some("fsync: I/O error".into());
            group.shared.progress.send_replace(state.progress.clone());
        }
        group.shared.done.notify_all();
        let commit = group.committed();
        let blocking = group.wait(commit).unwrap_err().to_string();
        assert!(blocking.contains("cannot be synced"), "{blocking}");
        let waited = group.wait_async(commit).await.unwrap_err().to_string();
        assert!(waited.contains("I/O error"), "{waited}");
    }
}
