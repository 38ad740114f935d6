//! One connection: hyper's HTTP/1.1 state machine over the socket, the
//! router as its service, and a watchdog that cuts the connection off when
//! a request head (and body) takes too long or it sits idle too long.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::body::Body as AxumBody;
use axum::extract::ConnectInfo;
use hyper::body::{Body, Incoming};
use hyper::server::conn::http1;
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;
use tokio::sync::{OwnedSemaphorePermit, watch};
use tower::ServiceExt;

use super::ConnectionSettings;
use super::activity::{Activity, Phase, RequestBody, ResponseBody, TrackedIo, Tracker};
use super::registry::Registry;
use crate::http::limits::{HYPER_MAX_BUF_BYTES, HYPER_MAX_HEADERS};

/// Serves one accepted connection until the client closes it, it times out,
/// it is evicted for a new connection, or the server stops. `slot` is held
/// until then.
pub async fn run(
    stream: TcpStream,
    peer: SocketAddr,
    router: Router,
    settings: ConnectionSettings,
    registry: Arc<Registry>,
    slot: OwnedSemaphorePermit,
    mut stop: watch::Receiver<bool>,
) {
    let _slot = slot;
    let (tracker, activity) = Tracker::new();
    let registration = registry.register(activity.clone());
    let service = {
        let tracker = tracker.clone();
        hyper::service::service_fn(move |mut request: hyper::Request<Incoming>| {
            tracker.head_parsed(request.body().is_end_stream());
            // Handlers (the token endpoint's per-address throttle) read the
            // client's address from here, as with axum's own server.
            request.extensions_mut().insert(ConnectInfo(peer));
            let request =
                request.map(|body| AxumBody::new(RequestBody::new(body, tracker.clone())));
            let router = router.clone();
            let tracker = tracker.clone();
            async move {
                let response = match router.oneshot(request).await {
                    Ok(response) => response,
                    Err(never) => match never {},
                };
                Ok::<_, Infallible>(response.map(|body| ResponseBody::new(body, tracker)))
            }
        })
    };
    let mut builder = http1::Builder::new();
    builder
        // Our watchdog times heads; hyper's own timer would also run while
        // a keep-alive connection is merely idle (see docs/ARCHITECTURE.md).
        .header_read_timeout(None::<std::time::Duration>)
        .max_buf_size(HYPER_MAX_BUF_BYTES)
        .max_headers(HYPER_MAX_HEADERS);
    let connection =
        builder.serve_connection(TokioIo::new(TrackedIo::new(stream, tracker)), service);
    let mut connection = std::pin::pin!(connection);
    let mut stopping = false;
    loop {
        tokio::select! {
            result = connection.as_mut() => {
                if let Err(error) = result {
                    tracing::debug!(%error, "connection ended with an error");
                }
                return;
            }
            phase = timed_out(activity.clone(), settings) => {
                tracing::debug!(phase = phase.as_str(), "closing a connection: timed out");
                return;
            }
            () = registration.evicted() => {
                if activity.borrow().phase.nothing_in_flight() {
                    tracing::debug!("closing a connection for a new one: at the connection limit");
                    return;
                }
            }
            () = super::stopped(&mut stop), if !stopping => {
                stopping = true;
                if activity.borrow().phase.nothing_in_flight() {
                    return;
                }
                // Finish the request in flight, then close.
                connection.as_mut().graceful_shutdown();
            }
        }
    }
}

/// Resolves with the phase that outlived its time: a request head (and
/// body) not received within the header-read timeout of its first byte, or
/// no request within the idle timeout. Never while a handler runs or a
/// response is being sent.
async fn timed_out(mut activity: watch::Receiver<Activity>, settings: ConnectionSettings) -> Phase {
    loop {
        let now = *activity.borrow_and_update();
        let limit = match now.phase {
            Phase::Idle => Some(settings.idle_timeout),
            Phase::Head | Phase::Body => Some(settings.header_read_timeout),
            Phase::Busy => None,
        };
        let changed = match limit {
            Some(limit) => {
                tokio::select! {
                    biased;
                    changed = activity.changed() => changed,
                    () = tokio::time::sleep_until(now.since + limit) => {
                        if activity.has_changed().unwrap_or(false) {
                            continue;
                        }
                        return now.phase;
                    }
                }
            }
            None => activity.changed().await,
        };
        if changed.is_err() {
            // The tracker is gone with the connection: nothing left to time.
            std::future::pending::<()>().await;
        }
    }
}
