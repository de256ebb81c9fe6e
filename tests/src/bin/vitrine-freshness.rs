//! `vitrine-freshness`: how long an ERP price change takes to reach shoppers.
//! Loopback only; every run is bounded by `--changes` and a per-change
//! deadline.
//!
//! ```text
//! vitrine-freshness --origin http://127.0.0.1:8081 --edge http://127.0.0.1:8080 \
//!     --secret "$VITRINE_ERP_WEBHOOK_SECRET" --changes 500 --concurrency 4
//! ```
//!
//! For each change it picks a product whose page and search answer the edge
//! has cached (it warms them first, and checks they are `HIT`s), sends a
//! signed `POST /webhooks/erp` price event for it to the origin, and then
//! polls the edge every `--poll-ms` for the product page and for a search
//! for the product's SKU, until each shows the new price. It prints, over
//! all changes, the percentiles of three times measured from just before
//! the webhook was sent: the webhook's answer (202), the edge's product page
//! showing the new price, and the edge's search answer showing it. A change
//! not visible within `--deadline-ms` counts as a miss and fails the run.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use serde_json::{Value, json};

struct Args {
    origin: String,
    edge: String,
    secret: String,
    changes: usize,
    concurrency: usize,
    poll: Duration,
    deadline: Duration,
    label: String,
}

fn parse_args() -> anyhow::Result<Args> {
    let mut args = Args {
        origin: "http://127.0.0.1:8081".into(),
        edge: "http://127.0.0.1:8080".into(),
        secret: std::env::var("VITRINE_ERP_WEBHOOK_SECRET").unwrap_or_default(),
        changes: 200,
        concurrency: 4,
        poll: Duration::from_millis(2),
        deadline: Duration::from_secs(10),
        label: "freshness".into(),
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().with_context(|| format!("{flag} needs a value"));
        match flag.as_str() {
            "--origin" => args.origin = value()?,
            "--edge" => args.edge = value()?,
            "--secret" => args.secret = value()?,
            "--changes" => args.changes = value()?.parse()?,
            "--concurrency" => args.concurrency = value()?.parse()?,
            "--poll-ms" => args.poll = Duration::from_millis(value()?.parse()?),
            "--deadline-ms" => args.deadline = Duration::from_millis(value()?.parse()?),
            "--label" => args.label = value()?,
            "--help" | "-h" => {
                println!(
                    "vitrine-freshness [--origin URL] [--edge URL] [--secret S] [--changes N] [--concurrency N] \
                     [--poll-ms MS] [--deadline-ms MS] [--label TEXT]"
                );
                std::process::exit(0);
            }
            other => bail!("unknown flag {other}"),
        }
    }
    for url in [&args.origin, &args.edge] {
        let host = url.trim_start_matches("http://");
        if !(host.starts_with("127.0.0.1") || host.starts_with("localhost")) {
            bail!("load is only sent to loopback, not {url}");
        }
    }
    anyhow::ensure!(
        !args.secret.is_empty(),
        "--secret (or VITRINE_ERP_WEBHOOK_SECRET) is required"
    );
    anyhow::ensure!((1..=20_000).contains(&args.changes), "changes is 1 to 20000");
    anyhow::ensure!((1..=64).contains(&args.concurrency), "concurrency is 1 to 64");
    anyhow::ensure!(args.deadline <= Duration::from_secs(60), "the deadline is at most 60 s");
    Ok(args)
}

/// A product the run changes: its id, SKU and current price.
#[derive(Clone, Debug)]
struct Target {
    id: String,
    sku: String,
    price: i64,
}

async fn get_json(client: &reqwest::Client, url: &str) -> anyhow::Result<(reqwest::StatusCode, String, Value)> {
    let resp = client.get(url).send().await.with_context(|| format!("GET {url}"))?;
    let status = resp.status();
    let cache = resp
        .headers()
        .get("x-cache")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let bytes = resp.bytes().await?;
    Ok((status, cache, serde_json::from_slice(&bytes).unwrap_or(Value::Null)))
}

/// Products from the first categories' listings at the origin, at most `n`.
async fn targets(client: &reqwest::Client, origin: &str, n: usize) -> anyhow::Result<Vec<Target>> {
    let (_, _, tree) = get_json(client, &format!("{origin}/api/v1/categories")).await?;
    let mut out = Vec::new();
    let roots = tree["categories"]
        .as_array()
        .context("no categories: seed the catalog first")?;
    'pages: for page in 1..=20 {
        for root in roots {
            let slug = root["slug"].as_str().unwrap_or_default();
            let url = format!("{origin}/api/v1/categories/{slug}/products?per_page=100&page={page}");
            let (_, _, listing) = get_json(client, &url).await?;
            for p in listing["products"].as_array().into_iter().flatten() {
                out.push(Target {
                    id: p["id"].as_str().unwrap_or_default().to_owned(),
                    sku: p["sku"].as_str().unwrap_or_default().to_owned(),
                    price: p["price"]["amount_minor"].as_i64().unwrap_or_default(),
                });
                if out.len() >= n {
                    break 'pages;
                }
            }
        }
    }
    anyhow::ensure!(!out.is_empty(), "no products: seed the catalog first");
    Ok(out)
}

fn product_url(edge: &str, t: &Target) -> String {
    format!("{edge}/api/v1/products/{}", t.id)
}

fn search_url(edge: &str, t: &Target) -> String {
    format!("{edge}/api/v1/search?q={}&per_page=10", urlencode(&t.sku))
}

fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

fn page_price(page: &Value) -> Option<i64> {
    page["price"]["amount_minor"].as_i64()
}

fn search_price(page: &Value, id: &str) -> Option<i64> {
    page["products"]
        .as_array()?
        .iter()
        .find(|p| p["id"] == id)
        .and_then(|p| p["price"]["amount_minor"].as_i64())
}

/// Fetches both pages through the edge until the edge answers them from its
/// cache, so a change is measured from a cached page, as shoppers see it.
async fn warm(client: &reqwest::Client, edge: &str, t: &Target) -> anyhow::Result<()> {
    for url in [product_url(edge, t), search_url(edge, t)] {
        // The origin's index may still be catching up (answers are not
        // cacheable until it has), so this tries for a while.
        let mut hit = false;
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            let (status, cache, _) = get_json(client, &url).await?;
            anyhow::ensure!(status.is_success(), "GET {url} answered {status}");
            if cache == "HIT" {
                hit = true;
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        anyhow::ensure!(hit, "the edge does not cache {url}: is it in front of the origin?");
    }
    Ok(())
}

/// Polls `url` until `price_of` reads `want`; the time from `start`, or
/// `None` past the deadline.
async fn until_shown(
    client: &reqwest::Client,
    url: &str,
    want: i64,
    price_of: impl Fn(&Value) -> Option<i64>,
    start: Instant,
    args: &Args,
) -> Option<Duration> {
    loop {
        if let Ok((status, _, body)) = get_json(client, url).await
            && status.is_success()
            && price_of(&body) == Some(want)
        {
            return Some(start.elapsed());
        }
        if start.elapsed() > args.deadline {
            return None;
        }
        tokio::time::sleep(args.poll).await;
    }
}

#[derive(Default)]
struct Tally {
    accepted: Vec<Duration>,
    page: Vec<Duration>,
    search: Vec<Duration>,
    misses: u64,
}

fn percentiles(name: &str, mut v: Vec<Duration>) {
    v.sort();
    let n = v.len();
    let pct = |p: f64| {
        if n == 0 {
            return f64::NAN;
        }
        let i = ((n as f64 * p).ceil() as usize).clamp(1, n) - 1;
        v[i].as_secs_f64() * 1000.0
    };
    println!(
        "  {name:<22} n {n:>6}   p50 {:>8.1} ms   p90 {:>8.1} ms   p99 {:>8.1} ms   max {:>8.1} ms",
        pct(0.50),
        pct(0.90),
        pct(0.99),
        pct(1.0)
    );
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Arc::new(parse_args()?);
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .pool_max_idle_per_host(256)
        .build()?;

    // Each worker changes its own products, one change at a time, so the
    // edge page it polls is changed by nobody else.
    let per_worker = args.changes.div_ceil(args.concurrency).min(100);
    let pool = targets(&client, &args.origin, per_worker * args.concurrency).await?;
    for t in &pool {
        warm(&client, &args.edge, t).await?;
    }
    println!(
        "{}: {} changes over {} products, {} at a time",
        args.label,
        args.changes,
        pool.len(),
        args.concurrency
    );

    // Versions only grow: the run's start in microseconds, plus a counter.
    let version = Arc::new(AtomicU64::new(
        u64::try_from(chrono::Utc::now().timestamp_micros()).unwrap_or(1),
    ));
    let remaining = Arc::new(AtomicU64::new(args.changes as u64));
    let started = Instant::now();
    let mut workers = Vec::new();
    for w in 0..args.concurrency {
        let mine: Vec<Target> = pool.iter().skip(w).step_by(args.concurrency).cloned().collect();
        let (client, args, version, remaining) =
            (client.clone(), Arc::clone(&args), version.clone(), remaining.clone());
        workers.push(tokio::spawn(async move {
            let mut tally = Tally::default();
            let mut mine = mine;
            let mut k = 0usize;
            while remaining
                .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| n.checked_sub(1))
                .is_ok()
            {
                if mine.is_empty() {
                    break;
                }
                let i = k % mine.len();
                k += 1;
                let target = &mut mine[i];
                // Alternates between two prices so every change is visible.
                let new_price = if target.price % 2 == 0 {
                    target.price + 1
                } else {
                    target.price - 1
                }
                .max(1);
                let v = version.fetch_add(1, Ordering::AcqRel) + 1;
                let body = serde_json::to_vec(&json!({
                    "id": format!("freshness-{v}"),
                    "sku": target.sku,
                    "version": v,
                    "type": "price",
                    "price_minor": new_price,
                }))
                .unwrap_or_default();
                let start = Instant::now();
                let signature =
                    vitrine_origin::sync::webhook::sign(args.secret.as_bytes(), chrono::Utc::now().timestamp(), &body);
                let sent = client
                    .post(format!("{}/webhooks/erp", args.origin))
                    .header("content-type", "application/json")
                    .header(vitrine_origin::sync::webhook::HEADER, signature)
                    .body(body)
                    .send()
                    .await;
                match sent {
                    Ok(resp) if resp.status() == reqwest::StatusCode::ACCEPTED => {
                        tally.accepted.push(start.elapsed());
                    }
                    Ok(resp) => {
                        eprintln!(
                            "webhook answered {}: {}",
                            resp.status(),
                            resp.text().await.unwrap_or_default()
                        );
                        tally.misses += 1;
                        continue;
                    }
                    Err(e) => {
                        eprintln!("webhook failed: {e}");
                        tally.misses += 1;
                        continue;
                    }
                }
                let page_url = product_url(&args.edge, target);
                let search_url = search_url(&args.edge, target);
                let id = target.id.clone();
                let (page, search) = tokio::join!(
                    until_shown(&client, &page_url, new_price, page_price, start, &args),
                    until_shown(&client, &search_url, new_price, |b| search_price(b, &id), start, &args),
                );
                match (page, search) {
                    (Some(p), Some(s)) => {
                        tally.page.push(p);
                        tally.search.push(s);
                    }
                    (p, s) => {
                        let (_, cache, body) = get_json(&client, &search_url).await.unwrap_or_default();
                        eprintln!(
                            "{} (worker {w}, change {k}): new price {new_price} not shown within {:?} (page {}, search {}; \
                             the edge's search answer now: {cache}, price {:?})",
                            target.sku,
                            args.deadline,
                            if p.is_some() { "ok" } else { "stale" },
                            if s.is_some() { "ok" } else { "stale" },
                            search_price(&body, &id),
                        );
                        tally.misses += 1;
                    }
                }
                target.price = new_price;
                // Lets the edge cache the new page again before this
                // product's next change (a miss there is not what is measured).
                let _ = warm(&client, &args.edge, target).await;
            }
            tally
        }));
    }
    let mut total = Tally::default();
    for w in workers {
        let t = w.await?;
        total.accepted.extend(t.accepted);
        total.page.extend(t.page);
        total.search.extend(t.search);
        total.misses += t.misses;
    }
    println!(
        "{} (wall {:.1} s), times from sending the webhook:",
        args.label,
        started.elapsed().as_secs_f64()
    );
    percentiles("webhook 202", total.accepted);
    percentiles("edge product page", total.page);
    percentiles("edge search answer", total.search);
    println!("  not shown in time      {}", total.misses);
    if total.misses > 0 {
        bail!("{} changes were not shown within {:?}", total.misses, args.deadline);
    }
    Ok(())
}
