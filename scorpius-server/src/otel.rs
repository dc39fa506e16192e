//! OpenTelemetry export (feature `otel`): every request's span (`otel.name` = method and
//! route template, `http.*` attributes, the request id) is batched and sent over OTLP/HTTP
//! (protobuf) to `otlp_endpoint` + `/v1/traces`. An incoming W3C `traceparent` makes the
//! request a child of the caller's trace. Spans never carry headers, bodies or keys.
//!
//! The standard `OTEL_*` variables the SDK reads still apply (`OTEL_SERVICE_NAME`,
//! `OTEL_EXPORTER_OTLP_HEADERS` for a collector's credentials, `OTEL_BSP_*` for batching).

use anyhow::{Context as _, Result};
use opentelemetry::{KeyValue, propagation::Extractor, trace::TracerProvider as _};
use opentelemetry_otlp::WithExportConfig as _;
use opentelemetry_sdk::{Resource, propagation::TraceContextPropagator, trace::SdkTracerProvider};
use tracing_subscriber::{Layer, registry::LookupSpan};

/// The exporter's provider; [`Telemetry::shutdown`] flushes the spans still batched.
#[derive(Debug)]
pub struct Telemetry {
    provider: SdkTracerProvider,
}

impl Telemetry {
    /// Flushes and stops the exporter (at exit).
    pub fn shutdown(self) {
        if let Err(e) = self.provider.shutdown() {
            eprintln!("opentelemetry: flushing spans at exit failed: {e}");
        }
    }
}

/// The traces URL for a collector base URL (`…/v1/traces` appended unless present).
pub fn traces_url(endpoint: &str) -> String {
    let base = endpoint.trim_end_matches('/');
    if base.ends_with("/v1/traces") { base.to_owned() } else { format!("{base}/v1/traces") }
}

/// A `tracing` layer exporting spans to `endpoint`, and the provider to shut down at exit.
///
/// # Errors
/// When the exporter cannot be built (a malformed endpoint).
pub fn layer<S>(endpoint: &str) -> Result<(impl Layer<S>, Telemetry)>
where
    S: tracing::Subscriber + for<'a> LookupSpan<'a>,
{
    let _ = rustls::crypto::ring::default_provider().install_default();
    let exporter = opentelemetry_otlp::SpanExporter::builder()
        .with_http()
        .with_endpoint(traces_url(endpoint))
        .build()
        .context("otlp_endpoint: building the OTLP exporter")?;
    let mut resource = Resource::builder().with_attribute(KeyValue::new("service.version", env!("CARGO_PKG_VERSION")));
    if std::env::var_os("OTEL_SERVICE_NAME").is_none() {
        resource = resource.with_service_name("scorpius-server");
    }
    let provider = SdkTracerProvider::builder().with_batch_exporter(exporter).with_resource(resource.build()).build();
    opentelemetry::global::set_text_map_propagator(TraceContextPropagator::new());
    let tracer = provider.tracer("scorpius-server");
    Ok((tracing_opentelemetry::layer().with_tracer(tracer), Telemetry { provider }))
}

struct Headers<'a>(&'a axum::http::HeaderMap);

impl Extractor for Headers<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).and_then(|v| v.to_str().ok())
    }

    fn keys(&self) -> Vec<&str> {
        self.0.keys().map(axum::http::HeaderName::as_str).collect()
    }
}

/// Makes `span` a child of the trace named by the request's `traceparent` (if any).
pub fn adopt_parent(span: &tracing::Span, headers: &axum::http::HeaderMap) {
    use tracing_opentelemetry::OpenTelemetrySpanExt as _;
    let parent = opentelemetry::global::get_text_map_propagator(|p| p.extract(&Headers(headers)));
    let _ = span.set_parent(parent);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_traces_path_is_added_once() {
        assert_eq!(traces_url("http://c:4318"), "http://c:4318/v1/traces");
        assert_eq!(traces_url("http://c:4318/"), "http://c:4318/v1/traces");
        assert_eq!(traces_url("http://c:4318/v1/traces"), "http://c:4318/v1/traces");
    }
}
