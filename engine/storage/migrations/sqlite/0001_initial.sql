-- Plans, jobs, driver locations, advisor calls and written batches.
-- Times in column "at", created_at and updated_at are the engine clock's
-- seconds (virtual in a simulation); recorded_at is wall time (UTC).
-- JSON is stored as TEXT.

CREATE TABLE plans (
    id          INTEGER PRIMARY KEY,
    fingerprint TEXT NOT NULL,
    request     TEXT NOT NULL,
    plan        TEXT NOT NULL,
    at          REAL NOT NULL,
    recorded_at TEXT NOT NULL
                DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);
CREATE INDEX plans_fingerprint ON plans (fingerprint);

CREATE TABLE jobs (
    job_id      TEXT PRIMARY KEY,
    state       TEXT NOT NULL
                CHECK (state IN ('queued', 'running', 'done', 'failed')),
    fingerprint TEXT,
    result      TEXT,
    error       TEXT,
    created_at  REAL NOT NULL,
    updated_at  REAL NOT NULL
);

CREATE TABLE driver_locations (
    id          INTEGER PRIMARY KEY,
    driver_id   TEXT NOT NULL,
    x           REAL NOT NULL,
    y           REAL NOT NULL,
    at          REAL NOT NULL
);
CREATE INDEX driver_locations_driver ON driver_locations (driver_id, at);

CREATE TABLE advice (
    id          INTEGER PRIMARY KEY,
    kind        TEXT NOT NULL,
    outcome     TEXT NOT NULL,
    latency_s   REAL NOT NULL,
    at          REAL NOT NULL,
    detail      TEXT NOT NULL
);

-- The batches written, by the id the writer gave each: a batch retried
-- after a commit whose outcome it did not learn is not applied twice.
CREATE TABLE write_batches (
    batch_id    TEXT PRIMARY KEY,
    written_at  TEXT NOT NULL
                DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);
