//! Storage of usage metering and webhooks, behind its own trait ([`UsageStore`]) with SQLite
//! (`sqlite_usage`, `<data dir>/metering.sqlite`) and PostgreSQL (`postgres_usage`, the same
//! database as the rest, tables of its own) backends. Migrations are their own sequence
//! (`metering_migrations`), independent of the main store's.
//!
//! Invariants:
//! - An event is identified by `(tenant, idem_id)`: recording the same id twice counts once.
//!   The event, its row in `usage_pending` and the tenant's monthly counter change in one
//!   transaction; a refund deletes the event, decrements the counter and adds a negative
//!   pending row, in one transaction.
//! - Rollups (hour, day, month) are folded from `usage_pending` off the request path: one
//!   transaction adds a chunk of pending rows to `usage_rollups` and deletes them (a
//!   [`folder`] thread, every [`FOLD_EVERY`]; on PostgreSQL one replica at a time, under an
//!   advisory lock). A usage query reads the rollups and the pending rows in one statement,
//!   hence one snapshot: every counted unit is in exactly one of them, so answers are exact
//!   whether or not the fold has run.
//! - Quotas are checked against the monthly counter row (PostgreSQL locks the row, so
//!   replicas serialise per tenant and meter); when any meter of a call would go over its
//!   quota, nothing of the call is recorded. On PostgreSQL, units leased to replicas count as
//!   used until they are used or expire (`pg_leases`), and so do usage inbox rows outside
//!   every live lease until they are applied (`pg_inbox`).
//! - Counter rows are always locked in (tenant, meter, month) order, so concurrent calls
//!   cannot deadlock; pending rows are only appended, and only the folder writes rollups.
//! - A threshold crossing is recorded once per tenant, meter, month and threshold, with its
//!   `usage.threshold_reached` message, in the transaction that crossed it.
//! - Webhook messages and their deliveries are rows (the outbox): a delivery is claimed with a
//!   lease (PostgreSQL: `FOR UPDATE SKIP LOCKED`), so a replica that dies mid-attempt only
//!   delays it until the lease ends.

use std::collections::BTreeMap;

use scorpius_core::{
    api::{
        usage::Granularity,
        webhooks::{Delivery, EventType, UpdateWebhookRequest, WebhookMessage},
    },
    metering::{Meter, Period, crossed_thresholds, rfc3339},
};

use super::{StoreError, StoreResult, periodic::Periodic};

/// One usage event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UsageEvent {
    /// Tenant.
    pub tenant: String,
    /// Key that caused it.
    pub key_id: String,
    /// Meter.
    pub meter: Meter,
    /// Units (≥ 1).
    pub units: u64,
    /// When (Unix ms).
    pub ts_ms: i64,
    /// Idempotency id, unique per tenant.
    pub idem_id: String,
}

/// One call of [`UsageStore::record`] as the group-commit writers take it: the events and
/// the tenant's quota of every meter.
#[derive(Debug, Clone)]
pub struct Reservation {
    /// The call's events.
    pub events: Vec<UsageEvent>,
    quotas: Vec<(Meter, Option<u64>)>,
}

impl Reservation {
    /// Captures the quotas the call is checked against.
    pub fn new(events: &[UsageEvent], quota: &(dyn Fn(Meter) -> Option<u64> + Sync)) -> Self {
        Reservation { events: events.to_vec(), quotas: Meter::ALL.into_iter().map(|m| (m, quota(m))).collect() }
    }

    /// The monthly quota of a meter (`None`: unlimited).
    pub fn quota(&self, meter: Meter) -> Option<u64> {
        self.quotas.iter().find(|(q, _)| *q == meter).and_then(|(_, q)| *q)
    }

    /// The events whose meter has a quota, with their counters and quotas.
    pub fn limited(&self) -> impl Iterator<Item = (CounterKey, &UsageEvent, u64)> {
        self.events.iter().filter(|e| e.units > 0).filter_map(|e| {
            let q = self.quota(e.meter)?;
            Some(((e.tenant.clone(), e.meter, Period::containing(e.ts_ms).start_ms()), e, q))
        })
    }

    /// What the call needs of each limited counter: (units, quota).
    pub fn needs(&self) -> BTreeMap<CounterKey, (u64, u64)> {
        let mut need: BTreeMap<CounterKey, (u64, u64)> = BTreeMap::new();
        for (key, e, q) in self.limited() {
            let slot = need.entry(key).or_insert((0, q));
            slot.0 = slot.0.saturating_add(e.units);
        }
        need
    }
}

/// A monthly counter: (tenant, meter, start of the month).
pub type CounterKey = (String, Meter, i64);

/// A call admitted by [`UsageStore::admit`]: it runs with nothing written. What it is billed
/// for ([`Admission::rows`]) is written to the usage *inbox* in the transaction of the
/// request's audit entry, so it is durable when the response leaves, and applied to the
/// events, counters and leases later, many calls at a time (`pg_inbox::drain`).
#[derive(Debug, Clone)]
pub struct Admission {
    /// The replica that admitted it (the holder of the leases it drew from).
    pub holder: String,
    /// Its reservation: the events and quotas it was admitted with.
    pub reservation: Reservation,
    /// Admitted against the holder's leases (its limited units came out of them).
    pub leased: bool,
    /// The holder-local number of its first inbox row (one per event).
    pub first: i64,
}

impl Admission {
    /// The inbox rows of the events `bill` keeps (a scan that failed is not billed).
    pub fn rows(&self, bill: impl Fn(&UsageEvent) -> bool) -> Vec<InboxRow> {
        let r = &self.reservation;
        (0..)
            .zip(&r.events)
            .filter(|(_, e)| e.units > 0 && bill(e))
            .map(|(i, e)| {
                let quota = r.quota(e.meter);
                InboxRow {
                    holder: self.holder.clone(),
                    n: self.first + i,
                    event: e.clone(),
                    leased: self.leased && quota.is_some(),
                    quota,
                }
            })
            .collect()
    }
}

/// Inbox rows handed to an audit append (`Store::queue_audit_with`), and what it keeps until
/// the append's outcome is known (dropped then, on the writer's thread: the call's admission,
/// which must not end before its rows commit).
pub struct Carried {
    /// The rows.
    pub rows: std::sync::Arc<[InboxRow]>,
    /// Kept until the append committed or failed.
    pub hold: Box<dyn Send>,
}

impl std::fmt::Debug for Carried {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Carried").field("rows", &self.rows.len()).finish_non_exhaustive()
    }
}

/// One row of the usage inbox: an event of an admitted call, not yet applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InboxRow {
    /// The replica that admitted the call.
    pub holder: String,
    /// Its number among that replica's rows.
    pub n: i64,
    /// The event.
    pub event: UsageEvent,
    /// Its units came out of the holder's lease of the counter.
    pub leased: bool,
    /// The meter's monthly quota the call was admitted under (`None`: unlimited).
    pub quota: Option<u64>,
}

/// What [`UsageStore::record`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RecordOutcome {
    /// Recorded; `duplicates` events were already there and not counted again.
    Recorded {
        /// Idempotency ids that were new (and counted).
        counted: Vec<String>,
        /// How many were already recorded.
        duplicates: usize,
    },
    /// A meter would go over its quota: nothing was recorded.
    QuotaExceeded {
        /// The meter.
        meter: Meter,
        /// Its monthly quota.
        quota: u64,
        /// Units used this month.
        used: u64,
        /// The month.
        period: Period,
    },
    /// The call would fit the units used so far, but not beside the units other replicas
    /// hold leased (PostgreSQL, see `postgres_usage`): nothing was recorded. Try again after
    /// `retry_after_ms`, when a lease has been used or has expired; past the leases'
    /// lifetime it is a refusal with these details.
    Contended {
        /// The meter.
        meter: Meter,
        /// Its monthly quota.
        quota: u64,
        /// Units used this month.
        used: u64,
        /// The month.
        period: Period,
        /// When to try again (ms).
        retry_after_ms: u64,
    },
}

/// A stored webhook endpoint (with its secret, which never leaves the server after creation).
#[derive(Clone, PartialEq, Eq)]
pub struct EndpointRecord {
    /// `wh_…`.
    pub id: String,
    /// Tenant.
    pub tenant: String,
    /// URL.
    pub url: String,
    /// Event types.
    pub events: Vec<EventType>,
    /// Label.
    pub description: Option<String>,
    /// Signing key bytes.
    pub secret: Vec<u8>,
    /// Creation (Unix ms).
    pub created_ms: i64,
    /// When disabled.
    pub disabled_ms: Option<i64>,
    /// Why.
    pub disabled_reason: Option<String>,
}

impl std::fmt::Debug for EndpointRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EndpointRecord")
            .field("id", &self.id)
            .field("tenant", &self.tenant)
            .field("url", &self.url)
            .finish_non_exhaustive()
    }
}

/// A delivery claimed for one attempt.
#[derive(Clone)]
pub struct Claimed {
    /// `dlv_…`.
    pub delivery_id: String,
    /// `msg_…` (the `webhook-id`).
    pub message_id: String,
    /// Endpoint id.
    pub endpoint_id: String,
    /// Tenant.
    pub tenant: String,
    /// Where to send it.
    pub url: String,
    /// Signing key bytes.
    pub secret: Vec<u8>,
    /// The body.
    pub payload: String,
    /// Attempts made before this one.
    pub attempts: u32,
}

impl std::fmt::Debug for Claimed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Claimed")
            .field("delivery_id", &self.delivery_id)
            .field("url", &self.url)
            .finish_non_exhaustive()
    }
}

/// The result of one attempt, to store.
#[derive(Debug, Clone)]
pub struct AttemptResult {
    /// Delivery.
    pub delivery_id: String,
    /// Endpoint.
    pub endpoint_id: String,
    /// When it started (Unix ms).
    pub ts_ms: i64,
    /// HTTP status.
    pub status: Option<u16>,
    /// Milliseconds.
    pub latency_ms: u64,
    /// Error text.
    pub error: Option<String>,
    /// Response snippet.
    pub response: Option<String>,
    /// 2xx.
    pub success: bool,
    /// When to try again, unless the attempts are exhausted (`None`).
    pub retry_at_ms: Option<i64>,
    /// Disable the endpoint when it has been failing since at least this long ago (ms).
    pub disable_after_ms: i64,
}

/// Rows of a usage query: bucket start, key (when grouped by key), meter, units.
pub type UsageRows = Vec<(i64, Option<String>, Meter, u64)>;

/// Usage metering and webhook storage.
pub trait UsageStore: Send + Sync + 'static {
    /// Records the events of one call (see the module invariants). `quota` gives a meter's
    /// monthly quota for the tenant (`None`: unlimited).
    fn record(
        &self,
        events: &[UsageEvent],
        quota: &(dyn Fn(Meter) -> Option<u64> + Sync),
    ) -> StoreResult<RecordOutcome>;
    /// [`UsageStore::record`] queued to a writer thread without blocking the caller, when
    /// this backend group-commits reservations (`None`: call `record` on the blocking pool).
    fn queue_record(
        &self,
        _events: &[UsageEvent],
        _quota: &(dyn Fn(Meter) -> Option<u64> + Sync),
    ) -> Option<super::writer::Queued<RecordOutcome>> {
        None
    }
    /// Queues a reservation that this backend can tell at once fits the quotas, so the call
    /// may run while it commits (await the channel before answering): its outcome is then
    /// always `Recorded`. `None` when that is not known (no such bookkeeping, or the call is
    /// near a quota): call [`UsageStore::record`] or [`UsageStore::queue_record`] and wait.
    fn reserve_ahead(
        &self,
        _events: &[UsageEvent],
        _quota: &(dyn Fn(Meter) -> Option<u64> + Sync),
    ) -> Option<super::writer::Queued<RecordOutcome>> {
        None
    }
    /// Admits a call that cannot be refused (no quota on its meters, or this replica's
    /// leases hold its units) without writing anything: the caller writes
    /// [`Admission::rows`] with the request's audit entry (`Store::queue_audit_with`) or
    /// through [`UsageStore::write_inbox`], then calls [`UsageStore::admitted`]. `None` when
    /// this backend has no inbox or the call must be checked: use the other paths.
    fn admit(&self, _events: &[UsageEvent], _quota: &(dyn Fn(Meter) -> Option<u64> + Sync)) -> Option<Admission> {
        None
    }
    /// An admitted call's rows are in the inbox (or were dropped: nothing billed): its units
    /// are no longer in flight, and the inbox is applied soon.
    fn admitted(&self, _admission: &Admission) {}
    /// Whether a call admitted against leases may still have its usage written as admitted
    /// (its leases live long enough for the write to land inside them); when not, it is
    /// reserved with the exact check instead.
    fn still_admitted(&self, _admission: &Admission) -> bool {
        true
    }
    /// Writes inbox rows in a transaction of their own (when no audit append carried them).
    fn write_inbox(&self, _rows: &[InboxRow]) -> StoreResult<()> {
        Err(StoreError::Db("this metering store has no usage inbox".into()))
    }
    /// Gives back what this replica holds of the quotas (PostgreSQL's leases), when it stops
    /// serving: other replicas may use it at once instead of when it expires. Calls made
    /// after it wait for their reservations.
    fn release(&self) -> StoreResult<()> {
        Ok(())
    }
    /// Takes back events (a call that failed after reserving): deletes them, decrements the
    /// counters and appends negative pending rows (for the rollups). Returns how many were
    /// removed.
    fn unrecord(&self, tenant: &str, idem_ids: &[String]) -> StoreResult<usize>;
    /// Usage of the tenant with `from_ms ≤ bucket < to_ms`: the rollups plus the pending
    /// rows not yet folded into them, read in one snapshot (so always exact; on PostgreSQL
    /// after applying the usage inbox, so every call answered before counts).
    fn usage(
        &self,
        tenant: &str,
        granularity: Granularity,
        from_ms: i64,
        to_ms: i64,
        by_key: bool,
    ) -> StoreResult<UsageRows>;
    /// The tenant's counters of a month (what quotas and bills use).
    fn month_totals(&self, tenant: &str, period: Period) -> StoreResult<BTreeMap<Meter, u64>>;
    /// Folds up to [`FOLD_CHUNK`] pending rows into the rollups, in one transaction that
    /// deletes them from `usage_pending`; returns how many it moved (0 on PostgreSQL when
    /// another replica is folding). The store's [`folder`] calls it every [`FOLD_EVERY`].
    fn fold(&self) -> StoreResult<i64>;
    /// Number of pending rows not yet folded, of every tenant (for tests and benchmarks).
    fn pending(&self) -> StoreResult<u64>;
    /// Number of raw events of the tenant (for tests and benchmarks).
    fn event_count(&self, tenant: &str) -> StoreResult<u64>;

    /// Stores a new endpoint.
    fn create_endpoint(&self, endpoint: &EndpointRecord) -> StoreResult<()>;
    /// The tenant's endpoints, newest first.
    fn endpoints(&self, tenant: &str) -> StoreResult<Vec<EndpointRecord>>;
    /// One endpoint of the tenant.
    fn endpoint(&self, tenant: &str, id: &str) -> StoreResult<Option<EndpointRecord>>;
    /// Applies a change (URL and events already validated); `None` when there is none.
    fn update_endpoint(
        &self,
        tenant: &str,
        id: &str,
        change: &UpdateWebhookRequest,
        now_ms: i64,
    ) -> StoreResult<Option<EndpointRecord>>;
    /// Deletes an endpoint with its deliveries; false when there is none.
    fn delete_endpoint(&self, tenant: &str, id: &str) -> StoreResult<bool>;
    /// Queues a message for every enabled endpoint subscribed to its type: of `tenant`, or of
    /// every tenant when `None` (one message per tenant). Returns the message ids.
    fn enqueue(
        &self,
        tenant: Option<&str>,
        event: EventType,
        data: &serde_json::Value,
        now_ms: i64,
    ) -> StoreResult<Vec<String>>;
    /// Claims up to `limit` due deliveries of enabled endpoints for `lease_ms`.
    fn claim(&self, now_ms: i64, lease_ms: i64, limit: u32) -> StoreResult<Vec<Claimed>>;
    /// Stores an attempt and schedules what follows; returns true when the endpoint was
    /// disabled by this failure.
    fn finish(&self, attempt: &AttemptResult) -> StoreResult<bool>;
    /// The endpoint's deliveries with their attempts, newest first.
    fn deliveries(&self, tenant: &str, endpoint_id: &str, limit: u32) -> StoreResult<Vec<Delivery>>;
    /// Queues the message of a delivery again (a new delivery, due now); its id, or `None`
    /// when the delivery is not the tenant's endpoint's.
    fn redeliver(&self, tenant: &str, endpoint_id: &str, delivery_id: &str, now_ms: i64)
    -> StoreResult<Option<String>>;
}

/// A fresh id with a prefix and 16 hex digits of randomness.
pub fn new_id(prefix: &str) -> StoreResult<String> {
    let mut b = [0u8; 8];
    getrandom::fill(&mut b).map_err(|e| StoreError::Db(format!("no randomness: {e}")))?;
    Ok(format!("{prefix}{}", hex::encode(b)))
}

/// The rollup buckets of a time: hour, day, month (granularity code and start).
pub fn buckets(ts_ms: i64) -> [(&'static str, i64); 3] {
    [
        ("h", scorpius_core::metering::hour_start_ms(ts_ms)),
        ("d", Period::day_start_ms(ts_ms)),
        ("m", Period::containing(ts_ms).start_ms()),
    ]
}

/// One row of `usage_pending`, the events not yet folded into the rollups: tenant, key,
/// meter, units (negative for a refund), and the event's hour, day and month starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingRow {
    /// Tenant.
    pub tenant: String,
    /// Key that caused it.
    pub key_id: String,
    /// Meter.
    pub meter: Meter,
    /// Units (negative: taken back).
    pub units: i64,
    /// Start of the event's hour (Unix ms).
    pub hour_ms: i64,
    /// Start of its day (UTC).
    pub day_ms: i64,
    /// Start of its month (UTC).
    pub month_ms: i64,
}

/// The pending rows of counted events (or, with `sign` −1, of events taken back): one per
/// tenant, key, meter and hour, summed, in that order.
pub fn pending_rows<'a>(events: impl IntoIterator<Item = &'a UsageEvent>, sign: i64) -> Vec<PendingRow> {
    let mut rows: BTreeMap<(&str, &str, Meter, i64), PendingRow> = BTreeMap::new();
    for e in events {
        let [(_, hour_ms), (_, day_ms), (_, month_ms)] = buckets(e.ts_ms);
        let units = i64::try_from(e.units).unwrap_or(i64::MAX).saturating_mul(sign);
        let row = rows.entry((&e.tenant, &e.key_id, e.meter, hour_ms)).or_insert_with(|| PendingRow {
            tenant: e.tenant.clone(),
            key_id: e.key_id.clone(),
            meter: e.meter,
            units: 0,
            hour_ms,
            day_ms,
            month_ms,
        });
        row.units = row.units.saturating_add(units);
    }
    rows.into_values().collect()
}

/// Pending rows folded into the rollups per transaction at most, so a backlog (a store
/// written while no folder ran) is folded in steps that do not hold the writers up.
pub const FOLD_CHUNK: i64 = 20_000;

/// How often a [`folder`] folds the pending rows into the rollups.
pub const FOLD_EVERY: std::time::Duration = std::time::Duration::from_secs(1);

/// The thread that folds `usage_pending` into `usage_rollups` every [`FOLD_EVERY`]
/// (`fold(last)` returns the rows moved; it is called again, after yielding to the writers,
/// while it moves a full chunk), and once more when it is dropped (stopped and joined), after
/// the store's writers: then `last` is true, and a backend whose folders take turns waits for
/// its turn instead of skipping it.
pub fn folder(fold: impl Fn(bool) -> StoreResult<i64> + Send + Sync + 'static) -> StoreResult<Periodic> {
    let fold = std::sync::Arc::new(move |last: bool| {
        loop {
            match fold(last) {
                // A backlog: let the writers take the connection between chunks.
                Ok(n) if n >= FOLD_CHUNK => std::thread::sleep(std::time::Duration::from_millis(5)),
                Ok(_) => break,
                Err(e) => {
                    tracing::warn!(error = %e, "metering: folding usage into the rollups failed");
                    break;
                }
            }
        }
    });
    let every = std::sync::Arc::clone(&fold);
    // Stopping: fold what is left, so that the rollups of a store that is not opened again
    // (or is opened by a version from before the pending rows) are complete.
    Periodic::start("usage-folder", FOLD_EVERY, move || every(false), move || fold(true))
}

/// The rollup code of a granularity.
pub fn gran_code(g: Granularity) -> &'static str {
    match g {
        Granularity::Hour => "h",
        Granularity::Day => "d",
        Granularity::Month => "m",
    }
}

/// Events sorted into lock order (by meter), with units of 0 dropped.
pub fn lock_order(events: &[UsageEvent]) -> Vec<&UsageEvent> {
    let mut v: Vec<&UsageEvent> = events.iter().filter(|e| e.units > 0).collect();
    v.sort_by(|a, b| (a.meter, &a.idem_id).cmp(&(b.meter, &b.idem_id)));
    v
}

/// The `usage.threshold_reached` data.
pub fn threshold_data(meter: Meter, threshold: u8, quota: u64, used: u64, period: Period) -> serde_json::Value {
    serde_json::json!({
        "meter": meter.as_str(),
        "threshold_percent": threshold,
        "quota": quota,
        "used": used,
        "period": period.to_string(),
        "resets_at": rfc3339(period.end_ms()),
    })
}

/// The crossings of one counter update (re-exported for the backends).
pub fn crossings(quota: Option<u64>, before: u64, after: u64) -> Vec<u8> {
    quota.map(|q| crossed_thresholds(q, before, after)).unwrap_or_default()
}

/// The body of a message.
pub fn message_body(event: EventType, tenant: &str, data: &serde_json::Value, now_ms: i64) -> String {
    let msg =
        WebhookMessage { event_type: event, timestamp: rfc3339(now_ms), tenant: tenant.to_owned(), data: data.clone() };
    serde_json::to_string(&msg).unwrap_or_default()
}

/// Events as stored (`scan.completed,key.created`).
pub fn events_text(events: &[EventType]) -> String {
    events.iter().map(|e| e.as_str()).collect::<Vec<_>>().join(",")
}

/// Stored events back (unknown names are skipped).
pub fn events_parse(s: &str) -> Vec<EventType> {
    s.split(',').filter_map(|e| e.parse().ok()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(key: &str, meter: Meter, units: u64, ts_ms: i64) -> UsageEvent {
        UsageEvent { tenant: "t".into(), key_id: key.into(), meter, units, ts_ms, idem_id: format!("{key}{ts_ms}") }
    }

    #[test]
    fn pending_rows_are_summed_per_hour_and_sorted() {
        let hour = 3_600_000;
        let (a, b, c, d) = (
            event("k2", Meter::ScanTransaction, 2, 10 * hour),
            event("k1", Meter::ApiRequests, 1, 10 * hour + 5),
            event("k2", Meter::ScanTransaction, 3, 11 * hour),
            event("k2", Meter::ScanTransaction, 4, 10 * hour + 7),
        );
        let rows = pending_rows([&a, &b, &c, &d], 1);
        let got: Vec<(&str, i64, i64)> = rows.iter().map(|r| (r.key_id.as_str(), r.hour_ms, r.units)).collect();
        // k1 first; k2's two events of hour 10 summed, hour 11 apart.
        assert_eq!(got, vec![("k1", 10 * hour, 1), ("k2", 10 * hour, 6), ("k2", 11 * hour, 3)]);
        assert!(rows.iter().all(|r| r.day_ms == 0 && r.month_ms == 0), "1970-01-01, January 1970");
        let refund = pending_rows([&c], -1);
        assert_eq!(refund.len(), 1);
        assert_eq!((refund[0].units, refund[0].hour_ms, refund[0].meter), (-3, 11 * hour, Meter::ScanTransaction));
    }
}
