//! Prometheus metrics: enrollments, refusals by reason, records ingested, request latency.

use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;

use crate::store::SyncStats;

/// Which front door a device came through: the native protocol (`/v1/enroll`, `/v1/device`) or
/// EST (RFC 7030, `/.well-known/est/`). Both apply the same rules; the label tells them apart.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FrontDoor {
    /// The native protocol (docs/PROTOCOL.md 6 and 11.8).
    Native,
    /// EST (docs/PROTOCOL.md 12).
    Est,
}

impl FrontDoor {
    /// The metric label value.
    pub fn as_str(self) -> &'static str {
        match self {
            FrontDoor::Native => "native",
            FrontDoor::Est => "est",
        }
    }
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct Door {
    front_door: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct Reason {
    reason: String,
    front_door: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct Outcome {
    outcome: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct Route {
    path: String,
    status: u16,
}

/// The server's metrics.
pub struct Metrics {
    registry: Registry,
    enrollments: Family<Door, Counter>,
    renewals: Family<Door, Counter>,
    refusals: Family<Reason, Counter>,
    records: Family<Outcome, Counter>,
    latency: Family<Route, Histogram>,
    storage_commits: Counter,
    storage_syncs: Counter,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    /// Registers every metric.
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("vouch");
        let enrollments = Family::<Door, Counter>::default();
        let renewals = Family::<Door, Counter>::default();
        let refusals = Family::<Reason, Counter>::default();
        let records = Family::<Outcome, Counter>::default();
        let latency = Family::<Route, Histogram>::new_with_constructor(|| {
            Histogram::new(exponential_buckets(0.0005, 2.0, 16))
        });
        registry.register(
            "enrollments",
            "Device certificates issued by enrollment",
            enrollments.clone(),
        );
        registry.register(
            "renewals",
            "Device certificates issued by renewal",
            renewals.clone(),
        );
        registry.register("refusals", "Refused requests by reason", refusals.clone());
        registry.register(
            "records",
            "Scan records received, by outcome",
            records.clone(),
        );
        registry.register(
            "request_seconds",
            "Request latency by route and status",
            latency.clone(),
        );
        let storage_commits = Counter::default();
        let storage_syncs = Counter::default();
        registry.register(
            "storage_commits",
            "Changes committed to the store",
            storage_commits.clone(),
        );
        registry.register(
            "storage_syncs",
            "Disk syncs (flush and fsync) that made commits durable; commits per sync is the group-commit factor",
            storage_syncs.clone(),
        );
        Self {
            storage_commits,
            storage_syncs,
            registry,
            enrollments,
            renewals,
            refusals,
            records,
            latency,
        }
    }

    /// Counts an enrollment through `door`.
    pub fn enrolled(&self, door: FrontDoor) {
        let door = Door {
            front_door: door.as_str(),
        };
        self.enrollments.get_or_create(&door).inc();
    }

    /// Counts a renewal through `door`.
    pub fn renewed(&self, door: FrontDoor) {
        let door = Door {
            front_door: door.as_str(),
        };
        self.renewals.get_or_create(&door).inc();
    }

    /// Counts a refusal at `door` by reason code.
    pub fn refusal(&self, door: FrontDoor, reason: &str) {
        self.refusals
            .get_or_create(&Reason {
                reason: reason.to_string(),
                front_door: door.as_str(),
            })
            .inc();
    }

    /// Counts an ingested record by outcome.
    pub fn record(&self, outcome: &str) {
        self.records
            .get_or_create(&Outcome {
                outcome: outcome.to_string(),
            })
            .inc();
    }

    /// Observes a request's latency. Paths with ids are folded to keep label sets small.
    /// `extra_routes` are the other paths labelled by name (the EST front door's, which the
    /// router owns: passed in so that this module imports nothing of `api`).
    pub fn observe(&self, path: &str, extra_routes: &[&str], status: u16, elapsed: Duration) {
        let path = if path.starts_with("/v1/devices/") {
            "/v1/devices/{serial}"
        } else if path.starts_with("/v1/admin/staff/") {
            "/v1/admin/staff/{key_id}"
        } else {
            path
        };
        let known = path.starts_with("/v1/")
            || extra_routes.contains(&path)
            || matches!(path, "/healthz" | "/metrics" | "/openapi.json");
        let path = if known { path } else { "other" };
        self.latency
            .get_or_create(&Route {
                path: path.to_string(),
                status,
            })
            .observe(elapsed.as_secs_f64());
    }

    /// Takes the store's commit and sync counts (called before each render).
    pub fn set_storage(&self, stats: SyncStats) {
        self.storage_commits
            .inner()
            .store(stats.commits, std::sync::atomic::Ordering::Relaxed);
        self.storage_syncs
            .inner()
            .store(stats.syncs, std::sync::atomic::Ordering::Relaxed);
    }

    /// The Prometheus text exposition.
    pub fn render(&self) -> String {
        let mut out = String::new();
        if prometheus_client::encoding::text::encode(&mut out, &self.registry).is_err() {
            out.clear();
        }
        out
    }
}
