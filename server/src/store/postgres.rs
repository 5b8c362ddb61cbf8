//! The PostgreSQL backend: several `vouch-server` instances on one database.
//!
//! Every bucket is rows of one table (`vouch_kv`, keyed by bucket and key), so the primary key
//! is what keeps a serial, a record id, a staff key id or an audit sequence number unique,
//! whichever instance writes, and a bucket added to the contract needs no migration.
//! Challenges are their own table and are taken by `DELETE ... RETURNING`.
//!
//! **Isolation and retry.** A transaction runs at `SERIALIZABLE`; one that fails with a
//! serialization failure or a deadlock (SQLSTATE `40001`, `40P01`), at a read, at its write or
//! at `COMMIT`, is rolled back and its work run again on fresh data, up to [`MAX_ATTEMPTS`]
//! times with a jittered pause, then answered `busy`. A transaction that writes the audit chain
//! takes the audit lock right after `BEGIN`: `LOCK TABLE vouch_audit_lock IN EXCLUSIVE MODE`
//! ([`BEGIN_AUDIT`], migration 3), so that the appends of every instance queue up instead of
//! failing and retrying one another. `LOCK TABLE` takes no snapshot, so the lock is granted
//! before the transaction's snapshot is taken (a lock taken after the snapshot would leave the
//! transaction to fail anyway); `COMMIT` or `ROLLBACK` releases it, so it never outlives its
//! transaction, whatever happens to the connection. A try whose lock failed goes no further
//! (a `lock_timeout` the operator set is answered `busy`) and is rolled back. A connection
//! whose transaction state is unknown (a `ROLLBACK` that failed, a commit whose every answer
//! was an error, a panic that unwound past the commit) is closed, never pooled.
//!
//! **Round trips.** Statements that belong together are pipelined: sent in one go and answered
//! in one go, in order ([`PgTxn`] has the rules). A transaction costs one exchange per read
//! plus one: `BEGIN` (with the lock) and the first read go together, with the audit head read
//! ahead in a transaction that appends to the chain, and the buffered writes (one `INSERT` of
//! them all) and `COMMIT` go together. Reads that go together are one statement: the
//! challenge's device read and insert ([`Backend::put_challenge_if_present`]), the completion's
//! challenge take and device read ([`Backend::take_challenge_then_get`]), a transaction's first
//! read and the audit head. An enrollment's store calls come to four exchanges and a share of a
//! flush barrier (its transaction two: `BEGIN` with the device and the audit head, then the
//! writes and `COMMIT`), where they were twelve statements of one exchange each.
//!
//! **Threads.** The contract is synchronous and the driver (`tokio-postgres`, pooled by
//! `deadpool`) is async. Each connection is driven by the thread that uses it
//! (`postgres_conn.rs`): the caller writes its own requests and sleeps on the connection's
//! socket until the answers come, so no other thread is woken on the way there or back. The
//! backend's own small runtime keeps the pool's timers and runs the flush barriers of
//! [`Backend::durable`]. The server calls a store of [`Latency::Blocking`] from its blocking
//! pool, so no async worker waits on the database.
//!
//! **Durability.** The commits of the store's transactions do not wait for the disk
//! (`synchronous_commit` is off in each connection's session, [`SESSION`]): the audit lock is
//! held until `COMMIT` returns, and holding it across every WAL flush would make the
//! instances' commits one flush each. Whoever reports a change first waits for it
//! ([`Backend::wait`], [`Backend::durable`]): a *flush barrier*, a tiny transaction committed
//! with `synchronous_commit` on (on a connection of its own, [`BARRIER_SESSION`]), which
//! flushes the WAL up to its own commit record and so every commit before it. An instance runs
//! one barrier at a time: a wait that the barrier in flight covers shares it (and its
//! failure), one that came later waits for it to end and then shares the next (group commit,
//! as sled's), and a wait already covered runs none. The instances' barriers share
//! PostgreSQL's own flushes. A change another instance reads before it is flushed can only be
//! lost together with everything that read it (the WAL is one sequence), as with sled's group
//! commit.
//! Challenges are stored and taken without waiting for the disk too ([`SESSION`] says why
//! that is safe).
//!
//! A database that cannot be reached makes every call fail with `busy` (503) until it is back;
//! the pool reconnects by itself. A lock or statement timeout is `busy` too.

use std::cell::{Cell, RefCell};
use std::collections::BTreeMap;
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use super::postgres_conn::PgManager;
use tokio_postgres::error::SqlState;

use super::backend::{
    ensure_covered, read_then_put_challenge, BufferedWrites, NewChallenge, TakenAndRead, AUDIT_HEAD,
};
use super::{
    Backend, Bucket, BucketDump, Commit, DurableFuture, Latency, SyncStats, TxError, TxResult, Txn,
};
use crate::error::{Failure, ServerError};
use vouch_protocol::wire::ErrorCode;

/// The pool of connections.
type Pool = deadpool::managed::Pool<PgManager>;
/// A connection taken from the pool.
type Object = deadpool::managed::Object<PgManager>;
/// Why the pool gave no connection.
type PoolError = deadpool::managed::PoolError<ServerError>;

/// A transaction is tried at most this many times when the database reports a serialization
/// failure or a deadlock.
pub const MAX_ATTEMPTS: u32 = 30;

/// The advisory lock held while migrating, so instances starting together migrate once (the
/// bytes of "vouch", plus one: the same key every earlier version took, so that old and new
/// instances starting together during an upgrade still migrate once).
const MIGRATION_LOCK: i64 = 0x76_6f_75_63_68 + 1;

/// The schema, in order: `(version, name, SQL)`. Each is applied once, in a transaction.
const MIGRATIONS: &[(i32, &str, &str)] = &[
    (1, "store", include_str!("../../migrations/0001_store.sql")),
    (
        2,
        "flush barrier",
        include_str!("../../migrations/0002_flush_barrier.sql"),
    ),
    (
        3,
        "audit lock table",
        include_str!("../../migrations/0003_audit_lock.sql"),
    ),
];

/// How long a caller waits for a free connection, or for a new one, before `busy`.
const POOL_TIMEOUT: Duration = Duration::from_secs(5);

/// The PostgreSQL backend. Its calls block the calling thread while the database answers
/// (`postgres_conn.rs`): call it from a blocking thread or a multi-threaded runtime's worker,
/// never from a current-thread runtime's task, where tokio refuses to block (it panics). The
/// server calls it from its blocking pool ([`Latency::Blocking`]).
pub struct PgBackend {
    runtime: Option<tokio::runtime::Runtime>,
    handle: tokio::runtime::Handle,
    pool: Pool,
    /// The flush barriers' one connection ([`BARRIER_SESSION`]; one barrier runs at a time).
    barriers: Pool,
    durability: Arc<Flushes>,
    challenges: ChallengeCount,
    retries: AtomicU64,
}

/// The outstanding challenges as this instance last counted them, and its inserts since.
#[derive(Default)]
struct ChallengeCount {
    counted: AtomicU64,
    puts_since: AtomicU64,
}

/// Challenges are counted again after this many inserts by one instance (public for the test
/// of the bound it sets across instances).
pub const COUNT_EVERY: u64 = 256;

/// Commits, and how far they are known to be on disk.
#[derive(Default)]
struct Flushes {
    /// Commits so far, numbered in the order their `COMMIT` returned, and fences
    /// ([`Backend::fence`]), numbered when they are taken.
    commits: AtomicU64,
    /// Every commit up to this number is flushed.
    flushed: AtomicU64,
    /// Of the numbers in `commits`, those taken by fences (not commits: left out of the
    /// statistics).
    fences: AtomicU64,
    /// Flush barriers run.
    barriers: AtomicU64,
    /// The barrier in flight, which the callers it covers wait for rather than running their
    /// own: one barrier at a time per instance, covering every commit numbered before it
    /// started (group commit, as sled's).
    leading: Mutex<Leading>,
    /// Told whenever a barrier ends.
    ended: Condvar,
}

/// The state of this instance's barriers.
#[derive(Default)]
struct Leading {
    /// The last commit the barrier in flight covers, if one is in flight.
    in_flight: Option<u64>,
    /// Barriers ended so far: a follower waits until this moves.
    ended: u64,
    /// The last barrier that failed: what it would have covered and why it failed, for its
    /// followers to answer with (they were waiting for it; none of them is known durable).
    failed: Option<(u64, ServerError)>,
}

impl Flushes {
    /// Whether `commit`, and every commit before it, is known to be on disk.
    fn covers(&self, commit: Commit) -> bool {
        self.flushed.load(Ordering::SeqCst) >= commit.0
    }

    fn lock(&self) -> MutexGuard<'_, Leading> {
        // Every change under the lock is one assignment: a panic cannot leave it half-done.
        self.leading.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// A copy of a barrier's failure for the followers that waited for it: a refusal as it was
/// (`busy` stays `busy`), anything else as a storage error that says so.
fn failure_copy(e: &ServerError) -> ServerError {
    match e {
        ServerError::Refusal { code, message } => {
            ServerError::refuse(code.clone(), message.clone())
        }
        other => ServerError::Storage(Failure::new(format!(
            "the flush barrier this change waited for failed: {other}"
        ))),
    }
}

/// Ends the barrier in flight when dropped (also when the barrier panics, so that its
/// followers are not left waiting), with its outcome.
struct Lead<'a> {
    flushes: &'a Flushes,
    covering: u64,
    outcome: Option<ServerError>,
}

impl Drop for Lead<'_> {
    fn drop(&mut self) {
        let mut leading = self.flushes.lock();
        leading.in_flight = None;
        leading.ended += 1;
        if std::thread::panicking() {
            let why = Failure::new("the flush barrier stopped");
            leading.failed = Some((self.covering, ServerError::Storage(why)));
        } else if let Some(e) = self.outcome.take() {
            leading.failed = Some((self.covering, e));
        }
        drop(leading);
        self.flushes.ended.notify_all();
    }
}

/// Makes every commit whose `COMMIT` returned before it started durable: a transaction that
/// writes (it takes a transaction id) committed with `synchronous_commit` on, which flushes the
/// WAL up to its own commit record, and so every earlier one. One runs at a time per instance:
/// a caller whose commit the barrier in flight covers waits for it and shares its outcome; one
/// it does not cover waits for it to end, then runs the next, which covers every caller that
/// came meanwhile. The instances' barriers share PostgreSQL's WAL flushes.
fn flush_barrier(
    handle: &tokio::runtime::Handle,
    pool: &Pool,
    flushes: &Flushes,
    commit: Commit,
) -> Result<(), ServerError> {
    loop {
        if flushes.covers(commit) {
            return Ok(());
        }
        let mut leading = flushes.lock();
        let Some(covering) = leading.in_flight else {
            // Numbered under the lock: no barrier can start and miss a commit it claims.
            let covering = flushes.commits.load(Ordering::SeqCst);
            leading.in_flight = Some(covering);
            drop(leading);
            return lead(handle, pool, flushes, covering);
        };
        let seen = leading.ended;
        while leading.ended == seen {
            leading = flushes
                .ended
                .wait(leading)
                .unwrap_or_else(PoisonError::into_inner);
        }
        if covering >= commit.0 && !flushes.covers(commit) {
            if let Some((failed_covering, e)) = &leading.failed {
                if *failed_covering >= commit.0 {
                    return Err(failure_copy(e));
                }
            }
        }
    }
}

/// Runs the barrier covering the commits up to `covering`, as the one in flight.
fn lead(
    handle: &tokio::runtime::Handle,
    pool: &Pool,
    flushes: &Flushes,
    covering: u64,
) -> Result<(), ServerError> {
    let mut lead = Lead {
        flushes,
        covering,
        outcome: None,
    };
    let ran = block_on(handle, pool.get())
        .map_err(pool_error)
        .and_then(|client| flush(&client, BARRIER_TIMEOUT));
    flushes.barriers.fetch_add(1, Ordering::Relaxed);
    match ran {
        Ok(()) => {
            flushes.flushed.fetch_max(covering, Ordering::SeqCst);
            Ok(())
        }
        Err(e) => {
            lead.outcome = Some(failure_copy(&e));
            Err(e)
        }
    }
}

/// The flush barrier's write (migration 2): this connection's row, updated.
const FLUSH: &str = "INSERT INTO vouch_flush (pid, at) VALUES (pg_backend_pid(), now()) \
     ON CONFLICT (pid) DO UPDATE SET at = EXCLUDED.at \
     RETURNING current_setting('synchronous_commit')";

/// How long a flush barrier may take before its connection is closed and its waits are
/// answered `busy`: one barrier runs at a time, so a connection that hangs (a peer gone
/// without a reset, a synchronous standby that is down) must not hold every wait.
const BARRIER_TIMEOUT: Duration = Duration::from_secs(10);

/// The flush barriers' connection's session: its commits wait for the disk, whatever the
/// database's configuration says (with synchronous standbys configured, for their flush too),
/// so that a barrier is one statement of its own.
const BARRIER_SESSION: &str = "SET synchronous_commit TO on";

/// The flush barrier: [`FLUSH`] (prepared once on the connection: a Bind/Execute, not a
/// parse), committed on its own in a session of [`BARRIER_SESSION`]. Refused if the statement
/// ran where commits do not wait (a connection pooler in transaction mode can hand it to
/// another session): it would vouch for nothing. Closes the connection if it takes longer
/// than `timeout`.
fn flush(client: &Object, timeout: Duration) -> Result<(), ServerError> {
    let ran = client.run(async {
        let flushed = async {
            let statement = client.prepare_cached(FLUSH).await?;
            let row = client.query_one(&statement, &[]).await?;
            row.try_get::<_, String>(0)
        };
        tokio::time::timeout(timeout, flushed).await
    });
    match ran {
        Ok(Ok(setting)) if setting != "off" => Ok(()),
        Ok(Ok(_)) => Err(ServerError::Storage(Failure::new(
            "the flush barrier ran in a session whose commits do not wait for the disk (a \
             connection pooler in transaction mode?)",
        ))),
        Ok(Err(e)) => Err(db_error(&e)),
        Err(_) => {
            // Cancelled first: a closed socket alone would leave the server process waiting
            // (for a synchronous standby, say), one more for every barrier that times out.
            client.cancel(timeout);
            client.close();
            tracing::warn!(
                ?timeout,
                "a flush barrier timed out; cancelled, its connection closed"
            );
            Err(unavailable())
        }
    }
}

/// What one try of a transaction came to.
enum Attempt {
    Committed,
    Retry,
    Failed(ServerError),
}

/// Whether the database asks for the transaction to be run again.
fn is_retryable(e: &tokio_postgres::Error) -> bool {
    e.code().is_some_and(|c| {
        *c == SqlState::T_R_SERIALIZATION_FAILURE || *c == SqlState::T_R_DEADLOCK_DETECTED
    })
}

/// A driver error as the server's: a TLS refusal says what was refused (the operator's to
/// fix); a database that cannot be reached (no SQLSTATE, a connection exception, a shutdown)
/// or that gave up waiting (a `lock_timeout` or `statement_timeout` the operator set, a
/// cancel) is `busy`, so callers get 503 and try again; anything else is a storage error. The
/// cause is logged, not sent.
pub(super) fn db_error(e: &tokio_postgres::Error) -> ServerError {
    if let Some(refused) = super::postgres_tls::refusal(e) {
        return refused;
    }
    // The driver's own text is "db error"; the log and the message say what PostgreSQL said.
    let said = e
        .as_db_error()
        .map_or_else(|| e.to_string(), |d| d.to_string());
    if e.code()
        .is_some_and(|c| *c == SqlState::LOCK_NOT_AVAILABLE || *c == SqlState::QUERY_CANCELED)
    {
        tracing::warn!(error = %said, "a database statement timed out");
        return ServerError::refuse(
            ErrorCode::Busy,
            "the database is busy right now; try again later",
        );
    }
    let unreachable = match e.code() {
        None => true,
        Some(code) => {
            code.code().starts_with("08")
                || *code == SqlState::ADMIN_SHUTDOWN
                || *code == SqlState::CRASH_SHUTDOWN
                || *code == SqlState::CANNOT_CONNECT_NOW
        }
    };
    if unreachable {
        tracing::warn!(error = %e, "the database cannot be reached");
        return unavailable();
    }
    ServerError::Storage(Failure::new(format!("database: {said}")))
}

/// The answer while the database cannot be reached: `busy`, to try again later.
pub(super) fn unavailable() -> ServerError {
    ServerError::refuse(
        ErrorCode::Busy,
        "the database cannot be reached right now; try again later",
    )
}

/// A pool of at most `size` connections made by `manager`, each got or made within
/// [`POOL_TIMEOUT`].
fn pool_of(manager: PgManager, size: usize) -> Result<Pool, ServerError> {
    Pool::builder(manager)
        .max_size(size.max(1))
        .runtime(deadpool::Runtime::Tokio1)
        .wait_timeout(Some(POOL_TIMEOUT))
        .create_timeout(Some(POOL_TIMEOUT))
        .recycle_timeout(Some(POOL_TIMEOUT))
        .build()
        .map_err(|e| ServerError::Storage(Failure::caused("database pool", e)))
}

fn pool_error(e: PoolError) -> ServerError {
    match e {
        PoolError::Backend(e) => e,
        other => {
            tracing::warn!(error = %other, "no database connection");
            unavailable()
        }
    }
}

/// Milliseconds as PostgreSQL's `bigint`.
fn millis(ms: u64) -> i64 {
    i64::try_from(ms).unwrap_or(i64::MAX)
}

impl PgBackend {
    /// Connects to the database `url` names (`postgres://user@host/db?...`) with at most
    /// `pool_size` connections (and one for flush barriers) and applies the migrations it
    /// lacks. Refuses a database whose schema is newer than this server knows. TLS, when the
    /// URL's `sslmode` asks for it, is verified against the system's trust store.
    pub fn connect(url: &str, pool_size: usize) -> Result<Self, ServerError> {
        Self::connect_with(url, pool_size, None)
    }

    /// [`PgBackend::connect`], with TLS verified against the CA certificates in `ca_file`
    /// when one is given (`store/postgres_tls.rs`).
    pub fn connect_with(
        url: &str,
        pool_size: usize,
        ca_file: Option<&std::path::Path>,
    ) -> Result<Self, ServerError> {
        // The URL may carry a password: it is never echoed back in the message.
        let config: tokio_postgres::Config = url.parse().map_err(|e: tokio_postgres::Error| {
            ServerError::Config(Failure::caused("store.url is not a PostgreSQL URL", e))
        })?;
        // Both before the runtime: dropped on an error path inside the server's own runtime,
        // a runtime would panic instead of letting the error be told.
        let manager = super::postgres_tls::manager(config.clone(), ca_file, POOL_TIMEOUT)?;
        let pool = pool_of(manager.with_session(SESSION), pool_size)?;
        let barrier_manager = super::postgres_tls::manager(config, ca_file, POOL_TIMEOUT)?;
        let barriers = pool_of(barrier_manager.with_session(BARRIER_SESSION), 1)?;
        // The connections run on their callers' threads (`postgres_conn.rs`): this runtime
        // keeps the pool's timers and runs the flush barriers of `durable`.
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("vouch-postgres")
            .enable_all()
            .build()
            .map_err(|e| {
                ServerError::Storage(Failure::caused("starting the database runtime", e))
            })?;
        let backend = Self {
            handle: runtime.handle().clone(),
            runtime: Some(runtime),
            pool,
            barriers,
            durability: Arc::new(Flushes::default()),
            challenges: ChallengeCount::default(),
            retries: AtomicU64::new(0),
        };
        backend.migrate()?;
        Ok(backend)
    }

    /// Transactions run again after a serialization failure or deadlock, so far.
    pub fn retries(&self) -> u64 {
        self.retries.load(Ordering::Relaxed)
    }

    /// The schema version the database is at (0: none).
    pub fn schema_version(&self) -> Result<i32, ServerError> {
        let client = self.client()?;
        client.run(current_version(&client))
    }

    /// A pooled connection.
    fn client(&self) -> Result<Object, ServerError> {
        block_on(&self.handle, self.pool.get()).map_err(pool_error)
    }

    /// Brings the schema up to date under the migration lock.
    fn migrate(&self) -> Result<(), ServerError> {
        let client = self.client()?;
        client.run(migrate(&client))
    }

    /// One try of `work` on `client`: the transaction opens with its first read and its
    /// writes go with its `COMMIT` (see [`PgTxn`]). Says whether the connection must be
    /// closed rather than pooled (it may still be inside a transaction).
    fn attempt(
        &self,
        client: &Object,
        buckets: &[Bucket],
        work: &dyn Fn(&dyn Txn) -> TxResult<()>,
    ) -> (Attempt, bool) {
        let audit = buckets.contains(&Bucket::Audit);
        let txn = PgTxn {
            client,
            buckets,
            begin: if audit { BEGIN_AUDIT } else { BEGIN },
            read_head_ahead: audit && buckets.contains(&Bucket::Meta),
            head: RefCell::new(None),
            opened: Cell::new(false),
            failed: Cell::new(false),
            discard: Cell::new(false),
            writes: RefCell::new(BTreeMap::new()),
        };
        let outcome = match work(&txn) {
            Ok(()) if txn.failed.get() => txn.abandon(Attempt::Failed(ServerError::Storage(
                Failure::new("a statement of the transaction failed and its work went on"),
            ))),
            Ok(()) => txn.commit(),
            Err(TxError::Retry) => txn.abandon(Attempt::Retry),
            Err(TxError::Abort(e)) => txn.abandon(Attempt::Failed(e)),
        };
        (outcome, txn.discard.get())
    }

    /// A jittered pause before try number `attempt` (1 to 64 ms, growing).
    fn pause(attempt: u32) {
        let mut byte = [0u8; 1];
        let _ = ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut byte);
        let cap = 1u64 << attempt.min(6);
        std::thread::sleep(Duration::from_millis(1 + u64::from(byte[0]) % cap));
    }

    /// What a transaction came to, for its caller.
    fn answer(&self, outcome: Attempt) -> Result<Commit, ServerError> {
        match outcome {
            Attempt::Committed => {
                let n = self.durability.commits.fetch_add(1, Ordering::SeqCst) + 1;
                Ok(Commit(n))
            }
            Attempt::Failed(e) => Err(e),
            Attempt::Retry => Err(ServerError::refuse(
                ErrorCode::Busy,
                "the database kept reporting conflicting transactions; try again",
            )),
        }
    }
}

/// Wakes the thread that waits in [`block_on`].
struct Unpark(std::thread::Thread);

impl std::task::Wake for Unpark {
    fn wake(self: Arc<Self>) {
        self.0.unpark();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.0.unpark();
    }
}

/// Drives `future` (the pool's: waiting for a connection, making one) to its end on the calling
/// thread, parking it while the future waits, with `handle`'s runtime as the context, whose
/// timers bound the wait. Statements run through [`PgConn::run`](super::postgres_conn), on the
/// connection's own runtime. Like any blocking call it holds the thread: the server calls a
/// [`Latency::Blocking`] store from its blocking pool, never from an async worker.
fn block_on<F: Future>(handle: &tokio::runtime::Handle, future: F) -> F::Output {
    let _context = handle.enter();
    let waker = std::task::Waker::from(Arc::new(Unpark(std::thread::current())));
    let mut context = std::task::Context::from_waker(&waker);
    let mut future = std::pin::pin!(future);
    loop {
        if let std::task::Poll::Ready(output) = future.as_mut().poll(&mut context) {
            return output;
        }
        // A wake that came first left a token, so this returns at once; a spurious return
        // only polls once more.
        std::thread::park();
    }
}

impl Drop for PgBackend {
    fn drop(&mut self) {
        // Dropping a runtime waits for its threads, which must not happen on an async worker.
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}

/// The highest version recorded, creating the version table on first use.
async fn current_version(client: &Object) -> Result<i32, ServerError> {
    client
        .batch_execute(
            "CREATE TABLE IF NOT EXISTS vouch_schema (\
               version integer PRIMARY KEY, \
               name text NOT NULL, \
               applied_at timestamptz NOT NULL DEFAULT now())",
        )
        .await
        .map_err(|e| db_error(&e))?;
    let row = client
        .query_one("SELECT COALESCE(MAX(version), 0) FROM vouch_schema", &[])
        .await
        .map_err(|e| db_error(&e))?;
    row.try_get(0).map_err(|e| db_error(&e))
}

/// Applies each missing migration in its own transaction, holding the migration lock.
async fn migrate(client: &Object) -> Result<(), ServerError> {
    client
        .query_one("SELECT pg_advisory_lock($1)", &[&MIGRATION_LOCK])
        .await
        .map_err(|e| db_error(&e))?;
    let result = migrate_locked(client).await;
    let unlocked = client
        .query_one("SELECT pg_advisory_unlock($1)", &[&MIGRATION_LOCK])
        .await
        .map_err(|e| db_error(&e));
    result.and(unlocked.map(|_| ()))
}

async fn migrate_locked(client: &Object) -> Result<(), ServerError> {
    let current = current_version(client).await?;
    let known = MIGRATIONS.last().map_or(0, |m| m.0);
    if current > known {
        return Err(ServerError::Config(Failure::new(format!(
            "the database's schema is version {current}, newer than this vouch-server knows \
             ({known}): run a vouch-server at least as new as the one that migrated it"
        ))));
    }
    for (version, name, sql) in MIGRATIONS.iter().filter(|m| m.0 > current) {
        let apply = async {
            client.batch_execute("BEGIN").await?;
            client.batch_execute(sql).await?;
            client
                .execute(
                    "INSERT INTO vouch_schema (version, name) VALUES ($1, $2)",
                    &[version, name],
                )
                .await?;
            client.batch_execute("COMMIT").await
        };
        if let Err(e) = apply.await {
            let _ = client.batch_execute("ROLLBACK").await;
            return Err(ServerError::Storage(Failure::caused(
                format!("applying database migration {version} ({name})"),
                e,
            )));
        }
        tracing::info!(version, name, "database migration applied");
    }
    Ok(())
}

/// Every bucket's keys and values, in key order, on `client` (inside the caller's transaction).
async fn read_every_bucket(client: &Object) -> Result<BucketDump, tokio_postgres::Error> {
    let mut dump = Vec::with_capacity(Bucket::ALL.len());
    for bucket in Bucket::ALL {
        let rows = client
            .query(
                "SELECT key, value FROM vouch_kv WHERE bucket = $1 ORDER BY key",
                &[&bucket.name()],
            )
            .await?;
        let entries = rows
            .iter()
            .map(|r| Ok((r.try_get::<_, Vec<u8>>(0)?, r.try_get::<_, Vec<u8>>(1)?)))
            .collect::<Result<Vec<_>, tokio_postgres::Error>>()?;
        dump.push((bucket, entries));
    }
    Ok(dump)
}

/// Reads one key's value.
const READ: &str = "SELECT value FROM vouch_kv WHERE bucket = $1 AND key = $2";

/// Reads one key's value (`$1`, `$2`) and the audit head's (`$3`, `$4`) in one statement: one
/// row, each value or null.
const READ_WITH_HEAD: &str = "SELECT \
     (SELECT value FROM vouch_kv WHERE bucket = $1 AND key = $2), \
     (SELECT value FROM vouch_kv WHERE bucket = $3 AND key = $4)";

/// Takes a challenge (`$1`) and reads one key's value (`$2`, `$3`) in one statement: one row,
/// each value or null.
const TAKE_THEN_READ: &str = "WITH taken AS ( \
         DELETE FROM vouch_challenges WHERE nonce = $1 RETURNING value \
     ) \
     SELECT (SELECT value FROM taken), \
     (SELECT value FROM vouch_kv WHERE bucket = $2 AND key = $3)";

/// Writes a transaction's buffered values in one statement.
const WRITE: &str = "INSERT INTO vouch_kv (bucket, key, value) \
     SELECT * FROM unnest($1::text[], $2::bytea[], $3::bytea[]) \
     ON CONFLICT (bucket, key) DO UPDATE SET value = EXCLUDED.value";

/// Each pooled connection's session: its commits do not wait for the disk. A store
/// transaction's commit would otherwise hold the audit lock across a WAL flush, and the
/// instances' appends would come to one flush each; whoever reports a change waits for it
/// through `wait` or `durable`, outside the lock, where concurrent flushes are shared (the
/// flush barrier, on a connection of its own whose session waits: [`BARRIER_SESSION`]).
/// Challenges are stored and taken under it too: one lost in a crash only makes its device ask
/// again, and a take that let a device enroll is flushed by the barrier that reports the
/// enrollment (the WAL is one sequence, and the take committed first).
const SESSION: &str = "SET synchronous_commit TO off";

/// Opens a store transaction (its commit does not wait for the disk: [`SESSION`]).
const BEGIN: &str = "BEGIN ISOLATION LEVEL SERIALIZABLE";

/// Opens a store transaction that appends to the audit chain: [`BEGIN`], then the audit lock
/// (waiting for it). Neither statement takes a snapshot, so the transaction's snapshot comes
/// with its first read, after the lock is granted. If the lock fails, the transaction is left
/// aborted, to be rolled back.
const BEGIN_AUDIT: &str = "BEGIN ISOLATION LEVEL SERIALIZABLE; \
     LOCK TABLE vouch_audit_lock IN EXCLUSIVE MODE";

/// Stores a challenge.
const PUT: &str = "INSERT INTO vouch_challenges (nonce, expires_at_ms, value) VALUES ($1, $2, $3)";

/// Reads one key's value (`$4`, `$5`) and stores a challenge (`$1` to `$3`) only if the key is
/// there, in one statement: always one row, the value (or null) and whether it was stored.
const PUT_IF_PRESENT: &str = "WITH found AS ( \
         SELECT value FROM vouch_kv WHERE bucket = $4 AND key = $5 \
     ), stored AS ( \
         INSERT INTO vouch_challenges (nonce, expires_at_ms, value) \
         SELECT $1::bytea, $2::bigint, $3::bytea WHERE EXISTS (SELECT 1 FROM found) \
         RETURNING 1 \
     ) \
     SELECT (SELECT value FROM found), EXISTS (SELECT 1 FROM stored)";

/// Takes a challenge: removes it and returns its value, so two takers never both get it.
const TAKE: &str = "DELETE FROM vouch_challenges WHERE nonce = $1 RETURNING value";

/// The first column of a row that holds one value, if there is a row.
fn value_of(row: Option<tokio_postgres::Row>) -> Result<Option<Vec<u8>>, tokio_postgres::Error> {
    row.map(|r| r.try_get::<_, Vec<u8>>(0)).transpose()
}

/// One key's value in `bucket`, read on `client` (inside whatever transaction it has open).
async fn read_value(
    client: &Object,
    bucket: Bucket,
    key: &[u8],
) -> Result<Option<Vec<u8>>, tokio_postgres::Error> {
    let statement = client.prepare_cached(READ).await?;
    let row = client
        .query_opt(&statement, &[&bucket.name(), &key])
        .await?;
    value_of(row)
}

/// The buffered writes as the write statement's three columns.
type Columns = (Vec<&'static str>, Vec<Vec<u8>>, Vec<Vec<u8>>);

fn columns(writes: BufferedWrites) -> Columns {
    let mut columns: Columns = (
        Vec::with_capacity(writes.len()),
        Vec::with_capacity(writes.len()),
        Vec::with_capacity(writes.len()),
    );
    for ((bucket, key), value) in writes {
        columns.0.push(bucket.name());
        columns.1.push(key);
        columns.2.push(value);
    }
    columns
}

/// How a failed statement ends a try: run again (serialization failure, deadlock) or give up.
fn failed(e: &tokio_postgres::Error) -> Attempt {
    if is_retryable(e) {
        Attempt::Retry
    } else {
        Attempt::Failed(db_error(e))
    }
}

/// One try of a transaction, with as few exchanges with the database as its work allows.
///
/// Statements sent together are *pipelined*: the driver sends each as soon as its future is
/// first polled, the futures are polled in order (`join!` with `biased`), and PostgreSQL runs
/// them in the order it receives them, each ended by its own `Sync`, so one that fails does
/// not stop the next. The statements are prepared (or found in the connection's cache)
/// before, so that polling a future sends the statement itself and not a `Parse` first.
///
/// - The first read opens the transaction: `BEGIN` (with the audit lock, for a transaction
///   over the audit bucket, see [`BEGIN_AUDIT`]) and the read go in one exchange. The lock is
///   granted before the read takes the transaction's snapshot. A transaction with no read
///   opens in an exchange of its own before it writes, never in the same one as its writes: a
///   `BEGIN` that failed there would leave the write to commit by itself.
/// - Later reads are one exchange each.
/// - In a transaction over the audit bucket, the first read brings the audit head along
///   ([`AUDIT_HEAD`]), kept until the work reads it: one exchange fewer while the lock is held.
/// - The writes (one `INSERT` of every buffered value) and `COMMIT` go in one exchange. If the
///   `INSERT` fails, PostgreSQL answers the `COMMIT` that follows with a rollback, so nothing
///   is written and the connection is out of the transaction (the lock released with it); the
///   try is reported by the `INSERT`'s error. A serialization failure at `COMMIT` is retried.
/// - A lock that fails (an operator's `lock_timeout`, a cancel) leaves the transaction
///   aborted: the read pipelined after it fails too, and the try ends with the lock's error
///   and a `ROLLBACK`.
/// - A connection whose transaction state is unknown (its `ROLLBACK` failed, or both the
///   write and the `COMMIT` failed) is marked to be closed, not pooled: closing ends whatever
///   transaction it may still be in, and the lock with it.
struct PgTxn<'a> {
    client: &'a Object,
    buckets: &'a [Bucket],
    /// How the try opens its transaction: [`BEGIN`], or [`BEGIN_AUDIT`] over the audit bucket.
    begin: &'static str,
    /// Whether the first read brings the audit head along (a transaction over the audit
    /// bucket, which appends to the chain and so reads the head).
    read_head_ahead: bool,
    /// The audit head as the first read brought it, until the work reads it.
    head: RefCell<Option<Option<Vec<u8>>>>,
    /// Whether `BEGIN` went to the database.
    opened: Cell<bool>,
    /// Whether a read failed: the transaction cannot commit, whatever the work says.
    failed: Cell<bool>,
    /// Whether the connection's transaction state is unknown.
    discard: Cell<bool>,
    writes: RefCell<BufferedWrites>,
}

impl PgTxn<'_> {
    /// `BEGIN` (with the lock, if any) and the first read, in one exchange, with the audit
    /// head read ahead when the transaction will append to the chain (kept for the work's
    /// read of it). A failed `BEGIN` or lock is the try's error, whatever the reads said (they
    /// fail too, in the aborted transaction, or ran outside any).
    async fn open_and_read(
        &self,
        bucket: Bucket,
        key: &[u8],
    ) -> Result<Option<Vec<u8>>, tokio_postgres::Error> {
        let name = bucket.name();
        let ahead = self.read_head_ahead && (bucket, key) != (Bucket::Meta, AUDIT_HEAD);
        self.opened.set(true);
        if !ahead {
            let read = self.client.prepare_cached(READ).await?;
            let params: [&(dyn tokio_postgres::types::ToSql + Sync); 2] = [&name, &key];
            let (begun, row) = tokio::join!(
                biased;
                self.client.batch_execute(self.begin),
                self.client.query_opt(&read, &params),
            );
            begun?;
            return value_of(row?);
        }
        let read = self.client.prepare_cached(READ_WITH_HEAD).await?;
        let meta = Bucket::Meta.name();
        let params: [&(dyn tokio_postgres::types::ToSql + Sync); 4] =
            [&name, &key, &meta, &AUDIT_HEAD];
        let (begun, row) = tokio::join!(
            biased;
            self.client.batch_execute(self.begin),
            self.client.query_one(&read, &params),
        );
        begun?;
        let row = row?;
        *self.head.borrow_mut() = Some(row.try_get::<_, Option<Vec<u8>>>(1)?);
        row.try_get::<_, Option<Vec<u8>>>(0)
    }

    /// `BEGIN` (with the lock, if any), for a transaction that read nothing.
    async fn open(&self) -> Result<(), tokio_postgres::Error> {
        self.opened.set(true);
        self.client.batch_execute(self.begin).await
    }

    /// The writes and `COMMIT`, in one exchange: the results of the write and of the commit.
    async fn write_and_commit(
        &self,
        writes: BufferedWrites,
    ) -> Result<
        (
            Result<u64, tokio_postgres::Error>,
            Result<(), tokio_postgres::Error>,
        ),
        tokio_postgres::Error,
    > {
        let write = self.client.prepare_cached(WRITE).await?;
        let (buckets, keys, values) = columns(writes);
        let (written, committed) = tokio::join!(
            biased;
            async {
                if keys.is_empty() {
                    return Ok(0);
                }
                self.client.execute(&write, &[&buckets, &keys, &values]).await
            },
            self.client.batch_execute("COMMIT"),
        );
        Ok((written, committed))
    }

    /// Commits the work's writes: what the try came to.
    fn commit(&self) -> Attempt {
        let writes = self.writes.take();
        if !self.opened.get() {
            if writes.is_empty() {
                return Attempt::Committed;
            }
            if let Err(e) = self.client.run(self.open()) {
                return self.abandon(failed(&e));
            }
        }
        let (written, committed) = match self.client.run(self.write_and_commit(writes)) {
            Ok(results) => results,
            Err(e) => return self.abandon(failed(&e)),
        };
        match (written, committed) {
            (Ok(_), Ok(())) => Attempt::Committed,
            // The failed INSERT aborted the transaction and the COMMIT after it rolled back.
            (Err(e), Ok(())) => failed(&e),
            // After a failed COMMIT there is no transaction left to roll back.
            (Ok(_), Err(e)) => failed(&e),
            // Neither went through: the connection's state is anyone's guess.
            (Err(e), Err(_)) => {
                self.discard.set(true);
                failed(&e)
            }
        }
    }

    /// Ends a try that will not commit with `ROLLBACK` (which releases the lock, if held).
    /// Returns `outcome`.
    fn abandon(&self, outcome: Attempt) -> Attempt {
        if !self.opened.get() || self.discard.get() {
            // Nothing to end, or the connection is closed anyway (which ends it).
            return outcome;
        }
        if self
            .client
            .run(self.client.batch_execute("ROLLBACK"))
            .is_err()
        {
            self.discard.set(true);
        }
        outcome
    }
}

impl Drop for PgTxn<'_> {
    fn drop(&mut self) {
        // A panic in the work (or in this code) unwinds past the commit or the rollback: the
        // transaction may still be open on the connection, with the audit lock. Closed now,
        // it ends there, and the pool will not hand the connection to the next caller.
        if std::thread::panicking() && self.opened.get() {
            self.client.close();
        }
    }
}

impl Txn for PgTxn<'_> {
    fn get(&self, bucket: Bucket, key: &[u8]) -> TxResult<Option<Vec<u8>>> {
        ensure_covered(self.buckets, bucket)?;
        if let Some(written) = self.writes.borrow().get(&(bucket, key.to_vec())) {
            return Ok(Some(written.clone()));
        }
        if (bucket, key) == (Bucket::Meta, AUDIT_HEAD) {
            if let Some(head) = self.head.borrow_mut().take() {
                return Ok(head);
            }
        }
        let read = if self.opened.get() {
            self.client.run(read_value(self.client, bucket, key))
        } else {
            self.client.run(self.open_and_read(bucket, key))
        };
        read.map_err(|e| {
            self.failed.set(true);
            match failed(&e) {
                Attempt::Failed(e) => TxError::Abort(e),
                _ => TxError::Retry,
            }
        })
    }

    fn put(&self, bucket: Bucket, key: &[u8], value: Vec<u8>) -> TxResult<()> {
        ensure_covered(self.buckets, bucket)?;
        self.writes
            .borrow_mut()
            .insert((bucket, key.to_vec()), value);
        Ok(())
    }
}

impl Backend for PgBackend {
    fn get(&self, bucket: Bucket, key: &[u8]) -> Result<Option<Vec<u8>>, ServerError> {
        let client = self.client()?;
        client
            .run(read_value(&client, bucket, key))
            .map_err(|e| db_error(&e))
    }

    fn values(&self, bucket: Bucket) -> Result<Vec<Vec<u8>>, ServerError> {
        let client = self.client()?;
        let read = client.run(async {
            let statement = client
                .prepare_cached("SELECT value FROM vouch_kv WHERE bucket = $1 ORDER BY key")
                .await?;
            let rows = client.query(&statement, &[&bucket.name()]).await?;
            rows.iter()
                .map(|r| r.try_get::<_, Vec<u8>>(0))
                .collect::<Result<Vec<_>, _>>()
        });
        read.map_err(|e| db_error(&e))
    }

    fn transact(
        &self,
        buckets: &[Bucket],
        work: &dyn Fn(&dyn Txn) -> TxResult<()>,
    ) -> Result<Commit, ServerError> {
        let mut client = self.client()?;
        let mut outcome = Attempt::Retry;
        for attempt in 1..=MAX_ATTEMPTS {
            let (tried, discard) = self.attempt(&client, buckets, work);
            outcome = tried;
            if discard {
                // A connection whose transaction state is unknown is closed, never pooled:
                // closing it ends the transaction and releases the lock.
                drop(Object::take(client));
                if !matches!(outcome, Attempt::Retry) {
                    return self.answer(outcome);
                }
                client = self.client()?;
            }
            if !matches!(outcome, Attempt::Retry) {
                break;
            }
            self.retries.fetch_add(1, Ordering::Relaxed);
            if attempt < MAX_ATTEMPTS {
                Self::pause(attempt);
            }
        }
        self.answer(outcome)
    }

    fn put_challenge(
        &self,
        nonce: &[u8],
        value: Vec<u8>,
        expires_at_ms: u64,
        now_ms: u64,
        max: usize,
    ) -> Result<bool, ServerError> {
        let client = self.client()?;
        if self.count_due(max) && !self.recount(&client, now_ms, max)? {
            return Ok(false);
        }
        let expires = millis(expires_at_ms);
        client
            .run(async {
                let statement = client.prepare_cached(PUT).await?;
                client
                    .execute(&statement, &[&nonce, &expires, &value])
                    .await
            })
            .map_err(|e| db_error(&e))?;
        self.challenges.puts_since.fetch_add(1, Ordering::Relaxed);
        Ok(true)
    }

    /// The read and the conditional insert as one statement ([`PUT_IF_PRESENT`]).
    fn put_challenge_if_present(
        &self,
        challenge: NewChallenge<'_>,
        now_ms: u64,
        max: usize,
        bucket: Bucket,
        key: &[u8],
    ) -> Result<(Option<Vec<u8>>, bool), ServerError> {
        if self.count_due(max) {
            // The read first, and the count (a scan of the table) only for a key that is
            // there: a caller naming unknown serials never makes the instance count.
            return read_then_put_challenge(self, challenge, now_ms, max, bucket, key);
        }
        let client = self.client()?;
        let expires = millis(challenge.expires_at_ms);
        let name = bucket.name();
        let (found, stored) = client
            .run(async {
                let statement = client.prepare_cached(PUT_IF_PRESENT).await?;
                let params: [&(dyn tokio_postgres::types::ToSql + Sync); 5] =
                    [&challenge.nonce, &expires, &challenge.value, &name, &key];
                let row = client.query_one(&statement, &params).await?;
                Ok::<_, tokio_postgres::Error>((
                    row.try_get::<_, Option<Vec<u8>>>(0)?,
                    row.try_get::<_, bool>(1)?,
                ))
            })
            .map_err(|e| db_error(&e))?;
        if stored {
            self.challenges.puts_since.fetch_add(1, Ordering::Relaxed);
        }
        Ok((found, stored))
    }

    fn take_challenge(&self, nonce: &[u8]) -> Result<Option<Vec<u8>>, ServerError> {
        let client = self.client()?;
        let taken = client.run(async {
            let statement = client.prepare_cached(TAKE).await?;
            let row = client.query_opt(&statement, &[&nonce]).await?;
            value_of(row)
        });
        taken.map_err(|e| db_error(&e))
    }

    /// The take and the read in one statement ([`TAKE_THEN_READ`]).
    fn take_challenge_then_get(
        &self,
        nonce: &[u8],
        bucket: Bucket,
        key: &[u8],
    ) -> Result<TakenAndRead, ServerError> {
        let client = self.client()?;
        let both = client.run(async {
            let statement = client.prepare_cached(TAKE_THEN_READ).await?;
            let name = bucket.name();
            let row = client.query_one(&statement, &[&nonce, &name, &key]).await?;
            Ok::<_, tokio_postgres::Error>((
                row.try_get::<_, Option<Vec<u8>>>(0)?,
                row.try_get::<_, Option<Vec<u8>>>(1)?,
            ))
        });
        both.map_err(|e| db_error(&e))
    }

    fn purge_challenges(&self, now_ms: u64) -> Result<usize, ServerError> {
        let client = self.client()?;
        self.purge_on(&client, now_ms)
    }

    fn durable(&self, commit: Commit) -> DurableFuture {
        if self.durability.flushed.load(Ordering::SeqCst) >= commit.0 {
            return Box::pin(std::future::ready(Ok(())));
        }
        let (handle, pool, flushes) = (
            self.handle.clone(),
            self.barriers.clone(),
            self.durability.clone(),
        );
        // A barrier blocks the thread it runs on (its connection is driven there).
        let barrier = self
            .handle
            .spawn_blocking(move || flush_barrier(&handle, &pool, &flushes, commit));
        Box::pin(async move {
            barrier
                .await
                .map_err(|_| ServerError::Storage(Failure::new("a database task stopped")))?
        })
    }

    fn wait(&self, commit: Commit) -> Result<(), ServerError> {
        flush_barrier(&self.handle, &self.barriers, &self.durability, commit)
    }

    /// A number of its own, counted with the commits: a barrier covers it only if it started
    /// after this call.
    fn fence(&self) -> Commit {
        self.durability.fences.fetch_add(1, Ordering::Relaxed);
        Commit(self.durability.commits.fetch_add(1, Ordering::SeqCst) + 1)
    }

    fn sync_stats(&self) -> SyncStats {
        SyncStats {
            commits: self.durability.commits.load(Ordering::SeqCst)
                - self.durability.fences.load(Ordering::Relaxed),
            syncs: self.durability.barriers.load(Ordering::Relaxed),
        }
    }

    fn latency(&self) -> Latency {
        Latency::Blocking
    }

    /// Every bucket as one consistent view: one `REPEATABLE READ READ ONLY` transaction, which
    /// sees one snapshot of the database and makes nobody wait (PostgreSQL's own `pg_dump`
    /// remains the operator's backup of the whole database).
    fn snapshot(&self) -> Result<BucketDump, ServerError> {
        let client = self.client()?;
        let read = client.run(async {
            client
                .batch_execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
                .await?;
            let dump = read_every_bucket(&client).await;
            // Read only: ending it either way changes nothing; a failed read must not leave
            // the pooled connection inside the transaction.
            let end = client
                .batch_execute(if dump.is_ok() { "COMMIT" } else { "ROLLBACK" })
                .await;
            let dump = dump?;
            end.map(|()| dump)
        });
        read.map_err(|e| db_error(&e))
    }
}

impl PgBackend {
    /// Whether the outstanding challenges are to be counted before the next insert. Counting
    /// the table on every insert would scan it (and its dead rows) each time: this instance
    /// counts when its estimate (the last count plus its inserts since) reaches the limit, and
    /// every [`COUNT_EVERY`] inserts to see the other instances' too. The limit is a bound on
    /// memory and disk, so bending it between counts is harmless.
    fn count_due(&self, max: usize) -> bool {
        let max = u64::try_from(max).unwrap_or(u64::MAX);
        let since = self.challenges.puts_since.load(Ordering::Relaxed);
        let estimate = self.challenges.counted.load(Ordering::Relaxed) + since;
        estimate >= max || since >= COUNT_EVERY
    }

    /// Counts the outstanding challenges (when full, expired ones make room first): whether
    /// one more may be stored.
    fn recount(&self, client: &Object, now_ms: u64, max: usize) -> Result<bool, ServerError> {
        let max = u64::try_from(max).unwrap_or(u64::MAX);
        let mut outstanding = self.count_challenges(client)?;
        if outstanding >= max {
            self.purge_on(client, now_ms)?;
            outstanding = self.count_challenges(client)?;
        }
        self.challenges
            .counted
            .store(outstanding, Ordering::Relaxed);
        self.challenges.puts_since.store(0, Ordering::Relaxed);
        Ok(outstanding < max)
    }

    fn count_challenges(&self, client: &Object) -> Result<u64, ServerError> {
        let counted = client
            .run(async {
                let row = client
                    .query_one("SELECT count(*) FROM vouch_challenges", &[])
                    .await?;
                row.try_get::<_, i64>(0)
            })
            .map_err(|e| db_error(&e))?;
        Ok(u64::try_from(counted).unwrap_or(0))
    }

    fn purge_on(&self, client: &Object, now_ms: u64) -> Result<usize, ServerError> {
        let before = millis(now_ms);
        let purged = client
            .run(async {
                let statement = client
                    .prepare_cached("DELETE FROM vouch_challenges WHERE expires_at_ms <= $1")
                    .await?;
                client.execute(&statement, &[&before]).await
            })
            .map_err(|e| db_error(&e))?;
        Ok(usize::try_from(purged).unwrap_or(usize::MAX))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use super::*;
    use crate::domain::audit::verify_audit;
    use crate::store::{AuditNote, AuditStore, KvStore};

    fn backend(url: &str) -> PgBackend {
        PgBackend::connect(url, 8).unwrap()
    }

    fn counter(tx: &dyn Txn) -> TxResult<u64> {
        let bytes = tx.get(Bucket::Devices, b"counter")?;
        Ok(bytes.map_or(0, |b| u64::from_be_bytes(b.try_into().unwrap())))
    }

    /// 8 threads, half on each of two backends of the database at `url`, each incrementing
    /// one counter 25 times in transactions over `buckets`. Returns the final count and the
    /// retries of both backends.
    fn race_increments(url: &str, buckets: &'static [Bucket]) -> (u64, u64) {
        let backends = [Arc::new(backend(url)), Arc::new(backend(url))];
        let workers: Vec<_> = (0..8)
            .map(|i| {
                let b = backends[i % 2].clone();
                std::thread::spawn(move || {
                    for _ in 0..25 {
                        let _committed = b
                            .transact(buckets, &|tx| {
                                let n = counter(tx)?;
                                tx.put(Bucket::Devices, b"counter", (n + 1).to_be_bytes().to_vec())
                            })
                            .unwrap();
                    }
                })
            })
            .collect();
        for w in workers {
            w.join().unwrap();
        }
        let total = backends[0]
            .get(Bucket::Devices, b"counter")
            .unwrap()
            .unwrap();
        let retries = backends[0].retries() + backends[1].retries();
        (u64::from_be_bytes(total.try_into().unwrap()), retries)
    }

    /// Read-modify-write transactions that take no lock race one another: SERIALIZABLE makes
    /// the losers fail with 40001, and the retry runs them again, so no increment is lost.
    #[test]
    fn serialization_failures_are_retried_and_lose_no_update() {
        let url = vouch_testkit::PgCluster::shared().create_database();
        let (total, retries) = race_increments(&url, &[Bucket::Devices]);
        assert_eq!(total, 200);
        assert!(
            retries > 0,
            "the race never produced a serialization failure, so the retry went untested"
        );
    }

    /// The same race as above over the audit bucket: every try takes the audit lock before
    /// its snapshot, so the transactions of both instances queue on the lock and none fails
    /// with a serialization failure (a lock taken after the snapshot, or none, would make the
    /// losers retry as above).
    #[test]
    fn audit_transactions_queue_on_the_lock_and_are_never_retried() {
        let url = vouch_testkit::PgCluster::shared().create_database();
        let (total, retries) = race_increments(&url, &[Bucket::Devices, Bucket::Audit]);
        assert_eq!(total, 200);
        assert_eq!(retries, 0);
    }

    /// Write skew, which REPEATABLE READ allows and SERIALIZABLE does not: two transactions
    /// each see neither key and write one. Only one of the keys may exist afterwards.
    #[test]
    fn write_skew_is_prevented() {
        let url = vouch_testkit::PgCluster::shared().create_database();
        let b = Arc::new(backend(&url));
        let barrier = Arc::new(std::sync::Barrier::new(2));
        let racers: Vec<_> = [b"a", b"b"]
            .into_iter()
            .map(|mine| {
                let (b, barrier) = (b.clone(), barrier.clone());
                std::thread::spawn(move || {
                    let first = std::sync::atomic::AtomicBool::new(true);
                    let _committed = b
                        .transact(&[Bucket::Devices], &|tx| {
                            let none = tx.get(Bucket::Devices, b"a")?.is_none()
                                && tx.get(Bucket::Devices, b"b")?.is_none();
                            // Both read before either writes, on the first try.
                            if first.swap(false, Ordering::SeqCst) {
                                barrier.wait();
                            }
                            if none {
                                tx.put(Bucket::Devices, mine, b"1".to_vec())?;
                            }
                            Ok(())
                        })
                        .unwrap();
                })
            })
            .collect();
        for r in racers {
            r.join().unwrap();
        }
        let a = b.get(Bucket::Devices, b"a").unwrap();
        let c = b.get(Bucket::Devices, b"b").unwrap();
        assert!(a.is_some() != c.is_some(), "a: {a:?}, b: {c:?}");
        assert!(b.retries() > 0);
    }

    /// Two instances appending to the audit chain at once never fork it.
    #[test]
    fn two_instances_append_one_unbroken_audit_chain() {
        let url = vouch_testkit::PgCluster::shared().create_database();
        let stores: Vec<Arc<KvStore>> = (0..2)
            .map(|_| Arc::new(KvStore::new(Box::new(backend(&url)))))
            .collect();
        let writers: Vec<_> = (0..8)
            .map(|i| {
                let store = stores[i % 2].clone();
                std::thread::spawn(move || {
                    for n in 0..10 {
                        let note = AuditNote {
                            actor: format!("instance-{}", i % 2),
                            action: "test.append",
                            subject: format!("{i}-{n}"),
                            detail: serde_json::json!({}),
                        };
                        store.append_audit(note, 1).unwrap();
                    }
                })
            })
            .collect();
        for w in writers {
            w.join().unwrap();
        }
        let entries = stores[1].audit_entries().unwrap();
        assert_eq!(verify_audit(&entries).unwrap(), 80);
    }

    /// A commit is reported durable only after a flush barrier that started after it; a
    /// barrier covers every commit before it, so a second wait for those runs none.
    #[test]
    fn waits_run_one_flush_barrier_for_the_commits_before_them() {
        let url = vouch_testkit::PgCluster::shared().create_database();
        let b = backend(&url);
        let put = |key: &'static [u8]| {
            b.transact(&[Bucket::Devices], &|tx| {
                tx.put(Bucket::Devices, key, b"v".to_vec())
            })
            .unwrap()
        };
        let (first, second) = (put(b"one"), put(b"two"));
        assert_eq!(b.sync_stats().syncs, 0, "a commit alone waits for no flush");
        b.wait(second).unwrap();
        assert_eq!(b.sync_stats().syncs, 1);
        b.wait(first).unwrap();
        b.wait(second).unwrap();
        assert_eq!(
            b.sync_stats().syncs,
            1,
            "covered commits need no second barrier"
        );
        let third = put(b"three");
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        runtime.block_on(b.durable(third)).unwrap();
        assert_eq!(b.sync_stats().syncs, 2);
        runtime.block_on(b.durable(third)).unwrap();
        assert_eq!(b.sync_stats().syncs, 2, "a covered commit is ready at once");
        assert_eq!(b.sync_stats().commits, 3);
    }

    /// A fence is a number of its own: its wait runs a barrier even when every commit of this
    /// instance is flushed (the state it guards may be another instance's commit).
    #[test]
    fn a_fence_waits_for_a_barrier_of_its_own() {
        let url = vouch_testkit::PgCluster::shared().create_database();
        let b = backend(&url);
        b.wait(put(&b, b"one")).unwrap();
        assert_eq!(b.sync_stats().syncs, 1);
        let fence = b.fence();
        assert!(!b.durability.covers(fence));
        b.wait(fence).unwrap();
        assert_eq!(b.sync_stats().syncs, 2);
    }

    /// A barrier that ran where commits do not wait is refused, not counted as a flush.
    #[test]
    fn a_barrier_in_a_session_that_does_not_wait_is_refused() {
        let url = vouch_testkit::PgCluster::shared().create_database();
        let b = backend(&url);
        let request_connection = b.client().unwrap();
        let refused = flush(&request_connection, BARRIER_TIMEOUT).unwrap_err();
        assert!(refused.to_string().contains("do not wait"), "{refused}");
    }

    /// A barrier that hangs is given up: its statement cancelled (the server process stops
    /// waiting, which a closed socket alone does not make it do), its connection closed, its
    /// wait answered `busy`; the next barrier runs on a new connection once the database
    /// answers again.
    #[test]
    fn a_barrier_that_hangs_is_given_up_and_its_connection_closed() {
        let url = vouch_testkit::PgCluster::shared().create_database();
        let b = backend(&url);
        let commit = put(&b, b"one");
        let (holder, lock) = block_barriers(&url);
        let barrier = block_on(&b.handle, b.barriers.get()).unwrap();
        let late = flush(&barrier, Duration::from_millis(300)).unwrap_err();
        assert!(late.is(&ErrorCode::Busy), "{late}");
        assert!(barrier.is_closed(), "the connection that hung is closed");
        drop(barrier);
        let waiting = "SELECT count(*)::text FROM pg_stat_activity \
             WHERE datname = current_database() AND wait_event_type = 'Lock'";
        let mut still = text(&holder, waiting);
        for _ in 0..40 {
            if still == "0" {
                break;
            }
            std::thread::sleep(Duration::from_millis(50));
            still = text(&holder, waiting);
        }
        assert_eq!(still, "0", "the barrier's server process still waits");
        lock.run(lock.batch_execute("COMMIT")).unwrap();
        b.wait(commit).unwrap();
    }

    /// When the instance is due to count the outstanding challenges, a serial that is not
    /// there costs one read and no count (the count scans the table).
    #[test]
    fn an_unknown_serial_never_makes_the_instance_count() {
        let url = vouch_testkit::PgCluster::shared().create_database();
        let b = PgBackend::connect(&url, 1).unwrap();
        b.challenges
            .puts_since
            .store(COUNT_EVERY, Ordering::Relaxed);
        let before = exchanges(&b);
        let new = NewChallenge {
            nonce: b"n",
            value: b"v".to_vec(),
            expires_at_ms: 100,
        };
        let put = b.put_challenge_if_present(new, 0, 10, Bucket::Devices, b"SN-9");
        assert_eq!(put.unwrap(), (None, false));
        assert_eq!(exchanges(&b) - before, 1, "the read alone");
        assert_eq!(b.challenges.puts_since.load(Ordering::Relaxed), COUNT_EVERY);
    }

    /// The one text value `query` returns, on one of `b`'s connections.
    fn text(b: &PgBackend, query: &str) -> String {
        let client = b.client().unwrap();
        client
            .run(async { client.query_one(query, &[]).await?.try_get::<_, String>(0) })
            .unwrap()
    }

    /// Commits do not wait for the disk (the session's default), but a wait returns only once
    /// the WAL is flushed past them, even where the database's own default is not to wait:
    /// the barrier's session turns the wait on. Five times, so that a flush by another test or
    /// by the WAL writer cannot pass it by luck.
    #[test]
    fn commits_skip_the_flush_but_a_wait_is_on_disk() {
        let url = vouch_testkit::PgCluster::shared().create_database();
        let on_default = backend(&url);
        assert_eq!(text(&on_default, "SHOW synchronous_commit"), "off");
        let barrier = block_on(&on_default.handle, on_default.barriers.get()).unwrap();
        let said = barrier.run(async {
            barrier
                .query_one("SHOW synchronous_commit", &[])
                .await?
                .try_get::<_, String>(0)
        });
        assert_eq!(said.unwrap(), "on");
        sql(
            &backend(&url),
            "DO $$ BEGIN EXECUTE format('ALTER DATABASE %I SET synchronous_commit = off', \
             current_database()); END $$",
        );
        let b = backend(&url);
        assert_eq!(text(&b, "SHOW synchronous_commit"), "off");
        for round in 0..5u8 {
            let commit = b
                .transact(&[Bucket::Devices], &|tx| {
                    tx.put(Bucket::Devices, &[round], vec![round; 64])
                })
                .unwrap();
            let written = text(&b, "SELECT pg_current_wal_insert_lsn()::text");
            b.wait(commit).unwrap();
            let flushed = text(
                &b,
                &format!("SELECT (pg_current_wal_flush_lsn() >= '{written}'::pg_lsn)::text"),
            );
            assert_eq!(flushed, "true", "round {round}: the WAL is not flushed");
        }
    }

    /// `url` with an option for every session the backend opens.
    fn with_option(url: &str, option: &str) -> String {
        let sep = if url.contains('?') { '&' } else { '?' };
        format!(
            "{url}{sep}options={}",
            option.replace(' ', "%20").replace('=', "%3D")
        )
    }

    /// Holds `vouch_flush` locked (every barrier's write waits) until the returned connection
    /// commits or is dropped.
    fn block_barriers(url: &str) -> (PgBackend, super::super::postgres_conn::PgConn) {
        let holder = backend(url);
        let client = Object::take(holder.client().unwrap());
        client
            .run(client.batch_execute("BEGIN; LOCK TABLE vouch_flush IN EXCLUSIVE MODE"))
            .unwrap();
        (holder, client)
    }

    /// A wait for `commit` on `b` in another thread.
    fn wait_in_thread(
        b: &Arc<PgBackend>,
        commit: Commit,
    ) -> std::thread::JoinHandle<Result<(), ServerError>> {
        let b = b.clone();
        std::thread::spawn(move || b.wait(commit))
    }

    fn put(b: &PgBackend, key: &'static [u8]) -> Commit {
        b.transact(&[Bucket::Devices], &|tx| {
            tx.put(Bucket::Devices, key, b"v".to_vec())
        })
        .unwrap()
    }

    /// One barrier at a time: waits that come while one is in flight wait for it, then share
    /// the next, which covers them all (two barriers for three waits; one each before).
    #[test]
    fn waits_during_a_barrier_share_the_next_one() {
        let url = vouch_testkit::PgCluster::shared().create_database();
        let b = Arc::new(backend(&url));
        let (_holder, lock) = block_barriers(&url);
        let first = wait_in_thread(&b, put(&b, b"one"));
        std::thread::sleep(Duration::from_millis(300));
        let later = [put(&b, b"two"), put(&b, b"three")].map(|c| wait_in_thread(&b, c));
        std::thread::sleep(Duration::from_millis(300));
        assert_eq!(
            b.sync_stats().syncs,
            0,
            "the first barrier is still in flight"
        );
        lock.run(lock.batch_execute("COMMIT")).unwrap();
        first.join().unwrap().unwrap();
        for wait in later {
            wait.join().unwrap().unwrap();
        }
        assert_eq!(b.sync_stats().syncs, 2);
        let last = Commit(b.durability.commits.load(Ordering::SeqCst));
        assert!(b.durability.covers(last));
    }

    /// A barrier that fails fails the waits it covered, without a barrier of their own; the
    /// next wait runs one again.
    #[test]
    fn a_failed_barrier_fails_the_waits_it_covered() {
        let url = vouch_testkit::PgCluster::shared().create_database();
        let b = Arc::new(backend(&with_option(&url, "-c lock_timeout=1000")));
        let (_holder, lock) = block_barriers(&url);
        let (early, late) = (put(&b, b"one"), put(&b, b"two"));
        let leader = wait_in_thread(&b, late);
        std::thread::sleep(Duration::from_millis(300));
        let follower = wait_in_thread(&b, early);
        let (led, followed) = (leader.join().unwrap(), follower.join().unwrap());
        assert!(led.unwrap_err().is(&ErrorCode::Busy));
        assert!(followed.unwrap_err().is(&ErrorCode::Busy));
        assert_eq!(b.sync_stats().syncs, 1, "the follower ran no barrier");
        lock.run(lock.batch_execute("COMMIT")).unwrap();
        b.wait(late).unwrap();
        assert!(b.durability.covers(early));
    }

    /// Runs `text` (statements without parameters) on one of `b`'s connections.
    fn sql(b: &PgBackend, text: &str) {
        let client = b.client().unwrap();
        client.run(client.batch_execute(text)).unwrap();
    }

    /// An audit-bucket transaction on `b` in another thread: whether it committed within 20 s
    /// (it waits for the audit lock, so a lock nobody released makes it time out).
    fn audit_write_goes_through(b: PgBackend) -> bool {
        let (done, finished) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let committed = b.transact(&[Bucket::Audit], &|tx| {
                let _seen = tx.get(Bucket::Audit, b"probe")?;
                tx.put(Bucket::Audit, b"probe", b"1".to_vec())
            });
            let _ = done.send(committed.is_ok());
        });
        finished
            .recv_timeout(Duration::from_secs(20))
            .unwrap_or(false)
    }

    /// A panic in a transaction's work, after its first read opened it and took the audit
    /// lock, does not leave the connection in the pool inside that transaction: the lock is
    /// free for another instance, and the backend's next transaction runs on a connection of
    /// its own.
    #[test]
    fn a_panic_in_the_work_does_not_leave_the_lock_held_in_the_pool() {
        let url = vouch_testkit::PgCluster::shared().create_database();
        let b = PgBackend::connect(&url, 1).unwrap();
        let unwound = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            b.transact(&[Bucket::Audit], &|tx| {
                let _seen = tx.get(Bucket::Audit, b"probe")?;
                panic!("a bug in the work, on purpose")
            })
        }));
        assert!(unwound.is_err());
        let other = PgBackend::connect(&url, 1).unwrap();
        assert!(
            audit_write_goes_through(other),
            "the audit lock stayed held"
        );
        assert!(audit_write_goes_through(b), "the backend is stuck");
    }

    /// The buffered writes and `COMMIT` go in one exchange: when the write fails there, the
    /// `COMMIT` only rolls back, so none of the writes is stored, the caller gets the
    /// database's error, the lock is released with the transaction and the connection (the
    /// pool's only one) serves the next transaction.
    #[test]
    fn a_write_failing_in_the_pipelined_commit_stores_nothing_and_releases_the_lock() {
        let url = vouch_testkit::PgCluster::shared().create_database();
        let b = PgBackend::connect(&url, 1).unwrap();
        sql(
            &b,
            "CREATE FUNCTION refuse_boom() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN \
               IF NEW.key = 'boom'::bytea THEN RAISE EXCEPTION 'refused by the test'; END IF; \
               RETURN NEW; END $$; \
             CREATE TRIGGER refuse_boom BEFORE INSERT ON vouch_kv \
               FOR EACH ROW EXECUTE FUNCTION refuse_boom()",
        );
        let refused = b
            .transact(&[Bucket::Devices, Bucket::Meta, Bucket::Audit], &|tx| {
                let _head = tx.get(Bucket::Meta, b"head")?;
                tx.put(Bucket::Devices, b"kept-out", b"v".to_vec())?;
                tx.put(Bucket::Devices, b"boom", b"v".to_vec())
            })
            .unwrap_err();
        assert!(
            refused.to_string().contains("refused by the test"),
            "{refused}"
        );
        assert_eq!(b.get(Bucket::Devices, b"kept-out").unwrap(), None);
        assert!(
            audit_write_goes_through(backend(&url)),
            "the failed transaction left the audit lock held"
        );
        let _after = b
            .transact(&[Bucket::Devices], &|tx| {
                let _none = tx.get(Bucket::Devices, b"after")?;
                tx.put(Bucket::Devices, b"after", b"v".to_vec())
            })
            .unwrap();
        assert_eq!(
            b.get(Bucket::Devices, b"after").unwrap(),
            Some(b"v".to_vec())
        );
    }

    /// A serialization failure can come at `COMMIT` (here from a deferred trigger, as
    /// SERIALIZABLE's own checks at commit would): the transaction is run again, under the
    /// audit lock each time, and its write is stored once.
    #[test]
    fn a_serialization_failure_at_commit_is_retried() {
        let url = vouch_testkit::PgCluster::shared().create_database();
        let b = backend(&url);
        sql(
            &b,
            "CREATE SEQUENCE commit_failures; \
             CREATE FUNCTION fail_commit() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN \
               IF NEW.bucket = 'devices' AND nextval('commit_failures') <= 2 THEN \
                 RAISE EXCEPTION 'conflict made by the test' \
                   USING ERRCODE = 'serialization_failure'; \
               END IF; RETURN NULL; END $$; \
             CREATE CONSTRAINT TRIGGER fail_commit AFTER INSERT OR UPDATE ON vouch_kv \
               DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION fail_commit()",
        );
        let runs = AtomicU64::new(0);
        let _committed = b
            .transact(&[Bucket::Devices, Bucket::Audit], &|tx| {
                runs.fetch_add(1, Ordering::SeqCst);
                let n = counter(tx)?;
                tx.put(Bucket::Devices, b"counter", (n + 1).to_be_bytes().to_vec())
            })
            .unwrap();
        assert_eq!(runs.load(Ordering::SeqCst), 3);
        assert_eq!(b.retries(), 2);
        let total = b.get(Bucket::Devices, b"counter").unwrap().unwrap();
        assert_eq!(u64::from_be_bytes(total.try_into().unwrap()), 1);
        assert!(
            audit_write_goes_through(backend(&url)),
            "a retried transaction left the audit lock held"
        );
    }

    /// The exchanges with the database of `b`'s only pooled connection so far.
    fn exchanges(b: &PgBackend) -> u64 {
        b.client().unwrap().exchanges()
    }

    /// A transaction that appends to the audit chain reads the head with its first read: it
    /// costs two exchanges (`BEGIN`, the lock and both reads; the writes and `COMMIT`), one
    /// fewer than a read each, and so holds the audit lock for one exchange fewer. The head it
    /// reads is the one stored.
    #[test]
    fn an_audit_transaction_reads_the_head_with_its_first_read() {
        let url = vouch_testkit::PgCluster::shared().create_database();
        let b = PgBackend::connect(&url, 1).unwrap();
        let buckets = [Bucket::Devices, Bucket::Audit, Bucket::Meta];
        let append = |next: &'static [u8]| {
            b.transact(&buckets, &|tx| {
                let _device = tx.get(Bucket::Devices, b"SN-1")?;
                let head = tx.get(Bucket::Meta, AUDIT_HEAD)?;
                tx.put(Bucket::Audit, next, head.unwrap_or_default())?;
                tx.put(Bucket::Meta, AUDIT_HEAD, next.to_vec())
            })
            .unwrap()
        };
        let _first = append(b"1");
        let before = exchanges(&b);
        let _second = append(b"2");
        assert_eq!(exchanges(&b) - before, 2);
        // The second entry holds the head the first one stored.
        assert_eq!(b.get(Bucket::Audit, b"2").unwrap(), Some(b"1".to_vec()));
    }

    /// The backend process of the connection `b` pools, as PostgreSQL numbers it.
    fn pooled_backend_pid(b: &PgBackend) -> i32 {
        let client = b.client().unwrap();
        client
            .run(client.query_one("SELECT pg_backend_pid()", &[]))
            .unwrap()
            .get(0)
    }

    /// A pooled connection is not run while it waits in the pool (`postgres_conn.rs`): one
    /// whose server process ended meanwhile is found closed when the pool hands it out, and
    /// replaced, so the caller never sees the dead one (it would answer `busy`).
    #[test]
    fn a_connection_that_ended_in_the_pool_is_replaced_not_handed_out() {
        let url = vouch_testkit::PgCluster::shared().create_database();
        let b = PgBackend::connect(&url, 1).unwrap();
        let killer = PgBackend::connect(&url, 1).unwrap();
        let before = pooled_backend_pid(&b);
        let ended = || {
            let client = killer.client().unwrap();
            client.run(async {
                client
                    .query_one("SELECT pg_terminate_backend($1, 10000)", &[&before])
                    .await?
                    .try_get::<_, bool>(0)
            })
        };
        assert!(
            ended().unwrap(),
            "the pooled connection's process did not end"
        );
        // The only connection of `b` is the ended one: without the check at checkout this
        // read fails.
        assert_eq!(b.get(Bucket::Devices, b"nothing").unwrap(), None);
        assert_ne!(pooled_backend_pid(&b), before);
    }

    #[test]
    fn migrations_apply_once_and_a_newer_schema_is_refused() {
        let url = vouch_testkit::PgCluster::shared().create_database();
        let first = backend(&url);
        assert_eq!(first.schema_version().unwrap(), 3);
        // A second instance finds the schema in place and applies nothing again.
        let second = backend(&url);
        assert_eq!(second.schema_version().unwrap(), 3);
        let client = second.client().unwrap();
        let rows = client
            .run(async {
                client
                    .query_one("SELECT count(*) FROM vouch_schema", &[])
                    .await
                    .and_then(|r| r.try_get::<_, i64>(0))
            })
            .unwrap();
        assert_eq!(rows, 3);
        // A later vouch-server migrated it further: this one refuses to touch it.
        let client = second.client().unwrap();
        client
            .run(async {
                client
                    .execute(
                        "INSERT INTO vouch_schema (version, name) VALUES (99, 'future')",
                        &[],
                    )
                    .await
            })
            .unwrap();
        let Err(e) = PgBackend::connect(&url, 2) else {
            panic!("a newer schema was accepted");
        };
        let text = e.to_string();
        assert!(
            text.contains("version 99") && text.contains("newer"),
            "{text}"
        );
    }

    /// A statement timeout the operator set is `busy` (503), not an internal error: the
    /// database gave up waiting and the caller may try again. (A lock timeout, end to end:
    /// `server/tests/postgres_lock.rs`.)
    #[test]
    fn a_statement_timeout_is_busy() {
        let url = vouch_testkit::PgCluster::shared().create_database();
        let b = PgBackend::connect(&url, 1).unwrap();
        let client = Object::take(b.client().unwrap());
        let e = client
            .run(async {
                client.batch_execute("SET statement_timeout = 10").await?;
                client.batch_execute("SELECT pg_sleep(5)").await
            })
            .unwrap_err();
        assert_eq!(e.code(), Some(&SqlState::QUERY_CANCELED));
        let answer = db_error(&e);
        assert!(answer.is(&ErrorCode::Busy), "{answer}");
    }

    #[test]
    fn an_unreachable_database_is_busy_not_a_crash() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("postgres://vouch@/vouch?host={}", dir.path().display());
        let Err(e) = PgBackend::connect(&url, 2) else {
            panic!("connected to nothing");
        };
        assert!(e.is(&ErrorCode::Busy), "{e:?}");
        let Err(e) = PgBackend::connect("mysql://nope", 2) else {
            panic!("a non-PostgreSQL URL was accepted");
        };
        assert!(matches!(e, ServerError::Config(_)), "{e:?}");
    }
}
