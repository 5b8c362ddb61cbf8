//! Which connections may stay open: a global limit and a per-address limit. When a limit is
//! reached, the connection that has waited longest for its next request (handshaking, idle
//! between requests, or sending a head) is closed to make room; only when every counted
//! connection has a request in progress is the newcomer refused. So a flood of silent or
//! half-sent connections cannot lock out a client that completes its requests promptly.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::net::IpAddr;
use std::sync::{Arc, Mutex, MutexGuard};

use tokio::sync::Notify;

/// Why a new connection was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refusal {
    /// Its address already holds `max_connections_per_address` busy connections.
    PerAddress,
    /// The server already holds its global limit of busy connections.
    Global,
}

/// The connection limits and the connections they count.
#[derive(Debug)]
pub struct Admission {
    max_total: usize,
    max_per_address: usize,
    registry: Mutex<Registry>,
}

/// One counted connection.
#[derive(Debug)]
struct Entry {
    address: IpAddr,
    /// Set while the connection waits for a request: its place in the eviction order.
    waiting_since: Option<u64>,
    evict: Arc<Notify>,
}

#[derive(Debug, Default)]
struct Registry {
    /// Source of connection ids and of waiting orders (one counter, so both only grow).
    next: u64,
    per_address: HashMap<IpAddr, usize>,
    entries: HashMap<u64, Entry>,
    /// Waiting connections, oldest first: order -> id.
    waiting: BTreeMap<u64, u64>,
    /// The same, per address: (address, order).
    waiting_by_address: BTreeSet<(IpAddr, u64)>,
}

impl Registry {
    fn take_next(&mut self) -> u64 {
        self.next += 1;
        self.next
    }

    fn count(&self, address: IpAddr) -> usize {
        self.per_address.get(&address).copied().unwrap_or(0)
    }

    fn start_waiting(&mut self, id: u64) {
        let order = self.take_next();
        if let Some(entry) = self.entries.get_mut(&id) {
            if entry.waiting_since.is_none() {
                entry.waiting_since = Some(order);
                self.waiting.insert(order, id);
                self.waiting_by_address.insert((entry.address, order));
            }
        }
    }

    fn stop_waiting(&mut self, id: u64) {
        if let Some(entry) = self.entries.get_mut(&id) {
            if let Some(order) = entry.waiting_since.take() {
                self.waiting.remove(&order);
                self.waiting_by_address.remove(&(entry.address, order));
            }
        }
    }

    /// Forgets a connection (closed, or evicted: then its task closes it soon).
    fn remove(&mut self, id: u64) -> Option<Entry> {
        self.stop_waiting(id);
        let entry = self.entries.remove(&id)?;
        if let Some(n) = self.per_address.get_mut(&entry.address) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                self.per_address.remove(&entry.address);
            }
        }
        Some(entry)
    }

    /// Evicts the longest-waiting connection (of `address`, if given); false if none waits.
    fn evict_oldest(&mut self, address: Option<IpAddr>) -> bool {
        let oldest = match address {
            Some(a) => self
                .waiting_by_address
                .range((a, 0)..=(a, u64::MAX))
                .next()
                .and_then(|(_, order)| self.waiting.get(order).copied()),
            None => self.waiting.values().next().copied(),
        };
        match oldest.and_then(|id| self.remove(id)) {
            Some(entry) => {
                // A stored permit: the task sees it even if it is not waiting yet.
                entry.evict.notify_one();
                true
            }
            None => false,
        }
    }
}

impl Admission {
    /// Limits of `max_total` connections in all and `max_per_address` per IP address.
    pub fn new(max_total: usize, max_per_address: usize) -> Arc<Self> {
        Arc::new(Self {
            max_total: max_total.max(1),
            max_per_address: max_per_address.max(1),
            registry: Mutex::new(Registry::default()),
        })
    }

    fn lock(&self) -> MutexGuard<'_, Registry> {
        self.registry.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Counts a new connection from `address` (waiting for its first request), closing the
    /// longest-waiting one if a limit is reached, or says why it must be refused.
    pub fn admit(self: &Arc<Self>, address: IpAddr) -> Result<Ticket, Refusal> {
        let mut registry = self.lock();
        if registry.count(address) >= self.max_per_address {
            if !registry.evict_oldest(Some(address)) {
                return Err(Refusal::PerAddress);
            }
        } else if registry.entries.len() >= self.max_total && !registry.evict_oldest(None) {
            return Err(Refusal::Global);
        }
        let id = registry.take_next();
        let evict = Arc::new(Notify::new());
        registry.entries.insert(
            id,
            Entry {
                address,
                waiting_since: None,
                evict: evict.clone(),
            },
        );
        *registry.per_address.entry(address).or_insert(0) += 1;
        registry.start_waiting(id);
        Ok(Ticket {
            admission: self.clone(),
            id,
            evict,
        })
    }

    /// Connections counted now.
    pub fn open(&self) -> usize {
        self.lock().entries.len()
    }
}

/// A counted connection; dropping it uncounts it.
#[derive(Debug)]
pub struct Ticket {
    admission: Arc<Admission>,
    id: u64,
    evict: Arc<Notify>,
}

impl Ticket {
    /// A request is in progress: the connection may not be evicted.
    pub fn busy(&self) {
        self.admission.lock().stop_waiting(self.id);
    }

    /// The connection waits for its next request again: it may be evicted (after those that
    /// have waited longer).
    pub fn waiting(&self) {
        self.admission.lock().start_waiting(self.id);
    }

    /// Completes when the connection has been evicted to make room for another.
    pub async fn evicted(&self) {
        self.evict.notified().await;
    }
}

impl Drop for Ticket {
    fn drop(&mut self) {
        self.admission.lock().remove(self.id);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    const A: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(10, 0, 0, 1));
    const B: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(10, 0, 0, 2));

    async fn was_evicted(ticket: &Ticket) -> bool {
        tokio::time::timeout(Duration::from_millis(50), ticket.evicted())
            .await
            .is_ok()
    }

    #[tokio::test]
    async fn the_oldest_waiting_connection_of_the_address_makes_room() {
        let admission = Admission::new(10, 2);
        let first = admission.admit(A).unwrap();
        let second = admission.admit(A).unwrap();
        let other = admission.admit(B).unwrap();
        let third = admission.admit(A).unwrap();
        assert!(was_evicted(&first).await);
        assert!(!was_evicted(&second).await);
        assert!(!was_evicted(&other).await);
        assert_eq!(admission.open(), 3);
        drop((first, second, third, other));
        assert_eq!(admission.open(), 0);
    }

    #[tokio::test]
    async fn busy_connections_are_kept_and_newcomers_refused() {
        let admission = Admission::new(3, 2);
        let a1 = admission.admit(A).unwrap();
        let a2 = admission.admit(A).unwrap();
        a1.busy();
        a2.busy();
        assert_eq!(admission.admit(A).unwrap_err(), Refusal::PerAddress);
        let b1 = admission.admit(B).unwrap();
        b1.busy();
        assert_eq!(admission.admit(B).unwrap_err(), Refusal::Global);
        // One that waits again is evictable again, and the most recently active goes last.
        a2.waiting();
        a1.waiting();
        let b2 = admission.admit(B).unwrap();
        assert!(was_evicted(&a2).await);
        assert!(!was_evicted(&a1).await);
        drop(a2);
        assert_eq!(admission.open(), 3);
        drop((a1, b1, b2));
        assert_eq!(admission.open(), 0);
    }
}
