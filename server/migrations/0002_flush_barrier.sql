-- The flush barrier (server/src/store/postgres.rs, flush_barrier): a commit only waits for the
-- WAL flush if its transaction wrote WAL, and taking a transaction id alone writes none. Each
-- connection updates its own row (keyed by its backend pid), so concurrent barriers never wait
-- on one another's row lock and share PostgreSQL's flushes.
CREATE TABLE vouch_flush (
    pid integer     PRIMARY KEY,
    at  timestamptz NOT NULL
);
