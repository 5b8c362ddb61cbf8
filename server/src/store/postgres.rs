//! The PostgreSQL backend: several `vouch-server` instances on one database.
//!
//! Every bucket is rows of one table (`vouch_kv`, keyed by bucket and key), so the primary key
//! is what keeps a serial, a record id, a staff key id or an audit sequence number unique,
//! whichever instance writes, and a bucket added to the contract needs no migration.
//! Challenges are their own table and are taken by `DELETE ... RETURNING`.
//!
//! **Isolation and retry.** A transaction runs at `SERIALIZABLE`; one that fails with a
//! serialization failure or a deadlock (SQLSTATE `40001`, `40P01`) is rolled back and its work
//! run again on fresh data, up to [`MAX_ATTEMPTS`] times with a jittered pause, then answered
//! `busy`. A transaction that writes the audit chain first takes a session advisory lock
//! ([`AUDIT_LOCK`]) before `BEGIN`, so that the appends of every instance queue up instead of
//! failing and retrying one another (taken after `BEGIN`, the lock would come after the
//! snapshot and the transaction would still fail).
//!
//! **Threads.** The contract is synchronous and the driver (`tokio-postgres`, pooled by
//! `deadpool-postgres`) is async: the backend owns a small runtime of its own and every call
//! runs there while the calling thread waits. The server calls a store of
//! [`Latency::Blocking`] from its blocking pool, so no async worker waits on the database.
//!
//! **Durability.** The commits of the store's transactions do not wait for the disk
//! (`SET LOCAL synchronous_commit TO off`): the audit lock is held until `COMMIT` returns, and
//! holding it across every WAL flush would make the instances' commits one flush each. Whoever
//! reports a change first waits for it ([`Backend::wait`], [`Backend::durable`]): a *flush
//! barrier*, a tiny transaction committed with `synchronous_commit` on, which flushes the WAL
//! up to its own commit record and so every commit before it; concurrent barriers share
//! PostgreSQL's flushes (its own group commit), and a barrier that another one already covered
//! is skipped. A change another instance reads before it is flushed can only be lost together
//! with everything that read it (the WAL is one sequence), as with sled's group commit. A
//! challenge is stored and taken with synchronous commits.
//!
//! A database that cannot be reached makes every call fail with `busy` (503) until it is back;
//! the pool reconnects by itself.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use deadpool_postgres::{ManagerConfig, Object, Pool, PoolError, RecyclingMethod};
use tokio_postgres::error::SqlState;

use super::backend::{ensure_covered, BufferedWrites};
use super::{
    Backend, Bucket, BucketDump, Commit, DurableFuture, Latency, SyncStats, TxError, TxResult, Txn,
};
use crate::error::{Failure, ServerError};
use vouch_protocol::wire::ErrorCode;

/// A transaction is tried at most this many times when the database reports a serialization
/// failure or a deadlock.
pub const MAX_ATTEMPTS: u32 = 30;

/// The session advisory lock every audit-writing transaction holds (the bytes of "vouch").
pub const AUDIT_LOCK: i64 = 0x76_6f_75_63_68;

/// The advisory lock held while migrating, so instances starting together migrate once.
const MIGRATION_LOCK: i64 = AUDIT_LOCK + 1;

/// The schema, in order: `(version, name, SQL)`. Each is applied once, in a transaction.
const MIGRATIONS: &[(i32, &str, &str)] = &[
    (1, "store", include_str!("../../migrations/0001_store.sql")),
    (
        2,
        "flush barrier",
        include_str!("../../migrations/0002_flush_barrier.sql"),
    ),
];

/// How long a caller waits for a free connection, or for a new one, before `busy`.
const POOL_TIMEOUT: Duration = Duration::from_secs(5);

/// The PostgreSQL backend.
pub struct PgBackend {
    runtime: Option<tokio::runtime::Runtime>,
    handle: tokio::runtime::Handle,
    pool: Pool,
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

/// Challenges are counted again after this many inserts by one instance.
const COUNT_EVERY: u64 = 256;

/// Commits, and how far they are known to be on disk.
#[derive(Default)]
struct Flushes {
    /// Commits so far, numbered in the order their `COMMIT` returned.
    commits: AtomicU64,
    /// Every commit up to this number is flushed.
    flushed: AtomicU64,
    /// Flush barriers run.
    barriers: AtomicU64,
}

/// Makes every commit whose `COMMIT` returned before it started durable: a transaction that
/// writes (it takes a transaction id) committed with `synchronous_commit` on, which flushes the
/// WAL up to its own commit record, and so every earlier one. Concurrent barriers share
/// PostgreSQL's WAL flushes.
async fn flush_barrier(
    pool: Pool,
    flushes: Arc<Flushes>,
    commit: Commit,
) -> Result<(), ServerError> {
    if flushes.flushed.load(Ordering::SeqCst) >= commit.0 {
        return Ok(());
    }
    let covered = flushes.commits.load(Ordering::SeqCst);
    let client = pool.get().await.map_err(|e| pool_error(&e))?;
    client
        .batch_execute(
            "INSERT INTO vouch_flush (pid, at) VALUES (pg_backend_pid(), now()) \
             ON CONFLICT (pid) DO UPDATE SET at = EXCLUDED.at",
        )
        .await
        .map_err(|e| db_error(&e))?;
    flushes.barriers.fetch_add(1, Ordering::Relaxed);
    flushes.flushed.fetch_max(covered, Ordering::SeqCst);
    Ok(())
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
/// is `busy`, so callers get 503 and try again; anything else is a storage error. The cause
/// is logged, not sent.
fn db_error(e: &tokio_postgres::Error) -> ServerError {
    if let Some(refused) = super::postgres_tls::refusal(e) {
        return refused;
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
    // The driver's own text is "db error"; the server's message says what PostgreSQL said.
    let said = e
        .as_db_error()
        .map_or_else(|| e.to_string(), |d| d.to_string());
    ServerError::Storage(Failure::new(format!("database: {said}")))
}

fn unavailable() -> ServerError {
    ServerError::refuse(
        ErrorCode::Busy,
        "the database cannot be reached right now; try again later",
    )
}

fn pool_error(e: &PoolError) -> ServerError {
    match e {
        PoolError::Backend(e) => db_error(e),
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
    /// `pool_size` connections and applies the migrations it lacks. Refuses a database whose
    /// schema is newer than this server knows. TLS, when the URL's `sslmode` asks for it, is
    /// verified against the system's trust store.
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
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("vouch-postgres")
            .enable_all()
            .build()
            .map_err(|e| {
                ServerError::Storage(Failure::caused("starting the database runtime", e))
            })?;
        let manager = super::postgres_tls::manager(
            config,
            ca_file,
            ManagerConfig {
                recycling_method: RecyclingMethod::Fast,
            },
        )?;
        let pool = Pool::builder(manager)
            .max_size(pool_size.max(1))
            .runtime(deadpool_postgres::Runtime::Tokio1)
            .wait_timeout(Some(POOL_TIMEOUT))
            .create_timeout(Some(POOL_TIMEOUT))
            .recycle_timeout(Some(POOL_TIMEOUT))
            .build()
            .map_err(|e| ServerError::Storage(Failure::caused("database pool", e)))?;
        let backend = Self {
            handle: runtime.handle().clone(),
            runtime: Some(runtime),
            pool,
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
        self.run(async move { current_version(&client).await })?
    }

    /// Runs `future` on the backend's runtime and waits for it, from any thread.
    fn run<T: Send + 'static>(
        &self,
        future: impl Future<Output = T> + Send + 'static,
    ) -> Result<T, ServerError> {
        let (tx, rx) = std::sync::mpsc::sync_channel(1);
        self.handle.spawn(async move {
            let _ = tx.send(future.await);
        });
        rx.recv()
            .map_err(|_| ServerError::Storage(Failure::new("a database task stopped")))
    }

    /// A pooled connection.
    fn client(&self) -> Result<Arc<Object>, ServerError> {
        let pool = self.pool.clone();
        let client = self.run(async move { pool.get().await })?;
        client.map(Arc::new).map_err(|e| pool_error(&e))
    }

    /// One statement with no rows to read, on `client`.
    fn execute(
        &self,
        client: &Arc<Object>,
        sql: &'static str,
        params: Vec<Box<dyn tokio_postgres::types::ToSql + Send + Sync>>,
    ) -> Result<Result<u64, tokio_postgres::Error>, ServerError> {
        let client = client.clone();
        self.run(async move {
            let statement = client.prepare_cached(sql).await?;
            let refs: Vec<&(dyn tokio_postgres::types::ToSql + Sync)> =
                params.iter().map(|p| p.as_ref() as _).collect();
            client.execute(&statement, &refs).await
        })
    }

    /// A transaction-control statement (`BEGIN`, `COMMIT`, ...) on `client`.
    fn control(
        &self,
        client: &Arc<Object>,
        sql: &'static str,
    ) -> Result<Result<(), tokio_postgres::Error>, ServerError> {
        let client = client.clone();
        self.run(async move { client.batch_execute(sql).await })
    }

    /// Brings the schema up to date under the migration lock.
    fn migrate(&self) -> Result<(), ServerError> {
        let client = self.client()?;
        let result = self.run(async move { migrate(&client).await })?;
        result
    }

    /// One try of `work`: `BEGIN`, the work, its writes, `COMMIT`; rolled back if any fails.
    fn attempt(
        &self,
        client: &Arc<Object>,
        buckets: &[Bucket],
        work: &dyn Fn(&dyn Txn) -> TxResult<()>,
    ) -> Attempt {
        let failed = |e: &tokio_postgres::Error| {
            if is_retryable(e) {
                Attempt::Retry
            } else {
                Attempt::Failed(db_error(e))
            }
        };
        // The commit itself does not wait for the disk (the audit lock is held meanwhile, and
        // would be held across every flush); whoever reports the change waits for it through
        // `wait` or `durable`, outside the lock, where concurrent flushes are shared.
        let begin = "BEGIN ISOLATION LEVEL SERIALIZABLE; SET LOCAL synchronous_commit TO off";
        match self.control(client, begin) {
            Ok(Ok(())) => {}
            Ok(Err(e)) => return failed(&e),
            Err(e) => return Attempt::Failed(e),
        }
        let txn = PgTxn {
            backend: self,
            client,
            buckets,
            writes: RefCell::new(BTreeMap::new()),
        };
        let outcome = match work(&txn) {
            Ok(()) => match self.flush(client, txn.writes.into_inner()) {
                Ok(Ok(())) => match self.control(client, "COMMIT") {
                    Ok(Ok(())) => return Attempt::Committed,
                    Ok(Err(e)) => failed(&e),
                    Err(e) => Attempt::Failed(e),
                },
                Ok(Err(e)) => failed(&e),
                Err(e) => Attempt::Failed(e),
            },
            Err(TxError::Retry) => Attempt::Retry,
            Err(TxError::Abort(e)) => Attempt::Failed(e),
        };
        // After a failed COMMIT there is nothing to roll back, and PostgreSQL only warns.
        let _ = self.control(client, "ROLLBACK");
        outcome
    }

    /// BufferedWrites a transaction's buffered values in one statement.
    fn flush(
        &self,
        client: &Arc<Object>,
        writes: BufferedWrites,
    ) -> Result<Result<(), tokio_postgres::Error>, ServerError> {
        if writes.is_empty() {
            return Ok(Ok(()));
        }
        let mut buckets = Vec::with_capacity(writes.len());
        let mut keys = Vec::with_capacity(writes.len());
        let mut values = Vec::with_capacity(writes.len());
        for ((bucket, key), value) in writes {
            buckets.push(bucket.name());
            keys.push(key);
            values.push(value);
        }
        let done = self.execute(
            client,
            "INSERT INTO vouch_kv (bucket, key, value) \
             SELECT * FROM unnest($1::text[], $2::bytea[], $3::bytea[]) \
             ON CONFLICT (bucket, key) DO UPDATE SET value = EXCLUDED.value",
            vec![Box::new(buckets), Box::new(keys), Box::new(values)],
        )?;
        Ok(done.map(|_| ()))
    }

    /// A jittered pause before try number `attempt` (1 to 64 ms, growing).
    fn pause(attempt: u32) {
        let mut byte = [0u8; 1];
        let _ = ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut byte);
        let cap = 1u64 << attempt.min(6);
        std::thread::sleep(Duration::from_millis(1 + u64::from(byte[0]) % cap));
    }

    /// Takes or releases the audit lock; a connection whose lock state is unknown is dropped.
    fn audit_lock(&self, client: &Arc<Object>, take: bool) -> Result<(), ServerError> {
        let sql = if take {
            "SELECT pg_advisory_lock($1)"
        } else {
            "SELECT pg_advisory_unlock($1)"
        };
        match self.execute(client, sql, vec![Box::new(AUDIT_LOCK)])? {
            Ok(_) => Ok(()),
            Err(e) => Err(db_error(&e)),
        }
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

/// One key's value in `bucket`, read on `client` (inside whatever transaction it has open).
async fn read_value(
    client: Arc<Object>,
    bucket: Bucket,
    key: Vec<u8>,
) -> Result<Option<Vec<u8>>, tokio_postgres::Error> {
    let statement = client
        .prepare_cached("SELECT value FROM vouch_kv WHERE bucket = $1 AND key = $2")
        .await?;
    let row = client
        .query_opt(&statement, &[&bucket.name(), &key])
        .await?;
    row.map(|r| r.try_get::<_, Vec<u8>>(0)).transpose()
}

/// A transaction: reads go to the database (and see this transaction's buffered writes);
/// writes are buffered and sent in one statement before `COMMIT`.
struct PgTxn<'a> {
    backend: &'a PgBackend,
    client: &'a Arc<Object>,
    buckets: &'a [Bucket],
    writes: RefCell<BufferedWrites>,
}

impl Txn for PgTxn<'_> {
    fn get(&self, bucket: Bucket, key: &[u8]) -> TxResult<Option<Vec<u8>>> {
        ensure_covered(self.buckets, bucket)?;
        if let Some(written) = self.writes.borrow().get(&(bucket, key.to_vec())) {
            return Ok(Some(written.clone()));
        }
        let client = self.client.clone();
        let key = key.to_vec();
        let read = self.backend.run(read_value(client, bucket, key))?;
        match read {
            Ok(value) => Ok(value),
            Err(e) if is_retryable(&e) => Err(TxError::Retry),
            Err(e) => Err(TxError::Abort(db_error(&e))),
        }
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
        let key = key.to_vec();
        let read = self.run(read_value(client, bucket, key))?;
        read.map_err(|e| db_error(&e))
    }

    fn values(&self, bucket: Bucket) -> Result<Vec<Vec<u8>>, ServerError> {
        let client = self.client()?;
        let read = self.run(async move {
            let statement = client
                .prepare_cached("SELECT value FROM vouch_kv WHERE bucket = $1 ORDER BY key")
                .await?;
            let rows = client.query(&statement, &[&bucket.name()]).await?;
            rows.iter()
                .map(|r| r.try_get::<_, Vec<u8>>(0))
                .collect::<Result<Vec<_>, _>>()
        })?;
        read.map_err(|e| db_error(&e))
    }

    fn transact(
        &self,
        buckets: &[Bucket],
        work: &dyn Fn(&dyn Txn) -> TxResult<()>,
    ) -> Result<Commit, ServerError> {
        let client = self.client()?;
        let audit = buckets.contains(&Bucket::Audit);
        if audit {
            self.audit_lock(&client, true)?;
        }
        let mut outcome = Attempt::Retry;
        for attempt in 1..=MAX_ATTEMPTS {
            outcome = self.attempt(&client, buckets, work);
            if !matches!(outcome, Attempt::Retry) {
                break;
            }
            self.retries.fetch_add(1, Ordering::Relaxed);
            if attempt < MAX_ATTEMPTS {
                Self::pause(attempt);
            }
        }
        if audit {
            if let Err(e) = self.audit_lock(&client, false) {
                // A connection whose lock state is unknown is closed, never pooled: closing it
                // releases the lock.
                if let Ok(object) = Arc::try_unwrap(client) {
                    drop(Object::take(object));
                }
                if matches!(outcome, Attempt::Committed) {
                    tracing::warn!(error = %e, "releasing the audit lock failed after a commit");
                }
            }
        }
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

    fn put_challenge(
        &self,
        nonce: &[u8],
        value: Vec<u8>,
        expires_at_ms: u64,
        now_ms: u64,
        max: usize,
    ) -> Result<bool, ServerError> {
        let client = self.client()?;
        let max = u64::try_from(max).unwrap_or(u64::MAX);
        // Counting the table on every insert would scan it (and its dead rows) each time: this
        // instance counts when its estimate (the last count plus its inserts since) reaches
        // the limit, and every COUNT_EVERY inserts to see the other instances' too. The limit
        // is a bound on memory and disk, so bending it between counts is harmless.
        let since = self.challenges.puts_since.load(Ordering::Relaxed);
        let estimate = self.challenges.counted.load(Ordering::Relaxed) + since;
        if estimate >= max || since >= COUNT_EVERY {
            let mut outstanding = self.count_challenges(&client)?;
            if outstanding >= max {
                // Full: expired challenges make room first.
                self.purge_on(&client, now_ms)?;
                outstanding = self.count_challenges(&client)?;
            }
            self.challenges
                .counted
                .store(outstanding, Ordering::Relaxed);
            self.challenges.puts_since.store(0, Ordering::Relaxed);
            if outstanding >= max {
                return Ok(false);
            }
        }
        self.execute(
            &client,
            "INSERT INTO vouch_challenges (nonce, expires_at_ms, value) VALUES ($1, $2, $3)",
            vec![
                Box::new(nonce.to_vec()),
                Box::new(millis(expires_at_ms)),
                Box::new(value),
            ],
        )?
        .map_err(|e| db_error(&e))?;
        self.challenges.puts_since.fetch_add(1, Ordering::Relaxed);
        Ok(true)
    }

    fn take_challenge(&self, nonce: &[u8]) -> Result<Option<Vec<u8>>, ServerError> {
        let client = self.client()?;
        let nonce = nonce.to_vec();
        let taken = self.run(async move {
            let statement = client
                .prepare_cached("DELETE FROM vouch_challenges WHERE nonce = $1 RETURNING value")
                .await?;
            let row = client.query_opt(&statement, &[&nonce]).await?;
            row.map(|r| r.try_get::<_, Vec<u8>>(0)).transpose()
        })?;
        taken.map_err(|e| db_error(&e))
    }

    fn purge_challenges(&self, now_ms: u64) -> Result<usize, ServerError> {
        let client = self.client()?;
        self.purge_on(&client, now_ms)
    }

    fn durable(&self, commit: Commit) -> DurableFuture {
        let (pool, flushes) = (self.pool.clone(), self.durability.clone());
        let (tx, rx) = tokio::sync::oneshot::channel();
        self.handle.spawn(async move {
            let _ = tx.send(flush_barrier(pool, flushes, commit).await);
        });
        Box::pin(async move {
            rx.await
                .map_err(|_| ServerError::Storage(Failure::new("a database task stopped")))?
        })
    }

    fn wait(&self, commit: Commit) -> Result<(), ServerError> {
        let (pool, flushes) = (self.pool.clone(), self.durability.clone());
        self.run(flush_barrier(pool, flushes, commit))?
    }

    fn latest_commit(&self) -> Commit {
        Commit(self.durability.commits.load(Ordering::SeqCst))
    }

    fn sync_stats(&self) -> SyncStats {
        SyncStats {
            commits: self.durability.commits.load(Ordering::SeqCst),
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
        let read = self.run(async move {
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
        })?;
        read.map_err(|e| db_error(&e))
    }
}

impl PgBackend {
    fn count_challenges(&self, client: &Arc<Object>) -> Result<u64, ServerError> {
        let client = client.clone();
        let counted = self
            .run(async move {
                let row = client
                    .query_one("SELECT count(*) FROM vouch_challenges", &[])
                    .await?;
                row.try_get::<_, i64>(0)
            })?
            .map_err(|e| db_error(&e))?;
        Ok(u64::try_from(counted).unwrap_or(0))
    }

    fn purge_on(&self, client: &Arc<Object>, now_ms: u64) -> Result<usize, ServerError> {
        let purged = self
            .execute(
                client,
                "DELETE FROM vouch_challenges WHERE expires_at_ms <= $1",
                vec![Box::new(millis(now_ms))],
            )?
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

    /// Read-modify-write transactions that take no lock race one another: SERIALIZABLE makes
    /// the losers fail with 40001, and the retry runs them again, so no increment is lost.
    #[test]
    fn serialization_failures_are_retried_and_lose_no_update() {
        let url = vouch_testkit::PgCluster::shared().create_database();
        let shared = Arc::new(backend(&url));
        let other = Arc::new(backend(&url));
        let workers: Vec<_> = (0..8)
            .map(|i| {
                let b = if i % 2 == 0 {
                    shared.clone()
                } else {
                    other.clone()
                };
                std::thread::spawn(move || {
                    for _ in 0..25 {
                        let _committed = b
                            .transact(&[Bucket::Devices], &|tx| {
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
        let total = shared.get(Bucket::Devices, b"counter").unwrap().unwrap();
        assert_eq!(u64::from_be_bytes(total.try_into().unwrap()), 200);
        assert!(
            shared.retries() + other.retries() > 0,
            "the race never produced a serialization failure, so the retry went untested"
        );
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
        assert_eq!(b.sync_stats().commits, 3);
    }

    #[test]
    fn migrations_apply_once_and_a_newer_schema_is_refused() {
        let url = vouch_testkit::PgCluster::shared().create_database();
        let first = backend(&url);
        assert_eq!(first.schema_version().unwrap(), 2);
        // A second instance finds the schema in place and applies nothing again.
        let second = backend(&url);
        assert_eq!(second.schema_version().unwrap(), 2);
        let client = second.client().unwrap();
        let rows = second
            .run(async move {
                client
                    .query_one("SELECT count(*) FROM vouch_schema", &[])
                    .await
                    .and_then(|r| r.try_get::<_, i64>(0))
            })
            .unwrap()
            .unwrap();
        assert_eq!(rows, 2);
        // A later vouch-server migrated it further: this one refuses to touch it.
        let client = second.client().unwrap();
        second
            .run(async move {
                client
                    .execute(
                        "INSERT INTO vouch_schema (version, name) VALUES (99, 'future')",
                        &[],
                    )
                    .await
            })
            .unwrap()
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

    #[test]
    fn an_unreachable_database_is_busy_not_a_crash() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!(
            "postgres://vouch@localhost/vouch?host={}",
            dir.path().display()
        );
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
