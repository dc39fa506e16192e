//! [`UsageStore`] on PostgreSQL: tables of their own in the server's database, migrations in
//! `metering_migrations` under an advisory lock. Quota checks lock the tenant's monthly
//! counter rows (the row lock serialises replicas); a replica admits calls ahead of their
//! commit against quota leases ([`super::pg_leases`]); deliveries are claimed with
//! `FOR UPDATE SKIP LOCKED` and a lease.

use std::{
    collections::BTreeMap,
    sync::{
        Arc, Mutex,
        atomic::{AtomicI64, AtomicUsize, Ordering},
        mpsc,
    },
    thread::JoinHandle,
};

use postgres::{
    Client, GenericClient, NoTls, Transaction,
    types::{ToSql, Type},
};
use scorpius_core::{
    api::{
        usage::Granularity,
        webhooks::{Delivery, DeliveryAttempt, DeliveryState, EventType, UpdateWebhookRequest},
    },
    metering::{Meter, Period, rfc3339, threshold_levels},
    pg::{Session, Statements},
};

use super::{
    StoreError, StoreResult,
    periodic::Periodic,
    pg_inbox::{self, Drain},
    pg_leases::{self, DB_NOW_MS, Grant, GrantResult, KeyColumns, Leases, Take},
    usage::{
        Admission, AttemptResult, Claimed, CounterKey, EndpointRecord, FOLD_CHUNK, InboxRow, PendingRow, RecordOutcome,
        Reservation, UsageEvent, UsageRows, UsageStore, crossings, events_parse, events_text, folder, gran_code,
        lock_order, message_body, new_id, pending_rows, threshold_data,
    },
    writer::{Queued, Writer},
};

/// Advisory lock key of these migrations (distinct from the main store's and the audit log's).
const MIGRATION_LOCK: i64 = 0x5c0_3e7e;
/// Advisory lock key of the fold: one replica folds at a time, the others skip their turn.
const FOLD_LOCK: i64 = 0x5c0_f01d;
/// How long a stopping replica waits for another's fold before its last one.
const FOLD_WAIT: std::time::Duration = std::time::Duration::from_secs(5);

const POOL: usize = 4;

const MIGRATIONS: &[&str] = &[
    "

CREATE TABLE usage_events (
    tenant  TEXT NOT NULL,
    idem_id TEXT NOT NULL,
    key_id  TEXT NOT NULL,
    meter   TEXT NOT NULL,
    units   BIGINT NOT NULL,
    ts_ms   BIGINT NOT NULL,
    PRIMARY KEY (tenant, idem_id)
);
CREATE TABLE usage_rollups (
    tenant    TEXT NOT NULL,
    gran      TEXT NOT NULL,
    bucket_ms BIGINT NOT NULL,
    key_id    TEXT NOT NULL,
    meter     TEXT NOT NULL,
    units     BIGINT NOT NULL,
    PRIMARY KEY (tenant, gran, bucket_ms, key_id, meter)
);
CREATE TABLE usage_counters (
    tenant    TEXT NOT NULL,
    meter     TEXT NOT NULL,
    period_ms BIGINT NOT NULL,
    units     BIGINT NOT NULL,
    PRIMARY KEY (tenant, meter, period_ms)
);
CREATE TABLE usage_thresholds (
    tenant    TEXT NOT NULL,
    meter     TEXT NOT NULL,
    period_ms BIGINT NOT NULL,
    threshold BIGINT NOT NULL,
    ts_ms     BIGINT NOT NULL,
    PRIMARY KEY (tenant, meter, period_ms, threshold)
);
CREATE TABLE webhook_endpoints (
    id              TEXT PRIMARY KEY,
    tenant          TEXT NOT NULL,
    url             TEXT NOT NULL,
    events          TEXT NOT NULL,
    description     TEXT,
    secret          BYTEA NOT NULL,
    created_ms      BIGINT NOT NULL,
    disabled_ms     BIGINT,
    disabled_reason TEXT,
    failing_since_ms BIGINT
);
CREATE INDEX webhook_endpoints_tenant ON webhook_endpoints (tenant, created_ms);
CREATE TABLE webhook_messages (
    id         TEXT PRIMARY KEY,
    tenant     TEXT NOT NULL,
    event_type TEXT NOT NULL,
    payload    TEXT NOT NULL,
    created_ms BIGINT NOT NULL
);
CREATE TABLE webhook_deliveries (
    seq             BIGSERIAL PRIMARY KEY,
    id              TEXT NOT NULL UNIQUE,
    tenant          TEXT NOT NULL,
    endpoint_id     TEXT NOT NULL,
    message_id      TEXT NOT NULL,
    state           TEXT NOT NULL,
    attempts        BIGINT NOT NULL DEFAULT 0,
    next_attempt_ms BIGINT NOT NULL,
    lease_until_ms  BIGINT NOT NULL DEFAULT 0,
    created_ms      BIGINT NOT NULL
);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (state, next_attempt_ms);
CREATE INDEX webhook_deliveries_endpoint ON webhook_deliveries (endpoint_id, seq);
CREATE TABLE webhook_attempts (
    seq         BIGSERIAL PRIMARY KEY,
    delivery_id TEXT NOT NULL,
    attempt     BIGINT NOT NULL,
    ts_ms       BIGINT NOT NULL,
    status      BIGINT,
    latency_ms  BIGINT NOT NULL,
    error       TEXT,
    response    TEXT
);
CREATE INDEX webhook_attempts_delivery ON webhook_attempts (delivery_id, seq);
",
    pg_leases::MIGRATION,
    // Events not yet folded into the rollups (see `usage.rs`): appended by reservations and
    // refunds, folded and deleted by one replica's folder at a time. No index: it holds about
    // a second of usage, and every read of it (the fold, a usage query) reads it whole; the
    // dead rows the folds leave are vacuumed after a few thousand rather than a fifth of
    // the table.
    "
CREATE TABLE usage_pending (
    tenant   TEXT NOT NULL,
    key_id   TEXT NOT NULL,
    meter    TEXT NOT NULL,
    units    BIGINT NOT NULL,
    hour_ms  BIGINT NOT NULL,
    day_ms   BIGINT NOT NULL,
    month_ms BIGINT NOT NULL
) WITH (autovacuum_vacuum_scale_factor = 0, autovacuum_vacuum_threshold = 5000);
",
    // The guard of the one-statement batch (`reserve_unchecked`), which commits on its own
    // (no BEGIN and COMMIT round trips): it fails the statement, and so undoes all of it, when
    // an event was already stored (a retry: the sums the statement was given are wrong), when
    // a lease drawn from has ended or run short, or when the batch crosses a usage threshold
    // (whose webhook must be queued in the same transaction). Each with a SQLSTATE of its own.
    "
CREATE FUNCTION metering_batch_guard(all_new BOOLEAN, leases_ok BOOLEAN, crossed BOOLEAN) RETURNS BIGINT
LANGUAGE plpgsql AS $$
BEGIN
    IF NOT all_new THEN
        RAISE EXCEPTION 'an event of this batch is already stored' USING ERRCODE = 'SM001';
    END IF;
    IF NOT leases_ok THEN
        RAISE EXCEPTION 'a quota lease this batch draws from has ended or run short' USING ERRCODE = 'SM002';
    END IF;
    IF crossed THEN
        RAISE EXCEPTION 'this batch crosses a usage threshold' USING ERRCODE = 'SM003';
    END IF;
    RETURN 0;
END $$;
",
    // The usage inbox: events of admitted calls, written with their audit entries and
    // applied in batches (see `pg_inbox`).
    pg_inbox::MIGRATION,
];

/// SQLSTATEs of `metering_batch_guard`'s refusals: an event already stored, a lease ended or
/// short (the batch takes the checking path), a usage threshold crossed (the batch is taken
/// again in a transaction).
const GUARD_DUPLICATE: &str = "SM001";
const GUARD_LEASE_SHORT: &str = "SM002";
const GUARD_THRESHOLD_CROSSED: &str = "SM003";

/// A reservation as the PostgreSQL writer applies it.
#[derive(Debug)]
struct Booked {
    r: Reservation,
    /// Admitted against this replica's leases: its limited units come out of them.
    leased: bool,
}

/// The PostgreSQL metering store.
pub struct PgUsage {
    pool: Option<Arc<Vec<Mutex<Client>>>>,
    next: AtomicUsize,
    /// Reservations, group-committed on a connection of their own ([`reserve_batch`]).
    writer: Option<Writer<Booked, RecordOutcome>>,
    /// This replica's quota leases.
    leases: Arc<Leases>,
    /// Grants of leases, on a connection of their own.
    granter: Option<Writer<Grant, GrantResult>>,
    /// Folds the pending rows into the rollups, on a pooled connection (and drains the
    /// inbox rows of replicas that died).
    folder: Option<Periodic>,
    /// Applies this replica's usage inbox rows.
    drainer: Option<Drainer>,
    /// The number of this replica's next inbox row.
    inbox_n: AtomicI64,
}

/// How long the drainer waits, once woken, for more calls to land in the inbox: the longer,
/// the more calls each drain applies (nobody waits for it).
const DRAIN_LINGER: std::time::Duration = std::time::Duration::from_millis(50);

/// The thread that applies this replica's inbox rows ([`pg_inbox::drain`]) [`DRAIN_LINGER`]
/// after it is woken, and once more when it stops.
struct Drainer {
    wake: Option<mpsc::SyncSender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl Drainer {
    fn start(mut session: Session, holder: String) -> StoreResult<Self> {
        let (wake, woken) = mpsc::sync_channel::<()>(1);
        let thread = std::thread::Builder::new()
            .name("metering-drain".into())
            .spawn(move || {
                let Session { client, stmts } = &mut session;
                let mut run = || {
                    if let Err(e) = pg_inbox::drain(client, stmts, Drain::Holder(&holder)) {
                        // The rows stay: the next drain, or any replica's, applies them.
                        tracing::warn!(error = %e, "metering: the usage inbox could not be applied");
                    }
                };
                while woken.recv().is_ok() {
                    std::thread::sleep(DRAIN_LINGER);
                    while woken.try_recv().is_ok() {}
                    run();
                }
                run();
            })
            .map_err(|e| StoreError::Db(format!("starting the metering drain thread: {e}")))?;
        Ok(Drainer { wake: Some(wake), thread: Some(thread) })
    }

    fn wake(&self) {
        if let Some(w) = &self.wake {
            let _ = w.try_send(());
        }
    }
}

impl Drop for Drainer {
    fn drop(&mut self) {
        self.wake.take();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl std::fmt::Debug for PgUsage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgUsage").finish_non_exhaustive()
    }
}

impl Drop for PgUsage {
    fn drop(&mut self) {
        // Closing a blocking client blocks: never on an async worker.
        // In this order: the drainer applies this replica's inbox, the writers finish their
        // batches, the folder folds what they left pending, then the pool closes.
        let (drainer, writer, granter, folder, pool) =
            (self.drainer.take(), self.writer.take(), self.granter.take(), self.folder.take(), self.pool.take());
        let _ = std::thread::spawn(move || drop((drainer, writer, granter, folder, pool))).join();
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn to_i64(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

fn to_u64(v: i64) -> u64 {
    u64::try_from(v).unwrap_or(0)
}

fn meter_of(s: &str) -> StoreResult<Meter> {
    s.parse().map_err(|_| StoreError::Corrupt(format!("unknown meter `{s}`")))
}

/// Deadlocks and serialisation failures are retried (the lock order makes them unexpected).
pub(super) fn retryable(e: &postgres::Error) -> bool {
    e.code().is_some_and(|c| {
        *c == postgres::error::SqlState::T_R_DEADLOCK_DETECTED
            || *c == postgres::error::SqlState::T_R_SERIALIZATION_FAILURE
    })
}

impl PgUsage {
    /// Connects (a small pool) and applies the migrations.
    pub fn open(url: &str) -> StoreResult<Self> {
        let url = url.to_owned();
        // The blocking client must not be created on an async worker thread.
        std::thread::spawn(move || {
            let mut pool = Vec::new();
            for _ in 0..POOL {
                pool.push(Client::connect(&url, NoTls)?);
            }
            super::postgres::migrate(&mut pool[0], MIGRATION_LOCK, "metering_migrations", MIGRATIONS)?;
            // Reservations commit without waiting for the WAL flush: every metered request
            // then appends to the audit log with a synchronous commit before it is answered,
            // and PostgreSQL's WAL is flushed in order, so an answered request's reservation
            // is durable. One fsync wait fewer on the request's path (see metering.rs).
            let relaxed = || -> StoreResult<Session> {
                let mut client = Client::connect(&url, NoTls)?;
                client.batch_execute("SET synchronous_commit TO off")?;
                Ok(Session::new(client))
            };
            let leases = Leases::new(new_id("rep_")?);
            let mut session = relaxed()?;
            let written = Arc::clone(&leases);
            let writer = Writer::start("metering-writer", RESERVE_BATCH, move |jobs: &[Booked]| {
                let out = reserve_with_retry(&mut session, &written.holder, jobs);
                written.settled(jobs.iter().filter(|j| j.leased).map(|j| &j.r));
                out
            })?;
            // A grant lost with the database's last unflushed commits leaves a lease this
            // replica believes in and the database does not: its calls then take the
            // database's fallback check (see `reserve_batch`).
            let mut session = relaxed()?;
            let granted = Arc::clone(&leases);
            let granter = Writer::start("lease-granter", RESERVE_BATCH, move |grants: &[Grant]| {
                let mut grants = grants.to_vec();
                for g in &mut grants {
                    granted.outstanding(g);
                }
                let results = grant_with_retry(&mut session, &granted.holder, &grants);
                let outcomes: Vec<(Grant, Result<GrantResult, ()>)> = grants
                    .iter()
                    .zip(&results)
                    .map(|(g, r)| (g.clone(), r.as_ref().map(|v| *v).map_err(|_| ())))
                    .collect();
                granted.granted(&outcomes);
                results
            })?;
            let pool: Arc<Vec<Mutex<Client>>> = Arc::new(pool.into_iter().map(Mutex::new).collect());
            // On the pooled connections in turn (a broken one fails one turn, not every one).
            let folded = Arc::clone(&pool);
            let turn = AtomicUsize::new(0);
            let folder = folder(move |last| {
                let i = turn.fetch_add(1, Ordering::Relaxed) % folded.len();
                let mut client = lock(&folded[i]);
                // A replica that died leaves inbox rows: any replica applies them.
                if let Err(e) = pg_inbox::drain(
                    &mut client,
                    &mut Statements::default(),
                    Drain::OlderThan(pg_inbox::ORPHAN_AFTER_MS),
                ) {
                    tracing::warn!(error = %e, "metering: old usage inbox rows could not be applied");
                }
                fold(&mut client, last)
            })?;
            let drainer = Drainer::start(relaxed()?, leases.holder.clone())?;
            Ok(PgUsage {
                pool: Some(pool),
                next: AtomicUsize::new(0),
                writer: Some(writer),
                leases,
                granter: Some(granter),
                folder: Some(folder),
                drainer: Some(drainer),
                inbox_n: AtomicI64::new(0),
            })
        })
        .join()
        .map_err(|_| StoreError::Db("the connection thread panicked".into()))?
    }

    fn writer(&self) -> StoreResult<&Writer<Booked, RecordOutcome>> {
        self.writer.as_ref().ok_or_else(|| StoreError::Db("the metering writer stopped".into()))
    }

    /// Admits `r` against this replica's leases ([`Leases::take`]), asking for the grants it
    /// calls for: whether it was admitted against leases (`false`: it has no quota), `None`
    /// when it must wait for the exact check.
    fn take(&self, r: &Reservation) -> Option<bool> {
        let (leased, asks) = match self.leases.take(r) {
            Take::Unlimited => (false, Vec::new()),
            Take::Admitted(asks) => (true, asks),
            Take::Wait(asks) => {
                self.ask(asks);
                return None;
            }
        };
        self.ask(asks);
        Some(leased)
    }

    /// Queues grants of leases (answered to [`Leases::granted`], not to the caller); never
    /// blocks: a grant the full queue refuses is answered as failed.
    fn ask(&self, grants: Vec<Grant>) {
        let Some(g) = &self.granter else { return };
        for grant in grants {
            if let Err(grant) = g.try_queue(grant) {
                self.leases.granted(&[(grant, Err(()))]);
            }
        }
    }

    /// Applies every inbox row, so that what follows reads every call answered so far.
    fn drain_all(&self) -> StoreResult<()> {
        pg_inbox::drain(&mut self.conn(), &mut Statements::default(), Drain::All)?;
        Ok(())
    }

    fn conn(&self) -> std::sync::MutexGuard<'_, Client> {
        let pool = self.pool.as_deref().map(Vec::as_slice).unwrap_or_default();
        let i = self.next.fetch_add(1, Ordering::Relaxed) % pool.len().max(1);
        lock(&pool[i])
    }

    /// Runs `f` in a transaction and commits; retried on deadlocks and serialisation failures.
    fn with_tx<T>(&self, mut f: impl FnMut(&mut Transaction<'_>) -> Result<T, postgres::Error>) -> StoreResult<T> {
        let mut conn = self.conn();
        let mut tries = 0;
        loop {
            let mut tx = conn.transaction()?;
            let result = f(&mut tx).and_then(|v| tx.commit().map(|()| v));
            match result {
                Ok(v) => return Ok(v),
                Err(e) if retryable(&e) && tries < 5 => tries += 1,
                Err(e) => return Err(e.into()),
            }
        }
    }
}

fn enqueue_tx(
    tx: &mut Transaction<'_>,
    tenant: Option<&str>,
    event: EventType,
    data: &serde_json::Value,
    now_ms: i64,
) -> Result<Vec<String>, postgres::Error> {
    let rows = tx.query(
        "SELECT id, tenant, events FROM webhook_endpoints
         WHERE disabled_ms IS NULL AND ($1::TEXT IS NULL OR tenant = $1) ORDER BY tenant, created_ms",
        &[&tenant],
    )?;
    let mut by_tenant: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for r in rows {
        if events_parse(r.get::<_, &str>(2)).contains(&event) {
            by_tenant.entry(r.get(1)).or_default().push(r.get(0));
        }
    }
    let mut ids = Vec::new();
    for (t, endpoint_ids) in by_tenant {
        let msg_id = new_id("msg_").unwrap_or_else(|_| format!("msg_{now_ms}"));
        tx.execute(
            "INSERT INTO webhook_messages (id, tenant, event_type, payload, created_ms) VALUES ($1, $2, $3, $4, $5)",
            &[&msg_id, &t, &event.as_str(), &message_body(event, &t, data, now_ms), &now_ms],
        )?;
        for ep in endpoint_ids {
            let dlv = new_id("dlv_").unwrap_or_else(|_| format!("dlv_{now_ms}_{ep}"));
            tx.execute(
                "INSERT INTO webhook_deliveries (id, tenant, endpoint_id, message_id, state, next_attempt_ms, created_ms)
                 VALUES ($1, $2, $3, $4, 'pending', $5, $5)",
                &[&dlv, &t, &ep, &msg_id, &now_ms],
            )?;
        }
        ids.push(msg_id);
    }
    Ok(ids)
}

const ENDPOINT_COLS: &str = "id, tenant, url, events, description, secret, created_ms, disabled_ms, disabled_reason";

fn endpoint_row(r: &postgres::Row) -> EndpointRecord {
    EndpointRecord {
        id: r.get(0),
        tenant: r.get(1),
        url: r.get(2),
        events: events_parse(r.get::<_, &str>(3)),
        description: r.get(4),
        secret: r.get(5),
        created_ms: r.get(6),
        disabled_ms: r.get(7),
        disabled_reason: r.get(8),
    }
}

fn state_of(s: &str) -> DeliveryState {
    match s {
        "delivered" => DeliveryState::Delivered,
        "failed" => DeliveryState::Failed,
        _ => DeliveryState::Pending,
    }
}

/// Reservations committed together at most.
const RESERVE_BATCH: usize = 128;

/// Grants a batch of leases (see [`pg_leases::grant_batch`]), retrying deadlocks and
/// serialisation failures; one result per request.
fn grant_with_retry(session: &mut Session, holder: &str, grants: &[Grant]) -> Vec<StoreResult<GrantResult>> {
    let Session { client, stmts } = session;
    // The counters must exist to be locked (a new tenant, meter or month).
    let keys: Vec<CounterKey> =
        grants.iter().map(|g| g.key.clone()).collect::<std::collections::BTreeSet<_>>().into_iter().collect();
    let mut tries = 0;
    loop {
        let r = create_counters(client, stmts, &keys).and_then(|()| client.transaction()).and_then(|mut tx| {
            let v = pg_leases::grant_batch(&mut tx, stmts, holder, grants)?;
            tx.commit().map(|()| v)
        });
        match r {
            Err(e) if retryable(&e) && tries < 5 => tries += 1,
            Ok(v) => return v.into_iter().map(Ok).collect(),
            Err(e) => {
                tracing::warn!(error = %e, "metering: a quota lease could not be granted");
                return grants.iter().map(|_| Err(StoreError::Db(format!("lease: {e}")))).collect();
            }
        }
    }
}

/// Commits a batch of reservations (see [`reserve_batch`]), retrying deadlocks and
/// serialisation failures; one outcome per reservation.
fn reserve_with_retry(session: &mut Session, holder: &str, jobs: &[Booked]) -> Vec<StoreResult<RecordOutcome>> {
    let Session { client, stmts } = session;
    // A batch holds each (tenant, idempotency id) once: a repeat waits for a later round,
    // so it sees the first one's outcome as a sequence of single calls would.
    let mut rounds: Vec<Vec<usize>> = Vec::new();
    let mut seen: Vec<std::collections::HashSet<(&str, &str)>> = Vec::new();
    for (i, job) in jobs.iter().enumerate() {
        let ids: Vec<(&str, &str)> = job.r.events.iter().map(|e| (e.tenant.as_str(), e.idem_id.as_str())).collect();
        let r = seen.iter().position(|s| ids.iter().all(|id| !s.contains(id))).unwrap_or(seen.len());
        if r == seen.len() {
            seen.push(Default::default());
            rounds.push(Vec::new());
        }
        seen[r].extend(ids);
        rounds[r].push(i);
    }
    let mut out: Vec<Option<StoreResult<RecordOutcome>>> = jobs.iter().map(|_| None).collect();
    for round in rounds {
        let batch: Vec<&Booked> = round.iter().map(|&i| &jobs[i]).collect();
        let mut tries = 0;
        let result = loop {
            let unchecked = needs_no_check(&batch).then(|| unchecked_batch(client, stmts, holder, &batch));
            let r = match unchecked {
                Some(Ok(Some(v))) => Ok(v),
                Some(Err(e)) => Err(e),
                None | Some(Ok(None)) => loop {
                    let checked =
                        client.transaction().and_then(|mut tx| match reserve_batch(&mut tx, stmts, holder, &batch)? {
                            Checked::Done(v) => tx.commit().map(|()| Checked::Done(v)),
                            // Nothing of it may stay (its events were inserted): dropping `tx`
                            // rolls it back.
                            missing => Ok(missing),
                        });
                    match checked {
                        Ok(Checked::Done(v)) => break Ok(v),
                        Ok(Checked::Missing(keys)) => {
                            if let Err(e) = create_counters(client, stmts, &keys) {
                                break Err(e);
                            }
                        }
                        Err(e) => break Err(e),
                    }
                },
            };
            match r {
                Err(e) if retryable(&e) && tries < 5 => tries += 1,
                r => break r,
            }
        };
        match result {
            Ok(outcomes) => {
                for (&i, o) in round.iter().zip(outcomes) {
                    out[i] = Some(Ok(o));
                }
            }
            Err(e) => {
                let why = StoreError::from(e);
                for &i in &round {
                    out[i] = Some(Err(StoreError::Db(format!("metering: {why}"))));
                }
            }
        }
    }
    out.into_iter().map(|o| o.unwrap_or_else(|| Err(StoreError::Db("metering: no outcome".into())))).collect()
}

/// Events as the column arrays of `UNNEST($1::text[], $2::text[], $3::text[], $4::text[],
/// $5::int8[], $6::int8[])`: tenant, idempotency id, key, meter, units, time.
#[derive(Debug, Default)]
struct EventColumns<'a> {
    tenants: Vec<&'a str>,
    idem_ids: Vec<&'a str>,
    key_ids: Vec<&'a str>,
    meters: Vec<&'static str>,
    units: Vec<i64>,
    ts_ms: Vec<i64>,
}

impl<'a> EventColumns<'a> {
    fn new(events: impl IntoIterator<Item = &'a UsageEvent>) -> Self {
        let mut c = EventColumns::default();
        for e in events {
            c.tenants.push(&e.tenant);
            c.idem_ids.push(&e.idem_id);
            c.key_ids.push(&e.key_id);
            c.meters.push(e.meter.as_str());
            c.units.push(to_i64(e.units));
            c.ts_ms.push(e.ts_ms);
        }
        c
    }
}

/// Inserts events (in the order given: the order every writer locks them in), skipping those
/// already stored; returns the (tenant, idempotency id) of those inserted.
pub(super) fn insert_events<'a>(
    tx: &mut Transaction<'_>,
    stmts: &mut Statements,
    events: impl IntoIterator<Item = &'a UsageEvent>,
) -> Result<std::collections::HashSet<(String, String)>, postgres::Error> {
    let c = EventColumns::new(events);
    let st = stmts.get(
        tx,
        "INSERT INTO usage_events (tenant, idem_id, key_id, meter, units, ts_ms)
         SELECT * FROM UNNEST($1::text[], $2::text[], $3::text[], $4::text[], $5::int8[], $6::int8[])
         ON CONFLICT (tenant, idem_id) DO NOTHING RETURNING tenant, idem_id",
    )?;
    let inserted = tx.query(&st, &[&c.tenants, &c.idem_ids, &c.key_ids, &c.meters, &c.units, &c.ts_ms])?;
    Ok(inserted.iter().map(|r| (r.get(0), r.get(1))).collect())
}

/// Pending rows as the column arrays of `UNNEST($1::text[], $2::text[], $3::text[],
/// $4::int8[], $5::int8[], $6::int8[], $7::int8[])`: tenant, key, meter, units, hour, day,
/// month.
#[derive(Debug, Default)]
pub(super) struct PendingColumns<'a> {
    tenants: Vec<&'a str>,
    key_ids: Vec<&'a str>,
    meters: Vec<&'static str>,
    units: Vec<i64>,
    hours: Vec<i64>,
    days: Vec<i64>,
    months: Vec<i64>,
}

impl<'a> PendingColumns<'a> {
    /// The seven columns as statement parameters, in the order of `usage_pending`'s columns.
    pub(super) fn params(&self) -> [&(dyn ToSql + Sync); 7] {
        [&self.tenants, &self.key_ids, &self.meters, &self.units, &self.hours, &self.days, &self.months]
    }

    pub(super) fn new(rows: &'a [PendingRow]) -> Self {
        let mut c = PendingColumns::default();
        for r in rows {
            c.tenants.push(&r.tenant);
            c.key_ids.push(&r.key_id);
            c.meters.push(r.meter.as_str());
            c.units.push(r.units);
            c.hours.push(r.hour_ms);
            c.days.push(r.day_ms);
            c.months.push(r.month_ms);
        }
        c
    }
}

/// Applies a batch of reservations, as if one after another, in a handful of statements:
/// the events are inserted together (duplicates skipped), the tenants' monthly counters
/// are locked once, in order, and checked in memory call by call (a call that would go over
/// a quota keeps nothing: its new events are deleted again), then the counters, pending
/// rollup rows and threshold crossings of the accepted calls are written together. The
/// counter rows stay locked for one batch, not once per request.
///
/// Quota leases ([`pg_leases`]): a leased call's limited units move from this replica's live
/// lease to the counter, unchecked (the grant checked them). Any other call — or a leased
/// one whose lease is no longer live, the fallback — must fit beside every live lease; one
/// that would fit the counter alone is answered `Contended`, for the middleware to retry.
fn reserve_batch(
    tx: &mut Transaction<'_>,
    stmts: &mut Statements,
    holder: &str,
    jobs: &[&Booked],
) -> Result<Checked, postgres::Error> {
    // Events, in (tenant, idempotency id) order so concurrent batches lock them alike.
    let mut all: Vec<&UsageEvent> = jobs.iter().flat_map(|j| j.r.events.iter()).filter(|e| e.units > 0).collect();
    all.sort_by(|a, b| (&a.tenant, &a.idem_id).cmp(&(&b.tenant, &b.idem_id)));
    let new = insert_events(tx, stmts, all.iter().copied())?;
    let is_new = |e: &UsageEvent| new.contains(&(e.tenant.clone(), e.idem_id.clone()));

    // The counters the new events touch, locked in order. Those missing (a new tenant, meter
    // or month) are created first, committed apart, and the batch starts again: creating
    // them here would lock them out of order.
    let keys: std::collections::BTreeSet<CounterKey> = all
        .iter()
        .filter(|e| is_new(e))
        .map(|e| (e.tenant.clone(), e.meter, Period::containing(e.ts_ms).start_ms()))
        .collect();
    let mut counters: BTreeMap<CounterKey, i64> = BTreeMap::new();
    if !keys.is_empty() {
        counters = pg_leases::lock_counters(tx, stmts, keys.iter())?;
        let missing: Vec<CounterKey> = keys.iter().filter(|k| !counters.contains_key(*k)).cloned().collect();
        if !missing.is_empty() {
            return Ok(Checked::Missing(missing));
        }
    }
    let before = counters.clone();

    // The live leases of the limited counters (with the counters locked they cannot change):
    // this replica's, and the others' with the soonest end.
    let limited: Vec<&CounterKey> = keys
        .iter()
        .filter(|k| {
            jobs.iter()
                .any(|j| j.r.events.iter().any(|e| e.tenant == k.0 && e.meter == k.1) && j.r.quota(k.1).is_some())
        })
        .collect();
    let mut own: BTreeMap<CounterKey, i64> = BTreeMap::new();
    let mut others: BTreeMap<CounterKey, (i64, i64)> = BTreeMap::new();
    if !limited.is_empty() {
        let st = stmts.get(
            tx,
            &format!(
                "SELECT l.tenant, l.meter, l.period_ms, l.holder = $4, l.units, l.expires_ms - now.ms
                 FROM usage_leases l CROSS JOIN (SELECT {DB_NOW_MS} AS ms) now
                 JOIN UNNEST($1::text[], $2::text[], $3::int8[]) AS u(t, m, p)
                   ON l.tenant = u.t AND l.meter = u.m AND l.period_ms = u.p
                 WHERE l.expires_ms > now.ms"
            ),
        )?;
        let c = KeyColumns::keys(limited.iter().copied());
        let rows = tx.query(&st, &[&c.tenants, &c.meters, &c.periods, &holder])?;
        for r in rows {
            let Ok(m) = r.get::<_, &str>(1).parse::<Meter>() else { continue };
            let key = (r.get(0), m, r.get(2));
            if r.get::<_, bool>(3) {
                own.insert(key, r.get(4));
            } else {
                let slot = others.entry(key).or_insert((0, i64::MAX));
                slot.0 = slot.0.saturating_add(r.get::<_, i64>(4));
                slot.1 = slot.1.min(r.get(5));
            }
        }
        // Inbox rows outside every live lease count as used until a drain moves them into
        // the counter (within a moment: look again soon).
        for (key, units) in pg_inbox::inbox_units(tx, stmts, holder, limited.iter().copied())?.outside {
            let slot = others.entry(key).or_insert((0, i64::MAX));
            slot.0 = slot.0.saturating_add(to_i64(units));
            slot.1 = slot.1.min(100);
        }
    }
    let own_before = own.clone();

    // Each call in turn, against the running counters and leases.
    let mut outcomes = Vec::with_capacity(jobs.len());
    let mut accepted: Vec<&UsageEvent> = Vec::new();
    let mut rejected: Vec<&UsageEvent> = Vec::new();
    let mut crossed = Vec::new();
    for job in jobs {
        let mut running = counters.clone();
        let mut lease = own.clone();
        let mut counted = Vec::new();
        let mut duplicates = 0;
        let mut mine = Vec::new();
        let mut over = None;
        for e in lock_order(&job.r.events) {
            if !is_new(e) {
                duplicates += 1;
                continue;
            }
            let period = Period::containing(e.ts_ms);
            let key = (e.tenant.clone(), e.meter, period.start_ms());
            let slot = running.entry(key.clone()).or_insert(0);
            let q = job.r.quota(e.meter);
            let own_units = to_u64(lease.get(&key).copied().unwrap_or(0));
            match q {
                // Admitted against this replica's live lease, which holds the units.
                Some(_) if job.leased && own_units >= e.units => {
                    if let Some(units) = lease.get_mut(&key) {
                        *units -= to_i64(e.units);
                    }
                }
                Some(q) => {
                    let (theirs, soonest) = others.get(&key).copied().unwrap_or((0, i64::MAX));
                    let leased = to_u64(theirs).saturating_add(own_units);
                    let used = to_u64(*slot);
                    if used.saturating_add(leased).saturating_add(e.units) > q {
                        over = Some(if used.saturating_add(e.units) <= q {
                            // It fits what is used: wait for the leases to be used or to end
                            // (this replica's own lease is being used by its calls in flight:
                            // look again soon). A leased call whose lease ran out lands here
                            // too: one that already ran is answered 500 either way, and a
                            // contended call retried against a lease is tried again.
                            let own_end = if own_units > 0 { 100 } else { i64::MAX };
                            let retry = soonest.min(own_end).clamp(10, 500);
                            RecordOutcome::Contended {
                                meter: e.meter,
                                quota: q,
                                used,
                                period,
                                retry_after_ms: to_u64(retry),
                            }
                        } else {
                            RecordOutcome::QuotaExceeded { meter: e.meter, quota: q, used, period }
                        });
                        break;
                    }
                }
                None => {}
            }
            let was = to_u64(*slot);
            *slot = slot.saturating_add(to_i64(e.units));
            for t in crossings(q, was, to_u64(*slot)) {
                mine.push((e.tenant.clone(), e.meter, t, q.unwrap_or(0), to_u64(*slot), period, e.ts_ms));
            }
            counted.push(e.idem_id.clone());
        }
        match over {
            Some(o) => {
                rejected.extend(job.r.events.iter().filter(|e| e.units > 0 && is_new(e)));
                outcomes.push(o);
            }
            None => {
                counters = running;
                own = lease;
                accepted.extend(job.r.events.iter().filter(|e| e.units > 0 && is_new(e)));
                crossed.extend(mine);
                outcomes.push(RecordOutcome::Recorded { counted, duplicates });
            }
        }
    }

    if !rejected.is_empty() {
        tx.execute_typed(
            "DELETE FROM usage_events e USING UNNEST($1::text[], $2::text[]) AS u(t, i)
             WHERE e.tenant = u.t AND e.idem_id = u.i",
            &[
                (&rejected.iter().map(|e| e.tenant.as_str()).collect::<Vec<_>>(), Type::TEXT_ARRAY),
                (&rejected.iter().map(|e| e.idem_id.as_str()).collect::<Vec<_>>(), Type::TEXT_ARRAY),
            ],
        )?;
    }
    // The lease rows drawn from, the counters and the batch's pending rows (for the rollups),
    // in one statement. The counter rows are locked already, lease rows only change under
    // their counter's lock, and pending rows are only appended, so the order in which the
    // parts run cannot deadlock.
    let drawn = KeyColumns::new(own.iter().filter(|(k, v)| own_before.get(*k) != Some(*v)).map(|(k, v)| (k, *v)));
    let changed = KeyColumns::new(counters.iter().filter(|(k, v)| before.get(*k) != Some(*v)).map(|(k, v)| (k, *v)));
    let pending = pending_rows(accepted, 1);
    let rows = PendingColumns::new(&pending);
    if !drawn.values.is_empty() || !changed.values.is_empty() || !rows.units.is_empty() {
        let st = stmts.get(
            tx,
            "WITH leases AS (
                UPDATE usage_leases l SET units = u.n
                FROM UNNEST($1::text[], $2::text[], $3::int8[], $4::int8[]) AS u(t, m, p, n)
                WHERE l.tenant = u.t AND l.meter = u.m AND l.period_ms = u.p AND l.holder = $5
             ), counters AS (
                UPDATE usage_counters c SET units = u.n
                FROM UNNEST($6::text[], $7::text[], $8::int8[], $9::int8[]) AS u(t, m, p, n)
                WHERE c.tenant = u.t AND c.meter = u.m AND c.period_ms = u.p
             )
             INSERT INTO usage_pending (tenant, key_id, meter, units, hour_ms, day_ms, month_ms)
             SELECT * FROM UNNEST($10::text[], $11::text[], $12::text[], $13::int8[], $14::int8[], $15::int8[],
                                  $16::int8[])",
        )?;
        let head: [&(dyn ToSql + Sync); 9] = [
            &drawn.tenants,
            &drawn.meters,
            &drawn.periods,
            &drawn.values,
            &holder,
            &changed.tenants,
            &changed.meters,
            &changed.periods,
            &changed.values,
        ];
        tx.execute(&st, &[head.as_slice(), &rows.params()].concat())?;
    }
    record_crossings(tx, crossed)?;
    Ok(Checked::Done(outcomes))
}

/// What [`reserve_batch`] did.
enum Checked {
    /// One outcome per call.
    Done(Vec<RecordOutcome>),
    /// Nothing: these counters must be created first.
    Missing(Vec<CounterKey>),
}

/// Creates counter rows (zero) in a transaction of their own, in the order every path locks
/// them.
pub(super) fn create_counters(
    client: &mut Client,
    stmts: &mut Statements,
    keys: &[CounterKey],
) -> Result<(), postgres::Error> {
    let st = stmts.get(
        client,
        "INSERT INTO usage_counters (tenant, meter, period_ms, units)
         SELECT t, m, p, 0 FROM UNNEST($1::text[], $2::text[], $3::int8[]) AS u(t, m, p)
         ORDER BY t COLLATE \"C\", m COLLATE \"C\", p
         ON CONFLICT (tenant, meter, period_ms) DO NOTHING",
    )?;
    let c = KeyColumns::keys(keys);
    client.execute(&st, &[&c.tenants, &c.meters, &c.periods])?;
    Ok(())
}

/// A threshold crossed: tenant, meter, threshold, quota, units after, month, when.
pub(super) type Crossing = (String, Meter, u8, u64, u64, Period, i64);

/// Records threshold crossings (once per tenant, meter, month and threshold) with their
/// `usage.threshold_reached` messages, in the reservation's transaction.
pub(super) fn record_crossings(tx: &mut Transaction<'_>, crossed: Vec<Crossing>) -> Result<(), postgres::Error> {
    for (tenant, meter, t, q, used, period, ts) in crossed {
        let new = tx.execute(
            "INSERT INTO usage_thresholds (tenant, meter, period_ms, threshold, ts_ms) VALUES ($1, $2, $3, $4, $5)
             ON CONFLICT DO NOTHING",
            &[&tenant, &meter.as_str(), &period.start_ms(), &i64::from(t), &ts],
        )?;
        if new == 1 {
            enqueue_tx(
                tx,
                Some(&tenant),
                EventType::UsageThresholdReached,
                &threshold_data(meter, t, q, used, period),
                ts,
            )?;
        }
    }
    Ok(())
}

/// Whether [`reserve_unchecked`] may take the batch: no call in it needs a check (each was
/// admitted against this replica's leases, or none of its meters has a quota).
fn needs_no_check(jobs: &[&Booked]) -> bool {
    jobs.iter().all(|j| j.leased || j.r.limited().next().is_none())
}

/// What [`reserve_unchecked`] did: one outcome per call, and the thresholds crossed.
type Unchecked = (Vec<RecordOutcome>, Vec<Crossing>);

/// How [`reserve_unchecked`]'s statement commits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Commit {
    /// On its own, as one round trip (no BEGIN and COMMIT): the statement fails, and so keeps
    /// nothing, when the batch crosses a usage threshold.
    Alone,
    /// In the caller's transaction, which records the threshold crossings and commits.
    InTransaction,
}

/// A batch of which no call needs a check ([`needs_no_check`]): [`reserve_unchecked`]
/// committing on its own, in one round trip. A batch that crosses a usage threshold (rare: a
/// counter passing 80 % or 100 % of its quota) is taken again in a transaction that queues the
/// crossings' webhook messages with it. `None`: an event was already stored, or a lease ended or ran
/// short; nothing was kept, and the caller takes [`reserve_batch`].
fn unchecked_batch(
    client: &mut Client,
    stmts: &mut Statements,
    holder: &str,
    jobs: &[&Booked],
) -> Result<Option<Vec<RecordOutcome>>, postgres::Error> {
    match reserve_unchecked(client, stmts, holder, jobs, Commit::Alone) {
        Ok(Some((outcomes, crossed))) => {
            // Crossings here mean the statement's guard and `crossings` disagree (a bug, which
            // fails the tests).
            debug_assert!(crossed.is_empty(), "threshold crossings missed by the batch guard: {crossed:?}");
            if !crossed.is_empty() {
                // The batch is committed, so its outcomes stand whatever happens next; the
                // messages are still queued, in a transaction apart.
                tracing::error!(count = crossed.len(), "metering: threshold crossings missed by the batch guard");
                let queued = client.transaction().and_then(|mut tx| {
                    record_crossings(&mut tx, crossed)?;
                    tx.commit()
                });
                if let Err(e) = queued {
                    tracing::error!(error = %e, "metering: could not record threshold crossings");
                }
            }
            Ok(Some(outcomes))
        }
        Err(e) if e.code().is_some_and(|c| c.code() == GUARD_THRESHOLD_CROSSED) => {
            let mut tx = client.transaction()?;
            match reserve_unchecked(&mut tx, stmts, holder, jobs, Commit::InTransaction)? {
                Some((outcomes, crossed)) => {
                    record_crossings(&mut tx, crossed)?;
                    tx.commit()?;
                    Ok(Some(outcomes))
                }
                // Dropping `tx` rolls it back.
                None => Ok(None),
            }
        }
        other => other.map(|v| v.map(|(outcomes, _)| outcomes)),
    }
}

/// A batch of which no call needs a check ([`needs_no_check`]), in one statement whose parts
/// are summed here, assuming every event is new (a retried one is rare): the events are
/// inserted, then the counters are added to (locked in order), the units of leased calls are
/// drawn from this replica's leases, and the events are appended to the pending rows (for the
/// rollups). Its guard (`metering_batch_guard`) fails the statement — `None`, and the caller
/// takes [`reserve_batch`], which checks those calls — when an event was already stored or a
/// lease was no longer live or short, and, committing [`Commit::Alone`], when a threshold is
/// crossed. Returns the outcomes and the threshold crossings, for the caller to record in the
/// same transaction.
fn reserve_unchecked(
    client: &mut impl GenericClient,
    stmts: &mut Statements,
    holder: &str,
    jobs: &[&Booked],
    commit: Commit,
) -> Result<Option<Unchecked>, postgres::Error> {
    // Events in (tenant, idempotency id) order, so concurrent batches lock them alike.
    let mut all: Vec<&UsageEvent> = jobs.iter().flat_map(|j| j.r.events.iter()).filter(|e| e.units > 0).collect();
    all.sort_by(|a, b| (&a.tenant, &a.idem_id).cmp(&(&b.tenant, &b.idem_id)));
    let events = EventColumns::new(all.iter().copied());
    // Per counter: units added, units drawn from this replica's lease, the quota and the
    // latest event's time.
    let mut sums: BTreeMap<CounterKey, (u64, u64, Option<u64>, i64)> = BTreeMap::new();
    for job in jobs {
        for e in job.r.events.iter().filter(|e| e.units > 0) {
            let q = job.r.quota(e.meter);
            let key = (e.tenant.clone(), e.meter, Period::containing(e.ts_ms).start_ms());
            let slot = sums.entry(key).or_insert((0, 0, q, e.ts_ms));
            slot.0 = slot.0.saturating_add(e.units);
            if job.leased && q.is_some() {
                slot.1 = slot.1.saturating_add(e.units);
            }
            slot.3 = slot.3.max(e.ts_ms);
        }
    }
    let added = KeyColumns::new(sums.iter().map(|(k, v)| (k, to_i64(v.0))));
    let drawn = KeyColumns::new(sums.iter().filter(|(_, v)| v.1 > 0).map(|(k, v)| (k, to_i64(v.1))));
    // Each counter's threshold levels (see `threshold_levels`), with the units it gains.
    let levels: Vec<(&CounterKey, u64, u64)> = sums
        .iter()
        .flat_map(|(k, v)| threshold_levels(v.2.unwrap_or(0)).into_iter().map(move |(_, level)| (k, v.0, level)))
        .collect();
    let lv = KeyColumns::new(levels.iter().map(|(k, n, _)| (*k, to_i64(*n))));
    let lv_levels: Vec<i64> = levels.iter().map(|(_, _, level)| to_i64(*level)).collect();
    let pending = pending_rows(all.iter().copied(), 1);
    let rows = PendingColumns::new(&pending);
    // Counters are locked in the order every path locks them, after the events, and only
    // when every event is new (a retried call fails the guard without taking any lock beyond
    // its own events'); the guard's row is always there, whatever `c` returns.
    let st = stmts.get(
        client,
        &format!(
            "WITH ins AS (
                INSERT INTO usage_events (tenant, idem_id, key_id, meter, units, ts_ms)
                SELECT * FROM UNNEST($1::text[], $2::text[], $3::text[], $4::text[], $5::int8[], $6::int8[])
                ON CONFLICT (tenant, idem_id) DO NOTHING RETURNING 1
             ), inserted AS (
                SELECT COUNT(*) AS n FROM ins
             ), c AS (
                INSERT INTO usage_counters (tenant, meter, period_ms, units)
                SELECT u.t, u.m, u.p, u.n FROM UNNEST($7::text[], $8::text[], $9::int8[], $10::int8[]) AS u(t, m, p, n),
                     inserted
                WHERE inserted.n = $23
                ORDER BY u.t COLLATE \"C\", u.m COLLATE \"C\", u.p
                ON CONFLICT (tenant, meter, period_ms) DO UPDATE SET units = usage_counters.units + excluded.units
                RETURNING tenant, meter, period_ms, units
             ), locked AS (
                SELECT COUNT(*) AS n FROM c
             ), l AS (
                UPDATE usage_leases l SET units = l.units - u.n
                FROM UNNEST($11::text[], $12::text[], $13::int8[], $14::int8[]) AS u(t, m, p, n), locked
                WHERE l.tenant = u.t AND l.meter = u.m AND l.period_ms = u.p AND l.holder = $15
                  AND l.expires_ms > {DB_NOW_MS} AND l.units >= u.n AND locked.n > 0
                RETURNING 1
             ), r AS (
                INSERT INTO usage_pending (tenant, key_id, meter, units, hour_ms, day_ms, month_ms)
                SELECT * FROM UNNEST($16::text[], $17::text[], $18::text[], $19::int8[], $20::int8[], $21::int8[],
                                     $22::int8[])
             )
             SELECT tenant, meter, period_ms, units FROM c
             UNION ALL SELECT NULL, NULL, NULL, metering_batch_guard(
                (SELECT n FROM inserted) = $23,
                (SELECT COUNT(*) FROM l) = $24,
                $25 AND EXISTS (
                    SELECT 1 FROM c AS x
                    JOIN UNNEST($26::text[], $27::text[], $28::int8[], $29::int8[], $30::int8[]) AS v(t, m, p, n, level)
                      ON x.tenant = v.t AND x.meter = v.m AND x.period_ms = v.p
                    WHERE x.units - v.n < v.level AND x.units >= v.level))"
        ),
    )?;
    let (events_n, drawn_n, alone) = (
        i64::try_from(all.len()).unwrap_or(i64::MAX),
        i64::try_from(drawn.values.len()).unwrap_or(i64::MAX),
        commit == Commit::Alone,
    );
    let head: [&(dyn ToSql + Sync); 15] = [
        &events.tenants,
        &events.idem_ids,
        &events.key_ids,
        &events.meters,
        &events.units,
        &events.ts_ms,
        &added.tenants,
        &added.meters,
        &added.periods,
        &added.values,
        &drawn.tenants,
        &drawn.meters,
        &drawn.periods,
        &drawn.values,
        &holder,
    ];
    let tail: [&(dyn ToSql + Sync); 8] =
        [&events_n, &drawn_n, &alone, &lv.tenants, &lv.meters, &lv.periods, &lv.values, &lv_levels];
    let result = client.query(&st, &[head.as_slice(), &rows.params(), &tail].concat());
    let counters = match result {
        Ok(rows) => rows,
        Err(e) if e.code().is_some_and(|c| [GUARD_DUPLICATE, GUARD_LEASE_SHORT].contains(&c.code())) => {
            return Ok(None);
        }
        Err(e) => return Err(e),
    };
    // Thresholds crossed by the batch (per counter: its value before and after).
    let mut crossed = Vec::new();
    for r in &counters {
        let Some(Ok(meter)) = r.get::<_, Option<&str>>(1).map(str::parse::<Meter>) else { continue };
        let key: CounterKey = (r.get(0), meter, r.get(2));
        let Some(&(units, _, q, ts)) = sums.get(&key) else { continue };
        let now = to_u64(r.get(3));
        for t in crossings(q, now.saturating_sub(units), now) {
            crossed.push((key.0.clone(), meter, t, q.unwrap_or(0), now, Period::containing(key.2), ts));
        }
    }
    let outcomes = jobs
        .iter()
        .map(|job| RecordOutcome::Recorded {
            counted: job.r.events.iter().filter(|e| e.units > 0).map(|e| e.idem_id.clone()).collect(),
            duplicates: 0,
        })
        .collect();
    Ok(Some((outcomes, crossed)))
}

/// Folds up to [`FOLD_CHUNK`] pending rows into the rollups and deletes them, in one
/// statement of one transaction; returns how many it moved. One replica folds at a time:
/// while another does, this one skips its turn (0), or, when `wait` (its last fold, at
/// shutdown), waits for it, for at most [`FOLD_WAIT`]. The only writer of the rollups, one at
/// a time, so it cannot deadlock (a replica of a version from before still adds to them:
/// retried).
fn fold(client: &mut Client, wait: bool) -> StoreResult<i64> {
    let mut tries = 0;
    loop {
        let r = client.transaction().and_then(|mut tx| {
            if wait {
                tx.batch_execute(&format!("SET LOCAL lock_timeout = {}", FOLD_WAIT.as_millis()))?;
                tx.execute("SELECT pg_advisory_xact_lock($1)", &[&FOLD_LOCK])?;
            } else if !tx.query_one("SELECT pg_try_advisory_xact_lock($1)", &[&FOLD_LOCK])?.get::<_, bool>(0) {
                return Ok(0);
            }
            let moved: i64 = tx
                .query_one(
                    "WITH moved AS (
                        DELETE FROM usage_pending WHERE ctid = ANY(ARRAY(SELECT ctid FROM usage_pending LIMIT $1))
                        RETURNING tenant, key_id, meter, units, hour_ms, day_ms, month_ms
                     ), r AS (
                        INSERT INTO usage_rollups (tenant, gran, bucket_ms, key_id, meter, units)
                        SELECT tenant, gran, bucket_ms, key_id, meter, SUM(units)::int8 FROM (
                            SELECT tenant, 'h'::text AS gran, hour_ms AS bucket_ms, key_id, meter, units FROM moved
                            UNION ALL SELECT tenant, 'd', day_ms, key_id, meter, units FROM moved
                            UNION ALL SELECT tenant, 'm', month_ms, key_id, meter, units FROM moved
                        ) x
                        GROUP BY tenant, gran, bucket_ms, key_id, meter HAVING SUM(units) <> 0
                        ORDER BY tenant COLLATE \"C\", gran COLLATE \"C\", bucket_ms, key_id COLLATE \"C\", meter COLLATE \"C\"
                        ON CONFLICT (tenant, gran, bucket_ms, key_id, meter)
                        DO UPDATE SET units = usage_rollups.units + excluded.units
                     )
                     SELECT COUNT(*) FROM moved",
                    &[&FOLD_CHUNK],
                )?
                .get(0);
            tx.commit().map(|()| moved)
        });
        match r {
            Err(e) if retryable(&e) && tries < 5 => tries += 1,
            r => return Ok(r?),
        }
    }
}

impl UsageStore for PgUsage {
    fn record(
        &self,
        events: &[UsageEvent],
        quota: &(dyn Fn(Meter) -> Option<u64> + Sync),
    ) -> StoreResult<RecordOutcome> {
        self.writer()?.run(Booked { r: Reservation::new(events, quota), leased: false })
    }

    fn queue_record(
        &self,
        events: &[UsageEvent],
        quota: &(dyn Fn(Meter) -> Option<u64> + Sync),
    ) -> Option<Queued<RecordOutcome>> {
        Some(self.writer().ok()?.queue(Booked { r: Reservation::new(events, quota), leased: false }))
    }

    fn reserve_ahead(
        &self,
        events: &[UsageEvent],
        quota: &(dyn Fn(Meter) -> Option<u64> + Sync),
    ) -> Option<Queued<RecordOutcome>> {
        let r = Reservation::new(events, quota);
        let leased = self.take(&r)?;
        Some(self.writer().ok()?.queue(Booked { r, leased }))
    }

    fn admit(&self, events: &[UsageEvent], quota: &(dyn Fn(Meter) -> Option<u64> + Sync)) -> Option<Admission> {
        self.drainer.as_ref()?;
        let reservation = Reservation::new(events, quota);
        let leased = self.take(&reservation)?;
        let n = i64::try_from(reservation.events.len()).unwrap_or(i64::MAX);
        let first = self.inbox_n.fetch_add(n, Ordering::Relaxed);
        Some(Admission { holder: self.leases.holder.clone(), reservation, leased, first })
    }

    fn admitted(&self, admission: &Admission) {
        // Its units are in the inbox now, which grants count from the database.
        if admission.leased {
            self.leases.settled([&admission.reservation]);
        }
        if let Some(d) = &self.drainer {
            d.wake();
        }
    }

    fn still_admitted(&self, admission: &Admission) -> bool {
        !admission.leased || self.leases.covers(&admission.reservation)
    }

    fn write_inbox(&self, rows: &[InboxRow]) -> StoreResult<()> {
        let mut stmts = Statements::default();
        self.with_tx(|tx| pg_inbox::insert_inbox(tx, &mut stmts, rows))
    }

    fn release(&self) -> StoreResult<()> {
        self.leases.close();
        // This replica's inbox first, while its leases still hold the rows' units (no longer
        // than a lease lives; rows left are applied by any replica, counted meanwhile).
        {
            let mut conn = self.conn();
            let drained = conn.batch_execute(&format!("SET lock_timeout = {}", pg_leases::TTL_MS)).and_then(|()| {
                pg_inbox::drain(&mut conn, &mut Statements::default(), Drain::Holder(&self.leases.holder))
            });
            if let Err(e) = drained {
                tracing::warn!(error = %e, "metering: this replica's usage inbox was left to the others");
            }
            conn.batch_execute("RESET lock_timeout")?;
        }
        // Under the counters' locks, taken in the order every writer and granter takes them,
        // so releasing cannot deadlock with another replica's grant.
        let holder = &self.leases.holder;
        self.with_tx(|tx| {
            // Not longer than a lease lives: past that its rows no longer count anyway.
            tx.batch_execute(&format!("SET LOCAL lock_timeout = {}", pg_leases::TTL_MS))?;
            let keys: Vec<CounterKey> = tx
                .query("SELECT tenant, meter, period_ms FROM usage_leases WHERE holder = $1", &[holder])?
                .iter()
                .filter_map(|r| Some((r.get(0), r.get::<_, &str>(1).parse::<Meter>().ok()?, r.get(2))))
                .collect();
            pg_leases::lock_counters(tx, &mut Statements::default(), &keys)?;
            tx.execute("DELETE FROM usage_leases WHERE holder = $1", &[holder])
        })?;
        Ok(())
    }

    fn unrecord(&self, tenant: &str, idem_ids: &[String]) -> StoreResult<usize> {
        // Events in idempotency-id order and counters in (meter, month) byte order, as the
        // writer locks them.
        let mut ids: Vec<&String> = idem_ids.iter().collect();
        ids.sort();
        self.with_tx(|tx| {
            let mut gone = Vec::new();
            for &id in &ids {
                if let Some(r) = tx.query_opt(
                    "DELETE FROM usage_events WHERE tenant = $1 AND idem_id = $2 RETURNING key_id, meter, units, ts_ms",
                    &[&tenant, id],
                )? && let Ok(meter) = r.get::<_, &str>(1).parse::<Meter>()
                {
                    gone.push(UsageEvent {
                        tenant: tenant.to_owned(),
                        key_id: r.get(0),
                        meter,
                        units: to_u64(r.get(2)),
                        ts_ms: r.get(3),
                        idem_id: id.clone(),
                    });
                }
            }
            gone.sort_by(|a, b| (a.meter.as_str(), a.ts_ms).cmp(&(b.meter.as_str(), b.ts_ms)));
            for e in &gone {
                tx.execute(
                    "UPDATE usage_counters SET units = units - $4 WHERE tenant = $1 AND meter = $2 AND period_ms = $3",
                    &[&tenant, &e.meter.as_str(), &Period::containing(e.ts_ms).start_ms(), &to_i64(e.units)],
                )?;
            }
            // Taken off the rollups by the fold, or cancelled by the events' own pending rows.
            let rows = pending_rows(&gone, -1);
            let c = PendingColumns::new(&rows);
            tx.execute(
                "INSERT INTO usage_pending (tenant, key_id, meter, units, hour_ms, day_ms, month_ms)
                 SELECT * FROM UNNEST($1::text[], $2::text[], $3::text[], $4::int8[], $5::int8[], $6::int8[], $7::int8[])",
                &c.params(),
            )?;
            Ok(gone.len())
        })
    }

    fn usage(
        &self,
        tenant: &str,
        granularity: Granularity,
        from_ms: i64,
        to_ms: i64,
        by_key: bool,
    ) -> StoreResult<UsageRows> {
        self.drain_all()?;
        // The rollups and the rows not folded into them yet, in one statement (one snapshot).
        let sql = if by_key {
            "SELECT bucket_ms, key_id, meter, SUM(units)::BIGINT FROM (
                 SELECT bucket_ms, key_id, meter, units FROM usage_rollups
                 WHERE tenant = $1 AND gran = $2 AND bucket_ms >= $3 AND bucket_ms < $4
                 UNION ALL
                 SELECT CASE $2 WHEN 'h' THEN hour_ms WHEN 'd' THEN day_ms ELSE month_ms END, key_id, meter, units
                 FROM usage_pending WHERE tenant = $1
             ) x WHERE bucket_ms >= $3 AND bucket_ms < $4
             GROUP BY bucket_ms, key_id, meter HAVING SUM(units) > 0 ORDER BY bucket_ms, key_id, meter"
        } else {
            "SELECT bucket_ms, NULL::TEXT, meter, SUM(units)::BIGINT FROM (
                 SELECT bucket_ms, meter, units FROM usage_rollups
                 WHERE tenant = $1 AND gran = $2 AND bucket_ms >= $3 AND bucket_ms < $4
                 UNION ALL
                 SELECT CASE $2 WHEN 'h' THEN hour_ms WHEN 'd' THEN day_ms ELSE month_ms END, meter, units
                 FROM usage_pending WHERE tenant = $1
             ) x WHERE bucket_ms >= $3 AND bucket_ms < $4
             GROUP BY bucket_ms, meter HAVING SUM(units) > 0 ORDER BY bucket_ms, meter"
        };
        let rows = self.conn().query(sql, &[&tenant, &gran_code(granularity), &from_ms, &to_ms])?;
        rows.iter().map(|r| Ok((r.get(0), r.get(1), meter_of(r.get::<_, &str>(2))?, to_u64(r.get(3))))).collect()
    }

    fn month_totals(&self, tenant: &str, period: Period) -> StoreResult<BTreeMap<Meter, u64>> {
        self.drain_all()?;
        let rows = self.conn().query(
            "SELECT meter, units FROM usage_counters WHERE tenant = $1 AND period_ms = $2",
            &[&tenant, &period.start_ms()],
        )?;
        rows.iter().map(|r| Ok((meter_of(r.get::<_, &str>(0))?, to_u64(r.get(1))))).collect()
    }

    fn fold(&self) -> StoreResult<i64> {
        fold(&mut self.conn(), false)
    }

    fn pending(&self) -> StoreResult<u64> {
        let n: i64 = self.conn().query_one("SELECT COUNT(*) FROM usage_pending", &[])?.get(0);
        Ok(to_u64(n))
    }

    fn event_count(&self, tenant: &str) -> StoreResult<u64> {
        self.drain_all()?;
        let n: i64 = self.conn().query_one("SELECT COUNT(*) FROM usage_events WHERE tenant = $1", &[&tenant])?.get(0);
        Ok(to_u64(n))
    }

    fn create_endpoint(&self, e: &EndpointRecord) -> StoreResult<()> {
        self.conn().execute(
            "INSERT INTO webhook_endpoints (id, tenant, url, events, description, secret, created_ms)
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
            &[&e.id, &e.tenant, &e.url, &events_text(&e.events), &e.description, &e.secret, &e.created_ms],
        )?;
        Ok(())
    }

    fn endpoints(&self, tenant: &str) -> StoreResult<Vec<EndpointRecord>> {
        let rows = self.conn().query(
            &format!("SELECT {ENDPOINT_COLS} FROM webhook_endpoints WHERE tenant = $1 ORDER BY created_ms DESC, id"),
            &[&tenant],
        )?;
        Ok(rows.iter().map(endpoint_row).collect())
    }

    fn endpoint(&self, tenant: &str, id: &str) -> StoreResult<Option<EndpointRecord>> {
        let row = self.conn().query_opt(
            &format!("SELECT {ENDPOINT_COLS} FROM webhook_endpoints WHERE tenant = $1 AND id = $2"),
            &[&tenant, &id],
        )?;
        Ok(row.as_ref().map(endpoint_row))
    }

    fn update_endpoint(
        &self,
        tenant: &str,
        id: &str,
        change: &UpdateWebhookRequest,
        now_ms: i64,
    ) -> StoreResult<Option<EndpointRecord>> {
        let events = change.events.as_deref().map(events_text);
        let found = self.with_tx(|tx| {
            let n = tx.execute(
                "UPDATE webhook_endpoints SET url = COALESCE($3, url), events = COALESCE($4, events),
                     description = COALESCE($5, description) WHERE tenant = $1 AND id = $2",
                &[&tenant, &id, &change.url, &events, &change.description],
            )?;
            match change.enabled {
                Some(true) => {
                    tx.execute(
                        "UPDATE webhook_endpoints SET disabled_ms = NULL, disabled_reason = NULL, failing_since_ms = NULL
                         WHERE tenant = $1 AND id = $2",
                        &[&tenant, &id],
                    )?;
                }
                Some(false) => {
                    tx.execute(
                        "UPDATE webhook_endpoints SET disabled_ms = $3, disabled_reason = 'disabled by an admin'
                         WHERE tenant = $1 AND id = $2 AND disabled_ms IS NULL",
                        &[&tenant, &id, &now_ms],
                    )?;
                }
                None => {}
            }
            Ok(n == 1)
        })?;
        if !found {
            return Ok(None);
        }
        self.endpoint(tenant, id)
    }

    fn delete_endpoint(&self, tenant: &str, id: &str) -> StoreResult<bool> {
        self.with_tx(|tx| {
            let n = tx.execute("DELETE FROM webhook_endpoints WHERE tenant = $1 AND id = $2", &[&tenant, &id])?;
            tx.execute(
                "DELETE FROM webhook_attempts WHERE delivery_id IN (SELECT id FROM webhook_deliveries WHERE endpoint_id = $1)",
                &[&id],
            )?;
            tx.execute("DELETE FROM webhook_deliveries WHERE endpoint_id = $1", &[&id])?;
            Ok(n == 1)
        })
    }

    fn enqueue(
        &self,
        tenant: Option<&str>,
        event: EventType,
        data: &serde_json::Value,
        now_ms: i64,
    ) -> StoreResult<Vec<String>> {
        // Most events have no subscriber: find out without a transaction.
        let any = self.conn().query_opt(
            "SELECT 1 FROM webhook_endpoints WHERE disabled_ms IS NULL AND ($1::TEXT IS NULL OR tenant = $1) LIMIT 1",
            &[&tenant],
        )?;
        if any.is_none() {
            return Ok(Vec::new());
        }
        self.with_tx(|tx| enqueue_tx(tx, tenant, event, data, now_ms))
    }

    fn claim(&self, now_ms: i64, lease_ms: i64, limit: u32) -> StoreResult<Vec<Claimed>> {
        self.with_tx(|tx| {
            let rows = tx.query(
                "SELECT d.id, d.message_id, d.endpoint_id, d.tenant, e.url, e.secret, m.payload, d.attempts
                 FROM webhook_deliveries d
                 JOIN webhook_endpoints e ON e.id = d.endpoint_id
                 JOIN webhook_messages m ON m.id = d.message_id
                 WHERE d.state = 'pending' AND d.next_attempt_ms <= $1 AND d.lease_until_ms <= $1
                   AND e.disabled_ms IS NULL
                 ORDER BY d.next_attempt_ms LIMIT $2
                 FOR UPDATE OF d SKIP LOCKED",
                &[&now_ms, &i64::from(limit)],
            )?;
            let claimed: Vec<Claimed> = rows
                .iter()
                .map(|r| Claimed {
                    delivery_id: r.get(0),
                    message_id: r.get(1),
                    endpoint_id: r.get(2),
                    tenant: r.get(3),
                    url: r.get(4),
                    secret: r.get(5),
                    payload: r.get(6),
                    attempts: u32::try_from(r.get::<_, i64>(7)).unwrap_or(0),
                })
                .collect();
            for c in &claimed {
                tx.execute(
                    "UPDATE webhook_deliveries SET lease_until_ms = $2 WHERE id = $1",
                    &[&c.delivery_id, &(now_ms + lease_ms)],
                )?;
            }
            Ok(claimed)
        })
    }

    fn finish(&self, a: &AttemptResult) -> StoreResult<bool> {
        self.with_tx(|tx| {
            let Some(row) = tx.query_opt(
                "UPDATE webhook_deliveries SET attempts = attempts + 1, lease_until_ms = 0,
                     state = CASE WHEN $2 THEN 'delivered' WHEN $3::BIGINT IS NULL THEN 'failed' ELSE 'pending' END,
                     next_attempt_ms = COALESCE($3::BIGINT, next_attempt_ms)
                 WHERE id = $1 RETURNING attempts",
                &[&a.delivery_id, &a.success, &a.retry_at_ms],
            )?
            else {
                return Ok(false);
            };
            let attempts: i64 = row.get(0);
            tx.execute(
                "INSERT INTO webhook_attempts (delivery_id, attempt, ts_ms, status, latency_ms, error, response)
                 VALUES ($1, $2, $3, $4, $5, $6, $7)",
                &[
                    &a.delivery_id,
                    &attempts,
                    &a.ts_ms,
                    &a.status.map(i64::from),
                    &to_i64(a.latency_ms),
                    &a.error,
                    &a.response,
                ],
            )?;
            if a.success {
                tx.execute("UPDATE webhook_endpoints SET failing_since_ms = NULL WHERE id = $1", &[&a.endpoint_id])?;
                return Ok(false);
            }
            let since: Option<i64> = tx
                .query_opt(
                    "UPDATE webhook_endpoints SET failing_since_ms = COALESCE(failing_since_ms, $2)
                     WHERE id = $1 AND disabled_ms IS NULL RETURNING failing_since_ms",
                    &[&a.endpoint_id, &a.ts_ms],
                )?
                .map(|r| r.get(0));
            if let Some(since) = since
                && a.ts_ms - since >= a.disable_after_ms
            {
                tx.execute(
                    "UPDATE webhook_endpoints SET disabled_ms = $2, disabled_reason = $3 WHERE id = $1",
                    &[
                        &a.endpoint_id,
                        &a.ts_ms,
                        &format!("every delivery failed since {} (sustained failure)", rfc3339(since)),
                    ],
                )?;
                return Ok(true);
            }
            Ok(false)
        })
    }

    fn deliveries(&self, tenant: &str, endpoint_id: &str, limit: u32) -> StoreResult<Vec<Delivery>> {
        let mut client = self.conn();
        // One snapshot for the deliveries and their attempts: a delivery is never shown pending
        // beside the successful attempt that finished it.
        let mut conn = client
            .build_transaction()
            .isolation_level(postgres::IsolationLevel::RepeatableRead)
            .read_only(true)
            .start()?;
        let rows = conn.query(
            "SELECT d.id, d.message_id, m.event_type, d.state, d.attempts, d.created_ms, d.next_attempt_ms
             FROM webhook_deliveries d JOIN webhook_messages m ON m.id = d.message_id
             WHERE d.tenant = $1 AND d.endpoint_id = $2 ORDER BY d.seq DESC LIMIT $3",
            &[&tenant, &endpoint_id, &i64::from(limit)],
        )?;
        let mut out = Vec::new();
        for r in rows {
            let id: String = r.get(0);
            let log = conn
                .query(
                    "SELECT attempt, ts_ms, status, latency_ms, error, response FROM webhook_attempts
                     WHERE delivery_id = $1 ORDER BY seq",
                    &[&id],
                )?
                .iter()
                .map(|a| DeliveryAttempt {
                    attempt: u32::try_from(a.get::<_, i64>(0)).unwrap_or(0),
                    at: rfc3339(a.get(1)),
                    status: a.get::<_, Option<i64>>(2).and_then(|s| u16::try_from(s).ok()),
                    latency_ms: to_u64(a.get(3)),
                    error: a.get(4),
                    response: a.get(5),
                })
                .collect();
            let event: String = r.get(2);
            let state = state_of(r.get::<_, &str>(3));
            out.push(Delivery {
                id,
                message_id: r.get(1),
                event_type: event.parse().map_err(|_| StoreError::Corrupt(format!("unknown event `{event}`")))?,
                state,
                attempts: u32::try_from(r.get::<_, i64>(4)).unwrap_or(0),
                created_at: rfc3339(r.get(5)),
                next_attempt_at: (state == DeliveryState::Pending).then(|| rfc3339(r.get(6))),
                log,
            });
        }
        conn.commit()?;
        Ok(out)
    }

    fn redeliver(
        &self,
        tenant: &str,
        endpoint_id: &str,
        delivery_id: &str,
        now_ms: i64,
    ) -> StoreResult<Option<String>> {
        let id = new_id("dlv_")?;
        self.with_tx(|tx| {
            let Some(row) = tx.query_opt(
                "SELECT message_id FROM webhook_deliveries WHERE tenant = $1 AND endpoint_id = $2 AND id = $3",
                &[&tenant, &endpoint_id, &delivery_id],
            )?
            else {
                return Ok(None);
            };
            let message: String = row.get(0);
            tx.execute(
                "INSERT INTO webhook_deliveries (id, tenant, endpoint_id, message_id, state, next_attempt_ms, created_ms)
                 VALUES ($1, $2, $3, $4, 'pending', $5, $5)",
                &[&id, &tenant, &endpoint_id, &message, &now_ms],
            )?;
            Ok(Some(id.clone()))
        })
    }
}
