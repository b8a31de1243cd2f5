//! Reading request frames off a connection: the 4-byte big-endian length prefix, then the
//! body, under three limits: the largest frame (checked before anything is allocated), the
//! listener's budget of request bytes in flight (Kafka's `queued.max.request.bytes`) and the
//! idle timeout (Kafka's `connections.max.idle.ms`).
//!
//! The budget is a semaphore of bytes shared by every connection of a listener. A frame's
//! size is taken from it, as soon as the length prefix is read and *before* the body is
//! allocated, and given back when the [`Frame`] is dropped (after its response is written).
//! While the budget is spent a connection reads nothing past the length prefix: the client's
//! bytes wait in the kernel's socket buffers and TCP flow control slows the client down
//! (back-pressure) instead of the server allocating. The body is read into a buffer of
//! exactly its size, allocated once, so no connection keeps spare capacity between requests.
//!
//! The idle timeout bounds every wait for bytes: before a request starts and between the
//! bytes of one. Waiting for the budget is the server's doing and is not idleness.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use strom_broker::ListenerStats;
use strom_tls::ExpectedBytes;
use tokio::io::{AsyncRead, AsyncReadExt};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// Bytes of requests that may be held in memory at once, across the connections of one
/// listener. See the module doc.
#[derive(Debug, Clone)]
pub struct RequestBudget {
    semaphore: Arc<Semaphore>,
    total: usize,
    /// Where the bytes in flight are reported for `/metrics`.
    stats: Option<Arc<ListenerStats>>,
}

/// A frame's share of the budget; reported to the listener's counters while held.
#[derive(Debug)]
struct Reservation {
    _permit: OwnedSemaphorePermit,
    bytes: u64,
    stats: Option<Arc<ListenerStats>>,
}

impl Drop for Reservation {
    fn drop(&mut self) {
        if let Some(stats) = &self.stats {
            stats.request_bytes(self.bytes, false);
        }
    }
}

impl RequestBudget {
    /// A budget of `total` bytes (at least 1, at most what a semaphore can count).
    pub fn new(total: usize) -> Self {
        let total = total.clamp(1, Semaphore::MAX_PERMITS);
        RequestBudget {
            semaphore: Arc::new(Semaphore::new(total)),
            total,
            stats: None,
        }
    }

    /// This budget, reporting its size and the bytes in flight to `stats`.
    pub fn with_stats(mut self, stats: Arc<ListenerStats>) -> Self {
        stats.set_request_bytes_limit(self.total as u64);
        self.stats = Some(stats);
        self
    }

    /// Bytes not reserved by any request now.
    #[cfg(test)]
    fn available(&self) -> usize {
        self.semaphore.available_permits()
    }

    /// Waits until `size` bytes are free and reserves them. A frame larger than the whole
    /// budget reserves the whole budget, so it is served alone rather than never.
    async fn reserve(&self, size: usize) -> std::io::Result<Reservation> {
        let wanted = u32::try_from(size.min(self.total)).unwrap_or(u32::MAX);
        let permit = Arc::clone(&self.semaphore)
            .acquire_many_owned(wanted)
            .await
            .map_err(|_| std::io::Error::other("request budget closed"))?;
        let bytes = u64::from(wanted);
        if let Some(stats) = &self.stats {
            stats.request_bytes(bytes, true);
        }
        Ok(Reservation {
            _permit: permit,
            bytes,
            stats: self.stats.clone(),
        })
    }
}

/// The limits [`read_frame`] enforces.
#[derive(Debug, Clone, Copy)]
pub struct FrameLimits {
    /// Largest frame accepted; the length prefix is checked against it.
    pub max_bytes: usize,
    /// Longest wait for the client's next bytes.
    pub idle: Duration,
}

/// One request frame (without its length prefix), holding its share of the request budget
/// until it is dropped.
#[derive(Debug)]
pub struct Frame {
    pub body: Bytes,
    _reservation: Reservation,
}

/// Why reading a frame failed. Every variant closes the connection.
#[derive(Debug, thiserror::Error)]
pub enum FrameError {
    #[error("frame of {size} bytes exceeds the maximum of {max} bytes")]
    TooLarge { size: usize, max: usize },
    #[error("negative frame length {length}")]
    NegativeLength { length: i32 },
    /// The client speaks HTTP: someone pointed an HTTP client at the Kafka port.
    #[error("an HTTP request on the Kafka port")]
    Http,
    /// The client starts a TLS handshake on a listener without TLS.
    #[error("a TLS handshake on a listener without TLS (the client uses SSL or SASL_SSL)")]
    Tls,
    #[error("no bytes from the client for {idle:?} (connections_max_idle_ms)")]
    Idle { idle: Duration },
    #[error(transparent)]
    Io(#[from] std::io::Error),
}

/// Reads one length-prefixed frame. `Ok(None)` on a clean end of stream between frames.
/// `expected`, on a TLS connection, is told how many bytes of the body are still missing
/// before each read (and 0 once the frame is read), so the socket under TLS can be read in
/// large chunks ([`strom_tls::ReadAhead`]).
///
/// Errors: [`FrameError::TooLarge`] / [`FrameError::NegativeLength`] for a bad length prefix
/// (nothing is allocated), [`FrameError::Idle`] when the client sends nothing for
/// `limits.idle`, [`FrameError::Io`] for read errors and an end of stream inside a frame.
pub async fn read_frame<R: AsyncRead + Unpin>(
    reader: &mut R,
    limits: FrameLimits,
    budget: &RequestBudget,
    expected: Option<&ExpectedBytes>,
) -> Result<Option<Frame>, FrameError> {
    let mut len_buf = [0u8; 4];
    let mut filled = 0;
    while filled < 4 {
        let n = idle_bounded(limits.idle, reader.read(&mut len_buf[filled..])).await?;
        if n == 0 {
            if filled == 0 {
                return Ok(None);
            }
            return Err(std::io::Error::from(std::io::ErrorKind::UnexpectedEof).into());
        }
        filled += n;
    }
    if looks_like_http(&len_buf) {
        return Err(FrameError::Http);
    }
    let length = i32::from_be_bytes(len_buf);
    let size = usize::try_from(length).map_err(|_| FrameError::NegativeLength { length })?;
    if size > limits.max_bytes {
        if looks_like_tls(&len_buf) {
            return Err(FrameError::Tls);
        }
        return Err(FrameError::TooLarge {
            size,
            max: limits.max_bytes,
        });
    }
    let reservation = budget.reserve(size).await?;
    let mut body = Vec::with_capacity(size);
    while body.len() < size {
        if let Some(expected) = expected {
            expected.set(size - body.len());
        }
        // `body` never grows: reads fill only its spare capacity.
        let n = idle_bounded(limits.idle, reader.read_buf(&mut body)).await?;
        if n == 0 {
            return Err(std::io::Error::from(std::io::ErrorKind::UnexpectedEof).into());
        }
    }
    if let Some(expected) = expected {
        expected.set(0);
    }
    Ok(Some(Frame {
        body: Bytes::from(body),
        _reservation: reservation,
    }))
}

/// Whether a frame's first four bytes are the start of an HTTP/1 request line. As a length
/// prefix they would ask for more than 1 GB, which no Kafka client sends.
pub fn looks_like_http(first: &[u8; 4]) -> bool {
    const METHODS: [&[u8; 4]; 8] = [
        b"GET ", b"POST", b"PUT ", b"HEAD", b"DELE", b"PATC", b"OPTI", b"PRI ",
    ];
    METHODS.contains(&first)
}

/// A TLS record header (handshake, version 3.x): the first bytes a TLS client sends. As a
/// Kafka length it is over 369 MB, so it is only taken as TLS when the frame is too large.
fn looks_like_tls(first: &[u8; 4]) -> bool {
    first[0] == 0x16 && first[1] == 0x03 && first[2] <= 0x04
}

/// What an HTTP client on the Kafka port is told before the connection closes.
const HTTP_ON_KAFKA_PORT: &str = "This is Strom's Kafka port; it speaks the Kafka protocol, not \
HTTP. Send HTTP to the HTTP listener (http_listen, by default localhost:8080).\n";

/// Answers an HTTP client on the Kafka port with a 400 that says so, then reads what it sent
/// (for up to a second) so that closing does not reset the connection before it reads the answer.
pub async fn refuse_http<R, W>(reader: &mut R, writer: &mut W)
where
    R: AsyncRead + Unpin,
    W: tokio::io::AsyncWrite + Unpin,
{
    use tokio::io::AsyncWriteExt;
    let answer = format!(
        "HTTP/1.1 400 Bad Request\r\ncontent-type: text/plain; charset=utf-8\r\n\
         connection: close\r\ncontent-length: {}\r\n\r\n{HTTP_ON_KAFKA_PORT}",
        HTTP_ON_KAFKA_PORT.len()
    );
    if writer.write_all(answer.as_bytes()).await.is_err() || writer.flush().await.is_err() {
        return;
    }
    let _ = writer.shutdown().await;
    let mut sink = [0u8; 4096];
    let drain = async { while matches!(reader.read(&mut sink).await, Ok(n) if n > 0) {} };
    let _ = tokio::time::timeout(Duration::from_secs(1), drain).await;
}

async fn idle_bounded<F>(idle: Duration, read: F) -> Result<usize, FrameError>
where
    F: std::future::Future<Output = std::io::Result<usize>>,
{
    match tokio::time::timeout(idle, read).await {
        Ok(result) => Ok(result?),
        Err(_) => Err(FrameError::Idle { idle }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIMITS: FrameLimits = FrameLimits {
        max_bytes: 8,
        idle: Duration::from_secs(60),
    };

    #[tokio::test]
    async fn an_http_request_is_recognised() {
        let budget = RequestBudget::new(1 << 20);
        let mut input: &[u8] = b"GET /v1/topics HTTP/1.1\r\nhost: x\r\n\r\n";
        assert!(matches!(
            read_frame(&mut input, LIMITS, &budget, None).await,
            Err(FrameError::Http)
        ));
    }

    #[tokio::test]
    async fn a_tls_client_hello_is_recognised() {
        let budget = RequestBudget::new(1 << 20);
        let mut input: &[u8] = &[0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc];
        assert!(matches!(
            read_frame(&mut input, LIMITS, &budget, None).await,
            Err(FrameError::Tls)
        ));
    }

    #[tokio::test]
    async fn frames_are_length_prefixed_and_bounded() {
        let budget = RequestBudget::new(1 << 20);
        let mut input: &[u8] = &[0, 0, 0, 3, b'a', b'b', b'c', 0, 0, 0, 9];
        let frame = read_frame(&mut input, LIMITS, &budget, None)
            .await
            .expect("first frame")
            .expect("a frame");
        assert_eq!(&frame.body[..], b"abc");
        assert!(matches!(
            read_frame(&mut input, LIMITS, &budget, None).await,
            Err(FrameError::TooLarge { size: 9, max: 8 })
        ));
        let mut negative: &[u8] = &[0xff, 0xff, 0xff, 0xff];
        assert!(matches!(
            read_frame(&mut negative, LIMITS, &budget, None).await,
            Err(FrameError::NegativeLength { length: -1 })
        ));
        let mut empty: &[u8] = &[];
        assert!(read_frame(&mut empty, LIMITS, &budget, None)
            .await
            .expect("clean eof")
            .is_none());
        let mut torn: &[u8] = &[0, 0, 0, 5, 1, 2];
        assert!(matches!(
            read_frame(&mut torn, LIMITS, &budget, None).await,
            Err(FrameError::Io(_))
        ));
    }

    #[tokio::test]
    async fn a_frame_holds_its_bytes_of_the_budget_until_dropped() {
        let budget = RequestBudget::new(10);
        let mut input: &[u8] = &[0, 0, 0, 6, 1, 2, 3, 4, 5, 6, 0, 0, 0, 6, 1, 2, 3, 4, 5, 6];
        let first = read_frame(
            &mut input,
            FrameLimits {
                max_bytes: 8,
                ..LIMITS
            },
            &budget,
            None,
        )
        .await
        .expect("read")
        .expect("frame");
        assert_eq!(budget.available(), 4);
        // The second frame needs 6 bytes and only 4 are free: it waits, reading nothing.
        let second = read_frame(
            &mut input,
            FrameLimits {
                max_bytes: 8,
                ..LIMITS
            },
            &budget,
            None,
        );
        tokio::pin!(second);
        assert!(futures_poll_once(second.as_mut()).await.is_none());
        drop(first);
        let second = second.await.expect("read").expect("frame");
        assert_eq!(second.body.len(), 6);
        assert_eq!(budget.available(), 4);
    }

    #[tokio::test]
    async fn a_silent_client_is_idle_after_the_timeout() {
        let budget = RequestBudget::new(1 << 20);
        let (mut client, mut server) = tokio::io::duplex(64);
        let idle = Duration::from_millis(50);
        let read = within_deadline(read_frame(
            &mut server,
            FrameLimits { max_bytes: 8, idle },
            &budget,
            None,
        ))
        .await;
        assert!(matches!(read, Err(FrameError::Idle { .. })));
        // A client that stalls inside a frame is idle too.
        tokio::io::AsyncWriteExt::write_all(&mut client, &[0, 0, 0, 4, 1])
            .await
            .expect("write");
        let read = within_deadline(read_frame(
            &mut server,
            FrameLimits { max_bytes: 8, idle },
            &budget,
            None,
        ))
        .await;
        assert!(matches!(read, Err(FrameError::Idle { .. })));
    }

    /// `fut`'s output, or a test failure (not a hang) if it takes far longer than it should.
    async fn within_deadline<F: std::future::Future>(fut: F) -> F::Output {
        tokio::time::timeout(Duration::from_secs(30), fut)
            .await
            .expect("an idle client must be cut off, not waited for forever")
    }

    /// Polls `fut` once: `Some` if it completed, `None` if it is waiting.
    async fn futures_poll_once<F: std::future::Future + Unpin>(fut: F) -> Option<F::Output> {
        let mut fut = fut;
        std::future::poll_fn(|cx| {
            std::task::Poll::Ready(match std::pin::Pin::new(&mut fut).poll(cx) {
                std::task::Poll::Ready(v) => Some(v),
                std::task::Poll::Pending => None,
            })
        })
        .await
    }
}
