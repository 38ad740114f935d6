//! Client connections (issue 10, item 3): slow and idle clients are cut off,
//! the connection cap makes room for new clients, handlers see the client's
//! address, and shutdown finishes requests in flight.
//!
//! Most tests run the server function in-process on 127.0.0.1:0 with short
//! limits; one runs the real binary with the limits set through its flags.
//! Waits have generous deadlines that only catch a server that never acts;
//! nothing asserts how fast it acts.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::ConnectInfo;
use axum::routing::get;
use bcda::http::server::{ConnectionSettings, serve};
use tokio::sync::watch;

use crate::harness::{Backend, TestApp, backend_test, fresh_postgres_schema};

/// Longest a test waits for the server to do something it must do.
const PATIENCE: Duration = Duration::from_secs(30);

/// A server running `router` in this process until dropped or stopped.
struct InProcess {
    addr: SocketAddr,
    stop: watch::Sender<bool>,
    done: tokio::task::JoinHandle<()>,
}

impl InProcess {
    async fn start(router: Router, settings: ConnectionSettings) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        let (stop, stopped) = watch::channel(false);
        let done = tokio::spawn(serve(listener, router, settings, stopped));
        Self { addr, stop, done }
    }

    /// Stops the server and waits until every connection has closed.
    async fn shut_down(self) {
        let _ = self.stop.send(true);
        tokio::time::timeout(PATIENCE, self.done)
            .await
            .expect("the server stops")
            .expect("no panic");
    }
}

fn settings(header: u64, idle: u64, max: usize) -> ConnectionSettings {
    ConnectionSettings {
        header_read_timeout: Duration::from_secs(header),
        idle_timeout: Duration::from_secs(idle),
        max_connections: max,
        head_eviction_grace: Duration::from_secs(1),
    }
}

/// A raw client connection (blocking; used from `spawn_blocking`).
fn connect(addr: SocketAddr) -> TcpStream {
    let stream = TcpStream::connect(addr).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_millis(200)))
        .expect("timeout");
    stream
}

/// Whether the server has closed the connection (a read sees EOF or a
/// reset), reading and discarding anything else.
fn closed_by_server(stream: &mut TcpStream) -> bool {
    let mut buf = [0u8; 4096];
    loop {
        match stream.read(&mut buf) {
            Ok(0) => return true,
            Ok(_) => continue,
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                return false;
            }
            Err(_) => return true,
        }
    }
}

/// Waits (up to [`PATIENCE`]) for the server to close the connection,
/// calling `meanwhile` between checks; returns whether it did.
fn wait_closed(stream: &mut TcpStream, mut meanwhile: impl FnMut(&mut TcpStream)) -> bool {
    let deadline = Instant::now() + PATIENCE;
    while Instant::now() < deadline {
        if closed_by_server(stream) {
            return true;
        }
        meanwhile(stream);
    }
    false
}

/// Sends one keep-alive request and reads its response head and body
/// (`Content-Length` framed); returns the status line.
fn request(stream: &mut TcpStream, path: &str) -> String {
    write!(stream, "GET {path} HTTP/1.1\r\nHost: bcda.test\r\n\r\n").expect("write");
    stream.set_read_timeout(Some(PATIENCE)).expect("timeout");
    let mut reader = BufReader::new(stream.try_clone().expect("clone"));
    let mut status = String::new();
    reader.read_line(&mut status).expect("status line");
    let mut length = 0usize;
    loop {
        let mut line = String::new();
        reader.read_line(&mut line).expect("header");
        if line == "\r\n" || line.is_empty() {
            break;
        }
        if let Some(value) = line.to_ascii_lowercase().strip_prefix("content-length:") {
            length = value.trim().parse().expect("length");
        }
    }
    let mut body = vec![0; length];
    reader.read_exact(&mut body).expect("body");
    stream
        .set_read_timeout(Some(Duration::from_millis(200)))
        .expect("timeout");
    status.trim_end().to_owned()
}

/// Trickles a request head a byte or so at a time, never finishing it.
fn trickle(stream: &mut TcpStream) {
    let _ = stream.write_all(b"X");
}

backend_test! {
    async fn a_client_trickling_its_head_is_disconnected(backend) {
        let app = TestApp::new(backend).await;
        let server = InProcess::start(app.router.clone(), settings(1, 60, 64)).await;
        let addr = server.addr;
        let closed = tokio::task::spawn_blocking(move || {
            let mut stream = connect(addr);
            stream.write_all(b"GET /_version HTTP/1.1\r\nHost: x\r\nX-Slow: ").expect("write");
            wait_closed(&mut stream, trickle)
        })
        .await
        .expect("client");
        assert!(closed, "a head still incomplete after the header-read timeout closes the connection");
        // The server still answers.
        let status = tokio::task::spawn_blocking(move || request(&mut connect(addr), "/_version"))
            .await
            .expect("client");
        assert_eq!(status, "HTTP/1.1 200 OK");
        server.shut_down().await;
    }
}

backend_test! {
    async fn a_silent_new_connection_is_disconnected_after_the_header_timeout(backend) {
        let app = TestApp::new(backend).await;
        let server = InProcess::start(app.router.clone(), settings(1, 60, 64)).await;
        let addr = server.addr;
        let closed = tokio::task::spawn_blocking(move || wait_closed(&mut connect(addr), |_| {}))
            .await
            .expect("client");
        assert!(closed, "a connection that never sends a head is closed");
        server.shut_down().await;
    }
}

backend_test! {
    async fn an_idle_keep_alive_connection_is_closed_after_the_idle_timeout(backend) {
        let app = TestApp::new(backend).await;
        // The idle timeout is longer than the header timeout: waiting
        // between requests is not reading a head.
        let server = InProcess::start(app.router.clone(), settings(1, 4, 64)).await;
        let addr = server.addr;
        tokio::task::spawn_blocking(move || {
            let mut stream = connect(addr);
            assert_eq!(request(&mut stream, "/_version"), "HTTP/1.1 200 OK");
            // Idle past the header timeout, within the idle timeout: the
            // connection still serves.
            std::thread::sleep(Duration::from_secs(2));
            assert!(!closed_by_server(&mut stream), "closed while idle for less than the idle timeout");
            assert_eq!(request(&mut stream, "/_version"), "HTTP/1.1 200 OK");
            assert!(wait_closed(&mut stream, |_| {}), "an idle connection is closed after the idle timeout");
        })
        .await
        .expect("client");
        server.shut_down().await;
    }
}

backend_test! {
    async fn at_the_cap_a_new_client_replaces_the_longest_waiting_connection(backend) {
        let app = TestApp::new(backend).await;
        let server = InProcess::start(app.router.clone(), settings(30, 60, 4)).await;
        let addr = server.addr;
        tokio::task::spawn_blocking(move || {
            // Four connections that say nothing (slowloris), oldest first.
            let mut held: Vec<TcpStream> = (0..4)
                .map(|_| {
                    let stream = connect(addr);
                    std::thread::sleep(Duration::from_millis(50));
                    stream
                })
                .collect();
            std::thread::sleep(Duration::from_millis(200));
            // A normal client is still served...
            let mut fresh = connect(addr);
            assert_eq!(request(&mut fresh, "/_version"), "HTTP/1.1 200 OK");
            // ...in the place of the oldest connection, which is closed.
            assert!(wait_closed(&mut held[0], |_| {}), "the longest-waiting connection is closed");
            for stream in &mut held[1..] {
                assert!(!closed_by_server(stream), "only one connection makes room");
            }
            // New clients keep being served, each taking a waiting one's place.
            for _ in 0..6 {
                assert_eq!(request(&mut connect(addr), "/_version"), "HTTP/1.1 200 OK");
            }
        })
        .await
        .expect("client");
        server.shut_down().await;
    }
}

#[tokio::test]
async fn a_head_that_has_only_just_begun_is_not_cut_off_for_a_new_client() {
    // One slot, held by a connection whose head began a moment ago: under a
    // flood of short requests that is an honest client whose request the
    // busy server has not read yet. The new client waits for it instead of
    // resetting it; once the head has dragged on past the grace period it
    // is evicted as a slow sender.
    let router = Router::new().route("/_version", get(|| async { "ok" }));
    // A grace far longer than the checks below take, however loaded the
    // machine: the first check cannot outlast it by accident.
    let grace = ConnectionSettings {
        head_eviction_grace: Duration::from_secs(5),
        ..settings(30, 60, 1)
    };
    let server = InProcess::start(router, grace).await;
    let addr = server.addr;
    tokio::task::spawn_blocking(move || {
        let mut first = connect(addr);
        first
            .write_all(b"GET /_version HTTP/1.1\r\n")
            .expect("write");
        std::thread::sleep(Duration::from_millis(100));
        let mut second = connect(addr);
        second
            .write_all(b"GET /_version HTTP/1.1\r\nHost: bcda.test\r\n\r\n")
            .expect("write");
        // Within the grace period the first connection stays open.
        assert!(!closed_by_server(&mut first), "a fresh head is not cut off");
        // Past it, the slow head makes room and the new client is served.
        assert!(
            wait_closed(&mut first, |_| {}),
            "a dragging head is evicted"
        );
        let mut status = String::new();
        second.set_read_timeout(Some(PATIENCE)).expect("timeout");
        BufReader::new(&second)
            .read_line(&mut status)
            .expect("status");
        assert_eq!(status.trim_end(), "HTTP/1.1 200 OK");
    })
    .await
    .expect("client");
    server.shut_down().await;
}

#[tokio::test]
async fn a_request_in_flight_is_never_evicted_and_new_clients_wait_for_it() {
    // One slot; the handler holds the only connection until released.
    let (release, released) = watch::channel(false);
    let router = Router::new()
        .route(
            "/slow",
            get(move || {
                let mut released = released.clone();
                async move {
                    let _ = released.wait_for(|r| *r).await;
                    "done"
                }
            }),
        )
        .route("/fast", get(|| async { "fast" }));
    let server = InProcess::start(router, settings(30, 60, 1)).await;
    let addr = server.addr;
    let slow = tokio::task::spawn_blocking(move || request(&mut connect(addr), "/slow"));
    tokio::time::sleep(Duration::from_millis(300)).await;
    let fast = tokio::task::spawn_blocking(move || request(&mut connect(addr), "/fast"));
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(
        !fast.is_finished(),
        "the new client waits while the only slot is busy"
    );
    assert!(!slow.is_finished(), "the request in flight is not cut off");
    release.send(true).expect("release");
    assert_eq!(slow.await.expect("slow"), "HTTP/1.1 200 OK");
    assert_eq!(fast.await.expect("fast"), "HTTP/1.1 200 OK");
    server.shut_down().await;
}

#[tokio::test]
async fn handlers_see_the_client_address() {
    let router = Router::new().route(
        "/peer",
        get(|ConnectInfo(peer): ConnectInfo<SocketAddr>| async move { peer.to_string() }),
    );
    let server = InProcess::start(router, settings(5, 5, 8)).await;
    let response = reqwest::get(format!("http://{}/peer", server.addr))
        .await
        .expect("send");
    assert_eq!(response.status(), 200);
    let peer: SocketAddr = response
        .text()
        .await
        .expect("body")
        .parse()
        .expect("address");
    assert!(peer.ip().is_loopback());
    assert_ne!(peer.port(), server.addr.port());
    server.shut_down().await;
}

#[tokio::test]
async fn shutdown_finishes_requests_in_flight_and_closes_idle_connections() {
    let (release, released) = watch::channel(false);
    let router = Router::new().route(
        "/slow",
        get(move || {
            let mut released = released.clone();
            async move {
                let _ = released.wait_for(|r| *r).await;
                "done"
            }
        }),
    );
    let server = InProcess::start(router, settings(30, 60, 8)).await;
    let addr = server.addr;
    let idle = tokio::task::spawn_blocking(move || wait_closed(&mut connect(addr), |_| {}));
    let slow = tokio::task::spawn_blocking(move || request(&mut connect(addr), "/slow"));
    tokio::time::sleep(Duration::from_millis(300)).await;
    let _ = server.stop.send(true);
    assert!(
        idle.await.expect("idle"),
        "an idle connection closes at shutdown"
    );
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(
        !server.done.is_finished(),
        "the server waits for the request in flight"
    );
    release.send(true).expect("release");
    assert_eq!(slow.await.expect("slow"), "HTTP/1.1 200 OK");
    tokio::time::timeout(PATIENCE, server.done)
        .await
        .expect("the server stops")
        .expect("no panic");
}

/// `bcda serve` with its limits set through flags.
struct Binary(Child, SocketAddr);

impl Drop for Binary {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

// The child moves into `Binary`, whose `Drop` kills and waits for it.
#[allow(clippy::zombie_processes)]
fn start_binary(data_dir: &std::path::Path, database_url: Option<&str>, flags: &[&str]) -> Binary {
    let mut command = Command::new(env!("CARGO_BIN_EXE_bcda"));
    command.env_clear();
    if let Some(path) = std::env::var_os("PATH") {
        command.env("PATH", path);
    }
    command
        .env("BCDA_DATA_DIR", data_dir)
        .env("BCDA_WORKERS", "1");
    if let Some(url) = database_url {
        command.env("DATABASE_URL", url);
    }
    command
        .args(["serve", "--listen", "127.0.0.1:0"])
        .args(flags)
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    let mut child = command.spawn().expect("spawn bcda");
    let mut stdout = BufReader::new(child.stdout.take().expect("stdout"));
    loop {
        let mut line = String::new();
        assert!(
            stdout.read_line(&mut line).expect("read") > 0,
            "bcda exited before listening"
        );
        if let Some(url) = line.trim().split(" listening on http://").nth(1) {
            let addr = url.parse().expect("address");
            return Binary(child, addr);
        }
    }
}

backend_test! {
    async fn bcda_serve_applies_its_connection_flags(backend) {
        let dir = tempfile::tempdir().expect("tempdir");
        let pg = match backend {
            Backend::Sqlite => None,
            Backend::Postgres => Some(fresh_postgres_schema().await.1),
        };
        let server = start_binary(
            dir.path(),
            pg.as_deref(),
            &["--header-read-timeout-seconds", "1", "--idle-timeout-seconds", "2", "--max-connections", "4"],
        );
        let addr = server.1;
        tokio::task::spawn_blocking(move || {
            let mut slow = connect(addr);
            slow.write_all(b"GET /_version HTTP/1.1\r\nHost: x\r\nX-Slow: ").expect("write");
            assert!(wait_closed(&mut slow, trickle), "a slow head is cut off");
            let mut idle = connect(addr);
            assert_eq!(request(&mut idle, "/_version"), "HTTP/1.1 200 OK");
            assert!(wait_closed(&mut idle, |_| {}), "an idle connection is closed");
            let held: Vec<TcpStream> = (0..4).map(|_| connect(addr)).collect();
            std::thread::sleep(Duration::from_millis(200));
            assert_eq!(request(&mut connect(addr), "/_version"), "HTTP/1.1 200 OK");
            drop(held);
        })
        .await
        .expect("client");
        drop(server);
    }
}
