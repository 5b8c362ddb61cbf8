-- The audit lock (server/src/store/postgres.rs): every transaction that appends to the audit
-- chain takes `LOCK TABLE vouch_audit_lock IN EXCLUSIVE MODE` right after `BEGIN`, so the
-- appends of every instance queue up instead of failing and retrying one another. `LOCK TABLE`
-- takes no snapshot, so the lock is granted before the transaction's snapshot is; `COMMIT` or
-- `ROLLBACK` releases it, so it can never outlive its transaction (the session advisory lock
-- it replaces could, on a connection whose unlock failed). The table holds no rows and is never
-- read: only its lock is used. EXCLUSIVE conflicts with itself and lets plain reads through.
CREATE TABLE vouch_audit_lock ();
