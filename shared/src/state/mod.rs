//! What a container builds once and every request shares: config, the DynamoDB client, the
//! clock, and a short-lived cache of each org's program configuration.

pub mod linkage_write;

use crate::config::Config;
use crate::domain::catalog::OrgCatalog;
use crate::domain::model::{Org, OrgId};
use crate::storage::store::{Store, StoreError};
use crate::storage::write_context::WriteContext;
use chrono::{DateTime, Utc};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Instant;

pub type Clock = Arc<dyn Fn() -> DateTime<Utc> + Send + Sync>;

/// Each org's catalog with the moment it was read.
type CatalogCache = HashMap<OrgId, (Instant, Arc<OrgCatalog>)>;

/// Cheap to clone: a request runs on a clone whose store is scoped to it (`for_request`).
#[derive(Clone)]
pub struct AppState {
    pub store: Store,
    pub config: Arc<Config>,
    clock: Clock,
    catalogs: Arc<Mutex<CatalogCache>>,
    request: Option<Arc<WriteContext>>,
}

/// Timeouts and retries of every DynamoDB call, chosen against the function timeouts (10 s, 25 s for
/// the batch writes) and a request's write deadline, which stops 4.5 s before the invocation's
/// (`lambda_adapter::DEADLINE_MARGIN`); README "Timeouts and retries".
pub mod sdk_limits {
    use std::time::Duration;
    /// Opening a connection (TLS included); DynamoDB answers in milliseconds from the same region.
    pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(1);
    /// One HTTP attempt: a single-digit-millisecond call that has not answered in a second is
    /// stuck, and a retry on a fresh connection does better than waiting.
    pub const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(1);
    /// One operation, its retries included: the last write a request starts (no later than 4.5 s
    /// before the invocation's deadline) plus its read and its transaction end inside it.
    pub const OPERATION_TIMEOUT: Duration = Duration::from_secs(2);
    /// Attempts per operation (throttling, 5xx, timeouts). Conflicts between our own writers are
    /// not retried here but by `linkage_write`, which re-reads before trying again.
    pub const MAX_ATTEMPTS: u32 = 3;
    pub const INITIAL_BACKOFF: Duration = Duration::from_millis(25);
    pub const MAX_BACKOFF: Duration = Duration::from_millis(500);
}

/// The roots of Amazon Trust Services, which issue the certificate of every AWS service endpoint
/// (DynamoDB, STS) in every region, FIPS and VPC endpoints included: Amazon Root CA 1-4 and the
/// Starfield Services G2 root that cross-signs them (docs/tooling.md#tls-roots).
const AMAZON_TRUST_SERVICES_ROOTS: &[u8] = include_bytes!("../../certs/amazon-trust-services.pem");

/// The roots a container trusts. AWS's own endpoints need only Amazon Trust Services' five roots,
/// and reading and parsing the system's ~140 PEM roots was over half of a cold start. An HTTPS
/// endpoint named in an `AWS_ENDPOINT_URL*` variable (a proxy, an emulator behind TLS) may be
/// issued by anyone, so then the system's roots are trusted as well; a plain-HTTP one (DynamoDB
/// Local) needs no roots.
pub fn trust_store(env: impl IntoIterator<Item = (String, String)>) -> aws_smithy_http_client::tls::TrustStore {
    aws_smithy_http_client::tls::TrustStore::empty()
        .with_native_roots(names_custom_https_endpoint(env))
        .with_pem_certificate(AMAZON_TRUST_SERVICES_ROOTS)
}

/// Whether an `AWS_ENDPOINT_URL` or `AWS_ENDPOINT_URL_<SERVICE>` variable names an HTTPS endpoint.
fn names_custom_https_endpoint(env: impl IntoIterator<Item = (String, String)>) -> bool {
    env.into_iter().any(|(name, value)| {
        name.starts_with("AWS_ENDPOINT_URL")
            && value.trim_start().get(..8).is_some_and(|scheme| scheme.eq_ignore_ascii_case("https://"))
    })
}

/// The SDK configuration of every binary: the standard environment, profile and credential chain
/// over one HTTPS client, rustls with ring (the SDK's default client would add aws-lc) trusting
/// `trust_store`, with the timeouts and retries of `sdk_limits`.
pub async fn sdk_config() -> aws_config::SdkConfig {
    use aws_config::retry::RetryConfig;
    use aws_config::timeout::TimeoutConfig;
    use aws_smithy_http_client::tls::{rustls_provider::CryptoMode, Provider, TlsContext};
    // `build` fails only on an invalid extra server name, and none is set.
    let tls = TlsContext::builder().with_trust_store(trust_store(std::env::vars())).build().unwrap_or_default();
    let https = aws_smithy_http_client::Builder::new()
        .tls_provider(Provider::Rustls(CryptoMode::Ring))
        .tls_context(tls)
        .build_https();
    let timeouts = TimeoutConfig::builder()
        .connect_timeout(sdk_limits::CONNECT_TIMEOUT)
        .operation_attempt_timeout(sdk_limits::ATTEMPT_TIMEOUT)
        .operation_timeout(sdk_limits::OPERATION_TIMEOUT)
        .build();
    let retries = RetryConfig::standard()
        .with_max_attempts(sdk_limits::MAX_ATTEMPTS)
        .with_initial_backoff(sdk_limits::INITIAL_BACKOFF)
        .with_max_backoff(sdk_limits::MAX_BACKOFF);
    aws_config::defaults(aws_config::BehaviorVersion::latest())
        .http_client(https)
        .timeout_config(timeouts)
        .retry_config(retries)
        .load()
        .await
}

impl AppState {
    pub fn new(store: Store, config: Config, clock: Clock) -> Self {
        AppState { store, config: Arc::new(config), clock, catalogs: Default::default(), request: None }
    }

    /// The state one request runs on: the same config, clock and catalog cache, its store scoped
    /// to `request` (deadline, write gate), and `request` for its changes' ids.
    pub fn for_request(&self, request: Arc<WriteContext>) -> AppState {
        AppState {
            store: self.store.scoped(request.clone()),
            config: self.config.clone(),
            clock: self.clock.clone(),
            catalogs: self.catalogs.clone(),
            request: Some(request),
        }
    }

    /// The request this state serves, if any.
    pub fn request(&self) -> Option<&WriteContext> {
        self.request.as_deref()
    }

    /// The change id of batch item `entry` of customer `customer`: the request's, or a fresh one
    /// outside a request.
    pub fn item_change(&self, customer: usize, entry: usize) -> String {
        match self.request() {
            Some(request) => request.item_change(customer, entry),
            None => WriteContext::standalone(None).item_change(customer, entry),
        }
    }

    /// The change id of a request that is one change as a whole (a registration): the request's,
    /// or a fresh one outside a request.
    pub fn request_change(&self) -> String {
        match self.request() {
            Some(request) => request.request_change(),
            None => WriteContext::standalone(None).request_change(),
        }
    }

    /// Config from the environment and an SDK client from the standard AWS chain (which honours
    /// `AWS_ENDPOINT_URL_DYNAMODB`, so DynamoDB Local needs no code path of its own).
    pub async fn from_env() -> Result<Self, crate::config::ConfigError> {
        let config = Config::from_env()?;
        // Every call and attempt counted in the metrics (`storage::sdk_metrics`).
        let sdk = aws_sdk_dynamodb::config::Builder::from(&sdk_config().await)
            .interceptor(crate::storage::sdk_metrics::SdkMetrics)
            .build();
        let client = aws_sdk_dynamodb::Client::from_conf(sdk);
        let admission = crate::storage::admission::Admission::new(config.storage_concurrency);
        let store = Store::with_admission(client, config.table_name.clone(), admission);
        Ok(AppState::new(store, config, Arc::new(Utc::now)))
    }

    pub fn now(&self) -> DateTime<Utc> {
        (self.clock)()
    }

    /// The org's catalog, cached for `config_cache_ttl` per container.
    pub async fn catalog(&self, org: OrgId) -> Result<Arc<OrgCatalog>, StoreError> {
        if let Ok(cache) = self.catalogs.lock() {
            if let Some((at, cat)) = cache.get(&org) {
                if at.elapsed() < self.config.config_cache_ttl {
                    return Ok(cat.clone());
                }
            }
        }
        let (org_rec, loyalty_programs, partner_programs) = futures::try_join!(
            self.store.org(org),
            self.store.loyalty_programs(org),
            self.store.partner_programs(org)
        )?;
        let org_rec = org_rec.unwrap_or(Org {
            org_id: org,
            name: String::new(),
            time_zone: "UTC".into(),
            one_supplementary_per_customer: false,
        });
        let cat = Arc::new(OrgCatalog::new(org_rec, loyalty_programs, partner_programs));
        if let Ok(mut cache) = self.catalogs.lock() {
            cache.insert(org, (Instant::now(), cat.clone()));
        }
        Ok(cat)
    }

    /// Drops this container's cached catalog after an admin change.
    pub fn invalidate(&self, org: OrgId) {
        if let Ok(mut cache) = self.catalogs.lock() {
            cache.remove(&org);
        }
    }
}

impl AppState {
    /// Opens the connection to DynamoDB during init (credentials resolved, TLS done), so the first
    /// request does not pay for it. A function whose policy has no GetItem is answered
    /// AccessDenied over the same, now warm, connection: that is expected, not worth a warning.
    pub async fn warm_up(&self) {
        use crate::storage::conditional::WarmUp;
        match self.store.warm_up(&crate::storage::keys::org(0)).await {
            Ok(WarmUp::Done) => {}
            Ok(WarmUp::DeniedByPolicy) => tracing::debug!("warm-up read denied by policy"),
            Err(e) => tracing::warn!(error = %e, "warm-up read failed"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn only_an_https_endpoint_override_adds_the_system_roots() {
        assert!(!names_custom_https_endpoint(env(&[])), "Lambda sets no endpoint: Amazon's roots alone");
        assert!(!names_custom_https_endpoint(env(&[("AWS_ENDPOINT_URL_DYNAMODB", "http://127.0.0.1:8000")])));
        assert!(!names_custom_https_endpoint(env(&[
            ("HTTPS_PROXY", "https://proxy:8443"),
            ("AWS_REGION", "https://x")
        ])));
        assert!(names_custom_https_endpoint(env(&[("AWS_ENDPOINT_URL_DYNAMODB", "https://ddb.internal:8443")])));
        assert!(names_custom_https_endpoint(env(&[("AWS_ENDPOINT_URL", " HTTPS://gateway.example")])));
        assert!(names_custom_https_endpoint(env(&[("AWS_ENDPOINT_URL_STS", "https://sts.example")])));
    }

    #[test]
    fn the_bundled_roots_are_amazon_trust_services_five_trust_anchors() {
        use rustls::pki_types::{pem::PemObject, CertificateDer};
        let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(AMAZON_TRUST_SERVICES_ROOTS)
            .collect::<Result<_, _>>()
            .expect("the bundle is valid PEM");
        assert_eq!(certs.len(), 5);
        let mut roots = rustls::RootCertStore::empty();
        let (added, rejected) = roots.add_parsable_certificates(certs);
        assert_eq!((added, rejected), (5, 0), "every root parses as a trust anchor, as the SDK's client requires");
        let subjects = roots.roots.iter().map(|anchor| String::from_utf8_lossy(anchor.subject.as_ref()).into_owned());
        let names: Vec<String> = subjects.collect();
        for cn in
            ["Amazon Root CA 1", "Amazon Root CA 2", "Amazon Root CA 3", "Amazon Root CA 4", "Starfield Services Root"]
        {
            assert!(names.iter().any(|subject| subject.contains(cn)), "{cn} missing from {names:?}");
        }
    }
}
