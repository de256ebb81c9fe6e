//! Request coalescing: concurrent misses for one cache key make one origin
//! request, and everyone waiting gets its answer.
//!
//! The first caller for a key starts a flight; callers that arrive while it
//! is in the air wait on it. If the caller doing the fetch goes away (its
//! client disconnected and its future was dropped), one of the waiters takes
//! the fetch over, so a cancelled request never strands the others. The
//! flight is forgotten as soon as it lands: the next miss for the key is a
//! new request (by then the answer is normally in the cache).

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex, PoisonError};

use tokio::sync::OnceCell;

/// Coalesces concurrent fetches of one key. `T` is cloned to every waiter:
/// make it cheap (an `Arc`, or `Bytes`).
pub struct Coalescer<T> {
    flights: Mutex<HashMap<String, Arc<OnceCell<T>>>>,
}

impl<T> Default for Coalescer<T> {
    fn default() -> Self {
        Self {
            flights: Mutex::new(HashMap::new()),
        }
    }
}

impl<T> std::fmt::Debug for Coalescer<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Coalescer")
            .field("in_flight", &self.in_flight())
            .finish()
    }
}

/// How a caller got its answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// It started the flight (it may or may not have run the fetch itself).
    Leader,
    /// It joined a flight already in the air.
    Waiter,
}

/// Forgets the flight when dropped, if it is still the one registered: on
/// landing, and when a leader is cancelled mid-flight (the next caller then
/// starts afresh while the remaining waiters finish the old one).
struct Forget<'a, T> {
    coalescer: &'a Coalescer<T>,
    key: &'a str,
    flight: &'a Arc<OnceCell<T>>,
}

impl<T> Drop for Forget<'_, T> {
    fn drop(&mut self) {
        let mut flights = self.coalescer.lock();
        if flights.get(self.key).is_some_and(|f| Arc::ptr_eq(f, self.flight)) {
            flights.remove(self.key);
        }
    }
}

impl<T> Coalescer<T> {
    /// A coalescer with nothing in flight.
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Arc<OnceCell<T>>>> {
        self.flights.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Flights in the air now.
    pub fn in_flight(&self) -> usize {
        self.lock().len()
    }
}

impl<T: Clone> Coalescer<T> {
    /// Runs `fetch` for `key` unless a flight for `key` is already in the
    /// air, in which case waits for that one's answer.
    pub async fn run<F, Fut>(&self, key: &str, fetch: F) -> (T, Role)
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = T>,
    {
        let (flight, role) = {
            let mut flights = self.lock();
            match flights.get(key) {
                Some(flight) => (Arc::clone(flight), Role::Waiter),
                None => {
                    let flight = Arc::new(OnceCell::new());
                    flights.insert(key.to_owned(), Arc::clone(&flight));
                    (flight, Role::Leader)
                }
            }
        };
        let _forget = Forget {
            coalescer: self,
            key,
            flight: &flight,
        };
        let value = flight.get_or_init(fetch).await.clone();
        (value, role)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // in tests a panic is the failure report
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;

    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_misses_make_one_fetch() {
        let coalescer = Arc::new(Coalescer::<u64>::new());
        let fetches = Arc::new(AtomicUsize::new(0));
        let tasks: Vec<_> = (0..50)
            .map(|_| {
                let coalescer = Arc::clone(&coalescer);
                let fetches = Arc::clone(&fetches);
                tokio::spawn(async move {
                    coalescer
                        .run("/products/1", || async {
                            fetches.fetch_add(1, Ordering::SeqCst);
                            tokio::time::sleep(Duration::from_millis(100)).await;
                            42
                        })
                        .await
                })
            })
            .collect();
        let mut leaders = 0;
        for task in tasks {
            let (value, role) = task.await.unwrap();
            assert_eq!(value, 42);
            leaders += usize::from(role == Role::Leader);
        }
        assert_eq!(fetches.load(Ordering::SeqCst), 1);
        assert_eq!(leaders, 1);
        assert_eq!(coalescer.in_flight(), 0);
        // Landed flights are forgotten: the next miss fetches again.
        let (value, role) = coalescer.run("/products/1", || async { 7 }).await;
        assert_eq!((value, role), (7, Role::Leader));
    }

    #[tokio::test]
    async fn different_keys_do_not_wait_for_each_other() {
        let coalescer = Coalescer::<&'static str>::new();
        let (a, b) = tokio::join!(
            coalescer.run("/a", || async {
                tokio::time::sleep(Duration::from_millis(20)).await;
                "a"
            }),
            coalescer.run("/b", || async { "b" }),
        );
        assert_eq!((a, b), (("a", Role::Leader), ("b", Role::Leader)));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_cancelled_leader_hands_the_fetch_to_a_waiter() {
        let coalescer = Arc::new(Coalescer::<u64>::new());
        let leader = {
            let coalescer = Arc::clone(&coalescer);
            tokio::spawn(async move {
                coalescer
                    .run("/k", || async {
                        tokio::time::sleep(Duration::from_secs(30)).await;
                        1
                    })
                    .await
            })
        };
        tokio::time::sleep(Duration::from_millis(20)).await;
        let waiter = {
            let coalescer = Arc::clone(&coalescer);
            tokio::spawn(async move { coalescer.run("/k", || async { 2 }).await })
        };
        tokio::time::sleep(Duration::from_millis(20)).await;
        leader.abort();
        let (value, role) = tokio::time::timeout(Duration::from_secs(5), waiter)
            .await
            .expect("the waiter is not stranded")
            .unwrap();
        assert_eq!((value, role), (2, Role::Waiter));
        assert_eq!(coalescer.in_flight(), 0);
    }
}
