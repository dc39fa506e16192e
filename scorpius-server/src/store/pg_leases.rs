//! Quota leases: how a PostgreSQL replica admits a call with a quota without waiting for its
//! reservation to commit first.
//!
//! A replica (a *holder*) takes a lease of units from a monthly counter: a row of
//! `usage_leases`, written while the counter row is locked, under the invariant
//!
//! > counter units + the units of every live lease ≤ quota.
//!
//! It then admits calls against its lease in memory ([`Leases::take`]) and lets them run while
//! their reservations commit; the metering writer moves their units from the lease row to the
//! counter (`postgres_usage::reserve_batch`), which keeps the invariant. A call admitted this
//! way is therefore never refused by the database: the quota is never exceeded, with any
//! number of replicas.
//!
//! - A lease is *live* until its `expires_ms`, by the database's clock, [`TTL_MS`] after its
//!   last grant. A replica stops using it [`MARGIN`] earlier by its own monotonic clock,
//!   counted from before it asked, so a call it admits is written while the lease is live. A
//!   replica that dies leaves units that count for at most [`TTL_MS`]; a replica that stops
//!   releases its leases.
//! - A grant tops the lease up to at most [`MAX_UNITS`] and at most `1/SHARE` of what nobody
//!   holds, and none is given below [`MIN_UNITS`]: leases shrink as the quota nears and stop
//!   before it, so the last units are reserved one call at a time.
//! - A call reserved without a lease that would fit the counter but not beside live leases is
//!   answered `Contended` (nothing recorded): the middleware retries it once a lease has been
//!   used or has expired, and only refuses it once every lease it met has expired. So the call
//!   that is refused is one that would exceed the quota, as without leases; near the end of a
//!   quota it may wait up to [`TTL_MS`] for that answer.
//! - Grants are asked for in the background, before the lease runs out (at half its units or
//!   half its life), so a busy key rarely takes the waiting path.

use std::{
    collections::{BTreeMap, HashMap},
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use postgres::Transaction;
use scorpius_core::{metering::Meter, pg::Statements};

use super::usage::{CounterKey, Reservation};

/// The table (metering migration 2).
pub const MIGRATION: &str = "
CREATE TABLE usage_leases (
    tenant     TEXT NOT NULL,
    meter      TEXT NOT NULL,
    period_ms  BIGINT NOT NULL,
    holder     TEXT NOT NULL,
    units      BIGINT NOT NULL,
    expires_ms BIGINT NOT NULL,
    PRIMARY KEY (tenant, meter, period_ms, holder)
);
";

/// A lease's life after its last grant (database clock).
pub const TTL_MS: i64 = 2_000;
/// How much earlier than the database the holder stops using a lease.
pub const MARGIN: Duration = Duration::from_millis(500);
/// The most units one lease holds.
pub const MAX_UNITS: u64 = 1024;
/// The fewest units granted: below this the calls reserve one at a time.
pub const MIN_UNITS: u64 = 2;
/// A grant takes at most this fraction (1/SHARE) of the units nobody holds.
pub const SHARE: u64 = 8;
/// After a refused or failed grant, the key is not asked for again for this long.
const BACKOFF: Duration = Duration::from_millis(200);
/// Keys remembered before dead ones are forgotten.
const KEEP: usize = 4096;

/// The database's clock (Unix ms), as SQL.
pub const DB_NOW_MS: &str = "(extract(epoch from clock_timestamp()) * 1000)::int8";

/// A request for a grant, queued to the grant thread.
#[derive(Debug, Clone)]
pub struct Grant {
    /// The counter.
    pub key: CounterKey,
    /// Its quota.
    pub quota: u64,
    /// When it was asked (the local lease ends [`TTL_MS`] − [`MARGIN`] after this).
    pub asked: Instant,
}

#[derive(Debug)]
struct Local {
    /// Units this replica may still admit.
    units: u64,
    /// When it stops admitting from this lease.
    until: Instant,
    /// Units of the last grant's target (a grant is asked again below half of it).
    target: u64,
    /// A grant is queued.
    asking: bool,
    /// No grant is asked before this.
    quiet_until: Option<Instant>,
}

/// What [`Leases::take`] decided.
#[derive(Debug)]
pub enum Take {
    /// No meter of the call has a quota.
    Unlimited,
    /// Admitted: its units were taken from the leases. Grants to ask for.
    Admitted(Vec<Grant>),
    /// Not admitted (a lease is missing or short): reserve and wait. Grants to ask for.
    Wait(Vec<Grant>),
}

/// This replica's leases, as it admits calls against them.
#[derive(Debug)]
pub struct Leases {
    /// This replica's holder id in `usage_leases`.
    pub holder: String,
    local: Mutex<HashMap<CounterKey, Local>>,
    /// Released: nothing is admitted or asked for any more.
    closed: std::sync::atomic::AtomicBool,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl Leases {
    /// Leases of the holder `holder` (none yet).
    pub fn new(holder: String) -> Arc<Self> {
        Arc::new(Leases { holder, local: Mutex::default(), closed: Default::default() })
    }

    /// Stops admitting against the leases (the replica releases them).
    pub fn close(&self) {
        self.closed.store(true, std::sync::atomic::Ordering::SeqCst);
        lock(&self.local).clear();
    }

    /// Admits `r` against this replica's leases, and says which grants to ask for (a lease
    /// that is missing, used up, running low or about to end).
    pub fn take(&self, r: &Reservation) -> Take {
        let need = r.needs();
        if need.is_empty() {
            return Take::Unlimited;
        }
        if self.closed.load(std::sync::atomic::Ordering::SeqCst) {
            return Take::Wait(Vec::new());
        }
        let now = Instant::now();
        let mut local = lock(&self.local);
        let fits = need.iter().all(|(k, (units, _))| local.get(k).is_some_and(|l| now < l.until && l.units >= *units));
        let mut asks = Vec::new();
        for (key, (units, quota)) in need {
            let l = local.entry(key.clone()).or_insert(Local {
                units: 0,
                until: now,
                target: 0,
                asking: false,
                quiet_until: None,
            });
            if fits {
                l.units -= units;
            }
            let running_low = now >= l.until
                || l.units.saturating_mul(2) < l.target
                || l.until.saturating_duration_since(now) < ttl() / 2;
            if running_low && !l.asking && l.quiet_until.is_none_or(|q| now >= q) {
                l.asking = true;
                asks.push(Grant { key, quota, asked: now });
            }
        }
        if local.len() > KEEP {
            local.retain(|_, l| l.asking || now < l.until);
        }
        if fits { Take::Admitted(asks) } else { Take::Wait(asks) }
    }

    /// Records the outcome of grants: `(grant, units added)` (0: none given) or an error.
    pub fn granted(&self, outcomes: &[(Grant, Result<GrantResult, ()>)]) {
        let now = Instant::now();
        let mut local = lock(&self.local);
        for (g, outcome) in outcomes {
            let Some(l) = local.get_mut(&g.key) else { continue };
            l.asking = false;
            match outcome {
                Ok(GrantResult { added, target }) if *target > 0 => {
                    l.units = if now < l.until { l.units.saturating_add(*added) } else { *added };
                    l.until = g.asked + ttl() - MARGIN;
                    l.target = *target;
                    l.quiet_until = None;
                }
                _ => l.quiet_until = Some(now + BACKOFF),
            }
        }
    }
}

fn ttl() -> Duration {
    Duration::from_millis(TTL_MS.unsigned_abs())
}

/// What a grant gave: units added to the lease, and the lease's target size (0: none).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GrantResult {
    /// Units added.
    pub added: u64,
    /// The size the lease was topped up to.
    pub target: u64,
}

/// How much to grant: the lease is topped up to `min(MAX_UNITS, free / SHARE)` where `free`
/// is what nobody else holds (this holder's live lease counts as its own), never below what
/// it holds. `None` below [`MIN_UNITS`]: no grant, and the lease is not extended.
pub fn top_up(quota: u64, used: u64, others: u64, own: u64) -> Option<u64> {
    let free = quota.saturating_sub(used).saturating_sub(others);
    let target = MAX_UNITS.min(free / SHARE);
    (target >= MIN_UNITS).then_some(own.max(target))
}

/// Grants leases for a batch of requests in one transaction (the counters locked in order,
/// as the metering writer locks them): one result per request. The counter rows must exist
/// (a grant is asked for after a reservation of the counter); for one that does not, none
/// is granted.
pub fn grant_batch(
    tx: &mut Transaction<'_>,
    stmts: &mut Statements,
    holder: &str,
    grants: &[Grant],
) -> Result<Vec<GrantResult>, postgres::Error> {
    let keys: BTreeMap<&CounterKey, u64> = grants.iter().map(|g| (&g.key, g.quota)).collect();
    let tenants: Vec<&str> = keys.keys().map(|k| k.0.as_str()).collect();
    let meters: Vec<&str> = keys.keys().map(|k| k.1.as_str()).collect();
    let periods: Vec<i64> = keys.keys().map(|k| k.2).collect();
    let params: [&(dyn postgres::types::ToSql + Sync); 3] = [&tenants, &meters, &periods];
    let st = stmts.get(
        tx,
        "SELECT c.tenant, c.meter, c.period_ms, c.units FROM usage_counters c
         JOIN UNNEST($1::text[], $2::text[], $3::int8[]) AS u(t, m, p)
           ON c.tenant = u.t AND c.meter = u.m AND c.period_ms = u.p
         ORDER BY c.tenant COLLATE \"C\", c.meter COLLATE \"C\", c.period_ms FOR UPDATE OF c",
    )?;
    let mut used: BTreeMap<CounterKey, u64> = BTreeMap::new();
    for r in tx.query(&st, &params)? {
        if let Ok(m) = r.get::<_, &str>(1).parse::<Meter>() {
            used.insert((r.get(0), m, r.get(2)), u64::try_from(r.get::<_, i64>(3)).unwrap_or(0));
        }
    }
    // With the counters locked, the leases of these keys cannot change under us.
    let st = stmts.get(
        tx,
        &format!(
            "DELETE FROM usage_leases l USING UNNEST($1::text[], $2::text[], $3::int8[]) AS u(t, m, p)
             WHERE l.tenant = u.t AND l.meter = u.m AND l.period_ms = u.p AND l.expires_ms <= {DB_NOW_MS}"
        ),
    )?;
    tx.execute(&st, &params)?;
    let st = stmts.get(
        tx,
        "SELECT l.tenant, l.meter, l.period_ms, l.holder = $4, l.units FROM usage_leases l
         JOIN UNNEST($1::text[], $2::text[], $3::int8[]) AS u(t, m, p)
           ON l.tenant = u.t AND l.meter = u.m AND l.period_ms = u.p",
    )?;
    let mut own: BTreeMap<CounterKey, u64> = BTreeMap::new();
    let mut others: BTreeMap<CounterKey, u64> = BTreeMap::new();
    for r in tx.query(&st, &[&tenants, &meters, &periods, &holder])? {
        if let Ok(m) = r.get::<_, &str>(1).parse::<Meter>() {
            let units = u64::try_from(r.get::<_, i64>(4)).unwrap_or(0);
            let map = if r.get::<_, bool>(3) { &mut own } else { &mut others };
            *map.entry((r.get(0), m, r.get(2))).or_default() += units;
        }
    }
    let mut results: BTreeMap<&CounterKey, GrantResult> = BTreeMap::new();
    let mut rows: Vec<(&CounterKey, i64)> = Vec::new();
    for (key, quota) in &keys {
        let mine = own.get(*key).copied().unwrap_or(0);
        // No counter row, no lock: nothing granted.
        let size = used.get(*key).and_then(|used| top_up(*quota, *used, others.get(*key).copied().unwrap_or(0), mine));
        let result = match size {
            Some(size) => {
                rows.push((key, i64::try_from(size).unwrap_or(i64::MAX)));
                GrantResult { added: size - mine, target: size }
            }
            None => GrantResult { added: 0, target: 0 },
        };
        results.insert(key, result);
    }
    if !rows.is_empty() {
        let st = stmts.get(
            tx,
            &format!(
                "INSERT INTO usage_leases (tenant, meter, period_ms, holder, units, expires_ms)
                 SELECT t, m, p, $5, n, {DB_NOW_MS} + $6 FROM UNNEST($1::text[], $2::text[], $3::int8[], $4::int8[]) AS u(t, m, p, n)
                 ON CONFLICT (tenant, meter, period_ms, holder)
                 DO UPDATE SET units = excluded.units, expires_ms = excluded.expires_ms"
            ),
        )?;
        tx.execute(
            &st,
            &[
                &rows.iter().map(|(k, _)| k.0.as_str()).collect::<Vec<_>>(),
                &rows.iter().map(|(k, _)| k.1.as_str()).collect::<Vec<_>>(),
                &rows.iter().map(|(k, _)| k.2).collect::<Vec<_>>(),
                &rows.iter().map(|(_, n)| *n).collect::<Vec<_>>(),
                &holder,
                &TTL_MS,
            ],
        )?;
    }
    Ok(grants.iter().map(|g| results.get(&g.key).copied().unwrap_or(GrantResult { added: 0, target: 0 })).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grants_shrink_towards_the_quota_and_stop_before_it() {
        // Far from the quota: the cap.
        assert_eq!(top_up(1_000_000, 0, 0, 0), Some(MAX_UNITS));
        // A share of what nobody holds.
        assert_eq!(top_up(800, 0, 0, 0), Some(100));
        assert_eq!(top_up(800, 400, 0, 0), Some(50));
        assert_eq!(top_up(800, 400, 200, 0), Some(25));
        // Never less than what the holder has.
        assert_eq!(top_up(800, 400, 200, 40), Some(40));
        // Near the quota: none, and a lease held is not extended.
        assert_eq!(top_up(100, 90, 0, 0), None);
        assert_eq!(top_up(100, 90, 5, 3), None);
        // Used past the quota (a plan lowered mid-month): none.
        assert_eq!(top_up(100, 150, 0, 0), None);
    }

    #[test]
    fn the_invariant_holds_for_every_grant() {
        for quota in [0u64, 1, 7, 16, 100, 5_000, 1 << 40] {
            for used in [0, quota / 3, quota / 2, quota] {
                for others in [0, (quota - used) / 4, quota - used] {
                    // What the holder has fits beside the others (the invariant before).
                    let own = (quota - used - others) / 5;
                    if let Some(size) = top_up(quota, used, others, own) {
                        assert!(used + others + size <= quota, "{quota} {used} {others} {own} -> {size}");
                        assert!(size >= own.max(MIN_UNITS));
                    }
                }
            }
        }
    }

    fn reservation(units: u64, quota: Option<u64>) -> Reservation {
        let e = crate::store::usage::UsageEvent {
            tenant: "t".into(),
            key_id: "k".into(),
            meter: Meter::ScanTransaction,
            units,
            ts_ms: 1_700_000_000_000,
            idem_id: "i".into(),
        };
        Reservation::new(&[e], &move |m| if m == Meter::ScanTransaction { quota } else { None })
    }

    #[test]
    fn a_replica_admits_what_its_lease_holds_and_asks_again_in_time() {
        let leases = Leases::new("h".into());
        assert!(matches!(leases.take(&reservation(1, None)), Take::Unlimited));
        // No lease yet: wait, and ask for one (once).
        let Take::Wait(asks) = leases.take(&reservation(1, Some(1000))) else { panic!() };
        assert_eq!(asks.len(), 1);
        assert!(matches!(leases.take(&reservation(1, Some(1000))), Take::Wait(a) if a.is_empty()));
        // Granted 10: ten units are admitted, the eleventh waits.
        leases.granted(&[(asks[0].clone(), Ok(GrantResult { added: 10, target: 10 }))]);
        let mut asked = 0;
        for _ in 0..10 {
            match leases.take(&reservation(1, Some(1000))) {
                Take::Admitted(a) => asked += a.len(),
                other => panic!("{other:?}"),
            }
        }
        // Below half the lease it asked for more, once.
        assert_eq!(asked, 1);
        assert!(matches!(leases.take(&reservation(1, Some(1000))), Take::Wait(_)));
        // A refused grant: not asked again at once.
        let g = Grant { key: asks[0].key.clone(), quota: 1000, asked: Instant::now() };
        leases.granted(&[(g, Ok(GrantResult { added: 0, target: 0 }))]);
        assert!(matches!(leases.take(&reservation(1, Some(1000))), Take::Wait(a) if a.is_empty()));
    }

    #[test]
    fn a_closed_replica_admits_nothing_and_asks_for_nothing() {
        let leases = Leases::new("h".into());
        let Take::Wait(asks) = leases.take(&reservation(1, Some(1000))) else { panic!() };
        leases.granted(&[(asks[0].clone(), Ok(GrantResult { added: 10, target: 10 }))]);
        assert!(matches!(leases.take(&reservation(1, Some(1000))), Take::Admitted(_)));
        leases.close();
        assert!(matches!(leases.take(&reservation(1, Some(1000))), Take::Wait(a) if a.is_empty()));
    }

    #[test]
    fn a_lease_is_not_used_past_its_local_end() {
        let leases = Leases::new("h".into());
        let Take::Wait(asks) = leases.take(&reservation(1, Some(1000))) else { panic!() };
        // Asked long ago: the lease ended locally before the database ends it.
        let old = Grant { asked: Instant::now() - ttl(), ..asks[0].clone() };
        leases.granted(&[(old, Ok(GrantResult { added: 100, target: 100 }))]);
        assert!(matches!(leases.take(&reservation(1, Some(1000))), Take::Wait(_)));
    }
}
