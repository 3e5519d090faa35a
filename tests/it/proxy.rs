//! A fault-injecting TCP proxy in front of a real server: each new connection is either
//! piped through, answered `503 SlowDown`, dropped, reset (after the server answered, so
//! a write lands but its answer is lost), or stalled past the client's timeout, as the
//! test says, or at random at a given rate from a seeded generator. With the client's
//! connection pool off (`pool_max_idle_per_host = "0"`) a connection is one request, and
//! the most connections waiting for their answer at once is the most requests the client
//! had in flight (a connection lingers a little after its answer, so the count of open
//! ones says less).

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// What the proxy does with the next connections.
#[derive(Debug, Default)]
pub(crate) struct Faults {
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
    /// This many connections are piped until the server starts its answer, then reset
    /// (SO_LINGER 0) after passing on a few bytes of it.
    pub reset: AtomicUsize,
    /// This many connections are piped until the head of the server's answer and a few
    /// bytes of its body have passed, then reset: the body is cut.
    pub reset_in_body: AtomicUsize,
    /// This many connections are held unanswered for `stall_ms`, then closed.
    pub stall: AtomicUsize,
    /// How long a stalled connection is held.
    pub stall_ms: AtomicUsize,
    /// Faults drawn at random, when set.
    pub mix: Mutex<Option<Mix>>,
    /// Connections accepted.
    pub connections: AtomicUsize,
    /// Connections waiting for the start of their answer now, and the most at once since
    /// [`Faults::reset_peak`].
    pub pending: AtomicUsize,
    pub peak_pending: AtomicUsize,
    /// Faults injected, by kind.
    pub resets: AtomicUsize,
    pub stalls: AtomicUsize,
    pub slow_downs: AtomicUsize,
    pub drops: AtomicUsize,
}

/// Random faults: each connection is faulted with probability `per_mille` / 1000, the
/// kind and the reset point drawn from a seeded xorshift, so a run is repeatable.
#[derive(Debug)]
pub(crate) struct Mix {
    pub per_mille: u64,
    state: u64,
}

impl Mix {
    pub(crate) fn new(per_mille: u64, seed: u64) -> Mix {
        Mix {
            per_mille,
            state: seed.max(1),
        }
    }

    fn next(&mut self) -> u64 {
        let mut x = self.state;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.state = x;
        x
    }
}

/// What to do with one connection.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Fault {
    None,
    SlowDown,
    Drop,
    /// Reset after passing on this many bytes of the server's answer.
    Reset(usize),
    /// Reset after the answer's head and this many bytes of its body.
    ResetInBody(usize),
    Stall,
}

impl Faults {
    fn take(counter: &AtomicUsize) -> bool {
        counter
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok()
    }

    /// The fault for the next connection: the counters first, then the random mix.
    fn pick(&self) -> Fault {
        if self.down.load(Ordering::SeqCst) > 0 || Self::take(&self.slow_down) {
            return Fault::SlowDown;
        }
        if Self::take(&self.drop) {
            return Fault::Drop;
        }
        if Self::take(&self.reset) {
            return Fault::Reset(0);
        }
        if Self::take(&self.reset_in_body) {
            return Fault::ResetInBody(10);
        }
        if Self::take(&self.stall) {
            return Fault::Stall;
        }
        let mut mix = self.mix.lock().unwrap();
        let Some(m) = mix.as_mut() else {
            return Fault::None;
        };
        if m.next() % 1000 >= m.per_mille {
            return Fault::None;
        }
        // Resets are half the faults: they are the ones object_store leaves to us.
        match m.next() % 6 {
            0..=2 => Fault::Reset((m.next() % 700) as usize),
            3 | 4 => Fault::SlowDown,
            _ => Fault::Stall,
        }
    }

    /// Starts measuring the most connections waiting at once afresh, from those now.
    pub(crate) fn reset_peak(&self) {
        self.peak_pending
            .store(self.pending.load(Ordering::SeqCst), Ordering::SeqCst);
    }

    /// Faults injected so far, of every kind.
    pub(crate) fn injected(&self) -> usize {
        [&self.resets, &self.stalls, &self.slow_downs, &self.drops]
            .iter()
            .map(|c| c.load(Ordering::SeqCst))
            .sum()
    }
}

/// A running proxy; it stops with the test's runtime.
pub(crate) struct Proxy {
    pub addr: SocketAddr,
    pub faults: Arc<Faults>,
}

impl Proxy {
    /// Listens on 127.0.0.1 and forwards to `upstream` (`http://host:port`).
    pub(crate) async fn start(upstream: &str) -> Proxy {
        let upstream = upstream
            .trim_start_matches("http://")
            .trim_end_matches('/')
            .to_string();
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let faults = Arc::new(Faults::default());
        let f = Arc::clone(&faults);
        tokio::spawn(async move {
            loop {
                let Ok((client, _)) = listener.accept().await else {
                    return;
                };
                let f = Arc::clone(&f);
                let upstream = upstream.clone();
                tokio::spawn(async move { handle(client, &upstream, &f).await });
            }
        });
        Proxy { addr, faults }
    }

    pub(crate) fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }
}

/// Counts a connection as pending until its answer starts (or it ends).
struct Pending<'a>(&'a Faults);

impl<'a> Pending<'a> {
    fn new(f: &'a Faults) -> Self {
        let now = f.pending.fetch_add(1, Ordering::SeqCst) + 1;
        f.peak_pending.fetch_max(now, Ordering::SeqCst);
        Pending(f)
    }
}

impl Drop for Pending<'_> {
    fn drop(&mut self) {
        self.0.pending.fetch_sub(1, Ordering::SeqCst);
    }
}

async fn handle(mut client: TcpStream, upstream: &str, f: &Faults) {
    f.connections.fetch_add(1, Ordering::SeqCst);
    let pending = Pending::new(f);
    let fault = f.pick();
    if fault == Fault::SlowDown {
        f.served.fetch_add(1, Ordering::SeqCst);
        f.slow_downs.fetch_add(1, Ordering::SeqCst);
        // Read the request head so the client sees an answer, not a reset.
        let mut buf = vec![0u8; 64 * 1024];
        let _ = tokio::time::timeout(std::time::Duration::from_millis(200), client.read(&mut buf))
            .await;
        let body = "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><Code>SlowDown</Code><Message>Please reduce your request rate.</Message></Error>";
        let resp = format!(
            "HTTP/1.1 503 Slow Down\r\nContent-Type: application/xml\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        );
        drop(pending);
        let _ = client.write_all(resp.as_bytes()).await;
        let _ = client.shutdown().await;
        return;
    }
    if fault == Fault::Stall {
        f.served.fetch_add(1, Ordering::SeqCst);
        f.stalls.fetch_add(1, Ordering::SeqCst);
        let hold = Duration::from_millis(f.stall_ms.load(Ordering::SeqCst).max(100) as u64);
        let mut buf = vec![0u8; 64 * 1024];
        let _ = tokio::time::timeout(hold, async {
            while let Ok(n) = client.read(&mut buf).await {
                if n == 0 {
                    break;
                }
            }
        })
        .await;
        return;
    }
    if fault == Fault::Drop {
        f.served.fetch_add(1, Ordering::SeqCst);
        f.drops.fetch_add(1, Ordering::SeqCst);
        let mut buf = vec![0u8; 1024];
        let _ = tokio::time::timeout(std::time::Duration::from_millis(200), client.read(&mut buf))
            .await;
        drop(client);
        return;
    }
    let Ok(mut server) = TcpStream::connect(upstream).await else {
        return;
    };
    if let Fault::Reset(_) | Fault::ResetInBody(_) = fault {
        f.served.fetch_add(1, Ordering::SeqCst);
        f.resets.fetch_add(1, Ordering::SeqCst);
        reset_after_answer(client, server, fault).await;
        return;
    }
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
        if until_answer(&mut client, &mut server, pending)
            .await
            .is_ok()
        {
            let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
        }
        return;
    }
    let (mut cr, mut cw) = client.into_split();
    let (mut sr, mut sw) = server.into_split();
    let up = async move { throttled_copy(&mut cr, &mut sw, rate).await };
    let down = async move { throttled_copy(&mut sr, &mut cw, rate).await };
    let _ = tokio::join!(up, down);
}

/// Pipes the request through until the server's answer starts (its first bytes are passed
/// on too), or the server closes the connection. The connection stops being pending
/// before the client can see the answer, so the count never holds a request the client
/// is done with.
async fn until_answer(
    client: &mut TcpStream,
    server: &mut TcpStream,
    pending: Pending<'_>,
) -> std::io::Result<()> {
    let mut up = vec![0u8; 16 * 1024];
    let mut down = vec![0u8; 16 * 1024];
    let mut client_open = true;
    loop {
        tokio::select! {
            r = client.read(&mut up), if client_open => match r? {
                0 => {
                    client_open = false;
                    server.shutdown().await?;
                }
                n => server.write_all(&up[..n]).await?,
            },
            r = server.read(&mut down) => {
                drop(pending);
                let n = r?;
                if n == 0 {
                    client.shutdown().await?;
                    return Err(std::io::ErrorKind::UnexpectedEof.into());
                }
                return client.write_all(&down[..n]).await;
            }
        }
    }
}

/// Pipes the request through, waits for the server's answer to start (the request was
/// served: a write has landed), passes on part of it (`fault` says how much), then resets
/// the client's connection.
async fn reset_after_answer(client: TcpStream, server: TcpStream, fault: Fault) {
    #[allow(deprecated)] // SO_LINGER 0 is the point: close with a reset, not a FIN.
    let _ = client.set_linger(Some(Duration::ZERO));
    let (mut cr, mut cw) = client.into_split();
    let (mut sr, mut sw) = server.into_split();
    let up = tokio::spawn(async move {
        let _ = tokio::io::copy(&mut cr, &mut sw).await;
    });
    let mut got = Vec::new();
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        let limit = match fault {
            // Once the answer has started.
            Fault::Reset(n) => (!got.is_empty()).then_some(n),
            // Once the head and `n` bytes of the body are in.
            Fault::ResetInBody(n) => got
                .windows(4)
                .position(|w| w == b"\r\n\r\n")
                .map(|p| p + 4 + n)
                .filter(|l| got.len() >= *l),
            _ => Some(0),
        };
        if let Some(limit) = limit {
            let _ = cw.write_all(&got[..limit.min(got.len())]).await;
            break;
        }
        match tokio::time::timeout(Duration::from_secs(10), sr.read(&mut buf)).await {
            Ok(Ok(n)) if n > 0 => got.extend_from_slice(&buf[..n]),
            _ => {
                let _ = cw.write_all(&got[..got.len().saturating_sub(1)]).await;
                break;
            }
        }
    }
    // No FIN from the write half: the socket closes (with a reset) when the read half,
    // in the aborted task, is dropped.
    cw.forget();
    up.abort();
    let _ = up.await;
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
