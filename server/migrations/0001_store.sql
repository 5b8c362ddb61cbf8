-- The store's buckets and challenges (server/src/store/postgres.rs).
-- Every bucket of the store contract is rows of one table, keyed by (bucket, key): the primary
-- key is what makes a serial, a record id, a staff key id, an invite code, a certificate serial
-- and an audit sequence number unique, whichever instance writes. A bucket added to the
-- contract needs no migration.
CREATE TABLE vouch_kv (
    bucket text  NOT NULL,
    key    bytea NOT NULL,
    value  bytea NOT NULL,
    PRIMARY KEY (bucket, key)
);

-- Single-use enrollment challenges: taken by DELETE ... RETURNING, so two instances can never
-- both redeem one nonce.
CREATE TABLE vouch_challenges (
    nonce         bytea  PRIMARY KEY,
    expires_at_ms bigint NOT NULL,
    value         bytea  NOT NULL
);
CREATE INDEX vouch_challenges_expiry ON vouch_challenges (expires_at_ms);
