//! `GET /v1/usage` (rollups by hour, day or month, per meter or key, JSON or CSV),
//! `GET /v1/usage/forecast` (month-end forecast per meter) and `GET /v1/billing/preview`
//! (the month's bill under the tenant's plan). See `docs/metering.md`.

use std::{collections::BTreeMap, sync::Arc};

use crate::{
    app::AppState,
    auth::Principal,
    error::{ApiError, ApiResult},
    extract::Query,
    metering::Metering,
};
use axum::{
    extract::State,
    http::header,
    response::{IntoResponse, Response},
};
use scorpius_core::{
    api::usage::{
        BillingPreview, BillingQuery, Granularity, GroupBy, MeterForecast, UsageForecast, UsageFormat, UsageQuery,
        UsageReport, UsageRow,
    },
    metering::{
        DAY_MS, Meter, Period, billing,
        forecast::{describe, forecast as project},
        hour_start_ms,
        plan::Plan,
        rfc3339,
    },
};

fn metering(s: &AppState) -> ApiResult<Arc<Metering>> {
    s.metering.clone().ok_or_else(|| ApiError::Unavailable("metering is not set up in this process".into()))
}

/// Parses RFC 3339 or a date (midnight UTC) to Unix ms.
fn parse_time(name: &str, s: &str) -> ApiResult<i64> {
    use time::{OffsetDateTime, format_description::well_known::Rfc3339, macros::format_description};
    let t = OffsetDateTime::parse(s, &Rfc3339).ok().or_else(|| {
        time::Date::parse(s, format_description!("[year]-[month]-[day]")).ok().map(|d| d.midnight().assume_utc())
    });
    t.map(|t| i64::try_from(t.unix_timestamp_nanos() / 1_000_000).unwrap_or(0))
        .ok_or_else(|| ApiError::BadRequest(format!("{name}: `{s}` is not an RFC 3339 time or YYYY-MM-DD date")))
}

fn align(g: Granularity, ms: i64) -> i64 {
    match g {
        Granularity::Hour => hour_start_ms(ms),
        Granularity::Day => Period::day_start_ms(ms),
        Granularity::Month => Period::containing(ms).start_ms(),
    }
}

/// Longest range per granularity (keeps responses bounded).
fn max_range_ms(g: Granularity) -> i64 {
    match g {
        Granularity::Hour => 32 * DAY_MS,
        Granularity::Day => 367 * DAY_MS,
        Granularity::Month => 10 * 366 * DAY_MS,
    }
}

/// Usage of the tenant.
#[utoipa::path(get, path = "/v1/usage", tag = "usage", params(UsageQuery),
    responses((status = 200, description = "Usage rows (`format=csv`: text/csv with columns start,meter,key_id,units)", body = UsageReport),
              (status = "4XX", description = "Problem details", body = scorpius_core::api::Problem, content_type = "application/problem+json")),
    security(("api_key" = []), ("bearer" = [])))]
pub async fn usage(State(s): State<AppState>, who: Principal, Query(q): Query<UsageQuery>) -> ApiResult<Response> {
    let m = metering(&s)?;
    let granularity = q.granularity.unwrap_or(Granularity::Day);
    let group_by = q.group_by.unwrap_or(GroupBy::Meter);
    let csv = q.format.unwrap_or_default() == UsageFormat::Csv;
    let period = Period::containing(m.now_ms());
    let from =
        align(granularity, q.from.as_deref().map(|f| parse_time("from", f)).transpose()?.unwrap_or(period.start_ms()));
    let to = q.to.as_deref().map(|t| parse_time("to", t)).transpose()?.unwrap_or(period.end_ms());
    if to <= from {
        return Err(ApiError::BadRequest("to: must be after from".into()));
    }
    if to - from > max_range_ms(granularity) {
        let limit = match granularity {
            Granularity::Hour => "32 days",
            Granularity::Day => "367 days",
            Granularity::Month => "10 years",
        };
        return Err(ApiError::BadRequest(format!(
            "from/to: at most {limit} with granularity={}",
            granularity.as_str()
        )));
    }
    let tenant = who.tenant.clone();
    let store = Arc::clone(&m.store);
    let by_key = group_by == GroupBy::Key;
    let rows = s.db(move |_| store.usage(&tenant, granularity, from, to, by_key)).await?;
    if csv {
        let mut out = String::from("start,meter,key_id,units\n");
        for (bucket, key, meter, units) in &rows {
            out.push_str(&format!("{},{meter},{},{units}\n", rfc3339(*bucket), key.as_deref().unwrap_or("")));
        }
        return Ok(([(header::CONTENT_TYPE, "text/csv; charset=utf-8")], out).into_response());
    }
    let mut totals = BTreeMap::new();
    for (_, _, meter, units) in &rows {
        *totals.entry(*meter).or_insert(0) += units;
    }
    let rows = rows
        .into_iter()
        .map(|(bucket, key_id, meter, units)| UsageRow { start: rfc3339(bucket), meter, key_id, units })
        .collect();
    Ok(axum::Json(UsageReport { from: rfc3339(from), to: rfc3339(to), granularity, group_by, rows, totals })
        .into_response())
}

/// Month-end forecast per meter.
#[utoipa::path(get, path = "/v1/usage/forecast", tag = "usage",
    responses((status = 200, body = UsageForecast),
              (status = "4XX", description = "Problem details", body = scorpius_core::api::Problem, content_type = "application/problem+json")),
    security(("api_key" = []), ("bearer" = [])))]
pub async fn forecast(State(s): State<AppState>, who: Principal) -> ApiResult<Response> {
    let m = metering(&s)?;
    let now = m.now_ms();
    let period = Period::containing(now);
    let (tenant, store) = (who.tenant.clone(), Arc::clone(&m.store));
    let (days, totals) = s
        .db(move |_| {
            let days = store.usage(&tenant, Granularity::Day, period.start_ms(), period.end_ms(), false)?;
            Ok((days, store.month_totals(&tenant, period)?))
        })
        .await?;
    let today_start = Period::day_start_ms(now);
    let complete = usize::try_from((today_start - period.start_ms()) / DAY_MS).unwrap_or(0);
    let day_fraction = (now - today_start) as f64 / DAY_MS as f64;
    let window = m.config.forecast_window_days;
    let plan = m.plan_of(&who.tenant).map(|(_, p)| p.clone()).unwrap_or_default();
    let meters = Meter::ALL
        .into_iter()
        .filter(|meter| totals.get(meter).is_some_and(|&u| u > 0) || plan.quota(*meter).is_some())
        .map(|meter| {
            let mut daily = vec![0u64; complete];
            let mut today = 0;
            for (bucket, _, m2, units) in &days {
                if *m2 != meter {
                    continue;
                }
                let i = usize::try_from((bucket - period.start_ms()) / DAY_MS).unwrap_or(usize::MAX);
                if i < complete {
                    daily[i] += units;
                } else if *bucket == today_start {
                    today += units;
                }
            }
            let f = project(&daily, today, day_fraction, u32::from(period.days()), window);
            let used = totals.get(&meter).copied().unwrap_or(0);
            let quota = plan.quota(meter);
            MeterForecast { meter, used, forecast: f.total, quota, exceeds_quota: quota.is_some_and(|q| f.total > q) }
        })
        .collect();
    Ok(axum::Json(UsageForecast {
        period: period.to_string(),
        as_of: rfc3339(now),
        resets_at: rfc3339(period.end_ms()),
        method: describe(window),
        meters,
    })
    .into_response())
}

/// The bill of a month under the tenant's plan.
#[utoipa::path(get, path = "/v1/billing/preview", tag = "usage", params(BillingQuery),
    responses((status = 200, body = BillingPreview),
              (status = "4XX", description = "Problem details", body = scorpius_core::api::Problem, content_type = "application/problem+json")),
    security(("api_key" = []), ("bearer" = [])))]
pub async fn billing_preview(
    State(s): State<AppState>,
    who: Principal,
    Query(q): Query<BillingQuery>,
) -> ApiResult<Response> {
    let m = metering(&s)?;
    let now = m.now_ms();
    let period = match q.month.as_deref() {
        None => Period::containing(now),
        Some(text) => text.parse::<Period>().map_err(|e| ApiError::BadRequest(e.to_string()))?,
    };
    let (tenant, store) = (who.tenant.clone(), Arc::clone(&m.store));
    let usage = s.db(move |_| store.month_totals(&tenant, period)).await?;
    let none = Plan::default();
    let (name, plan) = m.plan_of(&who.tenant).unwrap_or(("none", &none));
    Ok(axum::Json(billing::preview(name, plan, period, now >= period.end_ms(), &usage)).into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_align_to_their_bucket() {
        let t = parse_time("from", "2026-11-17T13:45:00Z").unwrap();
        assert_eq!(rfc3339(align(Granularity::Hour, t)), "2026-11-17T13:00:00Z");
        assert_eq!(rfc3339(align(Granularity::Day, t)), "2026-11-17T00:00:00Z");
        assert_eq!(rfc3339(align(Granularity::Month, t)), "2026-11-01T00:00:00Z");
        assert!(parse_time("from", "yesterday").is_err());
        assert_eq!(scorpius_core::metering::HOUR_MS * 24, DAY_MS);
    }
}
