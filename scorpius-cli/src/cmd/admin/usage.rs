//! `scorpius admin usage [forecast]` and `scorpius admin billing preview`: the tenant's
//! metered usage, its month-end forecast and the month's bill, through the SDK.

use anyhow::Result;
use comfy_table::{Table, presets::UTF8_FULL_CONDENSED};
use scorpius_sdk::api::usage::{BillingPreview, Granularity, GroupBy, UsageForecast, UsageQuery, UsageReport};

use super::ServerArgs;
use crate::{exit, output, remote};

/// Output of the usage commands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum UsageFormat {
    /// A table.
    Table,
    /// The server's JSON.
    Json,
    /// CSV (`start,meter,key_id,units`; usage rows only).
    Csv,
}

/// `scorpius admin usage …`
#[derive(Debug, clap::Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct UsageArgs {
    #[command(subcommand)]
    pub command: Option<UsageCommand>,
    /// Start (RFC 3339 or YYYY-MM-DD, UTC; default: the 1st of this month).
    #[arg(long, value_name = "TIME")]
    pub from: Option<String>,
    /// End, exclusive (RFC 3339 or YYYY-MM-DD; default: the end of this month).
    #[arg(long, value_name = "TIME")]
    pub to: Option<String>,
    /// Bucket size: hour, day (default) or month.
    #[arg(long, value_name = "SIZE")]
    pub granularity: Option<Granularity>,
    /// Split the rows by meter (default) or by API key.
    #[arg(long, value_name = "BY")]
    pub group_by: Option<GroupBy>,
    /// Output format (default: table on a terminal, JSON otherwise).
    #[arg(long, short)]
    pub format: Option<UsageFormat>,
    #[command(flatten)]
    pub server: ServerArgs,
}

/// `scorpius admin usage forecast`
#[derive(Debug, clap::Subcommand)]
pub enum UsageCommand {
    /// The expected usage at the end of this month per meter, against the plan's quotas.
    Forecast {
        /// Output format: table or json (default: table on a terminal, JSON otherwise).
        #[arg(long, short)]
        format: Option<UsageFormat>,
        #[command(flatten)]
        server: ServerArgs,
    },
}

/// `scorpius admin billing …`
#[derive(Debug, clap::Subcommand)]
pub enum BillingCommand {
    /// The bill of a month under the tenant's plan: one line per meter with the tiers applied.
    Preview {
        /// The month, YYYY-MM (default: this month).
        #[arg(long, value_name = "YYYY-MM")]
        month: Option<String>,
        /// Output format: table or json (default: table on a terminal, JSON otherwise).
        #[arg(long, short)]
        format: Option<UsageFormat>,
        #[command(flatten)]
        server: ServerArgs,
    },
}

/// Table on a terminal, JSON otherwise, unless chosen.
fn resolve(format: Option<UsageFormat>) -> UsageFormat {
    format.unwrap_or(match output::resolve_format(None, None) {
        output::Format::Table => UsageFormat::Table,
        output::Format::Json => UsageFormat::Json,
    })
}

fn no_csv(what: &str) -> anyhow::Error {
    exit::usage(format!("--format csv: {what} is available as table or json"))
}

fn table(header: &[&str]) -> Table {
    let mut t = Table::new();
    t.load_preset(UTF8_FULL_CONDENSED);
    t.set_header(header.to_vec());
    t
}

/// Runs `admin usage`.
pub fn usage(args: UsageArgs) -> Result<u8> {
    if let Some(UsageCommand::Forecast { format, server }) = args.command {
        return forecast(format, &server);
    }
    let client = remote::connect(args.server.server.as_deref())?;
    let query = UsageQuery {
        from: args.from,
        to: args.to,
        granularity: args.granularity,
        group_by: args.group_by,
        format: None,
    };
    let text = match resolve(args.format) {
        UsageFormat::Csv => remote::block_on(client.usage_csv(&query))?.map_err(remote::error)?,
        UsageFormat::Json => {
            let report = remote::block_on(client.usage(&query))?.map_err(remote::error)?;
            serde_json::to_string_pretty(&report)? + "\n"
        }
        UsageFormat::Table => usage_table(&remote::block_on(client.usage(&query))?.map_err(remote::error)?),
    };
    output::emit(&text, None)?;
    Ok(exit::OK)
}

fn usage_table(r: &UsageReport) -> String {
    let mut s = format!("Usage from {} to {} by {}:\n", r.from, r.to, r.granularity.as_str());
    if r.rows.is_empty() {
        s.push_str("No usage in this range.\n");
        return s;
    }
    let by_key = r.group_by == GroupBy::Key;
    let mut t = if by_key { table(&["start", "key", "meter", "units"]) } else { table(&["start", "meter", "units"]) };
    for row in &r.rows {
        let mut cells = vec![row.start.clone()];
        if by_key {
            cells.push(row.key_id.clone().unwrap_or_default());
        }
        cells.extend([row.meter.to_string(), row.units.to_string()]);
        t.add_row(cells);
    }
    s.push_str(&format!("{t}\n"));
    let mut totals = table(&["meter", "total"]);
    for (meter, units) in &r.totals {
        totals.add_row([meter.to_string(), units.to_string()]);
    }
    s.push_str(&format!("Totals:\n{totals}\n"));
    s
}

fn forecast(format: Option<UsageFormat>, server: &ServerArgs) -> Result<u8> {
    let format = resolve(format);
    if format == UsageFormat::Csv {
        return Err(no_csv("the forecast"));
    }
    let client = remote::connect(server.server.as_deref())?;
    let f = remote::block_on(client.usage_forecast())?.map_err(remote::error)?;
    let text = match format {
        UsageFormat::Table => forecast_table(&f),
        _ => serde_json::to_string_pretty(&f)? + "\n",
    };
    output::emit(&text, None)?;
    Ok(exit::OK)
}

fn forecast_table(f: &UsageForecast) -> String {
    let mut s =
        format!("Forecast for {} as of {} (quotas reset {}).\nMethod: {}\n", f.period, f.as_of, f.resets_at, f.method);
    if f.meters.is_empty() {
        s.push_str("No usage and no quotas this month.\n");
        return s;
    }
    let mut t = table(&["meter", "used", "forecast", "quota", "over quota"]);
    for m in &f.meters {
        t.add_row([
            m.meter.to_string(),
            m.used.to_string(),
            m.forecast.to_string(),
            m.quota.map_or_else(|| "unlimited".to_owned(), |q| q.to_string()),
            if m.exceeds_quota { "YES".to_owned() } else { "no".to_owned() },
        ]);
    }
    s.push_str(&format!("{t}\n"));
    s
}

/// Runs `admin billing …`.
pub fn billing(cmd: BillingCommand) -> Result<u8> {
    let BillingCommand::Preview { month, format, server } = cmd;
    let format = resolve(format);
    if format == UsageFormat::Csv {
        return Err(no_csv("the bill"));
    }
    let client = remote::connect(server.server.as_deref())?;
    let bill = remote::block_on(client.billing_preview(month.as_deref()))?.map_err(remote::error)?;
    let text = match format {
        UsageFormat::Table => bill_table(&bill),
        _ => serde_json::to_string_pretty(&bill)? + "\n",
    };
    output::emit(&text, None)?;
    Ok(exit::OK)
}

fn bill_table(b: &BillingPreview) -> String {
    let state = if b.complete { "final" } else { "month not over: usage can still grow" };
    let mut s = format!("Bill for {} under plan {} ({state}):\n", b.period, b.plan);
    let mut t = table(&["meter", "quantity", "model", "tier", "units", "unit price", "flat", "amount"]);
    for line in &b.lines {
        t.add_row([
            line.meter.to_string(),
            line.quantity.to_string(),
            line.model.clone(),
            String::new(),
            String::new(),
            String::new(),
            String::new(),
            format!("{} {}", line.amount, b.currency),
        ]);
        for tier in &line.tiers {
            let range = match tier.up_to {
                Some(up) => format!("{}: {}–{up}", tier.tier, tier.from),
                None => format!("{}: {}+", tier.tier, tier.from),
            };
            t.add_row([
                String::new(),
                String::new(),
                String::new(),
                range,
                tier.quantity.to_string(),
                tier.unit_price.to_string(),
                tier.flat_price.to_string(),
                tier.amount.to_string(),
            ]);
        }
    }
    s.push_str(&format!("{t}\nTotal: {} {}\n", b.total, b.currency));
    s
}
