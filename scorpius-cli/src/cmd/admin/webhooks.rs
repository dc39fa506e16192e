//! `scorpius admin webhooks …`: the tenant's webhook subscriptions and their deliveries,
//! through the SDK. The signing secret is printed once, by `add`; removing asks for
//! confirmation on a terminal and needs `--yes` otherwise.

use anyhow::Result;
use comfy_table::{Table, presets::UTF8_FULL_CONDENSED};
use scorpius_sdk::api::webhooks::{CreateWebhookRequest, EventType, UpdateWebhookRequest, WebhookInfo};

use super::{ServerArgs, confirm};
use crate::{
    exit,
    output::{self, Format},
    remote,
};

/// `scorpius admin webhooks …`
#[derive(Debug, clap::Subcommand)]
pub enum WebhooksCommand {
    /// Subscribe an endpoint to event types; its signing secret is printed once.
    Add {
        /// The endpoint (https://…; http:// only where the server allows it).
        url: String,
        /// An event type to send (repeat for several): scan.completed, finding.critical,
        /// wallet.threat_detected, usage.threshold_reached, audit.verification_failed,
        /// key.created, key.revoked.
        #[arg(long = "event", short, value_name = "TYPE", required = true)]
        events: Vec<EventType>,
        /// A label (which system receives it).
        #[arg(long)]
        description: Option<String>,
        /// Output format: table (the secret alone on stdout) or json (the whole subscription).
        #[arg(long, short)]
        format: Option<Format>,
        #[command(flatten)]
        server: ServerArgs,
    },
    /// List the subscriptions (never their secrets).
    List {
        /// Output format (default: table on a terminal, JSON otherwise).
        #[arg(long, short)]
        format: Option<Format>,
        #[command(flatten)]
        server: ServerArgs,
    },
    /// Delete a subscription with its delivery log.
    Remove {
        /// The subscription id (wh_…).
        id: String,
        /// Do not ask for confirmation.
        #[arg(long, short)]
        yes: bool,
        #[command(flatten)]
        server: ServerArgs,
    },
    /// Re-enable a subscription (after the server disabled it for sustained failure).
    Enable {
        /// The subscription id (wh_…).
        id: String,
        #[command(flatten)]
        server: ServerArgs,
    },
    /// Pause a subscription: nothing is delivered to it until it is enabled again.
    Disable {
        /// The subscription id (wh_…).
        id: String,
        #[command(flatten)]
        server: ServerArgs,
    },
    /// The latest deliveries of a subscription with their attempts (newest first).
    Deliveries {
        /// The subscription id (wh_…).
        id: String,
        /// How many, 1–100.
        #[arg(long, default_value_t = 20)]
        limit: u32,
        /// Output format (default: table on a terminal, JSON otherwise).
        #[arg(long, short)]
        format: Option<Format>,
        #[command(flatten)]
        server: ServerArgs,
    },
    /// Send a delivery's message again, now (same webhook-id, so receivers can deduplicate).
    Redeliver {
        /// The subscription id (wh_…).
        id: String,
        /// The delivery id (dlv_…), from `deliveries`.
        delivery: String,
        #[command(flatten)]
        server: ServerArgs,
    },
}

fn table(header: &[&str]) -> Table {
    let mut t = Table::new();
    t.load_preset(UTF8_FULL_CONDENSED);
    t.set_header(header.to_vec());
    t
}

fn events(list: &[EventType]) -> String {
    list.iter().map(|e| e.as_str()).collect::<Vec<_>>().join(", ")
}

fn list_table(hooks: &[WebhookInfo]) -> String {
    if hooks.is_empty() {
        return "No webhooks.\n".to_owned();
    }
    let mut t = table(&["id", "url", "events", "enabled", "description", "created"]);
    for h in hooks {
        let enabled = match (&h.enabled, &h.disabled_reason) {
            (true, _) => "yes".to_owned(),
            (false, Some(why)) => format!("no: {why}"),
            (false, None) => "no".to_owned(),
        };
        t.add_row([
            h.id.clone(),
            h.url.clone(),
            events(&h.events),
            enabled,
            h.description.clone().unwrap_or_default(),
            h.created_at.clone(),
        ]);
    }
    format!("{t}\n")
}

/// Runs `admin webhooks …`.
pub fn run(cmd: WebhooksCommand) -> Result<u8> {
    match cmd {
        WebhooksCommand::Add { url, events: evs, description, format, server } => {
            let client = remote::connect(server.server.as_deref())?;
            let req = CreateWebhookRequest { url, events: evs, description };
            let created = remote::block_on(client.create_webhook(&req))?.map_err(remote::error)?;
            match format.unwrap_or(Format::Table) {
                Format::Json => output::emit(&(serde_json::to_string_pretty(&created)? + "\n"), None)?,
                Format::Table => {
                    eprintln!(
                        "Subscribed {} to {} as {}. The signing secret below is shown once: store it now.",
                        created.webhook.url,
                        events(&created.webhook.events),
                        created.webhook.id
                    );
                    output::emit(&format!("{}\n", created.secret), None)?;
                }
            }
        }
        WebhooksCommand::List { format, server } => {
            let client = remote::connect(server.server.as_deref())?;
            let hooks = remote::block_on(client.list_webhooks())?.map_err(remote::error)?;
            let text = match output::resolve_format(format, None) {
                Format::Json => serde_json::to_string_pretty(&hooks)? + "\n",
                Format::Table => list_table(&hooks),
            };
            output::emit(&text, None)?;
        }
        WebhooksCommand::Remove { id, yes, server } => {
            let client = remote::connect(server.server.as_deref())?;
            confirm(yes, &format!("Remove webhook {id} and its delivery log? Pending deliveries are dropped"))?;
            remote::block_on(client.delete_webhook(&id))?.map_err(remote::error)?;
            eprintln!("Removed webhook {id}.");
        }
        WebhooksCommand::Enable { id, server } => set_enabled(&id, &server, true)?,
        WebhooksCommand::Disable { id, server } => set_enabled(&id, &server, false)?,
        WebhooksCommand::Deliveries { id, limit, format, server } => {
            if !(1..=100).contains(&limit) {
                return Err(exit::usage("--limit: must be 1 to 100"));
            }
            let client = remote::connect(server.server.as_deref())?;
            let list = remote::block_on(client.webhook_deliveries(&id, Some(limit)))?.map_err(remote::error)?;
            let text = match output::resolve_format(format, None) {
                Format::Json => serde_json::to_string_pretty(&list)? + "\n",
                Format::Table if list.is_empty() => format!("No deliveries for webhook {id}.\n"),
                Format::Table => {
                    let mut t = table(&["delivery", "event", "state", "attempts", "last", "next attempt", "created"]);
                    for d in &list {
                        let last = d.log.last().map_or_else(String::new, |a| {
                            let status = a.status.map_or_else(|| "-".to_owned(), |s| s.to_string());
                            match &a.error {
                                Some(e) => format!("{status} {e} ({} ms)", a.latency_ms),
                                None => format!("{status} ({} ms)", a.latency_ms),
                            }
                        });
                        t.add_row([
                            d.id.clone(),
                            d.event_type.to_string(),
                            d.state.as_str().to_owned(),
                            d.attempts.to_string(),
                            last,
                            d.next_attempt_at.clone().unwrap_or_default(),
                            d.created_at.clone(),
                        ]);
                    }
                    format!("{t}\n")
                }
            };
            output::emit(&text, None)?;
        }
        WebhooksCommand::Redeliver { id, delivery, server } => {
            let client = remote::connect(server.server.as_deref())?;
            let r = remote::block_on(client.redeliver(&id, &delivery))?.map_err(remote::error)?;
            eprintln!("Queued {delivery} again as {} (due now).", r.delivery_id);
            output::emit(&format!("{}\n", r.delivery_id), None)?;
        }
    }
    Ok(exit::OK)
}

fn set_enabled(id: &str, server: &ServerArgs, enabled: bool) -> Result<()> {
    let client = remote::connect(server.server.as_deref())?;
    let change = UpdateWebhookRequest { enabled: Some(enabled), ..UpdateWebhookRequest::default() };
    let hook = remote::block_on(client.update_webhook(id, &change))?.map_err(remote::error)?;
    eprintln!("Webhook {} is {}.", hook.id, if hook.enabled { "enabled" } else { "disabled" });
    Ok(())
}
