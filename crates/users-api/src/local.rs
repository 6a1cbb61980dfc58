//! A users-api served in process, for `produce` on a fresh stack and for tests and benches.

use std::net::SocketAddr;
use std::time::Duration;

use crate::{UsersApiConfig, UsersApiError};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use url::Url;

/// A running in-process users-api. Stop it with [`LocalUsersApi::stop`] (dropping it stops it
/// too, without waiting).
#[derive(Debug)]
pub struct LocalUsersApi {
    addr: SocketAddr,
    stop: CancellationToken,
    task: Option<JoinHandle<Result<(), UsersApiError>>>,
}

impl LocalUsersApi {
    /// Binds `config.bind` (port 0 picks one) and serves in the background.
    pub async fn start(config: UsersApiConfig) -> Result<Self, UsersApiError> {
        let server = crate::bind(config).await?;
        let addr = server.local_addr();
        let stop = CancellationToken::new();
        let shutdown = stop.clone();
        let task = tokio::spawn(server.serve(async move { shutdown.cancelled().await }));
        Ok(Self {
            addr,
            stop,
            task: Some(task),
        })
    }

    /// The address it listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Its API URL, `http://<addr>/api/`.
    pub fn url(&self) -> Url {
        // An IP and port always make a valid URL.
        Url::parse(&format!("http://{}/api/", self.addr))
            .unwrap_or_else(|_| unreachable!("socket address URL"))
    }

    /// Stops serving and waits for in-flight requests.
    pub async fn stop(mut self) -> Result<(), UsersApiError> {
        self.stop.cancel();
        match self.task.take() {
            Some(task) => task.await.map_err(UsersApiError::Task)?,
            None => Ok(()),
        }
    }
}

impl Drop for LocalUsersApi {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

/// Whether something accepts TCP connections at `addr` (within 500 ms).
pub async fn is_listening(addr: SocketAddr) -> bool {
    matches!(
        tokio::time::timeout(
            Duration::from_millis(500),
            tokio::net::TcpStream::connect(addr)
        )
        .await,
        Ok(Ok(_))
    )
}

/// The loopback socket address of an `http://127.0.0.1:<port>/...` (or `localhost`) URL.
pub fn loopback_addr(url: &Url) -> Option<SocketAddr> {
    let host = url.host_str()?;
    let ip = match host {
        "localhost" => std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST),
        other => other.trim_matches(|c| c == '[' || c == ']').parse().ok()?,
    };
    if !ip.is_loopback() {
        return None;
    }
    Some(SocketAddr::new(ip, url.port_or_known_default()?))
}

/// When `url` is a loopback address where nothing listens, starts a users-api there (with
/// default settings) and returns it; otherwise `None`.
pub async fn start_local_source_if_absent(
    url: &Url,
) -> Result<Option<LocalUsersApi>, UsersApiError> {
    let Some(addr) = loopback_addr(url) else {
        return Ok(None);
    };
    if is_listening(addr).await {
        return Ok(None);
    }
    let server = LocalUsersApi::start(UsersApiConfig {
        bind: addr,
        ..UsersApiConfig::default()
    })
    .await?;
    Ok(Some(server))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_addresses() {
        let parse = |s: &str| Url::parse(s).expect("url");
        assert_eq!(
            loopback_addr(&parse("http://127.0.0.1:8765/api/")),
            Some("127.0.0.1:8765".parse().expect("addr"))
        );
        assert_eq!(
            loopback_addr(&parse("http://localhost/api/")),
            Some("127.0.0.1:80".parse().expect("addr"))
        );
        assert_eq!(loopback_addr(&parse("https://randomuser.me/api/")), None);
        assert_eq!(loopback_addr(&parse("http://10.0.0.1:8765/")), None);
    }

    #[tokio::test]
    async fn starts_only_when_nothing_listens() {
        let first = LocalUsersApi::start(UsersApiConfig {
            bind: "127.0.0.1:0".parse().expect("addr"),
            ..UsersApiConfig::default()
        })
        .await
        .expect("start");
        assert!(is_listening(first.addr()).await);
        assert!(start_local_source_if_absent(&first.url())
            .await
            .expect("check")
            .is_none());
        let addr = first.addr();
        first.stop().await.expect("stop");
        let url = Url::parse(&format!("http://{addr}/api/")).expect("url");
        let second = start_local_source_if_absent(&url).await.expect("start");
        let second = second.expect("started on the free address");
        assert_eq!(second.addr(), addr);
        second.stop().await.expect("stop");
    }
}
