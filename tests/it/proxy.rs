//! A fault-injecting TCP proxy in front of a real server: each new connection is either
//! piped through, answered `503 SlowDown`, or dropped, as the test says.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// What the proxy does with the next connections.
#[derive(Debug, Default)]
pub struct Faults {
    /// This many connections get `503 SlowDown`.
    pub slow_down: AtomicUsize,
    /// This many connections are closed without an answer.
    pub drop: AtomicUsize,
    /// While non-zero, every connection gets `503`.
    pub down: AtomicUsize,
    /// Faults served so far.
    pub served: AtomicUsize,
    /// When non-zero, piped connections carry at most this many bytes a second each way.
    pub throttle: AtomicUsize,
    /// When non-zero, a piped connection is cut after sending this many bytes back to the
    /// client, and the proxy then stays down (the server "died" mid-download).
    pub cut_after: AtomicUsize,
}

impl Faults {
    fn take(counter: &AtomicUsize) -> bool {
        counter
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok()
    }
}

/// A running proxy; it stops with the test's runtime.
pub struct Proxy {
    pub addr: SocketAddr,
    pub faults: Arc<Faults>,
}

impl Proxy {
    /// Listens on 127.0.0.1 and forwards to `upstream` (`http://host:port`).
    pub async fn start(upstream: &str) -> Proxy {
        let upstream = upstream
            .trim_start_matches("http://")
            .trim_end_matches('/')
            .to_string();
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let faults = Arc::new(Faults::default());
        let f = faults.clone();
        tokio::spawn(async move {
            loop {
                let Ok((client, _)) = listener.accept().await else {
                    return;
                };
                let f = f.clone();
                let upstream = upstream.clone();
                tokio::spawn(async move { handle(client, &upstream, &f).await });
            }
        });
        Proxy { addr, faults }
    }

    pub fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }
}

async fn handle(mut client: TcpStream, upstream: &str, f: &Faults) {
    if f.down.load(Ordering::SeqCst) > 0 || Faults::take(&f.slow_down) {
        f.served.fetch_add(1, Ordering::SeqCst);
        // Read the request head so the client sees an answer, not a reset.
        let mut buf = vec![0u8; 64 * 1024];
        let _ = tokio::time::timeout(std::time::Duration::from_millis(200), client.read(&mut buf))
            .await;
        let body = "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><Code>SlowDown</Code><Message>Please reduce your request rate.</Message></Error>";
        let resp = format!(
            "HTTP/1.1 503 Slow Down\r\nContent-Type: application/xml\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        );
        let _ = client.write_all(resp.as_bytes()).await;
        let _ = client.shutdown().await;
        return;
    }
    if Faults::take(&f.drop) {
        f.served.fetch_add(1, Ordering::SeqCst);
        let mut buf = vec![0u8; 1024];
        let _ = tokio::time::timeout(std::time::Duration::from_millis(200), client.read(&mut buf))
            .await;
        drop(client);
        return;
    }
    let Ok(mut server) = TcpStream::connect(upstream).await else {
        return;
    };
    let cut = f.cut_after.load(Ordering::SeqCst);
    if cut > 0 {
        let (mut cr, mut cw) = client.into_split();
        let (mut sr, mut sw) = server.into_split();
        let up = async move {
            let _ = tokio::io::copy(&mut cr, &mut sw).await;
        };
        let down = async move {
            let mut buf = vec![0u8; 16 * 1024];
            let mut sent = 0usize;
            while sent < cut {
                let Ok(n) = sr.read(&mut buf).await else {
                    break;
                };
                if n == 0 {
                    break;
                }
                let n = n.min(cut - sent);
                if cw.write_all(&buf[..n]).await.is_err() {
                    break;
                }
                sent += n;
            }
            f.down.store(1, Ordering::SeqCst);
            f.served.fetch_add(1, Ordering::SeqCst);
        };
        tokio::select! { _ = up => {}, _ = down => {} }
        return;
    }
    let rate = f.throttle.load(Ordering::SeqCst);
    if rate == 0 {
        let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
        return;
    }
    let (mut cr, mut cw) = client.into_split();
    let (mut sr, mut sw) = server.into_split();
    let up = async move { throttled_copy(&mut cr, &mut sw, rate).await };
    let down = async move { throttled_copy(&mut sr, &mut cw, rate).await };
    let _ = tokio::join!(up, down);
}

async fn throttled_copy<R, W>(r: &mut R, w: &mut W, rate: usize) -> std::io::Result<()>
where
    R: tokio::io::AsyncRead + Unpin,
    W: tokio::io::AsyncWrite + Unpin,
{
    let chunk = (rate / 10).max(1);
    let mut buf = vec![0u8; chunk];
    loop {
        let n = r.read(&mut buf).await?;
        if n == 0 {
            return w.shutdown().await;
        }
        w.write_all(&buf[..n]).await?;
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}
