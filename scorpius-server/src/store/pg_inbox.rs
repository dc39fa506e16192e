//! The usage inbox (PostgreSQL): how a call that cannot be refused is billed without a
//! metering statement of its own on the request's path.
//!
//! A call admitted without a check ([`super::usage::UsageStore::admit`]: its meters have no
//! quota, or this replica's leases hold its units) runs with nothing written. When it is
//! answered, the events it is billed for go into `usage_inbox` in the transaction that
//! appends the request's audit entry ([`insert_sql`], in the statement that takes the audit
//! log's append lock), whose commit the response already waits for: they are durable exactly
//! when the audit entry is.
//! [`drain`] later applies inbox rows to the events, counters, leases and pending rollup rows
//! and deletes them, in one transaction, many calls at a time:
//!
//! - each replica drains its own rows a moment after they land (its drainer thread);
//! - any replica drains rows older than [`ORPHAN_AFTER_MS`] (those of a replica that died);
//! - a usage query drains every row first, so it counts every call answered before it.
//!
//! An event already stored (a retry) is not counted again. Quotas stay exact: while the lease
//! a row was admitted under is live, the lease row holds its units (a grant keeps them, see
//! [`inbox_units`]); once that lease has ended, or for a row admitted without one, its units
//! count as used beside the counter (grants and checks add them), until the drain moves them
//! into the counter. So `counter + live leases + rows outside them ≤ quota` holds throughout,
//! and a drain never refuses a row: it only moves units from one term to another. (Its known
//! exceptions — a grant the database lost in a crash, replicas of a version from before the
//! inbox — are in `docs/metering.md`.)

use std::collections::{BTreeMap, BTreeSet};

use postgres::{Client, Transaction, types::ToSql};
use scorpius_core::{
    metering::{Meter, Period},
    pg::Statements,
};

use super::{
    pg_leases::{self, DB_NOW_MS, KeyColumns},
    postgres_usage::{Crossing, PendingColumns, create_counters, insert_events, record_crossings, retryable},
    usage::{CounterKey, InboxRow, UsageEvent, crossings, pending_rows},
};

/// The table (metering migration 5). The rows of one replica are numbered by it; no other
/// index: the table holds a fraction of a second of calls.
pub const MIGRATION: &str = "
CREATE TABLE usage_inbox (
    holder     TEXT NOT NULL,
    n          BIGINT NOT NULL,
    tenant     TEXT NOT NULL,
    key_id     TEXT NOT NULL,
    meter      TEXT NOT NULL,
    units      BIGINT NOT NULL,
    ts_ms      BIGINT NOT NULL,
    idem_id    TEXT NOT NULL,
    period_ms  BIGINT NOT NULL,
    leased     BOOLEAN NOT NULL,
    quota      BIGINT,
    created_ms BIGINT NOT NULL DEFAULT (extract(epoch from clock_timestamp()) * 1000)::int8,
    PRIMARY KEY (holder, n)
) WITH (autovacuum_vacuum_scale_factor = 0, autovacuum_vacuum_threshold = 5000);
";

/// Rows older than this (by the database's clock) are drained by any replica: their own
/// replica drains them within milliseconds while it runs.
pub const ORPHAN_AFTER_MS: i64 = 2_000;

/// Rows applied per transaction at most.
const CHUNK: i64 = 5_000;

fn to_i64(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

fn to_u64(v: i64) -> u64 {
    u64::try_from(v).unwrap_or(0)
}

/// The insert of inbox rows, its parameters ([`InboxColumns::params`]) numbered from
/// `$first` (2 when it rides the audit append's lock statement).
pub fn insert_sql(first: usize) -> String {
    let types = ["text", "int8", "text", "text", "text", "int8", "int8", "text", "int8", "bool", "int8"];
    let columns: Vec<String> = (first..).zip(types).map(|(i, t)| format!("${i}::{t}[]")).collect();
    format!(
        "INSERT INTO usage_inbox (holder, n, tenant, key_id, meter, units, ts_ms, idem_id, period_ms, leased, quota)
         SELECT * FROM UNNEST({}) ON CONFLICT (holder, n) DO NOTHING",
        columns.join(", ")
    )
}

/// Inbox rows as the column arrays of [`insert_sql`].
#[derive(Debug, Default)]
pub struct InboxColumns<'a> {
    holders: Vec<&'a str>,
    ns: Vec<i64>,
    tenants: Vec<&'a str>,
    key_ids: Vec<&'a str>,
    meters: Vec<&'static str>,
    units: Vec<i64>,
    ts_ms: Vec<i64>,
    idem_ids: Vec<&'a str>,
    periods: Vec<i64>,
    leased: Vec<bool>,
    quotas: Vec<Option<i64>>,
}

impl<'a> InboxColumns<'a> {
    /// The columns of `rows`.
    pub fn new(rows: impl IntoIterator<Item = &'a InboxRow>) -> Self {
        let mut c = InboxColumns::default();
        for r in rows {
            c.holders.push(&r.holder);
            c.ns.push(r.n);
            c.tenants.push(&r.event.tenant);
            c.key_ids.push(&r.event.key_id);
            c.meters.push(r.event.meter.as_str());
            c.units.push(to_i64(r.event.units));
            c.ts_ms.push(r.event.ts_ms);
            c.idem_ids.push(&r.event.idem_id);
            c.periods.push(Period::containing(r.event.ts_ms).start_ms());
            c.leased.push(r.leased);
            c.quotas.push(r.quota.map(to_i64));
        }
        c
    }

    /// The parameters of [`insert_sql`], in order.
    pub fn params(&self) -> [&(dyn ToSql + Sync); 11] {
        [
            &self.holders,
            &self.ns,
            &self.tenants,
            &self.key_ids,
            &self.meters,
            &self.units,
            &self.ts_ms,
            &self.idem_ids,
            &self.periods,
            &self.leased,
            &self.quotas,
        ]
    }
}

/// Inserts inbox rows in `tx` (when no audit append carried them).
pub fn insert_inbox(
    tx: &mut Transaction<'_>,
    stmts: &mut Statements,
    rows: &[InboxRow],
) -> Result<(), postgres::Error> {
    let st = stmts.get(tx, &insert_sql(1))?;
    tx.execute(&st, &InboxColumns::new(rows).params())?;
    Ok(())
}

/// Inbox units of some counters, as grants and quota checks count them (the counters are
/// locked, so no drain moves them meanwhile): `own`, the rows of `holder` admitted under its
/// live lease (which holds them); `outside`, every row under no live lease (admitted without
/// one, or whose lease has ended), which count as used beside the counter.
#[derive(Debug, Default)]
pub struct InboxUnits {
    /// Units of `holder`'s rows inside its live leases.
    pub own: BTreeMap<CounterKey, u64>,
    /// Units of rows outside every live lease.
    pub outside: BTreeMap<CounterKey, u64>,
}

/// Reads [`InboxUnits`] of `keys`.
pub fn inbox_units<'a>(
    tx: &mut Transaction<'_>,
    stmts: &mut Statements,
    holder: &str,
    keys: impl IntoIterator<Item = &'a CounterKey>,
) -> Result<InboxUnits, postgres::Error> {
    let c = KeyColumns::keys(keys);
    let st = stmts.get(
        tx,
        &format!(
            "SELECT i.tenant, i.meter, i.period_ms, i.holder = $4, i.leased AND l.holder IS NOT NULL,
                    SUM(i.units)::int8
             FROM usage_inbox i
             JOIN UNNEST($1::text[], $2::text[], $3::int8[]) AS u(t, m, p)
               ON i.tenant = u.t AND i.meter = u.m AND i.period_ms = u.p
             LEFT JOIN usage_leases l
               ON l.tenant = i.tenant AND l.meter = i.meter AND l.period_ms = i.period_ms AND l.holder = i.holder
              AND l.expires_ms > {DB_NOW_MS}
             GROUP BY 1, 2, 3, 4, 5"
        ),
    )?;
    let mut out = InboxUnits::default();
    for r in tx.query(&st, &[&c.tenants, &c.meters, &c.periods, &holder])? {
        let Ok(meter) = r.get::<_, &str>(1).parse::<Meter>() else { continue };
        let key = (r.get(0), meter, r.get(2));
        let units = to_u64(r.get(5));
        match (r.get::<_, bool>(3), r.get::<_, bool>(4)) {
            (true, true) => *out.own.entry(key).or_default() += units,
            (_, false) => *out.outside.entry(key).or_default() += units,
            (false, true) => {} // in another replica's live lease, counted with it
        }
    }
    Ok(out)
}

/// Which inbox rows a [`drain`] applies.
#[derive(Debug, Clone, Copy)]
pub enum Drain<'a> {
    /// A replica's own rows.
    Holder(&'a str),
    /// Every row older than this many ms (a dead replica's).
    OlderThan(i64),
    /// Every row (before a usage query).
    All,
}

/// Applies inbox rows and deletes them, [`CHUNK`] rows per transaction; returns how many.
/// Retried on deadlocks; on an error the rows stay for the next drain.
pub fn drain(client: &mut Client, stmts: &mut Statements, which: Drain<'_>) -> Result<usize, postgres::Error> {
    let mut total = 0;
    loop {
        let n = drain_chunk(client, stmts, which)?;
        total += n;
        if to_i64(n as u64) < CHUNK {
            return Ok(total);
        }
    }
}

fn drain_chunk(client: &mut Client, stmts: &mut Statements, which: Drain<'_>) -> Result<usize, postgres::Error> {
    let mut tries = 0;
    loop {
        let mut tx = client.transaction()?;
        match apply(&mut tx, stmts, which) {
            Ok(Applied::Done(n)) => {
                tx.commit()?;
                return Ok(n);
            }
            Ok(Applied::Missing(keys)) => {
                // Created apart, in order, as the writer creates them; then the chunk again.
                tx.rollback()?;
                create_counters(client, stmts, &keys)?;
            }
            Err(e) if retryable(&e) && tries < 5 => tries += 1,
            Err(e) => return Err(e),
        }
    }
}

enum Applied {
    Done(usize),
    Missing(Vec<CounterKey>),
}

/// One row taken out of the inbox.
struct Taken {
    holder: String,
    event: UsageEvent,
    leased: bool,
    quota: Option<u64>,
}

fn apply(tx: &mut Transaction<'_>, stmts: &mut Statements, which: Drain<'_>) -> Result<Applied, postgres::Error> {
    // Rows are locked in one order, so drains running together cannot deadlock; a row
    // another drain took is skipped once that drain commits.
    let (holder, age): (Option<&str>, i64) = match which {
        Drain::Holder(h) => (Some(h), 0),
        Drain::OlderThan(ms) => (None, ms),
        Drain::All => (None, 0),
    };
    let st = stmts.get(
        tx,
        &format!(
            "DELETE FROM usage_inbox i USING (
                 SELECT holder, n FROM usage_inbox
                 WHERE ($1::text IS NULL OR holder = $1) AND created_ms <= {DB_NOW_MS} - $2
                   AND meter = ANY($4::text[])
                 ORDER BY holder, n LIMIT $3 FOR UPDATE
             ) x WHERE i.holder = x.holder AND i.n = x.n
             RETURNING i.holder, i.n, i.tenant, i.key_id, i.meter, i.units, i.ts_ms, i.idem_id, i.leased, i.quota"
        ),
    )?;
    // Rows of a meter this version does not know (written by a newer one) are left to it.
    let known: Vec<&str> = Meter::ALL.iter().map(|m| m.as_str()).collect();
    let mut rows: Vec<(i64, Taken)> = Vec::new();
    for r in tx.query(&st, &[&holder, &age, &CHUNK, &known])? {
        let Ok(meter) = r.get::<_, &str>(4).parse::<Meter>() else { continue };
        rows.push((
            r.get(1),
            Taken {
                holder: r.get(0),
                event: UsageEvent {
                    tenant: r.get(2),
                    key_id: r.get(3),
                    meter,
                    units: to_u64(r.get(5)),
                    ts_ms: r.get(6),
                    idem_id: r.get(7),
                },
                leased: r.get(8),
                quota: r.get::<_, Option<i64>>(9).map(to_u64),
            },
        ));
    }
    if rows.is_empty() {
        return Ok(Applied::Done(0));
    }
    // In the order the calls were admitted (per replica), so thresholds are crossed by the
    // call that crossed them.
    rows.sort_by(|a, b| (a.1.event.ts_ms, &a.1.holder, a.0).cmp(&(b.1.event.ts_ms, &b.1.holder, b.0)));
    let taken: Vec<Taken> = rows.into_iter().map(|(_, t)| t).collect();

    // Each event once (a retry may be in the inbox twice), in (tenant, idempotency id) order
    // as every writer locks them; those already stored are not counted.
    let mut firsts: BTreeMap<(&str, &str), &UsageEvent> = BTreeMap::new();
    for t in &taken {
        firsts.entry((&t.event.tenant, &t.event.idem_id)).or_insert(&t.event);
    }
    let mut new = insert_events(tx, stmts, firsts.values().copied())?;
    // The first row of each new event counts it.
    let counted: Vec<&Taken> =
        taken.iter().filter(|t| new.remove(&(t.event.tenant.clone(), t.event.idem_id.clone()))).collect();

    // Every counter the rows touch, locked in order (leases change only under their
    // counter's lock).
    let key_of = |e: &UsageEvent| (e.tenant.clone(), e.meter, Period::containing(e.ts_ms).start_ms());
    let keys: BTreeSet<CounterKey> = taken.iter().map(|t| key_of(&t.event)).collect();
    let counters = pg_leases::lock_counters(tx, stmts, keys.iter())?;
    let missing: Vec<CounterKey> =
        counted.iter().map(|t| key_of(&t.event)).filter(|k| !counters.contains_key(k)).collect();
    if !missing.is_empty() {
        return Ok(Applied::Missing(missing.into_iter().collect::<BTreeSet<_>>().into_iter().collect()));
    }

    // The counters after the counted rows, one call at a time, and the thresholds crossed.
    let mut after: BTreeMap<CounterKey, i64> = BTreeMap::new();
    let mut crossed: Vec<Crossing> = Vec::new();
    for t in &counted {
        let e = &t.event;
        let key = key_of(e);
        let slot = after.entry(key.clone()).or_insert_with(|| counters.get(&key).copied().unwrap_or(0));
        let was = to_u64(*slot);
        *slot = slot.saturating_add(to_i64(e.units));
        let period = Period::containing(e.ts_ms);
        for level in crossings(t.quota, was, to_u64(*slot)) {
            crossed.push((e.tenant.clone(), e.meter, level, t.quota.unwrap_or(0), to_u64(*slot), period, e.ts_ms));
        }
    }
    // What each holder's leases held for these rows, counted or not (a retry's units go back
    // to the quota). Only a live lease holds them; an ended one no longer counts.
    let mut drawn: BTreeMap<(CounterKey, &str), i64> = BTreeMap::new();
    for t in taken.iter().filter(|t| t.leased) {
        *drawn.entry((key_of(&t.event), t.holder.as_str())).or_default() += to_i64(t.event.units);
    }
    let pending = pending_rows(counted.iter().map(|t| &t.event), 1);
    let p = PendingColumns::new(&pending);
    let changed = KeyColumns::new(after.iter().map(|(k, v)| (k, *v)));
    let lease_keys = KeyColumns::new(drawn.iter().map(|((k, _), v)| (k, *v)));
    let holders: Vec<&str> = drawn.keys().map(|(_, h)| *h).collect();
    let st = stmts.get(
        tx,
        &format!(
            "WITH leases AS (
                UPDATE usage_leases l SET units = GREATEST(l.units - u.n, 0)
                FROM UNNEST($1::text[], $2::text[], $3::int8[], $4::int8[], $5::text[]) AS u(t, m, p, n, h)
                WHERE l.tenant = u.t AND l.meter = u.m AND l.period_ms = u.p AND l.holder = u.h
                  AND l.expires_ms > {DB_NOW_MS}
             ), counters AS (
                UPDATE usage_counters c SET units = u.n
                FROM UNNEST($6::text[], $7::text[], $8::int8[], $9::int8[]) AS u(t, m, p, n)
                WHERE c.tenant = u.t AND c.meter = u.m AND c.period_ms = u.p
             )
             INSERT INTO usage_pending (tenant, key_id, meter, units, hour_ms, day_ms, month_ms)
             SELECT * FROM UNNEST($10::text[], $11::text[], $12::text[], $13::int8[], $14::int8[], $15::int8[],
                                  $16::int8[])"
        ),
    )?;
    let head: [&(dyn postgres::types::ToSql + Sync); 9] = [
        &lease_keys.tenants,
        &lease_keys.meters,
        &lease_keys.periods,
        &lease_keys.values,
        &holders,
        &changed.tenants,
        &changed.meters,
        &changed.periods,
        &changed.values,
    ];
    tx.execute(&st, &[head.as_slice(), &p.params()].concat())?;
    record_crossings(tx, crossed)?;
    Ok(Applied::Done(taken.len()))
}
