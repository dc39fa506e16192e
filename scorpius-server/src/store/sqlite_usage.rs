//! [`UsageStore`] on SQLite: `<data dir>/metering.sqlite` (a file of its own, so metering
//! writes do not queue behind scan and key writes). Write transactions are `IMMEDIATE`, so
//! SQLite's single writer makes quota checks atomic. Reservations are group-committed: a
//! writer thread commits those that queued up together, each in a savepoint.

use std::{
    collections::{BTreeMap, HashMap},
    path::Path,
    sync::{
        Arc, Mutex,
        atomic::{AtomicUsize, Ordering},
    },
};

use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};
use scorpius_core::{
    api::{
        usage::Granularity,
        webhooks::{Delivery, DeliveryAttempt, DeliveryState, EventType, UpdateWebhookRequest},
    },
    metering::{Meter, Period, rfc3339},
};

use super::{
    StoreError, StoreResult,
    periodic::Periodic,
    usage::folder,
    usage::{
        AttemptResult, Claimed, CounterKey, EndpointRecord, FOLD_CHUNK, PendingRow, RecordOutcome, Reservation,
        UsageEvent, UsageRows, UsageStore, crossings, events_parse, events_text, gran_code, lock_order, message_body,
        new_id, pending_rows, threshold_data,
    },
    writer::{Job, Queued, Writer},
};

const MIGRATIONS: &[&str] = &[
    "
CREATE TABLE usage_events (
    tenant  TEXT NOT NULL,
    idem_id TEXT NOT NULL,
    key_id  TEXT NOT NULL,
    meter   TEXT NOT NULL,
    units   INTEGER NOT NULL,
    ts_ms   INTEGER NOT NULL,
    PRIMARY KEY (tenant, idem_id)
);
CREATE TABLE usage_rollups (
    tenant    TEXT NOT NULL,
    gran      TEXT NOT NULL,
    bucket_ms INTEGER NOT NULL,
    key_id    TEXT NOT NULL,
    meter     TEXT NOT NULL,
    units     INTEGER NOT NULL,
    PRIMARY KEY (tenant, gran, bucket_ms, key_id, meter)
);
CREATE TABLE usage_counters (
    tenant    TEXT NOT NULL,
    meter     TEXT NOT NULL,
    period_ms INTEGER NOT NULL,
    units     INTEGER NOT NULL,
    PRIMARY KEY (tenant, meter, period_ms)
);
CREATE TABLE usage_thresholds (
    tenant    TEXT NOT NULL,
    meter     TEXT NOT NULL,
    period_ms INTEGER NOT NULL,
    threshold INTEGER NOT NULL,
    ts_ms     INTEGER NOT NULL,
    PRIMARY KEY (tenant, meter, period_ms, threshold)
);
CREATE TABLE webhook_endpoints (
    id              TEXT PRIMARY KEY,
    tenant          TEXT NOT NULL,
    url             TEXT NOT NULL,
    events          TEXT NOT NULL,
    description     TEXT,
    secret          BLOB NOT NULL,
    created_ms      INTEGER NOT NULL,
    disabled_ms     INTEGER,
    disabled_reason TEXT,
    failing_since_ms INTEGER
);
CREATE INDEX webhook_endpoints_tenant ON webhook_endpoints (tenant, created_ms);
CREATE TABLE webhook_messages (
    id         TEXT PRIMARY KEY,
    tenant     TEXT NOT NULL,
    event_type TEXT NOT NULL,
    payload    TEXT NOT NULL,
    created_ms INTEGER NOT NULL
);
CREATE TABLE webhook_deliveries (
    seq             INTEGER PRIMARY KEY AUTOINCREMENT,
    id              TEXT NOT NULL UNIQUE,
    tenant          TEXT NOT NULL,
    endpoint_id     TEXT NOT NULL,
    message_id      TEXT NOT NULL,
    state           TEXT NOT NULL,
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_ms INTEGER NOT NULL,
    lease_until_ms  INTEGER NOT NULL DEFAULT 0,
    created_ms      INTEGER NOT NULL
);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (state, next_attempt_ms);
CREATE INDEX webhook_deliveries_endpoint ON webhook_deliveries (endpoint_id, seq);
CREATE TABLE webhook_attempts (
    seq         INTEGER PRIMARY KEY AUTOINCREMENT,
    delivery_id TEXT NOT NULL,
    attempt     INTEGER NOT NULL,
    ts_ms       INTEGER NOT NULL,
    status      INTEGER,
    latency_ms  INTEGER NOT NULL,
    error       TEXT,
    response    TEXT
);
CREATE INDEX webhook_attempts_delivery ON webhook_attempts (delivery_id, seq);
",
    // The tables every metered call writes, rebuilt WITHOUT ROWID: a row is stored once, in its
    // primary key's b-tree, instead of in the table and again in the key's index, which halves
    // the pages each reservation dirties and its commit writes to the WAL. Rows are copied in key
    // order (read from the old primary-key index), so the new b-trees are built by appending.
    "
CREATE TABLE usage_events_v2 (
    tenant  TEXT NOT NULL,
    idem_id TEXT NOT NULL,
    key_id  TEXT NOT NULL,
    meter   TEXT NOT NULL,
    units   INTEGER NOT NULL,
    ts_ms   INTEGER NOT NULL,
    PRIMARY KEY (tenant, idem_id)
) WITHOUT ROWID;
INSERT INTO usage_events_v2 SELECT tenant, idem_id, key_id, meter, units, ts_ms FROM usage_events
    ORDER BY tenant, idem_id;
DROP TABLE usage_events;
ALTER TABLE usage_events_v2 RENAME TO usage_events;
CREATE TABLE usage_rollups_v2 (
    tenant    TEXT NOT NULL,
    gran      TEXT NOT NULL,
    bucket_ms INTEGER NOT NULL,
    key_id    TEXT NOT NULL,
    meter     TEXT NOT NULL,
    units     INTEGER NOT NULL,
    PRIMARY KEY (tenant, gran, bucket_ms, key_id, meter)
) WITHOUT ROWID;
INSERT INTO usage_rollups_v2 SELECT tenant, gran, bucket_ms, key_id, meter, units FROM usage_rollups
    ORDER BY tenant, gran, bucket_ms, key_id, meter;
DROP TABLE usage_rollups;
ALTER TABLE usage_rollups_v2 RENAME TO usage_rollups;
CREATE TABLE usage_counters_v2 (
    tenant    TEXT NOT NULL,
    meter     TEXT NOT NULL,
    period_ms INTEGER NOT NULL,
    units     INTEGER NOT NULL,
    PRIMARY KEY (tenant, meter, period_ms)
) WITHOUT ROWID;
INSERT INTO usage_counters_v2 SELECT tenant, meter, period_ms, units FROM usage_counters
    ORDER BY tenant, meter, period_ms;
DROP TABLE usage_counters;
ALTER TABLE usage_counters_v2 RENAME TO usage_counters;
",
    // Events not yet folded into the rollups (see `usage.rs`): appended by reservations and
    // refunds, folded and deleted by the store's folder. The rollups of a store from before
    // are complete, so it starts empty.
    "
CREATE TABLE usage_pending (
    seq      INTEGER PRIMARY KEY,
    tenant   TEXT NOT NULL,
    key_id   TEXT NOT NULL,
    meter    TEXT NOT NULL,
    units    INTEGER NOT NULL,
    hour_ms  INTEGER NOT NULL,
    day_ms   INTEGER NOT NULL,
    month_ms INTEGER NOT NULL
);
",
];

/// The SQLite metering store.
#[derive(Debug)]
pub struct SqliteUsage {
    pool: Arc<Vec<Mutex<Connection>>>,
    next: AtomicUsize,
    /// Reservations, group-committed (see [`SqliteUsage::open`]).
    writer: Writer<Booked, RecordOutcome>,
    headroom: Arc<Mutex<Headroom>>,
    _checkpoints: Periodic,
    /// Dropped after the writer (fields drop in order), so its last fold takes everything.
    _folder: Periodic,
}

/// Upper bounds of the monthly counters of metered calls with a quota, kept in memory so a
/// call that clearly fits can run while its reservation commits
/// ([`UsageStore::reserve_ahead`]). Exact enough because one process owns a SQLite store:
/// every change of a counter goes through this store. A bound is the database's counter
/// plus the units admitted ahead and not yet written. It is loaded from the database by the
/// writer after the first reservation of its counter, raised before a call reserved ahead is
/// queued, and lowered only by what the database gives back (duplicates, refunds); failures
/// leave it high, which only sends more calls down the waiting path. A call that waits is
/// checked against the bound as well as the database, so it cannot take units admitted
/// ahead of it; hence a call admitted ahead is never refused by the database.
#[derive(Debug, Default)]
struct Headroom {
    used: HashMap<CounterKey, u64>,
}

/// A reservation as the SQLite writer applies it.
struct Booked {
    r: Reservation,
    headroom: Arc<Mutex<Headroom>>,
    /// Admitted against the headroom before it was queued (its units are already in it).
    ahead: bool,
}

impl Job for Booked {
    type Output = RecordOutcome;

    fn apply(&self, conn: &Connection) -> StoreResult<RecordOutcome> {
        let out = record_in(conn, &self.r.events, &|m| self.r.quota(m))?;
        let mut h = lock(&self.headroom);
        let counted: &[String] = match &out {
            RecordOutcome::Recorded { counted, .. } => counted,
            RecordOutcome::QuotaExceeded { .. } | RecordOutcome::Contended { .. } => &[],
        };
        if !self.ahead {
            // The database had room, but units admitted ahead and not yet written take
            // precedence (they were admitted first): check against the bound too. A refusal
            // here rolls this call back to its savepoint like the database's own.
            let mut need: BTreeMap<CounterKey, (u64, u64)> = BTreeMap::new();
            for (key, e, q) in self.r.limited().filter(|(_, e, _)| counted.contains(&e.idem_id)) {
                let slot = need.entry(key).or_insert((0, q));
                slot.0 = slot.0.saturating_add(e.units);
            }
            for (key, (units, q)) in &need {
                if let Some(used) = h.used.get(key)
                    && used.saturating_add(*units) > *q
                {
                    return Ok(RecordOutcome::QuotaExceeded {
                        meter: key.1,
                        quota: *q,
                        used: *used,
                        period: Period::containing(key.2),
                    });
                }
            }
        }
        for (key, e, _) in self.r.limited() {
            let was_counted = counted.contains(&e.idem_id);
            match h.used.get_mut(&key) {
                // Reserved ahead but not counted (a duplicate): give it back.
                Some(v) if self.ahead && !was_counted => *v = v.saturating_sub(e.units),
                Some(v) if !self.ahead && was_counted => *v = v.saturating_add(e.units),
                Some(_) => {}
                None => {
                    // First sight of this counter: the database's value, with this call.
                    let units: Option<i64> = conn
                        .prepare_cached(
                            "SELECT units FROM usage_counters WHERE tenant = ?1 AND meter = ?2 AND period_ms = ?3",
                        )?
                        .query_row(params![key.0, key.1.as_str(), key.2], |r| r.get(0))
                        .optional()?;
                    // Counters of months before the previous one are no longer reserved against.
                    let oldest = Period::containing(key.2).start_ms() - 32 * 86_400_000;
                    h.used.retain(|k, _| k.2 >= oldest);
                    h.used.insert(key, to_u64(units.unwrap_or(0)));
                }
            }
        }
        Ok(out)
    }

    /// A call over its quota records nothing.
    fn keep(out: &RecordOutcome) -> bool {
        matches!(out, RecordOutcome::Recorded { .. })
    }
}

/// Reservations committed together at most.
const MAX_BATCH: usize = 64;

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

impl SqliteUsage {
    /// Opens (creating) `<dir>/metering.sqlite` and applies its migrations.
    pub fn open(dir: &Path) -> StoreResult<Self> {
        std::fs::create_dir_all(dir).map_err(|e| StoreError::Db(format!("creating {}: {e}", dir.display())))?;
        let path = dir.join("metering.sqlite");
        let mut first = super::sqlite::open_conn(&path)?;
        super::sqlite::migrate(&mut first, "metering_migrations", MIGRATIONS)?;
        let mut pool = vec![Mutex::new(first)];
        for _ in 0..3 {
            pool.push(Mutex::new(super::sqlite::open_conn(&path)?));
        }
        let pool = Arc::new(pool);
        // Group commit: one thread takes the reservations that queued up while it was busy
        // and commits them in one transaction, each in a savepoint of its own (a call over
        // its quota is rolled back alone). One commit per batch instead of one per request.
        let writer = Writer::sqlite("metering-writer", Arc::clone(&pool), 0, MAX_BATCH)?;
        // Rollups are folded from the pending rows on the writing connection, between batches.
        let folded = Arc::clone(&pool);
        Ok(SqliteUsage {
            pool,
            next: AtomicUsize::new(0),
            writer,
            headroom: Arc::default(),
            _checkpoints: super::sqlite::checkpointer(&path)?,
            _folder: folder(move |_| fold(&mut lock(&folded[0])))?,
        })
    }

    fn booked(&self, r: Reservation, ahead: bool) -> Booked {
        Booked { r, headroom: Arc::clone(&self.headroom), ahead }
    }

    /// A reading connection (round robin over all but the writer's).
    fn conn(&self) -> std::sync::MutexGuard<'_, Connection> {
        let readers = self.pool.len() - 1;
        let i = 1 + self.next.fetch_add(1, Ordering::Relaxed) % readers;
        lock(&self.pool[i])
    }

    /// The one writing connection: writers queue on its mutex in the process instead of
    /// sleeping in SQLite's busy handler (which costs milliseconds per conflict).
    fn writer(&self) -> std::sync::MutexGuard<'_, Connection> {
        lock(&self.pool[0])
    }
}

fn enqueue_tx(
    tx: &Connection,
    tenant: Option<&str>,
    event: EventType,
    data: &serde_json::Value,
    now_ms: i64,
) -> StoreResult<Vec<String>> {
    let mut stmt = tx.prepare_cached(
        "SELECT id, tenant, events FROM webhook_endpoints
         WHERE disabled_ms IS NULL AND (?1 IS NULL OR tenant = ?1) ORDER BY tenant, created_ms",
    )?;
    let endpoints: Vec<(String, String)> = stmt
        .query_map(params![tenant], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?, r.get::<_, String>(2)?)))?
        .collect::<Result<Vec<_>, _>>()?
        .into_iter()
        .filter(|(_, _, events)| events_parse(events).contains(&event))
        .map(|(id, t, _)| (id, t))
        .collect();
    drop(stmt);
    let mut by_tenant: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (id, t) in endpoints {
        by_tenant.entry(t).or_default().push(id);
    }
    let mut ids = Vec::new();
    for (t, endpoint_ids) in by_tenant {
        let msg_id = new_id("msg_")?;
        tx.execute(
            "INSERT INTO webhook_messages (id, tenant, event_type, payload, created_ms) VALUES (?1, ?2, ?3, ?4, ?5)",
            params![msg_id, t, event.as_str(), message_body(event, &t, data, now_ms), now_ms],
        )?;
        for ep in endpoint_ids {
            tx.execute(
                "INSERT INTO webhook_deliveries (id, tenant, endpoint_id, message_id, state, next_attempt_ms, created_ms)
                 VALUES (?1, ?2, ?3, ?4, 'pending', ?5, ?5)",
                params![new_id("dlv_")?, t, ep, msg_id, now_ms],
            )?;
        }
        ids.push(msg_id);
    }
    Ok(ids)
}

const ENDPOINT_COLS: &str = "id, tenant, url, events, description, secret, created_ms, disabled_ms, disabled_reason";

fn endpoint_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<EndpointRecord> {
    Ok(EndpointRecord {
        id: r.get(0)?,
        tenant: r.get(1)?,
        url: r.get(2)?,
        events: events_parse(&r.get::<_, String>(3)?),
        description: r.get(4)?,
        secret: r.get(5)?,
        created_ms: r.get(6)?,
        disabled_ms: r.get(7)?,
        disabled_reason: r.get(8)?,
    })
}

fn state_of(s: &str) -> DeliveryState {
    match s {
        "delivered" => DeliveryState::Delivered,
        "failed" => DeliveryState::Failed,
        _ => DeliveryState::Pending,
    }
}

/// Appends pending rows (see `usage.rs`) in the caller's transaction.
fn add_pending(tx: &Connection, rows: &[PendingRow]) -> StoreResult<()> {
    let mut stmt = tx.prepare_cached(
        "INSERT INTO usage_pending (tenant, key_id, meter, units, hour_ms, day_ms, month_ms)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    )?;
    for r in rows {
        stmt.execute(params![r.tenant, r.key_id, r.meter.as_str(), r.units, r.hour_ms, r.day_ms, r.month_ms])?;
    }
    Ok(())
}

/// Folds the oldest [`FOLD_CHUNK`] pending rows into the rollups and deletes them, in one
/// transaction; returns how many it moved.
fn fold(conn: &mut Connection) -> StoreResult<i64> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let last: Option<i64> = tx
        .prepare_cached("SELECT seq FROM usage_pending ORDER BY seq LIMIT 1 OFFSET ?1")?
        .query_row([FOLD_CHUNK - 1], |r| r.get(0))
        .optional()?;
    let last = last.unwrap_or(i64::MAX);
    tx.prepare_cached(
        "INSERT INTO usage_rollups (tenant, gran, bucket_ms, key_id, meter, units)
         SELECT tenant, gran, bucket_ms, key_id, meter, SUM(units) FROM (
             SELECT tenant, 'h' AS gran, hour_ms AS bucket_ms, key_id, meter, units FROM usage_pending WHERE seq <= ?1
             UNION ALL SELECT tenant, 'd', day_ms, key_id, meter, units FROM usage_pending WHERE seq <= ?1
             UNION ALL SELECT tenant, 'm', month_ms, key_id, meter, units FROM usage_pending WHERE seq <= ?1
         ) WHERE true
         GROUP BY tenant, gran, bucket_ms, key_id, meter HAVING SUM(units) <> 0
         ON CONFLICT (tenant, gran, bucket_ms, key_id, meter) DO UPDATE SET units = units + excluded.units",
    )?
    .execute([last])?;
    let moved = tx.prepare_cached("DELETE FROM usage_pending WHERE seq <= ?1")?.execute([last])?;
    tx.commit()?;
    Ok(i64::try_from(moved).unwrap_or(i64::MAX))
}

/// One reservation inside the writer's transaction (its savepoint): on a quota refusal the
/// caller rolls the savepoint back.
fn record_in(
    tx: &Connection,
    events: &[UsageEvent],
    quota: &dyn Fn(Meter) -> Option<u64>,
) -> StoreResult<RecordOutcome> {
    let mut counted = Vec::new();
    let mut duplicates = 0;
    let mut crossed = Vec::new();
    let mut rolled = Vec::new();
    for e in lock_order(events) {
        let inserted = tx.prepare_cached(
            "INSERT INTO usage_events (tenant, idem_id, key_id, meter, units, ts_ms) VALUES (?1, ?2, ?3, ?4, ?5, ?6)
             ON CONFLICT (tenant, idem_id) DO NOTHING",
        )?
        .execute(params![e.tenant, e.idem_id, e.key_id, e.meter.as_str(), to_i64(e.units), e.ts_ms])?;
        if inserted == 0 {
            duplicates += 1;
            continue;
        }
        let period = Period::containing(e.ts_ms);
        let q = quota(e.meter);
        let after: Option<i64> = if q.is_some_and(|q| e.units > q) {
            None
        } else {
            tx.prepare_cached(
                "INSERT INTO usage_counters (tenant, meter, period_ms, units) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT (tenant, meter, period_ms) DO UPDATE SET units = units + excluded.units
                 WHERE ?5 IS NULL OR units + excluded.units <= ?5
                 RETURNING units",
            )?
            .query_row(params![e.tenant, e.meter.as_str(), period.start_ms(), to_i64(e.units), q.map(to_i64)], |r| {
                r.get(0)
            })
            .optional()?
        };
        let Some(after) = after else {
            let used: i64 = tx
                .query_row(
                    "SELECT units FROM usage_counters WHERE tenant = ?1 AND meter = ?2 AND period_ms = ?3",
                    params![e.tenant, e.meter.as_str(), period.start_ms()],
                    |r| r.get(0),
                )
                .optional()?
                .unwrap_or(0);
            return Ok(RecordOutcome::QuotaExceeded {
                meter: e.meter,
                quota: q.unwrap_or(0),
                used: to_u64(used),
                period,
            });
        };
        rolled.push(e);
        let after = to_u64(after);
        for t in crossings(q, after - e.units.min(after), after) {
            crossed.push((e.tenant.clone(), e.meter, t, q.unwrap_or(0), after, period, e.ts_ms));
        }
        counted.push(e.idem_id.clone());
    }
    // The rollups are folded from these later (see `usage.rs`).
    add_pending(tx, &pending_rows(rolled, 1))?;
    for (tenant, meter, t, q, used, period, ts) in crossed {
        let new = tx.execute(
            "INSERT INTO usage_thresholds (tenant, meter, period_ms, threshold, ts_ms) VALUES (?1, ?2, ?3, ?4, ?5)
             ON CONFLICT DO NOTHING",
            params![tenant, meter.as_str(), period.start_ms(), i64::from(t), ts],
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
    Ok(RecordOutcome::Recorded { counted, duplicates })
}

impl UsageStore for SqliteUsage {
    fn record(
        &self,
        events: &[UsageEvent],
        quota: &(dyn Fn(Meter) -> Option<u64> + Sync),
    ) -> StoreResult<RecordOutcome> {
        self.writer.run(self.booked(Reservation::new(events, quota), false))
    }

    fn queue_record(
        &self,
        events: &[UsageEvent],
        quota: &(dyn Fn(Meter) -> Option<u64> + Sync),
    ) -> Option<Queued<RecordOutcome>> {
        Some(self.writer.queue(self.booked(Reservation::new(events, quota), false)))
    }

    fn reserve_ahead(
        &self,
        events: &[UsageEvent],
        quota: &(dyn Fn(Meter) -> Option<u64> + Sync),
    ) -> Option<Queued<RecordOutcome>> {
        let r = Reservation::new(events, quota);
        {
            let mut h = lock(&self.headroom);
            let need = r.needs();
            let fits = need.iter().all(|(k, (units, q))| h.used.get(k).is_some_and(|v| v.saturating_add(*units) <= *q));
            if !fits {
                return None;
            }
            for (k, (units, _)) in need {
                if let Some(v) = h.used.get_mut(&k) {
                    *v = v.saturating_add(units);
                }
            }
        }
        Some(self.writer.queue(self.booked(r, true)))
    }

    fn unrecord(&self, tenant: &str, idem_ids: &[String]) -> StoreResult<usize> {
        let mut conn = self.writer();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let mut gone = Vec::new();
        for id in idem_ids {
            let row: Option<(String, String, i64, i64)> = tx
                .query_row(
                    "DELETE FROM usage_events WHERE tenant = ?1 AND idem_id = ?2 RETURNING key_id, meter, units, ts_ms",
                    params![tenant, id],
                    |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
                )
                .optional()?;
            if let Some((key_id, meter, units, ts_ms)) = row {
                let meter = meter_of(&meter)?;
                gone.push(UsageEvent {
                    tenant: tenant.to_owned(),
                    key_id,
                    meter,
                    units: to_u64(units),
                    ts_ms,
                    idem_id: id.clone(),
                });
            }
        }
        gone.sort_by_key(|e| e.meter);
        for e in &gone {
            tx.execute(
                "UPDATE usage_counters SET units = units - ?4 WHERE tenant = ?1 AND meter = ?2 AND period_ms = ?3",
                params![tenant, e.meter.as_str(), Period::containing(e.ts_ms).start_ms(), to_i64(e.units)],
            )?;
        }
        // Taken off the rollups by the fold, or cancelled by the event's own pending row.
        add_pending(&tx, &pending_rows(&gone, -1))?;
        tx.commit()?;
        let mut h = lock(&self.headroom);
        for e in &gone {
            if let Some(v) = h.used.get_mut(&(tenant.to_owned(), e.meter, Period::containing(e.ts_ms).start_ms())) {
                *v = v.saturating_sub(e.units);
            }
        }
        Ok(gone.len())
    }

    fn usage(
        &self,
        tenant: &str,
        granularity: Granularity,
        from_ms: i64,
        to_ms: i64,
        by_key: bool,
    ) -> StoreResult<UsageRows> {
        let conn = self.conn();
        // The rollups and the rows not folded into them yet, in one statement (one snapshot).
        let sql = if by_key {
            "SELECT bucket_ms, key_id, meter, SUM(units) FROM (
                 SELECT bucket_ms, key_id, meter, units FROM usage_rollups
                 WHERE tenant = ?1 AND gran = ?2 AND bucket_ms >= ?3 AND bucket_ms < ?4
                 UNION ALL
                 SELECT CASE ?2 WHEN 'h' THEN hour_ms WHEN 'd' THEN day_ms ELSE month_ms END, key_id, meter, units
                 FROM usage_pending WHERE tenant = ?1
             ) WHERE bucket_ms >= ?3 AND bucket_ms < ?4
             GROUP BY bucket_ms, key_id, meter HAVING SUM(units) > 0 ORDER BY bucket_ms, key_id, meter"
        } else {
            "SELECT bucket_ms, NULL, meter, SUM(units) FROM (
                 SELECT bucket_ms, meter, units FROM usage_rollups
                 WHERE tenant = ?1 AND gran = ?2 AND bucket_ms >= ?3 AND bucket_ms < ?4
                 UNION ALL
                 SELECT CASE ?2 WHEN 'h' THEN hour_ms WHEN 'd' THEN day_ms ELSE month_ms END, meter, units
                 FROM usage_pending WHERE tenant = ?1
             ) WHERE bucket_ms >= ?3 AND bucket_ms < ?4
             GROUP BY bucket_ms, meter HAVING SUM(units) > 0 ORDER BY bucket_ms, meter"
        };
        let mut stmt = conn.prepare_cached(sql)?;
        let rows = stmt
            .query_map(params![tenant, gran_code(granularity), from_ms, to_ms], |r| {
                Ok((r.get::<_, i64>(0)?, r.get::<_, Option<String>>(1)?, r.get::<_, String>(2)?, r.get::<_, i64>(3)?))
            })?
            .collect::<Result<Vec<_>, _>>()?;
        rows.into_iter().map(|(b, k, m, u)| Ok((b, k, meter_of(&m)?, to_u64(u)))).collect()
    }

    fn month_totals(&self, tenant: &str, period: Period) -> StoreResult<BTreeMap<Meter, u64>> {
        let conn = self.conn();
        let mut stmt =
            conn.prepare_cached("SELECT meter, units FROM usage_counters WHERE tenant = ?1 AND period_ms = ?2")?;
        let rows = stmt
            .query_map(params![tenant, period.start_ms()], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?)))?
            .collect::<Result<Vec<_>, _>>()?;
        rows.into_iter().map(|(m, u)| Ok((meter_of(&m)?, to_u64(u)))).collect()
    }

    fn fold(&self) -> StoreResult<i64> {
        fold(&mut self.writer())
    }

    fn pending(&self) -> StoreResult<u64> {
        let n: i64 = self.conn().query_row("SELECT COUNT(*) FROM usage_pending", [], |r| r.get(0))?;
        Ok(to_u64(n))
    }

    fn event_count(&self, tenant: &str) -> StoreResult<u64> {
        let n: i64 =
            self.conn()
                .query_row("SELECT COUNT(*) FROM usage_events WHERE tenant = ?1", params![tenant], |r| r.get(0))?;
        Ok(to_u64(n))
    }

    fn create_endpoint(&self, e: &EndpointRecord) -> StoreResult<()> {
        self.writer().execute(
            "INSERT INTO webhook_endpoints (id, tenant, url, events, description, secret, created_ms)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            params![e.id, e.tenant, e.url, events_text(&e.events), e.description, e.secret, e.created_ms],
        )?;
        Ok(())
    }

    fn endpoints(&self, tenant: &str) -> StoreResult<Vec<EndpointRecord>> {
        let conn = self.conn();
        let mut stmt = conn.prepare_cached(&format!(
            "SELECT {ENDPOINT_COLS} FROM webhook_endpoints WHERE tenant = ?1 ORDER BY created_ms DESC, id"
        ))?;
        Ok(stmt.query_map(params![tenant], endpoint_row)?.collect::<Result<Vec<_>, _>>()?)
    }

    fn endpoint(&self, tenant: &str, id: &str) -> StoreResult<Option<EndpointRecord>> {
        let conn = self.conn();
        Ok(conn
            .query_row(
                &format!("SELECT {ENDPOINT_COLS} FROM webhook_endpoints WHERE tenant = ?1 AND id = ?2"),
                params![tenant, id],
                endpoint_row,
            )
            .optional()?)
    }

    fn update_endpoint(
        &self,
        tenant: &str,
        id: &str,
        change: &UpdateWebhookRequest,
        now_ms: i64,
    ) -> StoreResult<Option<EndpointRecord>> {
        {
            let mut conn = self.writer();
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let n = tx.execute(
                "UPDATE webhook_endpoints SET url = COALESCE(?3, url), events = COALESCE(?4, events),
                     description = COALESCE(?5, description) WHERE tenant = ?1 AND id = ?2",
                params![tenant, id, change.url, change.events.as_deref().map(events_text), change.description],
            )?;
            if n == 0 {
                return Ok(None);
            }
            match change.enabled {
                Some(true) => {
                    tx.execute(
                        "UPDATE webhook_endpoints SET disabled_ms = NULL, disabled_reason = NULL, failing_since_ms = NULL
                         WHERE tenant = ?1 AND id = ?2",
                        params![tenant, id],
                    )?;
                }
                Some(false) => {
                    tx.execute(
                        "UPDATE webhook_endpoints SET disabled_ms = ?3, disabled_reason = 'disabled by an admin'
                         WHERE tenant = ?1 AND id = ?2 AND disabled_ms IS NULL",
                        params![tenant, id, now_ms],
                    )?;
                }
                None => {}
            }
            tx.commit()?;
        }
        self.endpoint(tenant, id)
    }

    fn delete_endpoint(&self, tenant: &str, id: &str) -> StoreResult<bool> {
        let mut conn = self.writer();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let n = tx.execute("DELETE FROM webhook_endpoints WHERE tenant = ?1 AND id = ?2", params![tenant, id])?;
        tx.execute(
            "DELETE FROM webhook_attempts WHERE delivery_id IN (SELECT id FROM webhook_deliveries WHERE endpoint_id = ?1)",
            params![id],
        )?;
        tx.execute("DELETE FROM webhook_deliveries WHERE endpoint_id = ?1", params![id])?;
        tx.commit()?;
        Ok(n == 1)
    }

    fn enqueue(
        &self,
        tenant: Option<&str>,
        event: EventType,
        data: &serde_json::Value,
        now_ms: i64,
    ) -> StoreResult<Vec<String>> {
        let any: Option<i64> = {
            let conn = self.conn();
            // Most events have no subscriber: find out without taking the write lock.
            conn.prepare_cached(
                "SELECT 1 FROM webhook_endpoints WHERE disabled_ms IS NULL AND (?1 IS NULL OR tenant = ?1) LIMIT 1",
            )?
            .query_row(params![tenant], |r| r.get(0))
            .optional()?
        };
        if any.is_none() {
            return Ok(Vec::new());
        }
        let mut conn = self.writer();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let ids = enqueue_tx(&tx, tenant, event, data, now_ms)?;
        tx.commit()?;
        Ok(ids)
    }

    fn claim(&self, now_ms: i64, lease_ms: i64, limit: u32) -> StoreResult<Vec<Claimed>> {
        let mut conn = self.writer();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let claimed = {
            let mut stmt = tx.prepare_cached(
                "SELECT d.id, d.message_id, d.endpoint_id, d.tenant, e.url, e.secret, m.payload, d.attempts
                 FROM webhook_deliveries d
                 JOIN webhook_endpoints e ON e.id = d.endpoint_id
                 JOIN webhook_messages m ON m.id = d.message_id
                 WHERE d.state = 'pending' AND d.next_attempt_ms <= ?1 AND d.lease_until_ms <= ?1
                   AND e.disabled_ms IS NULL
                 ORDER BY d.next_attempt_ms LIMIT ?2",
            )?;
            stmt.query_map(params![now_ms, i64::from(limit)], |r| {
                Ok(Claimed {
                    delivery_id: r.get(0)?,
                    message_id: r.get(1)?,
                    endpoint_id: r.get(2)?,
                    tenant: r.get(3)?,
                    url: r.get(4)?,
                    secret: r.get(5)?,
                    payload: r.get(6)?,
                    attempts: u32::try_from(r.get::<_, i64>(7)?).unwrap_or(0),
                })
            })?
            .collect::<Result<Vec<_>, _>>()?
        };
        for c in &claimed {
            tx.execute(
                "UPDATE webhook_deliveries SET lease_until_ms = ?2 WHERE id = ?1",
                params![c.delivery_id, now_ms + lease_ms],
            )?;
        }
        tx.commit()?;
        Ok(claimed)
    }

    fn finish(&self, a: &AttemptResult) -> StoreResult<bool> {
        let mut conn = self.writer();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let attempts: i64 = tx
            .query_row(
                "UPDATE webhook_deliveries SET attempts = attempts + 1, lease_until_ms = 0,
                     state = CASE WHEN ?2 THEN 'delivered' WHEN ?3 IS NULL THEN 'failed' ELSE 'pending' END,
                     next_attempt_ms = COALESCE(?3, next_attempt_ms)
                 WHERE id = ?1 RETURNING attempts",
                params![a.delivery_id, a.success, a.retry_at_ms],
                |r| r.get(0),
            )
            .optional()?
            .unwrap_or(0);
        if attempts == 0 {
            // The delivery was deleted with its endpoint meanwhile.
            return Ok(false);
        }
        tx.execute(
            "INSERT INTO webhook_attempts (delivery_id, attempt, ts_ms, status, latency_ms, error, response)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            params![
                a.delivery_id,
                attempts,
                a.ts_ms,
                a.status.map(i64::from),
                to_i64(a.latency_ms),
                a.error,
                a.response
            ],
        )?;
        let mut disabled = false;
        if a.success {
            tx.execute("UPDATE webhook_endpoints SET failing_since_ms = NULL WHERE id = ?1", params![a.endpoint_id])?;
        } else {
            let since: Option<i64> = tx
                .query_row(
                    "UPDATE webhook_endpoints SET failing_since_ms = COALESCE(failing_since_ms, ?2)
                     WHERE id = ?1 AND disabled_ms IS NULL RETURNING failing_since_ms",
                    params![a.endpoint_id, a.ts_ms],
                    |r| r.get(0),
                )
                .optional()?;
            if let Some(since) = since
                && a.ts_ms - since >= a.disable_after_ms
            {
                tx.execute(
                    "UPDATE webhook_endpoints SET disabled_ms = ?2, disabled_reason = ?3 WHERE id = ?1",
                    params![
                        a.endpoint_id,
                        a.ts_ms,
                        format!("every delivery failed since {} (sustained failure)", rfc3339(since))
                    ],
                )?;
                disabled = true;
            }
        }
        tx.commit()?;
        Ok(disabled)
    }

    fn deliveries(&self, tenant: &str, endpoint_id: &str, limit: u32) -> StoreResult<Vec<Delivery>> {
        let conn = self.conn();
        let mut stmt = conn.prepare_cached(
            "SELECT d.id, d.message_id, m.event_type, d.state, d.attempts, d.created_ms, d.next_attempt_ms
             FROM webhook_deliveries d JOIN webhook_messages m ON m.id = d.message_id
             WHERE d.tenant = ?1 AND d.endpoint_id = ?2 ORDER BY d.seq DESC LIMIT ?3",
        )?;
        let rows = stmt
            .query_map(params![tenant, endpoint_id, i64::from(limit)], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, String>(3)?,
                    r.get::<_, i64>(4)?,
                    r.get::<_, i64>(5)?,
                    r.get::<_, i64>(6)?,
                ))
            })?
            .collect::<Result<Vec<_>, _>>()?;
        let mut attempts = conn.prepare_cached(
            "SELECT attempt, ts_ms, status, latency_ms, error, response FROM webhook_attempts
             WHERE delivery_id = ?1 ORDER BY seq",
        )?;
        let mut out = Vec::new();
        for (id, message_id, event, state, n, created, next) in rows {
            let log = attempts
                .query_map(params![id], |r| {
                    Ok(DeliveryAttempt {
                        attempt: u32::try_from(r.get::<_, i64>(0)?).unwrap_or(0),
                        at: rfc3339(r.get(1)?),
                        status: r.get::<_, Option<i64>>(2)?.and_then(|s| u16::try_from(s).ok()),
                        latency_ms: to_u64(r.get(3)?),
                        error: r.get(4)?,
                        response: r.get(5)?,
                    })
                })?
                .collect::<Result<Vec<_>, _>>()?;
            let state = state_of(&state);
            out.push(Delivery {
                id,
                message_id,
                event_type: event.parse().map_err(|_| StoreError::Corrupt(format!("unknown event `{event}`")))?,
                state,
                attempts: u32::try_from(n).unwrap_or(0),
                created_at: rfc3339(created),
                next_attempt_at: (state == DeliveryState::Pending).then(|| rfc3339(next)),
                log,
            });
        }
        Ok(out)
    }

    fn redeliver(
        &self,
        tenant: &str,
        endpoint_id: &str,
        delivery_id: &str,
        now_ms: i64,
    ) -> StoreResult<Option<String>> {
        let mut conn = self.writer();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let message: Option<String> = tx
            .query_row(
                "SELECT message_id FROM webhook_deliveries WHERE tenant = ?1 AND endpoint_id = ?2 AND id = ?3",
                params![tenant, endpoint_id, delivery_id],
                |r| r.get(0),
            )
            .optional()?;
        let Some(message) = message else { return Ok(None) };
        let id = new_id("dlv_")?;
        tx.execute(
            "INSERT INTO webhook_deliveries (id, tenant, endpoint_id, message_id, state, next_attempt_ms, created_ms)
             VALUES (?1, ?2, ?3, ?4, 'pending', ?5, ?5)",
            params![id, tenant, endpoint_id, message, now_ms],
        )?;
        tx.commit()?;
        Ok(Some(id))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Group commit keeps the quota exact: 8 threads race 400 reservations against a quota
    /// of 100, half of them reserving ahead where the headroom allows; exactly 100 are
    /// counted, every other one is refused, and a refused call in a batch takes nothing of
    /// the others with it.
    #[test]
    fn batched_reservations_never_exceed_the_quota() {
        let dir = tempfile::tempdir().unwrap();
        let store = Arc::new(SqliteUsage::open(dir.path()).unwrap());
        let now = crate::store::sqlite::now_ms();
        let threads: Vec<_> = (0..8)
            .map(|t| {
                let store = Arc::clone(&store);
                std::thread::spawn(move || {
                    let (mut ok, mut refused) = (0, 0);
                    for i in 0..50 {
                        let events = vec![
                            UsageEvent {
                                tenant: "acme".into(),
                                key_id: format!("key_{t}"),
                                meter: Meter::ScanTransaction,
                                units: 1,
                                ts_ms: now,
                                idem_id: format!("req:{t}:{i}:scan"),
                            },
                            UsageEvent {
                                tenant: "acme".into(),
                                key_id: format!("key_{t}"),
                                meter: Meter::ApiRequests,
                                units: 1,
                                ts_ms: now,
                                idem_id: format!("req:{t}:{i}:api"),
                            },
                        ];
                        let quota = |m: Meter| (m == Meter::ScanTransaction).then_some(100);
                        // Odd threads first try to reserve ahead, as the middleware does.
                        let ahead = if t % 2 == 1 { store.reserve_ahead(&events, &quota) } else { None };
                        let outcome = match ahead {
                            Some(q) => {
                                let out = q.blocking_recv().unwrap().unwrap();
                                assert!(matches!(out, RecordOutcome::Recorded { .. }), "admitted ahead: {out:?}");
                                out
                            }
                            None => store.record(&events, &quota).unwrap(),
                        };
                        match outcome {
                            RecordOutcome::Recorded { counted, .. } => {
                                assert_eq!(counted.len(), 2);
                                ok += 1;
                            }
                            RecordOutcome::QuotaExceeded { quota, .. } => {
                                assert_eq!(quota, 100);
                                refused += 1;
                            }
                            other => panic!("SQLite has no leases: {other:?}"),
                        }
                    }
                    (ok, refused)
                })
            })
            .collect();
        let (ok, refused) =
            threads.into_iter().map(|t| t.join().unwrap()).fold((0, 0), |(a, b), (c, d)| (a + c, b + d));
        assert_eq!((ok, refused), (100, 300));
        let totals = store.month_totals("acme", Period::containing(now)).unwrap();
        assert_eq!(totals.get(&Meter::ScanTransaction), Some(&100));
        // A refused call is rolled back whole: its api.requests event is not kept either.
        assert_eq!(totals.get(&Meter::ApiRequests), Some(&100));
        assert_eq!(store.event_count("acme").unwrap(), 200);
    }

    /// A store written before the usage tables became WITHOUT ROWID opens with its events,
    /// counters and rollups intact, keeps deduplicating, and goes on counting.
    #[test]
    fn a_store_from_before_without_rowid_keeps_its_usage() {
        let dir = tempfile::tempdir().unwrap();
        let now = crate::store::sqlite::now_ms();
        let quota = |m: Meter| (m == Meter::ScanWallet).then_some(10);
        {
            let mut conn = crate::store::sqlite::open_conn(&dir.path().join("metering.sqlite")).unwrap();
            crate::store::sqlite::migrate(&mut conn, "metering_migrations", &MIGRATIONS[..1]).unwrap();
            // What that version wrote for two calls: the events, the counter and the rollups.
            let period = Period::containing(now).start_ms();
            conn.execute_batch(&format!(
                "INSERT INTO usage_events VALUES ('acme', 'a', 'key_1', 'scan.wallet', 1, {now}),
                                                 ('acme', 'b', 'key_1', 'scan.wallet', 1, {now});
                 INSERT INTO usage_counters VALUES ('acme', 'scan.wallet', {period}, 2);
                 INSERT INTO usage_rollups VALUES ('acme', 'm', {period}, 'key_1', 'scan.wallet', 2);"
            ))
            .unwrap();
        }
        let store = SqliteUsage::open(dir.path()).unwrap();
        let without_rowid: i64 = store
            .conn()
            .query_row(
                "SELECT COUNT(*) FROM sqlite_schema WHERE name IN ('usage_events', 'usage_rollups', 'usage_counters')
                 AND sql LIKE '%WITHOUT ROWID'",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(without_rowid, 3);
        assert_eq!(store.event_count("acme").unwrap(), 2);
        let period = Period::containing(now);
        assert_eq!(store.month_totals("acme", period).unwrap().get(&Meter::ScanWallet), Some(&2));
        assert!(matches!(
            store.record(&call("a", Meter::ScanWallet, now), &quota).unwrap(),
            RecordOutcome::Recorded { duplicates: 1, .. }
        ));
        assert!(matches!(
            store.record(&call("c", Meter::ScanWallet, now), &quota).unwrap(),
            RecordOutcome::Recorded { duplicates: 0, .. }
        ));
        assert_eq!(store.month_totals("acme", period).unwrap().get(&Meter::ScanWallet), Some(&3));
        let rows = store.usage("acme", Granularity::Month, period.start_ms(), period.end_ms(), true).unwrap();
        assert_eq!(rows.iter().map(|r| r.3).sum::<u64>(), 3, "{rows:?}");
    }

    /// Usage is exact before and after the fold: pending rows (refunds included) are read
    /// beside the rollups, and the fold moves them in chunks without changing an answer.
    #[test]
    fn folding_the_pending_rows_changes_no_answer() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteUsage::open(dir.path()).unwrap();
        let hour = 3_600_000;
        // 2026-11-03 10:00 UTC and an hour later.
        let (h10, h11) =
            (1_793_700_000_000 - 1_793_700_000_000 % hour, 1_793_700_000_000 - 1_793_700_000_000 % hour + hour);
        let event = |id: &str, key: &str, ts_ms: i64| UsageEvent {
            tenant: "acme".into(),
            key_id: key.into(),
            meter: Meter::ScanAddress,
            units: 1,
            ts_ms,
            idem_id: id.into(),
        };
        let calls =
            [event("a", "k1", h10), event("b", "k1", h10 + 5), event("c", "k2", h10 + 9), event("d", "k1", h11)];
        for e in &calls {
            store.record(std::slice::from_ref(e), &|_| Some(100)).unwrap();
        }
        assert_eq!(store.unrecord("acme", &["b".to_owned()]).unwrap(), 1);
        let period = Period::containing(h10);
        let answers = |store: &SqliteUsage| {
            [Granularity::Hour, Granularity::Day, Granularity::Month]
                .map(|g| store.usage("acme", g, period.start_ms(), period.end_ms(), true).unwrap())
        };
        let before = answers(&store);
        assert_eq!(
            before[0],
            vec![
                (h10, Some("k1".into()), Meter::ScanAddress, 1),
                (h10, Some("k2".into()), Meter::ScanAddress, 1),
                (h11, Some("k1".into()), Meter::ScanAddress, 1),
            ]
        );
        assert_eq!(
            before[2],
            vec![
                (period.start_ms(), Some("k1".into()), Meter::ScanAddress, 2),
                (period.start_ms(), Some("k2".into()), Meter::ScanAddress, 1),
            ]
        );
        // The background folder may have run already; fold what is left.
        while store.fold().unwrap() > 0 {}
        assert_eq!(store.pending().unwrap(), 0);
        assert_eq!(answers(&store), before);
        // A refund of a folded event is taken off the rollups by the next fold.
        assert_eq!(store.unrecord("acme", &["d".to_owned()]).unwrap(), 1);
        let after = answers(&store);
        assert_eq!(after[0].len(), 2, "{after:?}");
        store.fold().unwrap();
        assert_eq!(answers(&store), after);
        let stored: i64 =
            store.conn().query_row("SELECT SUM(units) FROM usage_rollups WHERE gran = 'm'", [], |r| r.get(0)).unwrap();
        assert_eq!(stored, 2);
        // A backlog is folded a chunk at a time.
        let mut conn = store.writer();
        conn.execute_batch(&format!(
            "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < {})
             INSERT INTO usage_pending (tenant, key_id, meter, units, hour_ms, day_ms, month_ms)
             SELECT 'other', 'k', 'scan.address', 1, {h10}, {h10}, {} FROM n",
            FOLD_CHUNK + 5,
            period.start_ms()
        ))
        .unwrap();
        assert_eq!(fold(&mut conn).unwrap(), FOLD_CHUNK);
        assert_eq!(fold(&mut conn).unwrap(), 5);
        assert_eq!(fold(&mut conn).unwrap(), 0);
        drop(conn);
        let other = store.usage("other", Granularity::Month, period.start_ms(), period.end_ms(), false).unwrap();
        assert_eq!(other, vec![(period.start_ms(), None, Meter::ScanAddress, to_u64(FOLD_CHUNK + 5))]);
    }

    /// A store that closes folds what is pending: its rollups alone are complete.
    #[test]
    fn a_closing_store_folds_what_is_pending() {
        let dir = tempfile::tempdir().unwrap();
        let now = crate::store::sqlite::now_ms();
        {
            let store = SqliteUsage::open(dir.path()).unwrap();
            for id in ["a", "b", "c"] {
                store.record(&call(id, Meter::ScanWallet, now), &|_| None).unwrap();
            }
        }
        let conn = crate::store::sqlite::open_conn(&dir.path().join("metering.sqlite")).unwrap();
        let count = |sql: &str| conn.query_row(sql, [], |r| r.get::<_, i64>(0)).unwrap();
        assert_eq!(count("SELECT COUNT(*) FROM usage_pending"), 0);
        assert_eq!(count("SELECT SUM(units) FROM usage_rollups WHERE gran = 'h' AND tenant = 'acme'"), 3);
        assert_eq!(count("SELECT SUM(units) FROM usage_rollups WHERE gran = 'm' AND tenant = 'acme'"), 3);
    }

    fn call(id: &str, meter: Meter, ts_ms: i64) -> Vec<UsageEvent> {
        vec![UsageEvent { tenant: "acme".into(), key_id: "key_1".into(), meter, units: 1, ts_ms, idem_id: id.into() }]
    }

    /// The in-memory headroom: unknown until a counter's first reservation committed, then
    /// admits calls ahead up to the quota and no further; duplicates and refunds give units
    /// back.
    #[test]
    fn reservations_ahead_stop_at_the_quota() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteUsage::open(dir.path()).unwrap();
        let now = crate::store::sqlite::now_ms();
        let quota = |m: Meter| (m == Meter::ScanWallet).then_some(3);
        let ahead = |id: &str| {
            store.reserve_ahead(&call(id, Meter::ScanWallet, now), &quota).map(|q| q.blocking_recv().unwrap().unwrap())
        };
        assert!(ahead("a").is_none(), "the counter is not known yet");
        assert!(matches!(
            store.record(&call("a", Meter::ScanWallet, now), &quota).unwrap(),
            RecordOutcome::Recorded { .. }
        ));
        assert!(matches!(ahead("b"), Some(RecordOutcome::Recorded { .. })));
        // A duplicate admitted ahead is not counted and gives its unit back.
        assert!(matches!(ahead("b"), Some(RecordOutcome::Recorded { duplicates: 1, .. })));
        assert!(matches!(ahead("c"), Some(RecordOutcome::Recorded { .. })));
        assert!(ahead("d").is_none(), "3 of 3 used: the exact path decides");
        assert!(matches!(
            store.record(&call("d", Meter::ScanWallet, now), &quota).unwrap(),
            RecordOutcome::QuotaExceeded { used: 3, .. }
        ));
        // A refund frees a unit for the next call ahead.
        assert_eq!(store.unrecord("acme", &["c".to_owned()]).unwrap(), 1);
        assert!(matches!(ahead("e"), Some(RecordOutcome::Recorded { .. })));
        assert!(ahead("f").is_none());
        let totals = store.month_totals("acme", Period::containing(now)).unwrap();
        assert_eq!(totals.get(&Meter::ScanWallet), Some(&3));
        // Meters without a quota are not tracked: such calls never need the headroom.
        assert!(store.reserve_ahead(&call("g", Meter::ScanTransaction, now), &quota).is_some());
    }
}
