//! Quota leases: how a PostgreSQL replica admits a call with a quota without waiting for its
//! reservation to commit first.
//!
//! A replica (a *holder*) takes a lease of units from a monthly counter: a row of
//! `usage_leases`, written while the counter row is locked, under the invariant
//!
//! > counter units + the units of every live lease + usage inbox rows outside every live
//! > lease ≤ quota.
//!
//! It then admits calls against its lease in memory ([`Leases::take`]); their usage is
//! written to the usage inbox once they are answered (`pg_inbox`), or, for a call with an
//! `Idempotency-Key`, reserved while it runs. The inbox drain, or the metering writer
//! (`postgres_usage::reserve_batch`), moves their units from the lease row to the counter,
//! which keeps the invariant. A call admitted this
//! way is therefore never refused by the database: the quota is never exceeded, with any
//! number of replicas.
//!
//! - A lease is *live* until its `expires_ms`, by the database's clock, [`TTL_MS`] after its
//!   last grant. A replica stops using it [`MARGIN`] earlier by its own monotonic clock,
//!   counted from before it asked, so a call it admits is written while the lease is live (a
//!   call answered past that point is reserved with the exact check instead:
//!   [`Leases::covers`]). A replica that dies leaves lease units that count for at most
//!   [`TTL_MS`], and inbox rows that count as used until another replica applies them; a
//!   replica that stops applies its rows and releases its leases.
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
    /// What this replica counts on of the lease row when the grant runs: units admitted and
    /// not yet written plus units it may still admit ([`Leases::outstanding`]).
    pub claims: u64,
}

#[derive(Debug)]
struct Local {
    /// Units this replica may still admit.
    units: u64,
    /// When it stops admitting from this lease.
    until: Instant,
    /// Units of the last grant's target (a grant is asked again below half of it).
    target: u64,
    /// Units admitted whose usage is not written yet (neither in the inbox nor reserved):
    /// the lease row holds `units + in_flight` plus this replica's inbox rows not yet
    /// applied, when nothing leaked.
    in_flight: u64,
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
                in_flight: 0,
                asking: false,
                quiet_until: None,
            });
            if fits {
                l.units -= units;
                l.in_flight = l.in_flight.saturating_add(units);
            }
            let running_low = now >= l.until
                || l.units.saturating_mul(2) < l.target
                || l.until.saturating_duration_since(now) < ttl() / 2;
            if running_low && !l.asking && l.quiet_until.is_none_or(|q| now >= q) {
                l.asking = true;
                asks.push(Grant { key, quota, asked: now, claims: 0 });
            }
        }
        if local.len() > KEEP {
            local.retain(|_, l| l.asking || l.in_flight > 0 || now < l.until);
        }
        if fits { Take::Admitted(asks) } else { Take::Wait(asks) }
    }

    /// Calls admitted by [`Leases::take`] were written (reserved, or in the inbox) or failed:
    /// their units are no longer in flight.
    pub fn settled<'a>(&self, done: impl IntoIterator<Item = &'a Reservation>) {
        let mut local = lock(&self.local);
        for r in done {
            for (key, (units, _)) in r.needs() {
                if let Some(l) = local.get_mut(&key) {
                    l.in_flight = l.in_flight.saturating_sub(units);
                }
            }
        }
    }

    /// Whether the leases `r` was admitted against are still this replica's to use: live, by
    /// the database's clock, for at least [`MARGIN`] more. A call answered while they are has
    /// its usage written (with its audit entry) before they end, inside them.
    pub fn covers(&self, r: &Reservation) -> bool {
        let now = Instant::now();
        let local = lock(&self.local);
        r.needs().keys().all(|k| local.get(k).is_some_and(|l| now < l.until))
    }

    /// Fills in what a grant must keep of the lease row for this replica, just before it runs.
    pub fn outstanding(&self, grant: &mut Grant) {
        if let Some(l) = lock(&self.local).get(&grant.key) {
            grant.claims = l.in_flight.saturating_add(l.units);
        }
    }

    /// Records the outcome of grants. A grant keeps of the lease row what this replica counts
    /// on (`held`: what was admitted or admissible, at most what the row held) and drops the
    /// rest, so units that leaked (a duplicate admitted, a failed write) come back; what it
    /// counted on and the row no longer held (an expired lease) comes out of what is added.
    pub fn granted(&self, outcomes: &[(Grant, Result<GrantResult, ()>)]) {
        let now = Instant::now();
        let mut local = lock(&self.local);
        for (g, outcome) in outcomes {
            let Some(l) = local.get_mut(&g.key) else { continue };
            l.asking = false;
            match outcome {
                Ok(GrantResult { held, added }) => {
                    let deficit = g.claims.saturating_sub(*held);
                    match added {
                        Some(added) => {
                            l.units = l.units.saturating_add(*added).saturating_sub(deficit);
                            l.until = g.asked + ttl() - MARGIN;
                            l.target = held.saturating_add(*added);
                            l.quiet_until = None;
                        }
                        // Refused: the lease is not extended; what is left of it stays usable
                        // until it ends.
                        None => {
                            l.units = l.units.saturating_sub(deficit);
                            l.quiet_until = Some(now + BACKOFF);
                        }
                    }
                }
                Err(()) => l.quiet_until = Some(now + BACKOFF),
            }
        }
    }
}

fn ttl() -> Duration {
    Duration::from_millis(TTL_MS.unsigned_abs())
}

/// Counter keys, each with a value, as the arrays of
/// `UNNEST($1::text[], $2::text[], $3::int8[], $4::int8[]) AS u(t, m, p, n)` (a statement over
/// keys alone binds the first three).
#[derive(Debug, Default)]
pub struct KeyColumns<'a> {
    /// Tenants.
    pub tenants: Vec<&'a str>,
    /// Meters.
    pub meters: Vec<&'static str>,
    /// Months (start, Unix ms).
    pub periods: Vec<i64>,
    /// The values.
    pub values: Vec<i64>,
}

impl<'a> KeyColumns<'a> {
    /// The columns of `rows`, in their order.
    pub fn new(rows: impl IntoIterator<Item = (&'a CounterKey, i64)>) -> Self {
        let mut c = KeyColumns::default();
        for (k, v) in rows {
            c.tenants.push(&k.0);
            c.meters.push(k.1.as_str());
            c.periods.push(k.2);
            c.values.push(v);
        }
        c
    }

    /// The columns of keys alone.
    pub fn keys(keys: impl IntoIterator<Item = &'a CounterKey>) -> Self {
        Self::new(keys.into_iter().map(|k| (k, 0)))
    }
}

/// Locks the existing counter rows of `keys` (`FOR UPDATE`), in the one order every path
/// locks them (byte order of tenant and meter, then month), and returns their units.
pub fn lock_counters<'a>(
    tx: &mut Transaction<'_>,
    stmts: &mut Statements,
    keys: impl IntoIterator<Item = &'a CounterKey>,
) -> Result<BTreeMap<CounterKey, i64>, postgres::Error> {
    let c = KeyColumns::keys(keys);
    let st = stmts.get(
        tx,
        "SELECT c.tenant, c.meter, c.period_ms, c.units FROM usage_counters c
         JOIN UNNEST($1::text[], $2::text[], $3::int8[]) AS u(t, m, p)
           ON c.tenant = u.t AND c.meter = u.m AND c.period_ms = u.p
         ORDER BY c.tenant COLLATE \"C\", c.meter COLLATE \"C\", c.period_ms FOR UPDATE OF c",
    )?;
    let rows = tx.query(&st, &[&c.tenants, &c.meters, &c.periods])?;
    Ok(rows
        .iter()
        .filter_map(|r| Some(((r.get(0), r.get::<_, &str>(1).parse::<Meter>().ok()?, r.get(2)), r.get(3))))
        .collect())
}

/// What a grant did: the units of the row kept for this replica's claims (`held`), and the
/// units added to it (`None`: refused, the row is not extended).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GrantResult {
    /// Units of the row kept (at most what it held).
    pub held: u64,
    /// Units added.
    pub added: Option<u64>,
}

/// The size of a lease after a grant: what this replica counts on (`held`: admitted and not
/// yet written, or still admissible; at most what the row holds) plus
/// `min(MAX_UNITS, free / SHARE)`, where `free` is what no other replica holds; never more
/// than `free`. `None` when that share is below [`MIN_UNITS`]: the row is then cut to
/// `held` and not extended.
pub fn lease_size(quota: u64, used: u64, others: u64, held: u64) -> Option<u64> {
    let free = quota.saturating_sub(used).saturating_sub(others);
    let target = MAX_UNITS.min(free / SHARE);
    (target >= MIN_UNITS).then(|| held.saturating_add(target).min(free))
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
    let c = KeyColumns::keys(keys.keys().copied());
    let params: [&(dyn postgres::types::ToSql + Sync); 3] = [&c.tenants, &c.meters, &c.periods];
    let used: BTreeMap<CounterKey, u64> = lock_counters(tx, stmts, keys.keys().copied())?
        .into_iter()
        .map(|(k, v)| (k, u64::try_from(v).unwrap_or(0)))
        .collect();
    // With the counters locked, the leases of these keys cannot change under us.
    let st = stmts.get(
        tx,
        &format!(
            "DELETE FROM usage_leases l USING UNNEST($1::text[], $2::text[], $3::int8[]) AS u(t, m, p)
             WHERE l.tenant = u.t AND l.meter = u.m AND l.period_ms = u.p AND l.expires_ms <= {DB_NOW_MS}"
        ),
    )?;
    tx.execute(&st, &params)?;
    // Inbox rows of the leases just ended stay outside every lease until applied (the
    // holder's next lease did not count them; it must not be drawn from for them).
    let st = stmts.get(
        tx,
        "UPDATE usage_inbox i SET leased = false FROM UNNEST($1::text[], $2::text[], $3::int8[]) AS u(t, m, p)
         WHERE i.tenant = u.t AND i.meter = u.m AND i.period_ms = u.p AND i.leased
           AND NOT EXISTS (SELECT 1 FROM usage_leases l WHERE l.tenant = i.tenant AND l.meter = i.meter
                           AND l.period_ms = i.period_ms AND l.holder = i.holder)",
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
    for r in tx.query(&st, &[&c.tenants, &c.meters, &c.periods, &holder])? {
        if let Ok(m) = r.get::<_, &str>(1).parse::<Meter>() {
            let units = u64::try_from(r.get::<_, i64>(4)).unwrap_or(0);
            let map = if r.get::<_, bool>(3) { &mut own } else { &mut others };
            *map.entry((r.get(0), m, r.get(2))).or_default() += units;
        }
    }
    // Inbox rows: this replica's, inside its live leases, are claimed with what it counts
    // on in memory; those outside every live lease are used units no lease holds.
    let inbox = super::pg_inbox::inbox_units(tx, stmts, holder, keys.keys().copied())?;
    for (key, units) in &inbox.outside {
        *others.entry(key.clone()).or_default() += units;
    }
    let claims: BTreeMap<&CounterKey, u64> = grants.iter().map(|g| (&g.key, g.claims)).collect();
    let mut results: BTreeMap<&CounterKey, GrantResult> = BTreeMap::new();
    let mut rows: Vec<(&CounterKey, i64)> = Vec::new();
    let mut trimmed: Vec<(&CounterKey, i64)> = Vec::new();
    for (key, quota) in &keys {
        let mine = own.get(*key).copied().unwrap_or(0);
        let inboxed = inbox.own.get(*key).copied().unwrap_or(0);
        let held = mine.min(claims.get(key).copied().unwrap_or(0).saturating_add(inboxed));
        // No counter row, no lock: nothing granted, nothing changed.
        let Some(used) = used.get(*key) else {
            results.insert(key, GrantResult { held: mine, added: None });
            continue;
        };
        // What the row keeps for the claims made in memory (the rest holds inbox rows).
        let held_claimed = held.saturating_sub(inboxed);
        let result = match lease_size(*quota, *used, others.get(*key).copied().unwrap_or(0), held) {
            Some(size) => {
                rows.push((key, i64::try_from(size).unwrap_or(i64::MAX)));
                GrantResult { held: held_claimed, added: Some(size - held) }
            }
            None => {
                if held < mine {
                    trimmed.push((key, i64::try_from(held).unwrap_or(i64::MAX)));
                }
                GrantResult { held: held_claimed, added: None }
            }
        };
        results.insert(key, result);
    }
    if !trimmed.is_empty() {
        // Refused: units nobody counts on go back; the lease is not extended.
        let st = stmts.get(
            tx,
            "UPDATE usage_leases l SET units = u.n FROM UNNEST($1::text[], $2::text[], $3::int8[], $4::int8[]) AS u(t, m, p, n)
             WHERE l.tenant = u.t AND l.meter = u.m AND l.period_ms = u.p AND l.holder = $5",
        )?;
        let t = KeyColumns::new(trimmed.iter().copied());
        tx.execute(&st, &[&t.tenants, &t.meters, &t.periods, &t.values, &holder])?;
    }
    if !rows.is_empty() {
        // The row is set (not added to): what this replica counts on plus what is added.
        let st = stmts.get(
            tx,
            &format!(
                "INSERT INTO usage_leases (tenant, meter, period_ms, holder, units, expires_ms)
                 SELECT t, m, p, $5, n, {DB_NOW_MS} + $6 FROM UNNEST($1::text[], $2::text[], $3::int8[], $4::int8[]) AS u(t, m, p, n)
                 ON CONFLICT (tenant, meter, period_ms, holder)
                 DO UPDATE SET units = excluded.units, expires_ms = excluded.expires_ms"
            ),
        )?;
        let r = KeyColumns::new(rows.iter().copied());
        tx.execute(&st, &[&r.tenants, &r.meters, &r.periods, &r.values, &holder, &TTL_MS])?;
    }
    Ok(grants.iter().map(|g| results.get(&g.key).copied().unwrap_or(GrantResult { held: 0, added: None })).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grants_shrink_towards_the_quota_and_stop_before_it() {
        // Far from the quota: the cap.
        assert_eq!(lease_size(1_000_000, 0, 0, 0), Some(MAX_UNITS));
        // A share of what nobody else holds, beside what is in flight.
        assert_eq!(lease_size(800, 0, 0, 0), Some(100));
        assert_eq!(lease_size(800, 400, 0, 0), Some(50));
        assert_eq!(lease_size(800, 400, 200, 0), Some(25));
        assert_eq!(lease_size(800, 400, 200, 40), Some(65));
        // Never more than what nobody else holds (a quota lowered mid-month).
        assert_eq!(lease_size(800, 400, 200, 190), Some(200));
        // Near the quota: none (the row keeps only what is in flight).
        assert_eq!(lease_size(100, 90, 0, 0), None);
        assert_eq!(lease_size(100, 90, 5, 3), None);
        // Used past the quota: none.
        assert_eq!(lease_size(100, 150, 0, 0), None);
    }

    #[test]
    fn the_invariant_holds_for_every_grant() {
        for quota in [0u64, 1, 7, 16, 100, 5_000, 1 << 40] {
            for used in [0, quota / 3, quota / 2, quota] {
                for others in [0, (quota - used) / 4, quota - used] {
                    for held in [0, (quota - used - others) / 5, quota - used - others] {
                        if let Some(size) = lease_size(quota, used, others, held) {
                            assert!(used + others + size <= quota, "{quota} {used} {others} {held} -> {size}");
                            assert!(size >= held);
                        }
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

    /// A grant as the database answers it when the row holds everything this replica
    /// counts on.
    fn grant(leases: &Leases, asked: &Grant, added: Option<u64>) {
        let mut g = asked.clone();
        leases.outstanding(&mut g);
        let held = g.claims;
        leases.granted(&[(g, Ok(GrantResult { held, added }))]);
    }

    fn admitted(leases: &Leases, n: usize) -> usize {
        (0..n).filter(|_| matches!(leases.take(&reservation(1, Some(1000))), Take::Admitted(_))).count()
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
        grant(&leases, &asks[0], Some(10));
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
        // A refused grant: nothing more is admitted, and it is not asked again at once.
        grant(&leases, &asks[0], None);
        assert!(matches!(leases.take(&reservation(1, Some(1000))), Take::Wait(a) if a.is_empty()));
    }

    #[test]
    fn a_grant_keeps_what_is_counted_on_and_makes_up_for_what_the_row_lost() {
        let leases = Leases::new("h".into());
        let Take::Wait(asks) = leases.take(&reservation(1, Some(1000))) else { panic!() };
        grant(&leases, &asks[0], Some(10));
        assert_eq!(admitted(&leases, 4), 4);
        // The grant reads what this replica counts on (10: 4 in flight, 6 admissible), then
        // two more are admitted before it ends: they come out of the 6, and 5 are added.
        let mut g = asks[0].clone();
        leases.outstanding(&mut g);
        assert_eq!(g.claims, 10);
        assert_eq!(admitted(&leases, 2), 2);
        leases.granted(&[(g, Ok(GrantResult { held: 10, added: Some(5) }))]);
        assert_eq!(admitted(&leases, 12), 9);
        // Written reservations are no longer in flight.
        let done: Vec<Reservation> = (0..15).map(|_| reservation(1, Some(1000))).collect();
        leases.settled(&done);
        let mut g = asks[0].clone();
        leases.outstanding(&mut g);
        assert_eq!(g.claims, 0);

        // The row had expired (held 0) while 3 calls were in flight and 7 admissible: the
        // 8 added units first cover the 3 in flight, so 5 may be admitted.
        let leases = Leases::new("h".into());
        let Take::Wait(asks) = leases.take(&reservation(1, Some(1000))) else { panic!() };
        grant(&leases, &asks[0], Some(10));
        assert_eq!(admitted(&leases, 3), 3);
        let mut g = asks[0].clone();
        leases.outstanding(&mut g);
        leases.granted(&[(g, Ok(GrantResult { held: 0, added: Some(8) }))]);
        assert_eq!(admitted(&leases, 10), 5);
    }

    #[test]
    fn a_closed_replica_admits_nothing_and_asks_for_nothing() {
        let leases = Leases::new("h".into());
        let Take::Wait(asks) = leases.take(&reservation(1, Some(1000))) else { panic!() };
        grant(&leases, &asks[0], Some(10));
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
        grant(&leases, &old, Some(100));
        assert!(matches!(leases.take(&reservation(1, Some(1000))), Take::Wait(_)));
    }
}
