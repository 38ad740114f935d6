//! A minimal HTTP/1.1 client over `tokio::net::TcpStream`: just enough to
//! drive the API like a bulk-data client would (one request per
//! connection, `Content-Length` or chunked bodies), with bodies streamed to
//! a callback so large files never sit in memory.
//!
//! Why not a library: the product crate has no HTTP client dependency
//! (reqwest is test-only), and speaking to the real listener, rather than
//! calling the router in-process, keeps hyper's connection handling and
//! the socket copy in the measured path.

use std::io;
use std::net::SocketAddr;

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

/// Read buffer size: large enough that a multi-MB download is a few hundred
/// reads, small enough to be a bounded buffer.
const READ_BUFFER: usize = 256 * 1024;

/// A client of one server.
#[derive(Debug, Clone, Copy)]
pub struct Client {
    addr: SocketAddr,
}

/// A response's status line and headers.
#[derive(Debug, Clone)]
pub struct Head {
    /// The status code.
    pub status: u16,
    /// Headers, names lowercased.
    pub headers: Vec<(String, String)>,
}

impl Head {
    /// The first value of header `name` (lowercase).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

impl Client {
    /// A client of the server at `addr`.
    pub fn new(addr: SocketAddr) -> Self {
        Self { addr }
    }

    /// Sends one request and returns its head and whole body (for small
    /// answers: tokens, status, manifests).
    pub async fn send(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
    ) -> io::Result<(Head, Vec<u8>)> {
        let mut body = Vec::new();
        let head = self
            .stream(method, path, headers, |chunk| {
                body.extend_from_slice(chunk);
                Ok(())
            })
            .await?;
        Ok((head, body))
    }

    /// Sends one request, passing the body to `sink` chunk by chunk.
    pub async fn stream(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        mut sink: impl FnMut(&[u8]) -> io::Result<()>,
    ) -> io::Result<Head> {
        let mut stream = TcpStream::connect(self.addr).await?;
        stream.set_nodelay(true)?;
        let mut request = format!(
            "{method} {path} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\nContent-Length: 0\r\n",
            self.addr
        );
        for (name, value) in headers {
            request.push_str(&format!("{name}: {value}\r\n"));
        }
        request.push_str("\r\n");
        stream.write_all(request.as_bytes()).await?;
        let mut reader = BufReader::with_capacity(READ_BUFFER, stream);
        let head = read_head(&mut reader).await?;
        if method == "HEAD" || head.status == 204 || head.status == 304 {
            return Ok(head);
        }
        let chunked = head
            .header("transfer-encoding")
            .is_some_and(|v| v.eq_ignore_ascii_case("chunked"));
        let length = head
            .header("content-length")
            .and_then(|v| v.parse::<u64>().ok());
        if chunked {
            read_chunked(&mut reader, &mut sink).await?;
        } else if let Some(length) = length {
            read_exactly(&mut reader, length, &mut sink).await?;
        } else {
            read_to_end(&mut reader, &mut sink).await?;
        }
        Ok(head)
    }
}

fn bad(message: impl Into<String>) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, message.into())
}

async fn read_line(reader: &mut BufReader<TcpStream>) -> io::Result<String> {
    let mut line = String::new();
    if reader.read_line(&mut line).await? == 0 {
        return Err(io::Error::new(
            io::ErrorKind::UnexpectedEof,
            "connection closed mid-response",
        ));
    }
    Ok(line.trim_end_matches(['\r', '\n']).to_owned())
}

async fn read_head(reader: &mut BufReader<TcpStream>) -> io::Result<Head> {
    let status_line = read_line(reader).await?;
    let status = status_line
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| bad(format!("not an HTTP status line: {status_line:?}")))?;
    let mut headers = Vec::new();
    loop {
        let line = read_line(reader).await?;
        if line.is_empty() {
            break;
        }
        let (name, value) = line
            .split_once(':')
            .ok_or_else(|| bad(format!("not a header line: {line:?}")))?;
        headers.push((name.trim().to_ascii_lowercase(), value.trim().to_owned()));
    }
    Ok(Head { status, headers })
}

async fn read_exactly(
    reader: &mut BufReader<TcpStream>,
    mut remaining: u64,
    sink: &mut impl FnMut(&[u8]) -> io::Result<()>,
) -> io::Result<()> {
    while remaining > 0 {
        let buffer = reader.fill_buf().await?;
        if buffer.is_empty() {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "body shorter than Content-Length",
            ));
        }
        let take = buffer
            .len()
            .min(usize::try_from(remaining).unwrap_or(usize::MAX));
        sink(&buffer[..take])?;
        reader.consume(take);
        remaining -= take as u64;
    }
    Ok(())
}

async fn read_chunked(
    reader: &mut BufReader<TcpStream>,
    sink: &mut impl FnMut(&[u8]) -> io::Result<()>,
) -> io::Result<()> {
    loop {
        let size_line = read_line(reader).await?;
        let size_hex = size_line.split(';').next().unwrap_or_default().trim();
        let size = u64::from_str_radix(size_hex, 16)
            .map_err(|_| bad(format!("bad chunk size {size_line:?}")))?;
        if size == 0 {
            // Trailers, if any, end with an empty line.
            while !read_line(reader).await?.is_empty() {}
            return Ok(());
        }
        read_exactly(reader, size, sink).await?;
        read_line(reader).await?;
    }
}

async fn read_to_end(
    reader: &mut BufReader<TcpStream>,
    sink: &mut impl FnMut(&[u8]) -> io::Result<()>,
) -> io::Result<()> {
    let mut buffer = vec![0u8; READ_BUFFER];
    loop {
        let n = reader.read(&mut buffer).await?;
        if n == 0 {
            return Ok(());
        }
        sink(&buffer[..n])?;
    }
}
