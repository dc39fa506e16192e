//! Webhook subscriptions and deliveries on the wire: `/v1/webhooks` (see `docs/webhooks.md`).
//! The signing secret is only in [`CreatedWebhook`], returned once at creation. Every delivery
//! body is a [`WebhookMessage`], signed per Standard Webhooks (`crate::webhooks`).

use std::{fmt, str::FromStr};

use serde::{Deserialize, Serialize};

/// What a subscription can receive.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum EventType {
    /// A scan was stored (any kind).
    #[serde(rename = "scan.completed")]
    ScanCompleted,
    /// A stored scan has at least one critical finding.
    #[serde(rename = "finding.critical")]
    FindingCritical,
    /// A wallet scan has high or critical findings.
    #[serde(rename = "wallet.threat_detected")]
    WalletThreatDetected,
    /// Usage of a meter reached 80 % or 100 % of the monthly quota (once per month each).
    #[serde(rename = "usage.threshold_reached")]
    UsageThresholdReached,
    /// `/health/deep` found that the audit log does not verify.
    #[serde(rename = "audit.verification_failed")]
    AuditVerificationFailed,
    /// An API key was created.
    #[serde(rename = "key.created")]
    KeyCreated,
    /// An API key was revoked.
    #[serde(rename = "key.revoked")]
    KeyRevoked,
}

impl EventType {
    /// Every event type.
    pub const ALL: [EventType; 7] = [
        EventType::ScanCompleted,
        EventType::FindingCritical,
        EventType::WalletThreatDetected,
        EventType::UsageThresholdReached,
        EventType::AuditVerificationFailed,
        EventType::KeyCreated,
        EventType::KeyRevoked,
    ];

    /// The stable name (`scan.completed`).
    pub fn as_str(self) -> &'static str {
        match self {
            EventType::ScanCompleted => "scan.completed",
            EventType::FindingCritical => "finding.critical",
            EventType::WalletThreatDetected => "wallet.threat_detected",
            EventType::UsageThresholdReached => "usage.threshold_reached",
            EventType::AuditVerificationFailed => "audit.verification_failed",
            EventType::KeyCreated => "key.created",
            EventType::KeyRevoked => "key.revoked",
        }
    }
}

impl fmt::Display for EventType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for EventType {
    type Err = crate::Error;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        EventType::ALL
            .into_iter()
            .find(|e| e.as_str() == s)
            .ok_or_else(|| crate::Error::input("events", format!("`{s}` is not an event type")))
    }
}

/// The body of every delivery (Standard Webhooks payload shape).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct WebhookMessage {
    /// The event type.
    #[serde(rename = "type")]
    pub event_type: EventType,
    /// When the event happened (RFC 3339).
    pub timestamp: String,
    /// The tenant it belongs to.
    pub tenant: String,
    /// Event-specific data (see docs/webhooks.md).
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub data: serde_json::Value,
}

/// `POST /v1/webhooks`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct CreateWebhookRequest {
    /// Where to POST deliveries (`https://…`, or `http://…`).
    pub url: String,
    /// The event types to receive (at least one).
    pub events: Vec<EventType>,
    /// A label.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

/// `PATCH /v1/webhooks/{id}`: the fields to change.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct UpdateWebhookRequest {
    /// New URL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// New event types.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub events: Option<Vec<EventType>>,
    /// New label.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// `true` re-enables a disabled endpoint (pending deliveries resume), `false` disables it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,
}

/// A subscription, without its secret.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct WebhookInfo {
    /// `wh_…`.
    pub id: String,
    /// Delivery URL.
    pub url: String,
    /// Subscribed event types.
    pub events: Vec<EventType>,
    /// Label.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// False when disabled (by hand or after sustained failure).
    pub enabled: bool,
    /// Why it was disabled.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disabled_reason: Option<String>,
    /// Creation time (RFC 3339).
    pub created_at: String,
}

/// `POST /v1/webhooks` response: the subscription and its signing secret (shown once).
/// `Debug` leaves the secret out.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CreatedWebhook {
    /// The subscription.
    pub webhook: WebhookInfo,
    /// `whsec_…`: verify deliveries with it; it is not shown again.
    pub secret: String,
}

impl fmt::Debug for CreatedWebhook {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CreatedWebhook").field("webhook", &self.webhook).field("secret", &"<redacted>").finish()
    }
}

/// `GET /v1/webhooks`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct WebhookList {
    /// The tenant's subscriptions, newest first.
    pub webhooks: Vec<WebhookInfo>,
}

/// State of a delivery.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum DeliveryState {
    /// Waiting for its next attempt.
    Pending,
    /// A 2xx answer was received.
    Delivered,
    /// Every attempt failed.
    Failed,
}

impl DeliveryState {
    /// Lower-case name.
    pub fn as_str(self) -> &'static str {
        match self {
            DeliveryState::Pending => "pending",
            DeliveryState::Delivered => "delivered",
            DeliveryState::Failed => "failed",
        }
    }
}

/// One attempt of a delivery.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DeliveryAttempt {
    /// 1-based.
    pub attempt: u32,
    /// When it was made (RFC 3339).
    pub at: String,
    /// HTTP status received (absent when no response: connection refused, timeout).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    /// Time to the response (or the failure), milliseconds.
    pub latency_ms: u64,
    /// Why it failed without a status, or why a status is not success (redirects).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// The first 1 KiB of the response body.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub response: Option<String>,
}

/// One message to one endpoint, with its attempts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Delivery {
    /// `dlv_…`.
    pub id: String,
    /// The message id (the `webhook-id` header; the same on redeliveries).
    pub message_id: String,
    /// Event type.
    pub event_type: EventType,
    /// State.
    pub state: DeliveryState,
    /// Attempts made.
    pub attempts: u32,
    /// When it was queued (RFC 3339).
    pub created_at: String,
    /// The next attempt (pending only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_attempt_at: Option<String>,
    /// The attempts, oldest first.
    pub log: Vec<DeliveryAttempt>,
}

/// `GET /v1/webhooks/{id}/deliveries`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DeliveryList {
    /// Newest first.
    pub deliveries: Vec<Delivery>,
}

/// Query of `GET /v1/webhooks/{id}/deliveries`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::IntoParams), into_params(parameter_in = Query))]
#[serde(deny_unknown_fields)]
pub struct DeliveriesQuery {
    /// How many, 1–100 (default 20), newest first.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<u32>,
}

/// `POST /v1/webhooks/{id}/deliveries/{delivery}/redeliver`: the new delivery (due now).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Redelivery {
    /// `dlv_…` of the new delivery (same message id).
    pub delivery_id: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_names_round_trip_and_the_secret_never_prints() {
        for e in EventType::ALL {
            assert_eq!(e.as_str().parse::<EventType>().unwrap(), e);
            assert_eq!(serde_json::to_string(&e).unwrap(), format!("\"{e}\""));
        }
        let created = CreatedWebhook {
            webhook: WebhookInfo {
                id: "wh_1".into(),
                url: "https://example.com/".into(),
                events: vec![EventType::ScanCompleted],
                description: None,
                enabled: true,
                disabled_reason: None,
                created_at: "2026-11-28T00:00:00Z".into(),
            },
            secret: "whsec_c2VjcmV0c2VjcmV0c2VjcmV0".into(),
        };
        assert!(!format!("{created:?}").contains("c2VjcmV0"));
    }
}
