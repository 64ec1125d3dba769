-- repairlab schema, version 1 (SPEC §9): everything the daemon writes in §1,
-- plus claims, failure records and heartbeats. Applied by `run.py migrate` in one
-- transaction together with its row in schema_version.

CREATE TABLE handoffs (
    id             bigserial PRIMARY KEY,
    name           text NOT NULL,            -- the file name it came in as (NAME.json)
    ingest_key     text NOT NULL UNIQUE,     -- name ':' sha256 of the bytes: a redone ingest is a no-op
    body           bytea NOT NULL,           -- the handoff file, byte for byte
    bundle_sha256  text,                     -- null when the handoff is corrupt
    tool           text,
    lineage        text,
    state          text NOT NULL DEFAULT 'queued'
                   CHECK (state IN ('queued', 'claimed', 'deferred', 'done', 'hard_fail', 'corrupt')),
    not_before     timestamptz NOT NULL DEFAULT now(),   -- claimable from (backoff)
    attempt        integer NOT NULL DEFAULT 0,            -- deferrals and releases so far:
                                                          -- the attempt key, kept by a hand-back
    claimed_by     text,
    claim_token    uuid,                     -- fencing: every transition of a claim names it
    lease_expires  timestamptz,              -- judged by the database's clock only
    reason         jsonb,                    -- the reason file of hard_fail / corrupt
    challenger_id  bigint,                   -- done: the challenger it points at
    duplicate      boolean NOT NULL DEFAULT false,
    created_at     timestamptz NOT NULL DEFAULT now(),
    state_since    timestamptz NOT NULL DEFAULT now()    -- when it entered its state (TTL)
);

-- Claiming reads only this index: the claimable rows, by due time. Finished rows
-- (a million of them) are not in it, so a claim stays O(log n).
CREATE INDEX handoffs_claimable ON handoffs (not_before, id) WHERE state IN ('queued', 'deferred');
-- Lapsed leases are found by this one, and an instance's claims by the next.
CREATE INDEX handoffs_leases ON handoffs (lease_expires) WHERE state = 'claimed';
CREATE INDEX handoffs_claimed_by ON handoffs (claimed_by) WHERE state = 'claimed';
-- Pruning and the operator's views of finished handoffs.
CREATE INDEX handoffs_finished ON handoffs (state, state_since);
CREATE INDEX handoffs_name ON handoffs (name);
CREATE INDEX handoffs_bundle ON handoffs (bundle_sha256);

CREATE TABLE failures (
    id             bigserial PRIMARY KEY,
    bundle_sha256  text NOT NULL,
    attempt_key    text NOT NULL,            -- handoff id and attempt: a redo counts once
    ts             timestamptz NOT NULL DEFAULT now(),   -- the database's clock
    instance       text NOT NULL,
    reason         text NOT NULL,
    handoff        text,
    UNIQUE (bundle_sha256, attempt_key)
);
CREATE INDEX failures_window ON failures (bundle_sha256, ts);

CREATE TABLE challengers (
    id               bigserial PRIMARY KEY,
    bundle_sha256    text NOT NULL,
    repaired_sha256  text NOT NULL,
    tool             text NOT NULL,
    file_name        text NOT NULL,          -- its §3 file name, for `challengers export`
    body             bytea NOT NULL,         -- the §3 object, encoded
    created_at       timestamptz NOT NULL DEFAULT now(),
    UNIQUE (bundle_sha256, repaired_sha256)  -- at most one per bundle and result
);
CREATE INDEX challengers_created ON challengers (created_at);
CREATE INDEX challengers_tool ON challengers (tool);

CREATE TABLE events (
    id        bigserial PRIMARY KEY,
    -- The writing transaction: a reader reads on by transaction, up to the oldest
    -- one still running, so an event committed late under a low id is never passed over.
    xid       xid8 NOT NULL DEFAULT pg_current_xact_id(),
    ts        timestamptz NOT NULL DEFAULT now(),
    event     text NOT NULL,
    instance  text NOT NULL,
    line      jsonb NOT NULL                 -- the §4 metrics line
);
CREATE INDEX events_ts ON events (ts);
CREATE INDEX events_xid ON events (xid, id);

CREATE TABLE patterns (
    id          bigserial PRIMARY KEY,
    tool        text NOT NULL,
    pattern_id  text NOT NULL UNIQUE,        -- <tool>:c<NNNN>
    content_sha256 text NOT NULL UNIQUE,     -- tool, kind and normalized source: learned once
    body        bytea NOT NULL,              -- the repairlab.pattern/1 object, encoded
    learned_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE instances (
    instance    text PRIMARY KEY,
    host        text NOT NULL,
    pid         integer NOT NULL,
    isolation   text NOT NULL DEFAULT '',
    started_at  timestamptz NOT NULL DEFAULT now(),
    last_beat   timestamptz NOT NULL DEFAULT now()
);
