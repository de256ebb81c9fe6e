//! `vitrine-load`: a bounded HTTP load generator for the origin's cart reads
//! and order creation, and for checkouts through an edge. Loopback only;
//! every run is bounded by `--seconds`.
//!
//! ```text
//! vitrine-load --origin http://127.0.0.1:8081 --concurrency 32 --seconds 10
//! vitrine-load --origin http://127.0.0.1:8081 --edge http://127.0.0.1:8080 --scenario checkout --concurrency 50
//! ```
//!
//! `checkout` is a shopper's whole purchase through the edge: a cart with
//! three lines and a coupon, the priced cart, then `POST /api/v1/checkout`
//! (promotions, the payment plugin's authorization, the order at the
//! origin). Its latency is the checkout call's; `409` counts checkouts the
//! origin refused (stock ran out).
//!
//! It prepares its own carts from products it finds in the catalog, then runs
//! each scenario for the given time with `--concurrency` workers in closed
//! loop, and prints requests/s and latency percentiles per scenario.

use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use serde_json::{Value, json};

struct Args {
    origin: String,
    edge: Option<String>,
    coupon: Option<String>,
    concurrency: usize,
    seconds: u64,
    scenarios: Vec<String>,
}

fn parse_args() -> anyhow::Result<Args> {
    let mut args = Args {
        origin: "http://127.0.0.1:8081".into(),
        edge: None,
        coupon: None,
        concurrency: 32,
        seconds: 10,
        scenarios: vec!["cart-read".into(), "order-create".into()],
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().with_context(|| format!("{flag} needs a value"));
        match flag.as_str() {
            "--origin" => args.origin = value()?,
            "--edge" => args.edge = Some(value()?),
            "--coupon" => args.coupon = Some(value()?),
            "--concurrency" => args.concurrency = value()?.parse()?,
            "--seconds" => args.seconds = value()?.parse()?,
            "--scenario" => args.scenarios = vec![value()?],
            "--help" | "-h" => {
                println!(
                    "vitrine-load [--origin URL] [--edge URL] [--coupon CODE] [--concurrency N] [--seconds S] [--scenario cart-read|order-create|checkout]"
                );
                std::process::exit(0);
            }
            other => bail!("unknown flag {other}"),
        }
    }
    for url in std::iter::once(&args.origin).chain(args.edge.as_ref()) {
        let host = url.trim_start_matches("http://");
        if !(host.starts_with("127.0.0.1") || host.starts_with("localhost")) {
            bail!("load is only sent to loopback, not {url}");
        }
    }
    if args.scenarios.iter().any(|s| s == "checkout") && args.edge.is_none() {
        bail!("the checkout scenario needs --edge");
    }
    anyhow::ensure!(args.seconds <= 120, "runs are bounded to 120 s");
    anyhow::ensure!((1..=512).contains(&args.concurrency), "concurrency is 1 to 512");
    Ok(args)
}

#[derive(Default)]
struct Tally {
    latencies: Vec<Duration>,
    errors: u64,
    conflicts: u64,
    /// Carts left with no lines (every product picked had sold out): not
    /// checked out.
    sold_out: u64,
    /// Failed answers by status.
    by_status: std::collections::BTreeMap<u16, u64>,
    /// Errors by what failed (a step and its error), so a run's errors can
    /// be told apart.
    by_cause: std::collections::BTreeMap<String, u64>,
}

impl Tally {
    fn merge(&mut self, other: Tally) {
        self.latencies.extend(other.latencies);
        self.errors += other.errors;
        self.conflicts += other.conflicts;
        self.sold_out += other.sold_out;
        for (status, n) in other.by_status {
            *self.by_status.entry(status).or_default() += n;
        }
        for (cause, n) in other.by_cause {
            *self.by_cause.entry(cause).or_default() += n;
        }
    }

    /// Counts an error, and what it was.
    fn error(&mut self, step: &str, why: impl std::fmt::Display) {
        self.errors += 1;
        let mut cause = format!("{step}: {why}");
        cause.truncate(160);
        *self.by_cause.entry(cause).or_default() += 1;
    }

    fn report(mut self, name: &str, elapsed: Duration) {
        self.latencies.sort();
        let n = self.latencies.len();
        let pct = |p: f64| {
            if n == 0 {
                return 0.0;
            }
            let i = ((n as f64 * p).ceil() as usize).clamp(1, n) - 1;
            self.latencies[i].as_secs_f64() * 1000.0
        };
        println!(
            "{name:<14} {n:>8} ok {:>6} 409 {:>5} err {:>9.0} req/s   p50 {:>7.2} ms   p90 {:>7.2} ms   p99 {:>7.2} ms   max {:>7.2} ms",
            self.conflicts,
            self.errors,
            n as f64 / elapsed.as_secs_f64(),
            pct(0.50),
            pct(0.90),
            pct(0.99),
            pct(1.0),
        );
        if self.sold_out > 0 {
            println!(
                "{:<14} {} carts not checked out: their products had sold out",
                "", self.sold_out
            );
        }
        if !self.by_status.is_empty() {
            println!("{:<14} errors by status: {:?}", "", self.by_status);
        }
        for (cause, n) in &self.by_cause {
            println!("{:<14} {n:>6} × {cause}", "");
        }
    }
}

async fn json_call(
    client: &reqwest::Client,
    method: reqwest::Method,
    url: &str,
    body: Option<&Value>,
) -> anyhow::Result<(reqwest::StatusCode, Value)> {
    let mut req = client.request(method, url);
    if let Some(b) = body {
        req = req.json(b);
    }
    let resp = req.send().await?;
    let status = resp.status();
    let bytes = resp.bytes().await?;
    Ok((status, serde_json::from_slice(&bytes).unwrap_or(Value::Null)))
}

/// Product ids with stock, from the catalog's first categories.
async fn products_in_stock(client: &reqwest::Client, origin: &str) -> anyhow::Result<Vec<String>> {
    let (_, tree) = json_call(
        client,
        reqwest::Method::GET,
        &format!("{origin}/api/v1/categories"),
        None,
    )
    .await?;
    let mut ids = Vec::new();
    for root in tree["categories"]
        .as_array()
        .context("no categories: seed the catalog first")?
    {
        let slug = root["slug"].as_str().unwrap_or_default();
        let url = format!("{origin}/api/v1/categories/{slug}/products?per_page=100");
        let (_, page) = json_call(client, reqwest::Method::GET, &url, None).await?;
        for p in page["products"].as_array().into_iter().flatten() {
            if p["in_stock"] == true {
                ids.push(p["id"].as_str().unwrap_or_default().to_owned());
            }
        }
    }
    anyhow::ensure!(!ids.is_empty(), "no products in stock: seed the catalog first");
    Ok(ids)
}

async fn new_cart(client: &reqwest::Client, origin: &str, products: &[String], seed: usize) -> anyhow::Result<String> {
    let (_, cart) = json_call(client, reqwest::Method::POST, &format!("{origin}/api/v1/carts"), None)
        .await
        .context("POST /api/v1/carts")?;
    let id = cart["id"].as_str().context("cart id")?.to_owned();
    for k in 0..3 {
        let product = &products[(seed * 7 + k * 13) % products.len()];
        let body = json!({ "product_id": product, "quantity": 1 });
        json_call(
            client,
            reqwest::Method::POST,
            &format!("{origin}/api/v1/carts/{id}/lines"),
            Some(&body),
        )
        .await
        .context("POST /api/v1/carts/{id}/lines")?;
    }
    Ok(id)
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = parse_args()?;
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(args.concurrency)
        .build()?;
    let origin = args.origin.clone();
    let products = products_in_stock(&client, &origin).await?;
    println!(
        "vitrine-load: {} workers, {} s per scenario, {} products in stock, origin {origin}",
        args.concurrency,
        args.seconds,
        products.len()
    );
    for scenario in &args.scenarios {
        let deadline = Duration::from_secs(args.seconds);
        // Carts are made before the clock starts: reads measure reads only.
        let mut carts = Vec::new();
        if scenario == "cart-read" {
            for i in 0..args.concurrency {
                carts.push(new_cart(&client, &origin, &products, i).await?);
            }
        }
        let start = Instant::now();
        let mut workers = tokio::task::JoinSet::new();
        for w in 0..args.concurrency {
            let client = client.clone();
            let origin = origin.clone();
            let products = products.clone();
            let cart = carts.get(w).cloned();
            let scenario = scenario.clone();
            let edge = args.edge.clone();
            let coupon = args.coupon.clone();
            workers.spawn(async move {
                let mut tally = Tally::default();
                let mut i = w;
                while start.elapsed() < deadline {
                    // Spread workers' carts over the product list.
                    i += 31;
                    match scenario.as_str() {
                        "cart-read" => {
                            let url = format!("{origin}/api/v1/carts/{}", cart.as_deref().unwrap_or_default());
                            let t = Instant::now();
                            match json_call(&client, reqwest::Method::GET, &url, None).await {
                                Ok((s, _)) if s.is_success() => tally.latencies.push(t.elapsed()),
                                _ => tally.errors += 1,
                            }
                        }
                        "order-create" => {
                            let Ok(cart) = new_cart(&client, &origin, &products, i).await else {
                                tally.errors += 1;
                                continue;
                            };
                            let body = json!({ "cart_id": cart });
                            let t = Instant::now();
                            match json_call(
                                &client,
                                reqwest::Method::POST,
                                &format!("{origin}/api/v1/orders"),
                                Some(&body),
                            )
                            .await
                            {
                                Ok((s, _)) if s.is_success() => tally.latencies.push(t.elapsed()),
                                Ok((s, _)) if s == reqwest::StatusCode::CONFLICT => tally.conflicts += 1,
                                _ => tally.errors += 1,
                            }
                        }
                        "checkout" => {
                            let edge = edge.as_deref().unwrap_or_default();
                            let cart = match new_cart(&client, edge, &products, i).await {
                                Ok(cart) => cart,
                                Err(e) => {
                                    tally.error("making the cart", format!("{e:#}"));
                                    continue;
                                }
                            };
                            if let Some(code) = &coupon {
                                let url = format!("{edge}/api/v1/carts/{cart}/coupons/{code}");
                                let _ = json_call(&client, reqwest::Method::POST, &url, None).await;
                            }
                            let priced = json_call(
                                &client,
                                reqwest::Method::GET,
                                &format!("{edge}/api/v1/carts/{cart}"),
                                None,
                            )
                            .await;
                            let (s, priced) = match priced {
                                Ok(answer) => answer,
                                Err(e) => {
                                    tally.error("reading the priced cart", format!("{e:#}"));
                                    continue;
                                }
                            };
                            if !s.is_success() || priced["pricing"]["totals"]["total_minor"].as_i64().is_none() {
                                tally.error("reading the priced cart", format!("{s} {}", priced["error"]["code"]));
                                continue;
                            }
                            if priced["lines"].as_array().is_none_or(Vec::is_empty) {
                                tally.sold_out += 1;
                                continue;
                            }
                            let body =
                                json!({ "cart_id": cart, "email": "load@example.test", "payment_token": "tok_visa" });
                            let key = format!("load-{cart}");
                            let t = Instant::now();
                            let answer = client
                                .post(format!("{edge}/api/v1/checkout"))
                                .header("idempotency-key", key)
                                .json(&body)
                                .send()
                                .await;
                            match answer {
                                Ok(r) if r.status().is_success() => tally.latencies.push(t.elapsed()),
                                Ok(r) if r.status() == reqwest::StatusCode::CONFLICT => tally.conflicts += 1,
                                Ok(r) => {
                                    let s = r.status();
                                    let body: Value = r.json().await.unwrap_or(Value::Null);
                                    tally.error("checkout", format!("{s} {}", body["error"]["message"]));
                                    *tally.by_status.entry(s.as_u16()).or_default() += 1;
                                }
                                Err(e) => tally.error("checkout", format!("{:#}", anyhow::Error::from(e))),
                            }
                        }
                        _ => break,
                    }
                }
                tally
            });
        }
        let mut total = Tally::default();
        while let Some(t) = workers.join_next().await {
            total.merge(t?);
        }
        if !matches!(scenario.as_str(), "cart-read" | "order-create" | "checkout") {
            bail!("unknown scenario {scenario}");
        }
        total.report(scenario, start.elapsed());
    }
    Ok(())
}
