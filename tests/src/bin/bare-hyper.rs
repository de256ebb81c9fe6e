//! The benchmark baseline of `tests/bench/edge-vs-peers.sh`: a bare hyper
//! HTTP/1.1 server answering every request with one page held in memory,
//! with the headers a cached page carries. Nothing a cache does (lookup,
//! `Age`, validators) happens here: it is the floor the edge's hit path is
//! measured against.
//!
//! `bare-hyper <addr> <file>`

use std::convert::Infallible;
use std::net::SocketAddr;

use anyhow::Context;
use hyper::body::Bytes;
use hyper::{Request, Response};
use hyper_util::rt::{TokioExecutor, TokioIo};

type Body = http_body_util::Full<Bytes>;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let addr: SocketAddr = args.next().context("usage: bare-hyper <addr> <file>")?.parse()?;
    let file = args.next().context("usage: bare-hyper <addr> <file>")?;
    let page = Bytes::from(std::fs::read(&file).with_context(|| format!("reading {file}"))?);
    let listener = tokio::net::TcpListener::bind(addr).await?;
    loop {
        let (stream, _) = listener.accept().await?;
        let _ = stream.set_nodelay(true);
        let page = page.clone();
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |_request: Request<hyper::body::Incoming>| {
                let page = page.clone();
                async move {
                    let response = Response::builder()
                        .header("content-type", "application/json")
                        .header("cache-control", "public, max-age=3600")
                        .header("etag", "\"bench\"")
                        .header("age", "0")
                        .body(Body::new(page))
                        .unwrap_or_default();
                    Ok::<_, Infallible>(response)
                }
            });
            let _ = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new())
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}
