//! The OpenAPI 3.1 document, generated from the handlers' annotations and the shared wire
//! types (`docs/openapi.json` is a snapshot of it; a test fails when it drifts).

use utoipa::{
    Modify, OpenApi,
    openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme},
};

use crate::routes::{audit, health, intel, keys, meta, scans, usage, webhooks};

struct Security;

impl Modify for Security {
    fn modify(&self, api: &mut utoipa::openapi::OpenApi) {
        let components = api.components.get_or_insert_with(Default::default);
        components
            .add_security_scheme("api_key", SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::new("X-API-Key"))));
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).bearer_format("sk_live_…").build()),
        );
    }
}

/// The API description.
#[derive(OpenApi)]
#[openapi(
    info(title = "Scorpius server API", description = "Blockchain security scans, keys and a tamper-evident audit trail. Errors are RFC 9457 problem details; see docs/server.md."),
    paths(
        scans::transaction, scans::signature, scans::address, scans::domain, scans::contract, scans::wallet,
        scans::list, scans::get, scans::report,
        intel::lookup, intel::import, intel::datasets,
        audit::events, audit::checkpoint, audit::proof, audit::consistency, audit::export,
        keys::create_key, keys::list_keys, keys::rotate_key, keys::revoke_key,
        health::live, health::ready, health::deep,
        meta::metrics, meta::openapi,
        usage::usage, usage::forecast, usage::billing_preview,
        webhooks::create, webhooks::list, webhooks::get, webhooks::update, webhooks::remove,
        webhooks::deliveries, webhooks::redeliver,
    ),
    components(schemas(
        scorpius_core::api::Problem,
        scorpius_core::api::scan::ChainSpec,
        scorpius_core::api::scan::TransactionScan,
        scorpius_core::api::scan::SignatureScan,
        scorpius_core::api::scan::AddressScan,
        scorpius_core::api::scan::DomainScan,
        scorpius_core::api::scan::ContractScan,
        scorpius_core::api::scan::WalletScan,
        scorpius_core::api::intel::IntelImport,
        scorpius_core::api::intel::IntelDataset,
        scorpius_core::api::scans::ScanSummary,
        scorpius_core::api::scans::ScanPage,
        scorpius_core::api::scans::ReportFormat,
        scorpius_core::api::keys::Role,
        scorpius_core::api::keys::CreateKeyRequest,
        scorpius_core::api::keys::KeyInfo,
        scorpius_core::api::keys::CreatedKey,
        scorpius_core::api::keys::KeyList,
        scorpius_core::metering::Meter,
        scorpius_core::api::usage::Granularity,
        scorpius_core::api::usage::GroupBy,
        scorpius_core::api::usage::UsageFormat,
        scorpius_core::api::usage::UsageRow,
        scorpius_core::api::usage::UsageReport,
        scorpius_core::api::usage::MeterForecast,
        scorpius_core::api::usage::UsageForecast,
        scorpius_core::api::usage::AppliedTier,
        scorpius_core::api::usage::BillLine,
        scorpius_core::api::usage::BillingPreview,
        scorpius_core::api::webhooks::EventType,
        scorpius_core::api::webhooks::WebhookMessage,
        scorpius_core::api::webhooks::CreateWebhookRequest,
        scorpius_core::api::webhooks::UpdateWebhookRequest,
        scorpius_core::api::webhooks::WebhookInfo,
        scorpius_core::api::webhooks::CreatedWebhook,
        scorpius_core::api::webhooks::WebhookList,
        scorpius_core::api::webhooks::DeliveryState,
        scorpius_core::api::webhooks::DeliveryAttempt,
        scorpius_core::api::webhooks::Delivery,
        scorpius_core::api::webhooks::DeliveryList,
        scorpius_core::api::webhooks::Redelivery,
    )),
    modifiers(&Security),
    tags((name = "scans"), (name = "intel"), (name = "audit"), (name = "keys"), (name = "health"), (name = "meta"), (name = "usage"), (name = "webhooks"))
)]
#[derive(Debug)]
pub struct ApiDoc;

/// The document.
pub fn doc() -> utoipa::openapi::OpenApi {
    ApiDoc::openapi()
}

/// The document as pretty JSON with a trailing newline.
pub fn json() -> String {
    let mut s = doc().to_pretty_json().unwrap_or_default();
    s.push('\n');
    s
}

#[cfg(test)]
mod tests {
    /// Every path parameter is in its route's template, and every query parameter is
    /// optional unless the handler really needs it (generated clients follow this).
    #[test]
    fn parameters_are_where_the_routes_take_them() {
        let doc: serde_json::Value = serde_json::from_str(&super::json()).unwrap();
        let mut queries = 0;
        for (path, ops) in doc["paths"].as_object().unwrap() {
            for (method, op) in ops.as_object().unwrap() {
                for p in op["parameters"].as_array().into_iter().flatten() {
                    let name = p["name"].as_str().unwrap();
                    match p["in"].as_str().unwrap() {
                        "path" => assert!(
                            path.contains(&format!("{{{name}}}")),
                            "{method} {path}: `{name}` is not in the path"
                        ),
                        "query" => {
                            queries += 1;
                            let required = p["required"].as_bool().unwrap_or(false);
                            // The only required query parameter: the consistency proof's old size.
                            assert_eq!(required, name == "old", "{method} {path}: `{name}` required={required}");
                        }
                        "header" => assert_eq!(name, "Idempotency-Key", "{method} {path}"),
                        other => panic!("{method} {path}: `{name}` in {other}"),
                    }
                }
            }
        }
        assert!(queries >= 15, "{queries} query parameters");
    }

    /// `docs/openapi.json` must match the code; regenerate with
    /// `SCORPIUS_BLESS=1 cargo test -p scorpius-server openapi_snapshot`.
    #[test]
    fn openapi_snapshot_is_current() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/openapi.json");
        let expected = super::json();
        if std::env::var_os("SCORPIUS_BLESS").is_some() {
            std::fs::write(&path, &expected).unwrap();
            return;
        }
        let actual = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(
            actual == expected,
            "docs/openapi.json is out of date: regenerate it with `SCORPIUS_BLESS=1 cargo test -p scorpius-server openapi_snapshot`"
        );
    }
}
