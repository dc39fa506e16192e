//! Usage metering in the request path (issue 9): every authenticated request that passed the
//! role check is metered before its handler runs. [`around`] reserves the request's units —
//! `api.requests`, plus `scan.<kind>` for a scan POST or `report.sarif` / `report.pdf` for a
//! rendered report — atomically against the tenant's monthly quotas (429 `quota-exceeded`
//! when one would be exceeded), runs the handler, then takes back the units of a scan or
//! report that did not happen (error status or idempotent replay). Webhook events raised by
//! the handler (through [`crate::hooks`]) are written to the outbox before the response leaves.
//!
//! A call that cannot be refused — none of its meters has a quota in the tenant's plan, or the
//! store knows it fits ([`crate::store::usage::UsageStore::reserve_ahead`]: SQLite keeps upper
//! bounds of the counters in memory, a PostgreSQL replica leases units of the quota) — runs
//! while its reservation commits; the response waits for the commit. Where the store has a
//! usage inbox (PostgreSQL, [`UsageStore::admit`]) such a call without an `Idempotency-Key`
//! writes nothing until it is answered: the events it is billed for then ride its audit
//! entry's transaction ([`DeferredUsage`]), and there is nothing to take back. Only a call
//! near a quota (or before its replica holds a lease) waits for the verdict before its
//! handler, and a call that reads usage (`/v1/usage*`, `/v1/billing/*`) waits so that it
//! counts itself.
//!
//! Plans come from configuration (`[metering]`); the clock can be shifted for tests
//! ([`Metering::set_clock_offset_ms`]).

use std::{
    cell::RefCell,
    collections::HashMap,
    num::NonZeroU32,
    sync::{
        Arc,
        atomic::{AtomicI64, Ordering},
    },
};

use axum::{
    extract::Request,
    http::{Method, Uri},
    middleware::Next,
    response::{IntoResponse, Response},
};
use governor::{DefaultKeyedRateLimiter, Quota, clock::Clock as _};
use scorpius_core::{
    api::webhooks::EventType,
    metering::{Meter, Period, plan::Plan, rfc3339},
};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use tokio::sync::Notify;

use crate::{
    app::AppState,
    auth::Principal,
    error::ApiError,
    store::{
        usage::{Admission, Carried, InboxRow, RecordOutcome, UsageEvent, UsageStore},
        writer::settled,
    },
};

/// A call admitted without a write ([`UsageStore::admit`]), until its usage is written: when
/// this is dropped, its units are no longer in flight ([`UsageStore::admitted`]). Dropped
/// before it was answered (the request was cancelled: its client went away, or it timed
/// out), the call is billed for everything it was admitted for, as a reservation made
/// before the handler would have been — written apart, outside the leases (counted as used
/// until applied).
struct Admitted {
    store: Arc<dyn UsageStore>,
    admission: Option<Admission>,
    /// The call was answered (else it is billed when dropped).
    answered: bool,
}

impl Admitted {
    fn new(store: &Arc<dyn UsageStore>, admission: Admission) -> Self {
        Admitted { store: Arc::clone(store), admission: Some(admission), answered: false }
    }
}

/// Rows written apart from their audit entry: outside the leases (a lease may have been
/// drawn from for them already, or may end before they land).
fn unleased(rows: Vec<InboxRow>) -> Vec<InboxRow> {
    rows.into_iter().map(|r| InboxRow { leased: false, ..r }).collect()
}

/// Writes an admitted call's usage apart from its audit entry (blocking): into the inbox,
/// outside the leases, while its leases still cover it; once they may have ended, reserved
/// with the exact check instead, so it cannot land outside the quota (a refusal is logged:
/// the call ran).
fn bill_apart(store: &dyn UsageStore, admission: &Admission, rows: &[InboxRow]) {
    let written = if store.still_admitted(admission) {
        store.write_inbox(&unleased(rows.to_vec()))
    } else {
        let events: Vec<UsageEvent> = rows.iter().map(|r| r.event.clone()).collect();
        store.record(&events, &|meter| admission.reservation.quota(meter)).map(|outcome| {
            if !matches!(outcome, RecordOutcome::Recorded { .. }) {
                tracing::error!(?outcome, "metering: the usage of a call whose lease ended was refused");
            }
        })
    };
    if let Err(e) = written {
        tracing::error!(error = %e, "metering: the usage of a call could not be recorded");
    }
}

impl Drop for Admitted {
    fn drop(&mut self) {
        let Some(admission) = self.admission.take() else { return };
        let rows = if self.answered { Vec::new() } else { admission.rows(|_| true) };
        let (store, writes) = (Arc::clone(&self.store), !rows.is_empty());
        let settle = move || {
            if !rows.is_empty() {
                bill_apart(&*store, &admission, &rows);
            }
            store.admitted(&admission);
        };
        // A write blocks: not on an async worker.
        match tokio::runtime::Handle::try_current() {
            Ok(rt) if writes => drop(rt.spawn_blocking(settle)),
            _ => settle(),
        }
    }
}

/// The usage of a call admitted without a write, set on its response by [`around`]: the
/// authentication middleware writes [`DeferredUsage::rows`] with the request's audit entry
/// (`Store::queue_audit_with`), then calls [`DeferredUsage::settle`].
#[derive(Clone)]
pub struct DeferredUsage {
    admitted: Arc<Admitted>,
    /// The inbox rows of the events the call is billed for.
    rows: Arc<[InboxRow]>,
}

impl std::fmt::Debug for DeferredUsage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DeferredUsage").field("rows", &self.rows.len()).finish_non_exhaustive()
    }
}

impl DeferredUsage {
    /// The rows, for the audit append, which keeps the call's admission until its outcome is
    /// known: a request cancelled meanwhile cannot end it before the rows commit.
    pub fn carried(&self) -> Carried {
        Carried { rows: Arc::clone(&self.rows), hold: Box::new(Arc::clone(&self.admitted)) }
    }

    /// After the audit append: writes the rows apart unless they were `carried` (committed
    /// with the entry), then ends the call's admission. Errors are logged: the call was
    /// served.
    pub async fn settle(self, carried: bool) {
        let DeferredUsage { admitted, rows } = self;
        if carried || rows.is_empty() {
            // Nothing to write: no blocking call, no thread hand-off.
            return;
        }
        // Outside the leases (an append whose commit is unknown may have written them; an
        // insert skips a row already there), or checked once the leases may have ended.
        tokio::task::spawn_blocking(move || {
            if let Some(admission) = &admitted.admission {
                bill_apart(&*admitted.store, admission, &rows);
            }
            drop(admitted);
        })
        .await
        .unwrap_or_else(|e| tracing::error!(error = %e, "metering: the usage settle task failed"));
    }
}

/// `[metering]` in the configuration file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MeteringConfig {
    /// Record usage and enforce quotas (webhooks work either way).
    pub enabled: bool,
    /// The plan of tenants not listed in `tenants` (absent: no quotas, no prices).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub default_plan: Option<String>,
    /// Plans by name.
    pub plans: std::collections::BTreeMap<String, Plan>,
    /// Tenant → plan name.
    pub tenants: std::collections::BTreeMap<String, String>,
    /// Complete days the forecast's trend uses.
    pub forecast_window_days: usize,
}

impl Default for MeteringConfig {
    fn default() -> Self {
        MeteringConfig {
            enabled: true,
            default_plan: None,
            plans: Default::default(),
            tenants: Default::default(),
            forecast_window_days: scorpius_core::metering::forecast::DEFAULT_WINDOW_DAYS,
        }
    }
}

impl MeteringConfig {
    /// Plans valid, every assignment names a plan.
    pub fn validate(&self) -> Result<(), String> {
        for (name, p) in &self.plans {
            p.validate().map_err(|e| format!("metering.plans.{name}: {e}"))?;
        }
        for (tenant, plan) in self
            .tenants
            .iter()
            .map(|(t, p)| (t.as_str(), p))
            .chain(self.default_plan.iter().map(|p| ("default_plan", p)))
        {
            if !self.plans.contains_key(plan) {
                return Err(format!("metering: `{tenant}` is assigned plan `{plan}`, which is not defined"));
            }
        }
        if self.forecast_window_days < 2 {
            return Err("metering.forecast_window_days must be at least 2".into());
        }
        Ok(())
    }
}

/// A webhook event raised during a request, written to the outbox before the response.
#[derive(Debug, Clone)]
pub struct PendingEvent {
    /// Tenant (`None`: every tenant subscribed).
    pub tenant: Option<String>,
    /// Type.
    pub event: EventType,
    /// Data.
    pub data: serde_json::Value,
}

tokio::task_local! {
    static PENDING: RefCell<Vec<PendingEvent>>;
}

/// Raises a webhook event: collected for the outbox write at the end of the current request,
/// or (outside a request) written at once on the blocking pool.
pub fn raise(metering: &Arc<Metering>, event: PendingEvent) {
    let left = PENDING.try_with(|p| p.borrow_mut().push(event.clone()));
    if left.is_err() {
        let m = Arc::clone(metering);
        tokio::task::spawn_blocking(move || m.write_events(&[event]));
    }
}

type BurstLimiter = DefaultKeyedRateLimiter<String>;

/// Metering state shared by the middleware, the usage routes and the webhook worker.
pub struct Metering {
    /// Storage.
    pub store: Arc<dyn UsageStore>,
    /// Configuration.
    pub config: MeteringConfig,
    limiters: HashMap<String, BurstLimiter>,
    /// The plans, shared with the requests' quota lookups (no copy per request).
    shared: HashMap<String, Arc<Plan>>,
    offset_ms: AtomicI64,
    /// Woken when messages are queued (the delivery worker waits on it).
    pub queued: Notify,
    /// (tenant, event type) pairs found to have no subscriber, and when: for
    /// [`NO_SUBSCRIBER_TTL`] their events skip the outbox round trip.
    unsubscribed: std::sync::Mutex<HashMap<(String, EventType), std::time::Instant>>,
}

/// How long a replica trusts "this tenant has no subscriber for this event type". A
/// subscription made through this replica counts at once ([`Metering::subscriptions_changed`]);
/// one made through another replica receives events raised here from at most this long after
/// its creation.
pub const NO_SUBSCRIBER_TTL: std::time::Duration = std::time::Duration::from_secs(1);

impl std::fmt::Debug for Metering {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metering").field("enabled", &self.config.enabled).finish_non_exhaustive()
    }
}

impl Metering {
    /// Metering over a store.
    pub fn new(store: Arc<dyn UsageStore>, config: MeteringConfig) -> Self {
        let limiters = config
            .plans
            .iter()
            .filter_map(|(name, p)| {
                let b = p.burst?;
                let q = Quota::per_second(NonZeroU32::new(b.per_second)?).allow_burst(NonZeroU32::new(b.burst)?);
                Some((name.clone(), governor::RateLimiter::keyed(q)))
            })
            .collect();
        let shared = config.plans.iter().map(|(name, p)| (name.clone(), Arc::new(p.clone()))).collect();
        Metering {
            store,
            config,
            limiters,
            shared,
            offset_ms: AtomicI64::new(0),
            queued: Notify::new(),
            unsubscribed: std::sync::Mutex::default(),
        }
    }

    /// The metering clock (Unix ms): the system clock plus the test offset.
    pub fn now_ms(&self) -> i64 {
        crate::store::sqlite::now_ms() + self.offset_ms.load(Ordering::Relaxed)
    }

    /// Shifts the metering clock (tests of month rollover).
    pub fn set_clock_offset_ms(&self, offset: i64) {
        self.offset_ms.store(offset, Ordering::Relaxed);
    }

    /// The tenant's plan and its name.
    pub fn plan_of(&self, tenant: &str) -> Option<(&str, &Plan)> {
        let name = self.config.tenants.get(tenant).or(self.config.default_plan.as_ref())?;
        self.config.plans.get(name).map(|p| (name.as_str(), p))
    }

    /// Forgets what is known about subscribers (a subscription changed on this replica).
    pub fn subscriptions_changed(&self) {
        if let Ok(mut m) = self.unsubscribed.lock() {
            m.clear();
        }
    }

    /// Whether `event` may reach a subscriber: not when this replica found none for its
    /// tenant and event type within [`NO_SUBSCRIBER_TTL`]. Server-wide events always may.
    pub fn may_have_subscribers(&self, event: &PendingEvent) -> bool {
        let Some(tenant) = &event.tenant else { return true };
        let Ok(m) = self.unsubscribed.lock() else { return true };
        m.get(&(tenant.clone(), event.event)).is_none_or(|at| at.elapsed() >= NO_SUBSCRIBER_TTL)
    }

    /// Writes webhook events to the outbox (errors are logged: the request already happened).
    pub fn write_events(&self, events: &[PendingEvent]) {
        let now = crate::store::sqlite::now_ms();
        let mut queued = false;
        for e in events {
            match self.store.enqueue(e.tenant.as_deref(), e.event, &e.data, now) {
                Ok(ids) if ids.is_empty() => {
                    if let (Some(t), Ok(mut m)) = (&e.tenant, self.unsubscribed.lock()) {
                        m.insert((t.clone(), e.event), std::time::Instant::now());
                    }
                }
                Ok(_) => queued = true,
                Err(err) => tracing::error!(error = %err, event = e.event.as_str(), "could not queue a webhook event"),
            }
        }
        if queued {
            self.queued.notify_one();
        }
    }

    fn burst_check(&self, tenant: &str, key_id: &str) -> Result<(), ApiError> {
        let Some((name, _)) = self.plan_of(tenant) else { return Ok(()) };
        let Some(limiter) = self.limiters.get(name) else { return Ok(()) };
        limiter.check_key(&key_id.to_owned()).map_err(|not_until| {
            let wait = not_until.wait_time_from(governor::clock::DefaultClock::default().now());
            ApiError::RateLimited(wait.as_secs() + u64::from(wait.subsec_nanos() > 0))
        })
    }
}

/// The meters a request uses: `api.requests`, and the scan or report meter of the route.
pub fn meters_for(method: &Method, route: &str, uri: &Uri) -> Vec<Meter> {
    let mut meters = vec![Meter::ApiRequests];
    if *method == Method::POST
        && let Some(kind) = route.strip_prefix("/v1/scan/")
        && let Some(m) = Meter::for_scan(kind)
    {
        meters.push(m);
    }
    if *method == Method::GET && route == "/v1/scans/{id}/report" {
        let format = uri.query().unwrap_or("").split('&').find_map(|kv| kv.strip_prefix("format="));
        match format {
            Some("sarif") => meters.push(Meter::ReportSarif),
            Some("pdf") => meters.push(Meter::ReportPdf),
            _ => {}
        }
    }
    meters
}

/// Meters the request around its handler (called by the authentication middleware after the
/// role check); see the module documentation.
pub async fn around(state: &AppState, who: &Principal, route: &str, req: Request, next: Next) -> Response {
    let Some(m) = state.metering.clone() else { return next.run(req).await };
    let mut counted = Vec::new();
    let mut reserved = None;
    let mut admission = None;
    if m.config.enabled {
        if let Err(e) = m.burst_check(&who.tenant, &who.key_id) {
            crate::metrics::rate_limited();
            return e.into_response();
        }
        let now = m.now_ms();
        // Time-ordered, so the events' primary key grows at its right edge.
        let request = scorpius_core::model::time_ordered_id(time::OffsetDateTime::now_utc()).simple().to_string();
        // A scan retried under the same Idempotency-Key is one scan: one event.
        let idem = req.headers().get("idempotency-key").and_then(|v| v.to_str().ok()).map(|k| {
            let mut h = Sha256::new();
            h.update(who.key_id.as_bytes());
            h.update(b"\n");
            h.update(k.as_bytes());
            hex::encode(&h.finalize()[..16])
        });
        let events: Vec<UsageEvent> = meters_for(req.method(), route, req.uri())
            .into_iter()
            .map(|meter| UsageEvent {
                tenant: who.tenant.clone(),
                key_id: who.key_id.clone(),
                meter,
                units: 1,
                ts_ms: now,
                idem_id: match (&idem, meter) {
                    (Some(k), m) if m != Meter::ApiRequests => format!("idem:{k}:{m}"),
                    _ => format!("req:{request}:{meter}"),
                },
            })
            .collect();
        let plan = m.config.tenants.get(&who.tenant).or(m.config.default_plan.as_ref()).and_then(|n| m.shared.get(n));
        let plan = plan.map(Arc::clone);
        let quota = move |meter| plan.as_ref().and_then(|p| p.quota(meter));
        // A call that cannot be refused (no quota on its meters, or one the store knows it
        // fits) runs while its reservation commits; any other waits for the verdict first.
        // Calls that read usage wait, so that they count themselves.
        let reads_usage = route.starts_with("/v1/usage") || route.starts_with("/v1/billing");
        let unlimited = events.iter().all(|e| quota(e.meter).is_none());
        // Where the store has a usage inbox, such a call writes nothing until it is answered.
        // A call with an Idempotency-Key is not: its retries share its events, and one
        // reserved by the check must see the others at once.
        if !reads_usage
            && idem.is_none()
            && let Some(a) = m.store.admit(&events, &quota)
        {
            admission = Some(Admitted::new(&m.store, a));
        }
        let ahead = match (reads_usage, unlimited) {
            _ if admission.is_some() => None,
            (true, _) => None,
            (false, true) => m.store.queue_record(&events, &quota),
            (false, false) => m.store.reserve_ahead(&events, &quota),
        };
        match ahead {
            Some(queued) => reserved = Some(queued),
            None if admission.is_some() => {}
            None => match reserve(&m, events, quota).await {
                Ok(RecordOutcome::Recorded { counted: c, .. }) => counted = c,
                Ok(RecordOutcome::QuotaExceeded { meter, quota, used, period }) => {
                    return quota_exceeded(meter, quota, used, period, now).into_response();
                }
                Ok(RecordOutcome::Contended { meter, quota, used, period, retry_after_ms }) => {
                    return quota_held(meter, quota, used, period, retry_after_ms).into_response();
                }
                Err(e) => return ApiError::internal(format!("metering: {e}")).into_response(),
            },
        }
    }
    let handler = PENDING.scope(RefCell::new(Vec::new()), async move {
        let resp = next.run(req).await;
        (resp, PENDING.with(|p| p.take()))
    });
    let (mut resp, mut events) = match reserved {
        None => handler.await,
        Some(queued) => {
            let ((resp, events), outcome) = tokio::join!(handler, settled(queued));
            match outcome {
                Ok(RecordOutcome::Recorded { counted: c, .. }) => counted = c,
                // The call already ran: it is answered as failed (a retry with the same
                // Idempotency-Key is counted once).
                Ok(RecordOutcome::QuotaExceeded { meter, .. } | RecordOutcome::Contended { meter, .. }) => {
                    tracing::error!(meter = meter.as_str(), "metering: a reservation admitted ahead was refused");
                    return ApiError::internal("metering: the reservation was refused").into_response();
                }
                Err(e) => return ApiError::internal(format!("metering: {e}")).into_response(),
            }
            (resp, events)
        }
    };
    // Most tenants subscribe to little: skip the outbox for what nobody listens to.
    events.retain(|e| m.may_have_subscribers(e));
    // A scan or report that did not happen is not billed (api.requests stays counted).
    let billed = resp.status().is_success() && !resp.headers().contains_key("idempotent-replayed");
    let refund: Vec<String> =
        if billed { Vec::new() } else { counted.into_iter().filter(|id| !id.ends_with(":api.requests")).collect() };
    if !refund.is_empty() || !events.is_empty() {
        let tenant = who.tenant.clone();
        let m2 = Arc::clone(&m);
        let done = tokio::task::spawn_blocking(move || {
            if !refund.is_empty()
                && let Err(e) = m2.store.unrecord(&tenant, &refund)
            {
                tracing::error!(error = %e, "metering: could not take back the units of a failed call");
            }
            m2.write_events(&events);
        })
        .await;
        if let Err(e) = done {
            tracing::error!(error = %e, "metering: the settle task failed");
        }
    }
    // Last, after every await of this call: cancelled before here, it is billed on drop.
    if let Some(mut a) = admission {
        a.answered = true;
        let bill = |e: &UsageEvent| billed || e.meter == Meter::ApiRequests;
        let admission = a.admission.as_ref().unwrap_or_else(|| unreachable!("taken only on drop"));
        if m.store.still_admitted(admission) {
            let rows = admission.rows(bill).into();
            resp.extensions_mut().insert(DeferredUsage { admitted: Arc::new(a), rows });
        } else {
            // Answered so late that its leases could end before its usage lands: reserved
            // with the exact check instead (and answered 500 if that refuses it: it ran).
            let events: Vec<UsageEvent> = admission.reservation.events.iter().filter(|e| bill(e)).cloned().collect();
            let quota = {
                let r = admission.reservation.clone();
                move |meter| r.quota(meter)
            };
            drop(a);
            match reserve(&m, events, quota).await {
                Ok(RecordOutcome::Recorded { .. }) => {}
                Ok(RecordOutcome::QuotaExceeded { meter, .. } | RecordOutcome::Contended { meter, .. }) => {
                    tracing::error!(
                        meter = meter.as_str(),
                        "metering: a call admitted on a lease that ended was refused"
                    );
                    return ApiError::internal("metering: the reservation was refused").into_response();
                }
                Err(e) => return ApiError::internal(format!("metering: {e}")).into_response(),
            }
        }
    }
    resp
}

/// How long a call that fits its quota's used units but not beside other replicas' leases
/// (`Contended`) keeps trying; past it, every lease it met has expired, and a call still
/// contended is refused.
const CONTENDED_FOR: std::time::Duration = std::time::Duration::from_secs(3);

/// Records a reservation and waits for the verdict: on the store's writer thread when it has
/// one, else on the blocking pool. A `Contended` verdict is tried again after the delay it
/// names, for up to [`CONTENDED_FOR`].
async fn reserve(
    m: &Arc<Metering>,
    events: Vec<UsageEvent>,
    quota: impl Fn(Meter) -> Option<u64> + Send + Sync + 'static,
) -> Result<RecordOutcome, crate::store::StoreError> {
    let quota = Arc::new(quota);
    let events = Arc::new(events);
    let start = std::time::Instant::now();
    let mut retry = false;
    loop {
        // A retry first tries the replica's lease, which it may have been granted meanwhile
        // (asking for one if not), and takes the exact check only without one.
        let ahead = if retry { m.store.reserve_ahead(&events, &*quota) } else { None };
        retry = true;
        let outcome = if let Some(queued) = ahead.or_else(|| m.store.queue_record(&events, &*quota)) {
            settled(queued).await
        } else {
            let (store, events, quota) = (Arc::clone(&m.store), Arc::clone(&events), Arc::clone(&quota));
            tokio::task::spawn_blocking(move || store.record(&events, &*quota))
                .await
                .unwrap_or_else(|e| Err(crate::store::StoreError::Db(format!("metering task: {e}"))))
        };
        match outcome {
            Ok(RecordOutcome::Contended { retry_after_ms, .. }) if start.elapsed() < CONTENDED_FOR => {
                tokio::time::sleep(std::time::Duration::from_millis(retry_after_ms)).await;
            }
            other => return other,
        }
    }
}

fn quota_exceeded(meter: Meter, quota: u64, used: u64, period: Period, now_ms: i64) -> ApiError {
    let reset = period.end_ms();
    ApiError::QuotaExceeded {
        detail: format!(
            "the monthly quota of {quota} {meter} is used up ({used} used in {period}); it resets at {}",
            rfc3339(reset)
        ),
        retry_after: u64::try_from((reset - now_ms + 999) / 1000).unwrap_or(0),
    }
}

/// A call still `Contended` after [`CONTENDED_FOR`]: the units its quota has left are held
/// by other replicas' live leases for calls they are admitting. It is refused like a call over
/// the quota (429 `quota-exceeded`), but told to come back soon rather than at the reset: a
/// lease shrinks as the quota nears, and one whose replica stops using it ends within seconds.
/// `retry_after_ms` is the server's own retry delay (at most 0.5 s), so this is 1 s.
fn quota_held(meter: Meter, quota: u64, used: u64, period: Period, retry_after_ms: u64) -> ApiError {
    let secs = retry_after_ms.div_ceil(1000).max(1);
    ApiError::QuotaExceeded {
        detail: format!(
            "the monthly quota of {quota} {meter} is taken: {used} used in {period}, the rest held by other \
             replicas for calls in flight; try again in {secs} s (the quota resets at {})",
            rfc3339(period.end_ms())
        ),
        retry_after: secs,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_map_to_meters() {
        let uri: Uri = "/v1/scans/x/report?format=sarif".parse().unwrap();
        assert_eq!(
            meters_for(&Method::GET, "/v1/scans/{id}/report", &uri),
            vec![Meter::ApiRequests, Meter::ReportSarif]
        );
        let uri: Uri = "/v1/scans/x/report?format=markdown".parse().unwrap();
        assert_eq!(meters_for(&Method::GET, "/v1/scans/{id}/report", &uri), vec![Meter::ApiRequests]);
        let uri: Uri = "/v1/scan/wallet".parse().unwrap();
        assert_eq!(meters_for(&Method::POST, "/v1/scan/wallet", &uri), vec![Meter::ApiRequests, Meter::ScanWallet]);
        assert_eq!(meters_for(&Method::GET, "/v1/scans", &uri), vec![Meter::ApiRequests]);
    }

    #[test]
    #[allow(clippy::result_large_err)] // figment::Jail's signature
    fn plans_load_from_the_toml_file() {
        figment::Jail::expect_with(|jail| {
            jail.create_file(
                "server.toml",
                r#"
[metering]
default_plan = "free"
[metering.tenants]
acme = "pro"
[metering.plans.free]
quotas = { "scan.transaction" = 1000 }
burst = { per_second = 5, burst = 10 }
[metering.plans.pro]
currency = "EUR"
[metering.plans.pro.prices."scan.transaction"]
model = "graduated"
tiers = [ { up_to = 1000, unit_price = "0" }, { unit_price = "0.002" } ]
[webhooks]
max_attempts = 3
"#,
            )?;
            let c =
                crate::config::Config::load(Some(std::path::Path::new("server.toml")), &Default::default()).unwrap();
            assert_eq!(c.metering.plans["free"].quota(Meter::ScanTransaction), Some(1000));
            assert_eq!(c.metering.plans["free"].quota(Meter::ScanWallet), None);
            assert_eq!(c.metering.plans["pro"].currency, "EUR");
            assert_eq!(c.webhooks.max_attempts, 3);
            jail.create_file("bad.toml", "[metering]\ndefault_plan = \"gold\"\n")?;
            let err =
                crate::config::Config::load(Some(std::path::Path::new("bad.toml")), &Default::default()).unwrap_err();
            assert!(format!("{err:#}").contains("gold"), "{err:#}");
            jail.create_file("bad2.toml", "[metering.plans.x.quotas]\n\"scan.nothing\" = 1\n")?;
            assert!(crate::config::Config::load(Some(std::path::Path::new("bad2.toml")), &Default::default()).is_err());
            Ok(())
        });
    }

    #[test]
    fn plan_assignments_must_name_plans() {
        let mut c = MeteringConfig::default();
        c.tenants.insert("acme".into(), "gold".into());
        assert!(c.validate().unwrap_err().contains("gold"));
        c.plans.insert("gold".into(), Plan::default());
        c.validate().unwrap();
    }
}
