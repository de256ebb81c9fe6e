//! Per-client rate limits: a token bucket per client IP, on the routes the
//! operator marks `rate_limited` (writes and search). The buckets live in a
//! bounded cache, so a flood of addresses cannot grow memory without end
//! (an evicted client starts again with a full bucket).

use std::net::IpAddr;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use vitrine_edge_config::RateLimit;

/// The buckets.
pub struct RateLimiter {
    limit: RateLimit,
    buckets: quick_cache::sync::Cache<IpAddr, Arc<Mutex<Bucket>>>,
}

struct Bucket {
    tokens: f64,
    at: Instant,
}

impl RateLimiter {
    /// Buckets of `limit`; `per_second = 0` admits everything.
    pub fn new(limit: RateLimit) -> Self {
        Self {
            limit,
            buckets: quick_cache::sync::Cache::new(100_000),
        }
    }

    /// Takes a token for `client`; `Err` says when the next one comes.
    pub fn take(&self, client: IpAddr) -> Result<(), Duration> {
        if self.limit.per_second == 0 {
            return Ok(());
        }
        let burst = f64::from(self.limit.burst);
        let rate = f64::from(self.limit.per_second);
        // One bucket per client even when its first requests race: the
        // cache lets one caller create it and the others wait the moment
        // that takes, so concurrent first requests share one burst.
        let bucket = self
            .buckets
            .get_or_insert_with(&client, || {
                Ok::<_, std::convert::Infallible>(Arc::new(Mutex::new(Bucket {
                    tokens: burst,
                    at: Instant::now(),
                })))
            })
            .unwrap_or_else(|never| match never {});
        let mut b = bucket.lock().unwrap_or_else(PoisonError::into_inner);
        let now = Instant::now();
        b.tokens = (b.tokens + now.duration_since(b.at).as_secs_f64() * rate).min(burst);
        b.at = now;
        if b.tokens >= 1.0 {
            b.tokens -= 1.0;
            Ok(())
        } else {
            Err(Duration::from_secs_f64((1.0 - b.tokens) / rate))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_then_the_rate_per_client() {
        let limiter = RateLimiter::new(RateLimit {
            per_second: 10,
            burst: 3,
        });
        let a: IpAddr = "10.0.0.1".parse().expect("ip");
        let b: IpAddr = "10.0.0.2".parse().expect("ip");
        for _ in 0..3 {
            assert!(limiter.take(a).is_ok());
        }
        let wait = limiter.take(a).expect_err("the burst is spent");
        assert!(wait <= Duration::from_millis(100), "{wait:?}");
        assert!(limiter.take(b).is_ok(), "another client has its own bucket");
        std::thread::sleep(Duration::from_millis(120));
        assert!(limiter.take(a).is_ok(), "a token came back");
    }

    #[test]
    fn a_clients_racing_first_requests_share_one_burst() {
        // per_second = 1: no token comes back within the few milliseconds
        // the threads take, so exactly `burst` of them get through.
        for _ in 0..50 {
            let limiter = Arc::new(RateLimiter::new(RateLimit {
                per_second: 1,
                burst: 2,
            }));
            let start = Arc::new(std::sync::Barrier::new(8));
            let admitted: usize = (0..8)
                .map(|_| {
                    let (limiter, start) = (Arc::clone(&limiter), Arc::clone(&start));
                    std::thread::spawn(move || {
                        start.wait();
                        limiter.take("10.0.0.1".parse().expect("ip")).is_ok()
                    })
                })
                .collect::<Vec<_>>()
                .into_iter()
                .map(|t| usize::from(t.join().expect("thread")))
                .sum();
            assert_eq!(admitted, 2);
        }
    }

    #[test]
    fn zero_turns_it_off() {
        let limiter = RateLimiter::new(RateLimit {
            per_second: 0,
            burst: 0,
        });
        let a: IpAddr = "10.0.0.1".parse().expect("ip");
        assert!((0..1000).all(|_| limiter.take(a).is_ok()));
    }
}
