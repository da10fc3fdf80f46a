//! Streamable HTTP: the server at `/mcp`, loopback by default, behind a bearer token when
//! one is given (and always when bound beyond loopback).

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use http::{HeaderValue, StatusCode, header};
use rmcp::transport::streamable_http_server::session::local::LocalSessionManager;
use rmcp::transport::{StreamableHttpServerConfig, StreamableHttpService};
use tokio::net::TcpListener;

use crate::{CodeModeServer, ServeError};

/// How the HTTP endpoint is guarded.
#[derive(Debug, Clone, Default)]
pub struct HttpOptions {
    /// Every request must carry `Authorization: Bearer <token>`; `None` lets every local
    /// client in.
    pub bearer_token: Option<String>,
    /// `Host` values accepted besides the loopback ones (`localhost`, `127.0.0.1`, `::1`),
    /// which guard against DNS rebinding; e.g. the machine's name when serving beyond it.
    pub allowed_hosts: Vec<String>,
}

/// An axum router serving `server` at `/mcp`. Each session gets a clone of the server (they
/// share the pipeline), and each `execute_code` call a sandbox of its own.
pub fn router(server: CodeModeServer, options: &HttpOptions) -> axum::Router {
    let mut hosts: Vec<String> = StreamableHttpServerConfig::default().allowed_hosts;
    hosts.extend(options.allowed_hosts.iter().cloned());
    let config = StreamableHttpServerConfig::default().with_allowed_hosts(hosts);
    let service: StreamableHttpService<CodeModeServer, LocalSessionManager> =
        StreamableHttpService::new(move || Ok(server.clone()), Arc::default(), config);
    let router = axum::Router::new().nest_service("/mcp", service);
    match &options.bearer_token {
        Some(token) => router.layer(axum::middleware::from_fn_with_state(
            Arc::new(token.clone()),
            require_token,
        )),
        None => router,
    }
}

/// Binds `addr`; an address beyond loopback without a bearer token is refused.
pub async fn bind(addr: &str, options: &HttpOptions) -> Result<TcpListener, ServeError> {
    let listener = TcpListener::bind(addr).await.map_err(|source| ServeError::Bind {
        addr: addr.to_string(),
        source,
    })?;
    let local = listener.local_addr().map_err(|source| ServeError::Bind {
        addr: addr.to_string(),
        source,
    })?;
    if !local.ip().is_loopback() && options.bearer_token.is_none() {
        return Err(ServeError::TokenRequired { addr: addr.to_string() });
    }
    Ok(listener)
}

/// Serves `server` on `listener` until `shutdown` resolves, watching the catalog.
pub async fn serve(
    server: CodeModeServer,
    listener: TcpListener,
    options: &HttpOptions,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), ServeError> {
    let mut options = options.clone();
    if let Ok(SocketAddr::V4(a)) = listener.local_addr()
        && !a.ip().is_loopback()
    {
        options.allowed_hosts.push(a.ip().to_string());
    }
    let watch = server.watch_catalog(Duration::from_secs(1));
    let app = router(server, &options);
    let served = axum::serve(listener, app).with_graceful_shutdown(shutdown).await;
    watch.abort();
    served.map_err(|e| ServeError::Transport(e.to_string()))
}

/// Lets a request through only with the bearer token; 401 otherwise, without saying why
/// beyond the scheme.
async fn require_token(State(token): State<Arc<String>>, request: Request, next: Next) -> Response {
    let given = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    match given {
        Some(given) if same(given.as_bytes(), token.as_bytes()) => next.run(request).await,
        _ => {
            let mut response = (StatusCode::UNAUTHORIZED, "a bearer token is required\n").into_response();
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
            response
        }
    }
}

/// Equality in time that does not depend on where the first difference is.
fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::same;

    #[test]
    fn tokens_compare_whole() {
        assert!(same(b"secret", b"secret"));
        assert!(!same(b"secret", b"secreT"));
        assert!(!same(b"secret", b"secret2"));
    }
}
