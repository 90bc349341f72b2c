//! The server the shell talks to: its URL, and one HTTP/2 connection to it (the bench's
//! client), opened on first use and again after it drops.

use std::net::SocketAddr;

use anyhow::{bail, Context};
use bytes::Bytes;
use http::{StatusCode, Uri};
use hyper::body::Incoming;
use serde_json::Value as Json;

use crate::bench::client::{headers, H2};

/// ksqlDB's default port, used when the URL names none.
const DEFAULT_PORT: u16 = 8088;

/// A Sluice (or ksqlDB) server and the connection to it.
pub(crate) struct Server {
    /// As the user wrote it, for messages.
    url: String,
    host: String,
    port: u16,
    connection: Option<H2>,
}

impl Server {
    /// Parses `http://host[:port]` (the scheme may be left out).
    pub(crate) fn new(url: &str) -> anyhow::Result<Server> {
        let with_scheme = if url.contains("://") {
            url.to_string()
        } else {
            format!("http://{url}")
        };
        let uri: Uri = with_scheme.parse().with_context(|| {
            format!("{url:?} is not a server URL such as http://127.0.0.1:8088")
        })?;
        match uri.scheme_str() {
            Some("http") => {}
            Some("https") => bail!(
                "{url}: Sluice serves cleartext HTTP/2; for TLS, point the shell at the proxy's \
                 cleartext side"
            ),
            _ => bail!("{url}: expected an http:// URL"),
        }
        if uri.path() != "/" && !uri.path().is_empty() {
            bail!("{url}: the URL names a server, not a path");
        }
        let host = uri.host().context("the URL has no host")?;
        // `[::1]` arrives bracketed; name resolution wants it bare.
        let host = host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_string();
        Ok(Server {
            url: with_scheme.trim_end_matches('/').to_string(),
            host,
            port: uri.port_u16().unwrap_or(DEFAULT_PORT),
            connection: None,
        })
    }

    pub(crate) fn url(&self) -> &str {
        &self.url
    }

    /// The open connection, or a new one if there is none or it has closed.
    pub(crate) async fn connection(&mut self) -> anyhow::Result<H2> {
        if let Some(h2) = &self.connection {
            if !h2.is_closed() {
                return Ok(h2.clone());
            }
        }
        self.connection = None;
        let addr = self.resolve().await?;
        let h2 = H2::connect(addr)
            .await
            .with_context(|| format!("the server at {} is unreachable", self.url))?;
        self.connection = Some(h2.clone());
        Ok(h2)
    }

    async fn resolve(&self) -> anyhow::Result<SocketAddr> {
        tokio::net::lookup_host((self.host.as_str(), self.port))
            .await
            .with_context(|| format!("resolving {}", self.host))?
            .next()
            .with_context(|| format!("{} has no address", self.host))
    }

    /// Forgets a connection a request failed on, so the next request opens a new one.
    fn failed<T>(&mut self, result: anyhow::Result<T>) -> anyhow::Result<T> {
        if result.is_err() {
            self.connection = None;
        }
        result
    }

    /// POSTs a JSON body and collects the whole answer.
    pub(crate) async fn post(
        &mut self,
        path: &str,
        body: &Json,
    ) -> anyhow::Result<(StatusCode, Bytes)> {
        let mut h2 = self.connection().await?;
        let result = h2.post(path, body.to_string()).await;
        self.failed(result)
            .with_context(|| format!("POST {path} to {}", self.url))
    }

    pub(crate) async fn get(&mut self, path: &str) -> anyhow::Result<(StatusCode, Bytes)> {
        let mut h2 = self.connection().await?;
        let result = h2.get(path).await;
        self.failed(result)
            .with_context(|| format!("GET {path} from {}", self.url))
    }

    /// POSTs a JSON body and returns the response as soon as its headers are in, for a body
    /// read as it streams (`/query-stream`).
    pub(crate) async fn open_stream(
        &mut self,
        path: &str,
        body: &Json,
    ) -> anyhow::Result<http::Response<Incoming>> {
        let mut h2 = self.connection().await?;
        let result = async {
            let (mut tx, resp) = h2.open(path).await?;
            tx.send_data(Bytes::from(body.to_string()))
                .await
                .map_err(|_| anyhow::anyhow!("the server stopped reading the request"))?;
            drop(tx);
            headers(resp).await
        }
        .await;
        self.failed(result)
            .with_context(|| format!("POST {path} to {}", self.url))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_name_host_and_port() {
        let s = Server::new("http://127.0.0.1:9000").expect("valid");
        assert_eq!((s.host.as_str(), s.port), ("127.0.0.1", 9000));
        let s = Server::new("localhost").expect("valid");
        assert_eq!((s.host.as_str(), s.port), ("localhost", DEFAULT_PORT));
        let s = Server::new("http://[::1]:8089/").expect("valid");
        assert_eq!((s.host.as_str(), s.port), ("::1", 8089));
        assert_eq!(s.url(), "http://[::1]:8089");
    }

    #[test]
    fn other_schemes_and_paths_are_refused() {
        let e = Server::new("https://h:1").err().expect("refused");
        assert!(e.to_string().contains("cleartext"), "{e}");
        assert!(Server::new("ftp://h").is_err());
        assert!(Server::new("http://h:1/ksql").is_err());
        assert!(Server::new("http://").is_err());
    }
}
