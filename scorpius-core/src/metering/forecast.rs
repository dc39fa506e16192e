//! The month-end forecast of a meter: a least-squares linear trend over the last complete
//! days of the month (default 7), extrapolated over the rest of the month and never below
//! zero; with fewer than two complete days, the month's run rate so far.

/// Days in the trend window by default.
pub const DEFAULT_WINDOW_DAYS: usize = 7;

/// A forecast and how it was made.
#[derive(Debug, Clone, PartialEq)]
pub struct Forecast {
    /// Expected units at the end of the month.
    pub total: u64,
    /// The method, in words.
    pub method: String,
}

/// The method description for a window (what `GET /v1/usage/forecast` states).
pub fn describe(window: usize) -> String {
    format!(
        "linear trend (least squares) over the daily usage of the last {window} complete days of the month, \
         extrapolated to the month's end and never below zero; with fewer than 2 complete days, the month's \
         run rate so far"
    )
}

/// `daily`: units of each complete day of the month so far (day 1 first); `today`: units so
/// far today; `day_fraction`: how much of today has passed (0–1); `days_in_month`; `window`:
/// how many of the last complete days the trend uses.
pub fn forecast(daily: &[u64], today: u64, day_fraction: f64, days_in_month: u32, window: usize) -> Forecast {
    let used: u64 = daily.iter().sum::<u64>() + today;
    let method = describe(window);
    let complete = daily.len();
    let frac = day_fraction.clamp(0.0, 1.0);
    if complete < 2 || window < 2 {
        let elapsed = complete as f64 + frac;
        let total = if elapsed > 0.0 { (used as f64 / elapsed * f64::from(days_in_month)).round() } else { 0.0 };
        return Forecast { total: (total as u64).max(used), method };
    }
    let w = window.min(complete);
    let xs: Vec<f64> = (complete - w..complete).map(|i| i as f64).collect();
    let ys: Vec<f64> = daily[complete - w..].iter().map(|&y| y as f64).collect();
    let n = w as f64;
    let mx = xs.iter().sum::<f64>() / n;
    let my = ys.iter().sum::<f64>() / n;
    let sxx: f64 = xs.iter().map(|x| (x - mx) * (x - mx)).sum();
    let sxy: f64 = xs.iter().zip(&ys).map(|(x, y)| (x - mx) * (y - my)).sum();
    let slope = if sxx > 0.0 { sxy / sxx } else { 0.0 };
    let at = |day: usize| (my + slope * (day as f64 - mx)).max(0.0);
    // The rest of today, then every later day of the month.
    let mut rest = at(complete) * (1.0 - frac);
    for day in complete + 1..days_in_month as usize {
        rest += at(day);
    }
    Forecast { total: used + rest.round() as u64, method }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_constant_series_forecasts_its_rate() {
        // 100 a day for 9 days, at midnight of day 10 of a 30-day month.
        let f = forecast(&[100; 9], 0, 0.0, 30, 7);
        assert_eq!(f.total, 3_000);
        assert!(f.method.contains("least squares") && f.method.contains("7 complete days"), "{}", f.method);
        // Half way through day 10 with 50 used today: the other half is still expected.
        assert_eq!(forecast(&[100; 9], 50, 0.5, 30, 7).total, 3_000);
    }

    #[test]
    fn a_linear_series_is_extrapolated_exactly() {
        // Day i (1-based) uses 10·i: after 5 days, the 30-day month totals 10 · (1 + … + 30).
        let daily: Vec<u64> = (1..=5).map(|i| 10 * i).collect();
        assert_eq!(forecast(&daily, 0, 0.0, 30, 7).total, 10 * 465);
        // Only the window counts: an early spike outside the last 3 days is ignored.
        let mut spiky = vec![10_000, 10_000];
        spiky.extend([100, 100, 100]);
        assert_eq!(forecast(&spiky, 0, 0.0, 10, 3).total, 20_300 + 5 * 100);
    }

    #[test]
    fn a_falling_trend_never_goes_below_zero() {
        let f = forecast(&[400, 300, 200, 100], 0, 0.0, 31, 7);
        // Next days would be 0, -100, …: clamped to zero, so nothing more is expected.
        assert_eq!(f.total, 1_000);
    }

    #[test]
    fn early_in_the_month_the_run_rate_is_used() {
        // 12 hours into day 1 with 50 used: 100 a day over 30 days.
        assert_eq!(forecast(&[], 50, 0.5, 30, 7).total, 3_000);
        assert_eq!(forecast(&[], 0, 0.0, 30, 7).total, 0);
        // One complete day of 100 and 100 more in the first half of day 2: 133.3 a day.
        assert_eq!(forecast(&[100], 100, 0.5, 30, 7).total, 4_000);
    }
}
