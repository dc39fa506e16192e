//! Usage, forecast and billing preview (`/v1/usage*`, `/v1/billing/preview`) and webhook
//! subscriptions with their deliveries (`/v1/webhooks*`).

use reqwest::Method;
use scorpius_core::api::{
    usage::{BillingPreview, BillingQuery, UsageForecast, UsageFormat, UsageQuery, UsageReport},
    webhooks::{
        CreateWebhookRequest, CreatedWebhook, DeliveriesQuery, Delivery, DeliveryList, Redelivery,
        UpdateWebhookRequest, WebhookInfo, WebhookList,
    },
};

use crate::{
    Client, Error, Result,
    client::{Req, Retry, seg},
};

/// A request that changes something: sent once, never retried.
fn once(method: Method, path: String, body: Option<Vec<u8>>) -> Req<'static> {
    Req { method, path, query: None, body, headers: Vec::new(), retry: Retry::Never }
}

fn body<T: serde::Serialize>(what: &str, value: &T) -> Result<Vec<u8>> {
    serde_json::to_vec(value).map_err(|e| Error::Config(format!("serialising {what}: {e}")))
}

impl Client {
    // ---- usage and billing ---------------------------------------------------------------

    /// The tenant's usage between `query.from` and `query.to` (default: this month), by hour,
    /// day or month and by meter or key. `query.format` is ignored: see [`Client::usage_csv`].
    ///
    /// # Errors
    /// [`Error::Api`] 403 unless the caller is an admin or auditor; 400 naming a bad
    /// parameter (a time that does not parse, a range too long for the granularity).
    pub async fn usage(&self, query: &UsageQuery) -> Result<UsageReport> {
        let q = UsageQuery { format: None, ..query.clone() };
        self.json(&Req::get("v1/usage").query(&q)).await
    }

    /// The same rows as [`Client::usage`] as CSV (`start,meter,key_id,units`).
    ///
    /// # Errors
    /// As [`Client::usage`]; [`Error::Decode`] when the body is not UTF-8.
    pub async fn usage_csv(&self, query: &UsageQuery) -> Result<String> {
        let q = UsageQuery { format: Some(UsageFormat::Csv), ..query.clone() };
        let answer = self.send(&Req::get("v1/usage").query(&q)).await?;
        String::from_utf8(answer.body.to_vec()).map_err(|e| Error::Decode(format!("the CSV is not UTF-8: {e}")))
    }

    /// The expected usage at the end of the month per meter, with the method used.
    ///
    /// # Errors
    /// [`Error::Api`] 403 unless the caller is an admin or auditor.
    pub async fn usage_forecast(&self) -> Result<UsageForecast> {
        self.json(&Req::get("v1/usage/forecast")).await
    }

    /// The bill of `month` (`YYYY-MM`, default the current month) under the tenant's plan:
    /// one line per meter with the tiers applied.
    ///
    /// # Errors
    /// [`Error::Api`] 400 for a malformed month, 403 unless the caller is an admin or auditor.
    pub async fn billing_preview(&self, month: Option<&str>) -> Result<BillingPreview> {
        let q = BillingQuery { month: month.map(str::to_owned) };
        self.json(&Req::get("v1/billing/preview").query(&q)).await
    }

    // ---- webhooks ------------------------------------------------------------------------

    /// Subscribes an endpoint; the answer holds its signing secret, once. Never retried.
    ///
    /// # Errors
    /// [`Error::Api`] 422 naming a bad URL (scheme, credentials, a non-public address) or
    /// event list; 403 unless the caller is an admin.
    pub async fn create_webhook(&self, request: &CreateWebhookRequest) -> Result<CreatedWebhook> {
        self.json(&once(Method::POST, "v1/webhooks".into(), Some(body("the subscription", request)?))).await
    }

    /// The tenant's subscriptions (without secrets).
    ///
    /// # Errors
    /// [`Error::Api`] 403 unless the caller is an admin.
    pub async fn list_webhooks(&self) -> Result<Vec<WebhookInfo>> {
        Ok(self.json::<WebhookList>(&Req::get("v1/webhooks")).await?.webhooks)
    }

    /// One subscription.
    ///
    /// # Errors
    /// [`Error::Api`] 404 when the tenant has no such subscription.
    pub async fn get_webhook(&self, id: &str) -> Result<WebhookInfo> {
        self.json(&Req::get(format!("v1/webhooks/{}", seg(id)))).await
    }

    /// Changes a subscription (`enabled: Some(true)` re-enables a disabled one). Never retried.
    ///
    /// # Errors
    /// [`Error::Api`] 404 when the tenant has no such subscription, 422 for a bad field.
    pub async fn update_webhook(&self, id: &str, change: &UpdateWebhookRequest) -> Result<WebhookInfo> {
        let req = once(Method::PATCH, format!("v1/webhooks/{}", seg(id)), Some(body("the change", change)?));
        self.json(&req).await
    }

    /// Deletes a subscription with its deliveries. Never retried (a repeat would answer 404).
    ///
    /// # Errors
    /// [`Error::Api`] 404 when the tenant has no such subscription.
    pub async fn delete_webhook(&self, id: &str) -> Result<()> {
        self.send(&once(Method::DELETE, format!("v1/webhooks/{}", seg(id)), None)).await.map(|_| ())
    }

    /// The subscription's latest deliveries (newest first, `limit` 1–100, default 20), each
    /// with its attempt log.
    ///
    /// # Errors
    /// [`Error::Api`] 404 when the tenant has no such subscription, 400 for a bad limit.
    pub async fn webhook_deliveries(&self, id: &str, limit: Option<u32>) -> Result<Vec<Delivery>> {
        let q = DeliveriesQuery { limit };
        let path = format!("v1/webhooks/{}/deliveries", seg(id));
        Ok(self.json::<DeliveryList>(&Req::get(path).query(&q)).await?.deliveries)
    }

    /// Queues a delivery's message again, due now (a new delivery with the same
    /// `webhook-id`, so receivers can deduplicate). Never retried.
    ///
    /// # Errors
    /// [`Error::Api`] 404 when the tenant has no such subscription or delivery.
    pub async fn redeliver(&self, id: &str, delivery: &str) -> Result<Redelivery> {
        let path = format!("v1/webhooks/{}/deliveries/{}/redeliver", seg(id), seg(delivery));
        self.json(&once(Method::POST, path, None)).await
    }
}
