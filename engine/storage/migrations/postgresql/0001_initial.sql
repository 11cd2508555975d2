-- Plans, jobs, driver locations, advisor calls and written batches.
-- Times in column "at", created_at and updated_at are the engine clock's
-- seconds (virtual in a simulation); recorded_at is wall time.

CREATE TABLE plans (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    fingerprint text NOT NULL,
    request     jsonb NOT NULL,
    plan        jsonb NOT NULL,
    at          double precision NOT NULL,
    recorded_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX plans_fingerprint ON plans (fingerprint);

CREATE TABLE jobs (
    job_id      text PRIMARY KEY,
    state       text NOT NULL
                CHECK (state IN ('queued', 'running', 'done', 'failed')),
    fingerprint text,
    result      jsonb,
    error       text,
    created_at  double precision NOT NULL,
    updated_at  double precision NOT NULL
);

CREATE TABLE driver_locations (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    driver_id   text NOT NULL,
    x           double precision NOT NULL,
    y           double precision NOT NULL,
    at          double precision NOT NULL
);
CREATE INDEX driver_locations_driver ON driver_locations (driver_id, at);

CREATE TABLE advice (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    kind        text NOT NULL,
    outcome     text NOT NULL,
    latency_s   double precision NOT NULL,
    at          double precision NOT NULL,
    detail      jsonb NOT NULL
);

-- The batches written, by the id the writer gave each: a batch retried
-- after a commit whose outcome it did not learn is not applied twice.
CREATE TABLE write_batches (
    batch_id    text PRIMARY KEY,
    written_at  timestamptz NOT NULL DEFAULT now()
);
