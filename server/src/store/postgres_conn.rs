//! A PostgreSQL connection driven by the thread that uses it, and the pool's manager for it.
//!
//! `tokio-postgres` splits a connection in two: the `Client`, which queues requests, and the
//! `Connection`, a future that writes them to the socket and hands the answers back. Spawned
//! as a task (what `deadpool-postgres` does), every exchange crosses threads twice: the caller
//! wakes the task's thread to send, and that thread, woken by the socket, wakes the caller
//! with the answer. On this project's two-core machines those hops, futex wakes and the
//! runtime's polling cost a quarter of the server's CPU on the PostgreSQL store
//! (`docs/BENCHMARKS.md`, "the connection driven by its caller").
//!
//! Here a connection ([`PgConn`]) has a current-thread runtime of its own, whose only socket is
//! the connection's, and [`PgConn::run`] drives the caller's future and the connection
//! together on the calling thread: the request is written by the thread that made it, which
//! then sleeps in `epoll_wait` on that one socket until the answer comes. Nothing runs the
//! connection while it sits in the pool; what the server sent meanwhile (an error, the end of
//! the socket when PostgreSQL restarted) is read when the pool hands it out again, and a
//! connection found closed is replaced ([`PgManager`]'s `recycle`).
//!
//! The pool is `deadpool`'s (the generic pool `deadpool-postgres` is built on), with
//! [`PgManager`] making these connections.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, PoisonError};
use std::task::Poll;
use std::time::Duration;

use deadpool::managed::{Metrics, RecycleError, RecycleResult};
use tokio_postgres::tls::NoTls;
use tokio_postgres::{Client, Config, Statement};
use tokio_postgres_rustls::MakeRustlsConnect;

use crate::error::{Failure, ServerError};

/// A connection's other half: the future that does its socket's reads and writes.
type Driver = Pin<Box<dyn Future<Output = Result<(), tokio_postgres::Error>> + Send>>;

/// How connections are made: plain text, or TLS verified by rustls.
#[derive(Clone)]
pub(super) enum Connector {
    /// No TLS (`sslmode=disable`, or a Unix socket).
    Plain,
    /// TLS with the given client configuration.
    Rustls(MakeRustlsConnect),
}

/// One connection to PostgreSQL, used by one thread at a time (see the module's comment).
pub(super) struct PgConn {
    client: Client,
    /// How it was made: a cancel request goes the same way.
    connector: Connector,
    /// `None` once the connection has ended (the `Client` then answers every request with an
    /// error, and reports itself closed).
    driver: Mutex<Option<Driver>>,
    /// Its reactor watches this connection's socket alone. `None` only while dropping.
    runtime: Option<tokio::runtime::Runtime>,
    /// Statements prepared on this connection, by their text.
    statements: Mutex<HashMap<String, Statement>>,
    /// Calls of [`PgConn::run`] so far: exchanges with the database, each a wait for answers.
    exchanges: AtomicU64,
}

impl std::ops::Deref for PgConn {
    type Target = Client;

    fn deref(&self) -> &Client {
        &self.client
    }
}

impl PgConn {
    /// Connects as `config` says, through `connector`, giving up after `timeout`.
    fn connect(
        config: &Config,
        connector: &Connector,
        timeout: Duration,
    ) -> Result<Self, ServerError> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| {
                ServerError::Storage(Failure::caused(
                    "starting a database connection's runtime",
                    e,
                ))
            })?;
        let connecting = async {
            match connector {
                Connector::Plain => config
                    .connect(NoTls)
                    .await
                    .map(|(client, connection)| (client, Box::pin(connection) as Driver)),
                Connector::Rustls(tls) => config
                    .connect(tls.clone())
                    .await
                    .map(|(client, connection)| (client, Box::pin(connection) as Driver)),
            }
        };
        let connected = tokio::task::block_in_place(|| {
            runtime.block_on(async { tokio::time::timeout(timeout, connecting).await })
        });
        let (client, driver) = match connected {
            Ok(Ok(pair)) => pair,
            Ok(Err(e)) => return Err(super::postgres::db_error(&e)),
            Err(_) => {
                tracing::warn!(?timeout, "connecting to the database timed out");
                return Err(super::postgres::unavailable());
            }
        };
        Ok(Self {
            client,
            connector: connector.clone(),
            driver: Mutex::new(Some(driver)),
            runtime: Some(runtime),
            statements: Mutex::new(HashMap::new()),
            exchanges: AtomicU64::new(0),
        })
    }

    /// Drives `future` to its end on the calling thread, together with the connection: the
    /// thread writes the requests `future` makes and sleeps until the answers are read.
    /// Blocking: on an async worker of a multi-threaded runtime the worker's other tasks are
    /// handed on first (`block_in_place`); the server calls the store from its blocking pool.
    pub(super) fn run<F: Future>(&self, future: F) -> F::Output {
        self.exchanges.fetch_add(1, Ordering::Relaxed);
        let mut driver = self.driver.lock().unwrap_or_else(PoisonError::into_inner);
        let mut future = std::pin::pin!(future);
        self.block_on(std::future::poll_fn(|cx| {
            if let Poll::Ready(output) = future.as_mut().poll(cx) {
                return Poll::Ready(output);
            }
            poll_driver(&mut driver, cx);
            // The answers the driver just read, if any: taken now rather than after another
            // turn of the runtime. Still pending, the thread sleeps until the socket is ready.
            future.as_mut().poll(cx)
        }))
    }

    /// Whether the connection has ended, once whatever the server sent while it sat in the
    /// pool has been read.
    fn has_ended(&self) -> bool {
        let mut driver = self.driver.lock().unwrap_or_else(PoisonError::into_inner);
        let ended = self.block_on(async {
            // A task that yields makes the runtime look at the socket without waiting (a
            // zero-timeout `epoll_wait`) before it runs again, so the driver polled next sees
            // an error or the socket's end that came while the connection was pooled.
            tokio::task::yield_now().await;
            std::future::poll_fn(|cx| Poll::Ready(poll_driver(&mut driver, cx))).await
        });
        ended || self.client.is_closed()
    }

    /// Runs `future` to its end on the connection's runtime, on the calling thread.
    fn block_on<F: Future>(&self, future: F) -> F::Output {
        let Some(runtime) = self.runtime.as_ref() else {
            unreachable!("the runtime is taken only by drop");
        };
        tokio::task::block_in_place(|| runtime.block_on(future))
    }

    /// Closes the connection now, for one whose transaction state is unknown (a transaction
    /// may still be open on it, with its locks): PostgreSQL ends the transaction when the
    /// socket closes, and the pool, finding the connection closed, replaces it.
    pub(super) fn close(&self) {
        self.driver
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
    }

    /// Asks PostgreSQL to cancel what this connection's server process is running (the request
    /// goes on a connection of its own), waiting at most `timeout`. A closed socket alone does
    /// not stop a process that waits inside a commit (for a synchronous standby, say): it would
    /// hold its connection slot until the wait ends.
    pub(super) fn cancel(&self, timeout: Duration) {
        let token = self.client.cancel_token();
        let sent = self.block_on(async {
            let request = async {
                match &self.connector {
                    Connector::Plain => token.cancel_query(NoTls).await,
                    Connector::Rustls(tls) => token.cancel_query(tls.clone()).await,
                }
            };
            tokio::time::timeout(timeout, request).await
        });
        match sent {
            Ok(Ok(())) => {}
            Ok(Err(e)) => tracing::warn!(error = %e, "a cancel request failed"),
            Err(_) => tracing::warn!(?timeout, "a cancel request timed out"),
        }
    }

    /// The exchanges with the database on this connection so far (what the tests count).
    #[cfg_attr(not(test), allow(dead_code))]
    pub(super) fn exchanges(&self) -> u64 {
        self.exchanges.load(Ordering::Relaxed)
    }

    /// `query` prepared on this connection: from its cache, or prepared now and cached.
    pub(super) async fn prepare_cached(
        &self,
        query: &str,
    ) -> Result<Statement, tokio_postgres::Error> {
        if let Some(found) = self
            .statements
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(query)
        {
            return Ok(found.clone());
        }
        let statement = self.client.prepare(query).await?;
        self.statements
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(query.to_owned(), statement.clone());
        Ok(statement)
    }
}

impl Drop for PgConn {
    fn drop(&mut self) {
        // The socket first, while its reactor is there to let go of it; then the runtime,
        // without waiting (a connection may be dropped on an async worker, where a runtime's
        // ordinary drop would panic; this one runs no task, and a host name lookup left on
        // its blocking pool is not waited for).
        self.driver
            .get_mut()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}

/// Polls the connection's driver once: whether the connection has ended (then or before).
/// An ended driver is dropped, which closes the client: what a caller still waits for fails
/// at once, and the pool will not hand the connection out again.
fn poll_driver(driver: &mut Option<Driver>, cx: &mut std::task::Context<'_>) -> bool {
    let Some(running) = driver.as_mut() else {
        return true;
    };
    let Poll::Ready(ended) = running.as_mut().poll(cx) else {
        return false;
    };
    if let Err(e) = ended {
        tracing::warn!(error = %e, "a database connection ended");
    }
    *driver = None;
    true
}

/// Makes and checks the pool's connections.
pub(super) struct PgManager {
    config: Config,
    connector: Connector,
    /// How long making a connection may take.
    timeout: Duration,
    /// Statements run once on each new connection, to set its session up (none if empty).
    session: &'static str,
}

impl PgManager {
    /// A manager connecting as `config` says through `connector`, each try bounded by
    /// `timeout`.
    pub(super) fn new(config: Config, connector: Connector, timeout: Duration) -> Self {
        Self {
            config,
            connector,
            timeout,
            session: "",
        }
    }

    /// The same, running `session` (statements separated by `;`) once on each new connection
    /// before the pool hands it out.
    pub(super) fn with_session(mut self, session: &'static str) -> Self {
        self.session = session;
        self
    }
}

impl deadpool::managed::Manager for PgManager {
    type Type = PgConn;
    type Error = ServerError;

    async fn create(&self) -> Result<PgConn, ServerError> {
        let conn = PgConn::connect(&self.config, &self.connector, self.timeout)?;
        if self.session.is_empty() {
            return Ok(conn);
        }
        // Bounded like the connection itself: a network that drops traffic once connected
        // must not hold the caller (the barrier's leader, and its followers with it).
        let setup = conn.run(tokio::time::timeout(
            self.timeout,
            conn.batch_execute(self.session),
        ));
        match setup {
            Ok(Ok(())) => Ok(conn),
            Ok(Err(e)) => Err(super::postgres::db_error(&e)),
            Err(_) => {
                tracing::warn!(timeout = ?self.timeout, "setting a database session up timed out");
                Err(super::postgres::unavailable())
            }
        }
    }

    async fn recycle(&self, conn: &mut PgConn, _: &Metrics) -> RecycleResult<ServerError> {
        if conn.has_ended() {
            return Err(RecycleError::message("the connection has ended"));
        }
        Ok(())
    }
}
