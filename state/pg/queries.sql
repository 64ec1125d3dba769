-- Every SQL statement of the PostgreSQL backend, each under its name
-- (`-- name: NAME` then a comment line saying what it does). state/pg/queries.py
-- loads them; the code names a statement, never writes SQL. Parameters are
-- psycopg's %(name)s. Times are the database's (now()), never a host's.

-- name: schema_table_present
-- Whether any schema has been applied (before 0001 there is no schema_version).
SELECT to_regclass('schema_version') IS NOT NULL AS present;

-- name: create_schema_version
-- The version table itself; every migration adds its row in its own transaction.
CREATE TABLE IF NOT EXISTS schema_version (
    version     integer PRIMARY KEY,
    name        text NOT NULL,
    applied_at  timestamptz NOT NULL DEFAULT now()
);

-- name: lock_migrations
-- One migrator at a time, whatever host runs `migrate`.
SELECT pg_advisory_xact_lock(7401021501);

-- name: schema_version
-- The newest version applied (0 when none).
SELECT coalesce(max(version), 0) AS version FROM schema_version;

-- name: record_version
-- Note a migration as applied.
INSERT INTO schema_version (version, name) VALUES (%(version)s, %(name)s);

-- name: db_now
-- The database's clock, as POSIX seconds.
SELECT extract(epoch FROM now())::float8 AS now;

-- name: relaxed_commit
-- This transaction's commit need not wait for its WAL to reach disk. Only for
-- transactions whose loss in a crash is harmless: a claim or a lease renewal
-- lost with the database's crash is fenced off like a lapsed one.
SET LOCAL synchronous_commit TO OFF;

-- name: wake
-- Wake idle instances (delivered at commit; lost if nobody listens: instances poll too).
SELECT pg_notify('repairlab_wake', %(why)s);

-- name: ingest
-- A handoff from a producer; a second ingest of the same file (same name and bytes)
-- returns nothing and changes nothing.
INSERT INTO handoffs (name, ingest_key, body, bundle_sha256, tool, lineage, state, reason)
VALUES (%(name)s, %(ingest_key)s, %(body)s, %(bundle_sha256)s, %(tool)s, %(lineage)s,
        %(state)s, %(reason)s)
ON CONFLICT (ingest_key) DO NOTHING
RETURNING id;

-- name: ingest_batch
-- Many handoffs from the local queue/ in one statement (`ingest_files`), their ids
-- in the order given; as ingest, a file ingested before is skipped. Returns the
-- ingest keys of the rows made.
INSERT INTO handoffs (name, ingest_key, body, bundle_sha256, tool, lineage)
SELECT name, ingest_key, body, bundle_sha256, tool, lineage
FROM unnest(%(names)s::text[], %(ingest_keys)s::text[], %(bodies)s::bytea[],
            %(bundle_sha256s)s::text[], %(tools)s::text[], %(lineages)s::text[])
     WITH ORDINALITY AS given (name, ingest_key, body, bundle_sha256, tool, lineage, n)
ORDER BY n
ON CONFLICT (ingest_key) DO NOTHING
RETURNING ingest_key;

-- name: claim
-- The oldest due handoff, skipping rows another claimer holds locked: it gets a
-- fresh claim token and a lease on the database's clock. The row lock ends with
-- this statement's transaction, never held during a repair. (LIMIT 1, not a
-- parameter: the plan the server caches for a prepared statement must not be
-- made for an unknown limit, which it takes for a tenth of the table.)
-- The statement is a transaction of its own, run without BEGIN/COMMIT, and relaxes
-- its own commit (`relaxed`: set_config local to this transaction, as
-- relaxed_commit does for a transaction of several statements). With each row
-- comes its bundle's newest challenger id, if any (the repairer's next question).
WITH relaxed AS MATERIALIZED (
    SELECT set_config('synchronous_commit', 'off', true)
), picked AS (
    SELECT id FROM handoffs
    WHERE state IN ('queued', 'deferred') AND not_before <= now()
    ORDER BY not_before, id
    LIMIT 1
    FOR UPDATE SKIP LOCKED
)
UPDATE handoffs AS h
SET state = 'claimed', claimed_by = %(instance)s, claim_token = gen_random_uuid(),
    lease_expires = now() + make_interval(secs => %(lease_seconds)s), state_since = now()
FROM picked, relaxed
WHERE h.id = picked.id
RETURNING h.id, h.name, h.body, h.claim_token, h.attempt, h.bundle_sha256, h.tool, h.lineage,
          extract(epoch FROM h.lease_expires)::float8 AS lease_expires,
          (SELECT c.id FROM challengers AS c WHERE c.bundle_sha256 = h.bundle_sha256
           ORDER BY c.id DESC LIMIT 1) AS prior_challenger;

-- name: renew_claims
-- The heartbeat: extend every live lease of an instance. A lapsed lease is not
-- renewed (its handoff may be another instance's by now).
UPDATE handoffs
SET lease_expires = now() + make_interval(secs => %(lease_seconds)s)
WHERE state = 'claimed' AND claimed_by = %(instance)s AND lease_expires > now()
RETURNING id, claim_token;

-- name: take_back_lapsed
-- Claims whose lease lapsed go back to be claimed again (to `deferred` if their
-- wait is not over). Their token is cleared: the old holder is fenced out.
UPDATE handoffs
SET state = CASE WHEN not_before > now() THEN 'deferred' ELSE 'queued' END,
    claimed_by = NULL, claim_token = NULL, lease_expires = NULL, state_since = now()
WHERE id IN (SELECT id FROM handoffs
             WHERE state = 'claimed' AND lease_expires <= now()
             ORDER BY lease_expires LIMIT %(limit)s
             FOR UPDATE SKIP LOCKED)
RETURNING id, name;

-- name: hold
-- The fence: the claimed row, locked for this transaction, only while the token is
-- the current one and the lease has not lapsed by the database's clock.
SELECT id, name, bundle_sha256, tool, lineage, attempt
FROM handoffs
WHERE id = %(id)s AND claim_token = %(token)s AND state = 'claimed' AND lease_expires > now()
FOR UPDATE;

-- name: open_claim
-- A held handoff's bytes and attempt, while the claim is the current one.
SELECT body, attempt FROM handoffs
WHERE id = %(id)s AND claim_token = %(token)s AND state = 'claimed';

-- name: lock_bundle
-- Serialize the decisions about one bundle_sha256 (its failure window), across
-- handoffs and instances, until commit.
SELECT pg_advisory_xact_lock(hashtextextended(%(bundle_sha256)s, 0));

-- name: insert_failure
-- One failure record; the attempt key makes a redo count once.
INSERT INTO failures (bundle_sha256, attempt_key, instance, reason, handoff)
VALUES (%(bundle_sha256)s, %(attempt_key)s, %(instance)s, %(reason)s, %(handoff)s)
ON CONFLICT (bundle_sha256, attempt_key) DO NOTHING;

-- name: failures_in_window
-- The records of a bundle no older than the window, by the database's clock.
SELECT extract(epoch FROM ts)::float8 AS ts, instance, reason, attempt_key, handoff
FROM failures
WHERE bundle_sha256 = %(bundle_sha256)s
  AND ts >= now() - make_interval(secs => %(window_seconds)s)
ORDER BY ts, id;

-- name: defer
-- Back off: claimable again after `delay_seconds`, as a new attempt.
UPDATE handoffs
SET state = 'deferred', not_before = now() + make_interval(secs => %(delay_seconds)s),
    attempt = attempt + 1, claimed_by = NULL, lease_expires = NULL, state_since = now()
WHERE id = %(id)s
RETURNING extract(epoch FROM not_before)::float8 AS not_before;

-- name: quarantine
-- To hard_fail, with its reason file.
UPDATE handoffs
SET state = 'hard_fail', reason = %(reason)s, claimed_by = NULL, lease_expires = NULL,
    state_since = now()
WHERE id = %(id)s;

-- name: mark_corrupt
-- To corrupt, with its reason file.
UPDATE handoffs
SET state = 'corrupt', reason = %(reason)s, claimed_by = NULL, lease_expires = NULL,
    state_since = now()
WHERE id = %(id)s;

-- name: insert_challenger
-- A challenger, unless one for the same bundle and result exists (then nothing).
INSERT INTO challengers (bundle_sha256, repaired_sha256, tool, file_name, body)
VALUES (%(bundle_sha256)s, %(repaired_sha256)s, %(tool)s, %(file_name)s, %(body)s)
ON CONFLICT (bundle_sha256, repaired_sha256) DO NOTHING
RETURNING id, file_name;

-- name: challenger_by_id
-- A challenger by its row id.
SELECT id, file_name, body FROM challengers WHERE id = %(id)s;

-- name: find_challenger
-- The challenger of a bundle and result, or (no result given) the bundle's newest.
SELECT id, file_name, body FROM challengers
WHERE bundle_sha256 = %(bundle_sha256)s
  AND (%(repaired_sha256)s::text IS NULL OR repaired_sha256 = %(repaired_sha256)s::text)
ORDER BY id DESC
LIMIT 1;

-- name: settle_repaired
-- A repair's whole settle in one statement, a transaction of its own (the common
-- case: one finish, with its challenger): the fence (`held`, as hold); the
-- challenger, unless one for the same bundle and result exists (`made`), else that
-- one (`chosen`, a duplicate); the handoff to done pointing at it (as mark_done);
-- and its metrics line carrying that challenger's name and whether it was a
-- duplicate. Returns the chosen challenger, or nothing when the claim is no longer
-- held or when the existing challenger committed after this statement began (the
-- caller then settles in a transaction of several statements).
WITH held AS (
    SELECT id FROM handoffs
    WHERE id = %(id)s AND claim_token = %(token)s AND state = 'claimed' AND lease_expires > now()
    FOR UPDATE
), made AS (
    INSERT INTO challengers (bundle_sha256, repaired_sha256, tool, file_name, body)
    SELECT %(bundle_sha256)s, %(repaired_sha256)s, %(tool)s, %(file_name)s, %(body)s FROM held
    ON CONFLICT (bundle_sha256, repaired_sha256) DO NOTHING
    RETURNING id, file_name
), chosen AS (
    SELECT id, file_name, false AS duplicate FROM made
    UNION ALL
    SELECT c.id, c.file_name, true FROM challengers AS c, held
    WHERE NOT EXISTS (SELECT 1 FROM made)
      AND c.bundle_sha256 = %(bundle_sha256)s AND c.repaired_sha256 = %(repaired_sha256)s
), done AS (
    UPDATE handoffs AS h
    SET state = 'done', challenger_id = chosen.id, duplicate = chosen.duplicate,
        claimed_by = NULL, lease_expires = NULL, state_since = now()
    FROM chosen
    WHERE h.id = %(id)s
), logged AS (
    INSERT INTO events (event, instance, line)
    SELECT %(event)s, %(instance)s,
           %(line)s || jsonb_build_object('challenger', chosen.file_name,
                                          'duplicate', chosen.duplicate)
    FROM chosen
)
SELECT id, file_name, duplicate FROM chosen;

-- name: mark_done
-- To done, pointing at its challenger (a duplicate points at an existing one), and
-- its metrics line (as insert_event) in the same statement.
WITH done AS (
    UPDATE handoffs
    SET state = 'done', challenger_id = %(challenger_id)s, duplicate = %(duplicate)s,
        claimed_by = NULL, lease_expires = NULL, state_since = now()
    WHERE id = %(id)s
)
INSERT INTO events (event, instance, line) VALUES (%(event)s, %(instance)s, %(line)s);

-- name: insert_event
-- One metrics line; its id orders the lines for a reader that reads on.
INSERT INTO events (event, instance, line) VALUES (%(event)s, %(instance)s, %(line)s);

-- name: hand_back
-- Give a held handoff back untouched (shutdown): claimable again at once, or once
-- its wait is over. The token is cleared, so the holder can settle nothing after.
UPDATE handoffs
SET state = CASE WHEN not_before > now() THEN 'deferred' ELSE 'queued' END,
    claimed_by = NULL, claim_token = NULL, lease_expires = NULL, state_since = now()
WHERE id = %(id)s AND claim_token = %(token)s AND state = 'claimed'
RETURNING id;

-- name: hand_back_all
-- Everything an instance id held goes back (at its start, or a clean stop).
UPDATE handoffs
SET state = CASE WHEN not_before > now() THEN 'deferred' ELSE 'queued' END,
    claimed_by = NULL, claim_token = NULL, lease_expires = NULL, state_since = now()
WHERE state = 'claimed' AND claimed_by = %(instance)s
RETURNING id;

-- name: held_by
-- The handoffs an instance holds now.
SELECT id, name, claim_token, extract(epoch FROM lease_expires)::float8 AS lease_expires
FROM handoffs WHERE state = 'claimed' AND claimed_by = %(instance)s ORDER BY id;

-- name: quarantined_by_name
-- A quarantined handoff by its name (the oldest, if several share it), locked.
SELECT id, name, bundle_sha256, reason FROM handoffs
WHERE name = %(name)s AND state = 'hard_fail'
ORDER BY id LIMIT 1
FOR UPDATE;

-- name: quarantined
-- Every quarantined handoff, oldest quarantine first.
SELECT id, name, bundle_sha256, tool, lineage, reason, octet_length(body) AS size,
       extract(epoch FROM state_since)::float8 AS since
FROM handoffs WHERE state = 'hard_fail' ORDER BY state_since, id;

-- name: release
-- Back to the queue, claimable now, its reason dropped, as a new attempt.
UPDATE handoffs
SET state = 'queued', not_before = now(), reason = NULL, claim_token = NULL,
    attempt = attempt + 1,
    claimed_by = NULL, lease_expires = NULL, state_since = now()
WHERE id = %(id)s;

-- name: clear_failures
-- Forget every failure record of a bundle (a release).
DELETE FROM failures WHERE bundle_sha256 = %(bundle_sha256)s;

-- name: heartbeat
-- This instance is alive (the database's clock stamps it).
INSERT INTO instances (instance, host, pid, isolation)
VALUES (%(instance)s, %(host)s, %(pid)s, %(isolation)s)
ON CONFLICT (instance) DO UPDATE
SET host = excluded.host, pid = excluded.pid, isolation = excluded.isolation, last_beat = now();

-- name: forget_instance
-- A clean exit: the instance is gone.
DELETE FROM instances WHERE instance = %(instance)s;

-- name: instances
-- Every instance with how long it has been silent.
SELECT instance, host, pid, isolation,
       extract(epoch FROM last_beat)::float8 AS last_beat,
       extract(epoch FROM now() - last_beat)::float8 AS silent_seconds
FROM instances ORDER BY instance;

-- name: forget_silent_instances
-- Heartbeats silent for longer than `seconds` (dead instances: their claims lapse alone).
DELETE FROM instances WHERE last_beat < now() - make_interval(secs => %(seconds)s)
RETURNING instance;

-- name: due
-- How many handoffs can be claimed now: the claimable index alone (what the watcher's
-- rescan asks every few seconds, cheap with any number of finished rows).
SELECT count(*) AS due FROM handoffs
WHERE state IN ('queued', 'deferred') AND not_before <= now();

-- name: busy
-- Whether anything waits or is held: an index probe each, never the finished rows.
SELECT EXISTS (SELECT 1 FROM handoffs WHERE state IN ('queued', 'deferred'))
    OR EXISTS (SELECT 1 FROM handoffs WHERE state = 'claimed') AS busy;

-- name: counts
-- How many handoffs in each state; `due` = queued or deferred whose wait is over.
SELECT
    count(*) FILTER (WHERE state IN ('queued', 'deferred') AND not_before <= now()) AS due,
    count(*) FILTER (WHERE state = 'queued') AS queued,
    count(*) FILTER (WHERE state = 'deferred') AS deferred,
    count(*) FILTER (WHERE state = 'claimed') AS claimed,
    count(*) FILTER (WHERE state = 'done') AS done,
    count(*) FILTER (WHERE state = 'hard_fail') AS hard_fail,
    count(*) FILTER (WHERE state = 'corrupt') AS corrupt
FROM handoffs;

-- name: prune_handoffs
-- One batch of finished or long-waiting handoffs older than `cutoff` (POSIX time;
-- never a claimed one).
DELETE FROM handoffs
WHERE id IN (SELECT id FROM handoffs
             WHERE state IN ('done', 'hard_fail', 'corrupt', 'queued', 'deferred')
               AND state_since < to_timestamp(%(cutoff)s)
             LIMIT %(batch)s
             FOR UPDATE SKIP LOCKED)
RETURNING 'handoffs/' || state || '/' || name AS path, octet_length(body) AS size;

-- name: prune_challengers
-- One batch of challengers past their TTL.
DELETE FROM challengers
WHERE id IN (SELECT id FROM challengers
             WHERE created_at < to_timestamp(%(cutoff)s)
             LIMIT %(batch)s)
RETURNING 'challengers/' || file_name AS path, octet_length(body) AS size;

-- name: prune_failures
-- One batch of failure records past their TTL.
DELETE FROM failures
WHERE id IN (SELECT id FROM failures
             WHERE ts < to_timestamp(%(cutoff)s)
             LIMIT %(batch)s)
RETURNING 'failures/' || bundle_sha256 AS path, 0 AS size;

-- name: prune_events
-- One batch of events past their TTL (as rotated metrics files go on the filesystem).
DELETE FROM events
WHERE id IN (SELECT id FROM events
             WHERE ts < to_timestamp(%(cutoff)s)
             ORDER BY ts LIMIT %(batch)s)
RETURNING 'events/' || event AS path, octet_length(line::text) AS size;

-- name: events_page
-- Every event visible now after (`xid`, `id`), by transaction then id: the order of
-- events_after (a one-shot full read).
SELECT id, xid::text::bigint AS xid, line FROM events
WHERE (xid, id) > (%(xid)s::bigint::text::xid8, %(id)s)
ORDER BY xid, id
LIMIT %(limit)s;

-- name: events_after
-- Metrics lines of the transactions from `after` (an xid) up to the oldest still
-- running (all those before it are over: none of their events can appear later),
-- by transaction then id; `upto` is that bound.
SELECT e.id, e.line, e.xid::text::bigint AS xid, b.upto
FROM (SELECT pg_snapshot_xmin(pg_current_snapshot())::text::bigint AS upto) b
LEFT JOIN events e
  ON e.xid >= %(after)s::bigint::text::xid8 AND e.xid < pg_snapshot_xmin(pg_current_snapshot())
ORDER BY e.xid, e.id
LIMIT %(limit)s;

-- name: challengers_after
-- Challengers after id `after`, in id order (for `challengers export`).
SELECT id, file_name, body FROM challengers WHERE id > %(after)s ORDER BY id LIMIT %(limit)s;

-- name: insert_pattern
-- One pattern, unless its content is stored already (then nothing); a taken id
-- (another host's concurrent learn) raises, and the next number is tried.
INSERT INTO patterns (tool, pattern_id, content_sha256, body)
VALUES (%(tool)s, %(pattern_id)s, %(content_sha256)s, %(body)s)
ON CONFLICT (content_sha256) DO NOTHING
RETURNING id;

-- name: patterns_after
-- Patterns stored after id `after` (a library reads only what is new).
SELECT id, pattern_id, body FROM patterns WHERE id > %(after)s ORDER BY id;

-- name: pattern_ids
-- Every pattern's row id, to drop the ones pruned by another host.
SELECT id FROM patterns;

-- name: next_pattern_number
-- The next free number of a tool's pattern ids.
SELECT coalesce(max(substring(pattern_id FROM ':c([0-9]+)$')::int), 0) + 1 AS number
FROM patterns WHERE tool = %(tool)s;

-- name: delete_pattern
-- Remove one pattern (pruning the library).
DELETE FROM patterns WHERE pattern_id = %(pattern_id)s;

-- name: challenger_by_name
-- A challenger by its §3 file name.
SELECT id, file_name, body FROM challengers WHERE file_name = %(file_name)s;

-- name: recent_challengers
-- The newest challengers, newest first.
SELECT file_name, body FROM challengers ORDER BY id DESC LIMIT %(limit)s;

-- name: challengers_of_tool
-- Every challenger of a tool, oldest first (lineage).
SELECT file_name, body FROM challengers WHERE tool = %(tool)s ORDER BY id;

-- name: quarantined_of_tool
-- Every quarantined handoff of a tool, with its bytes (lineage reads the parent).
SELECT name, body, reason FROM handoffs WHERE state = 'hard_fail' AND tool = %(tool)s
ORDER BY state_since, id;

-- name: quarantined_one
-- A quarantined handoff by name, with its reason and size.
SELECT name, bundle_sha256, tool, lineage, reason, octet_length(body) AS size
FROM handoffs WHERE name = %(name)s AND state = 'hard_fail' ORDER BY id LIMIT 1;

-- name: status_extra
-- What `status` shows beyond the counts: the oldest queued handoff's age, the next
-- retry, the number of challengers.
SELECT
    (SELECT extract(epoch FROM now() - min(state_since))::float8 FROM handoffs
      WHERE state = 'queued') AS oldest_queued_age,
    (SELECT extract(epoch FROM min(not_before) - now())::float8 FROM handoffs
      WHERE state = 'deferred') AS next_retry_in,
    (SELECT count(*) FROM challengers) AS challengers,
    extract(epoch FROM now())::float8 AS now;

-- name: in_flight_by_instance
-- How many handoffs each instance holds.
SELECT claimed_by AS instance, count(*) AS held FROM handoffs
WHERE state = 'claimed' GROUP BY claimed_by;

-- name: prune_preview
-- What pruning would remove now (a dry run): names and sizes.
SELECT 'handoffs/' || state || '/' || name AS path, octet_length(body) AS size FROM handoffs
WHERE state IN ('done', 'hard_fail', 'corrupt', 'queued', 'deferred')
  AND state_since < to_timestamp(%(cutoff)s)
UNION ALL
SELECT 'challengers/' || file_name, octet_length(body) FROM challengers
WHERE created_at < to_timestamp(%(cutoff)s);
