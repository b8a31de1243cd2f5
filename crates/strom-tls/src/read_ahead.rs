//! The socket under a TLS connection, read in large chunks while a large request arrives.
//!
//! rustls asks its socket for a few KiB at a time (one record, 16 KiB of plaintext at most,
//! per `read_tls`), so a 1 MiB request over TLS costs some 70 `recvfrom` calls and as many
//! task wake-ups where plaintext TCP costs 2 or 3. [`ReadAhead`] sits between the TCP stream
//! and rustls: while the reader of the plaintext says (through [`ExpectedBytes`]) that it
//! waits for at least [`BATCH_FROM`] more bytes of one request, the socket is read into one
//! [`BUFFER`]-sized buffer and rustls is served from it, and `SO_RCVLOWAT` asks the kernel
//! not to wake the task before most of those bytes are there. Small requests read straight
//! from the socket as before (no copy, no buffer).
//!
//! `SO_RCVLOWAT` never stalls a connection: it is set, just before the socket is read, to
//! the plaintext still missing less one whole TLS record ([`MAX_RECORD`]), capped at
//! [`MAX_LOWAT`]. rustls reads the socket only when it holds no plaintext, so at that moment
//! the only bytes of the request not yet on the socket's queue or past it are at most one
//! incomplete record in rustls's deframer, and ciphertext is never shorter than its
//! plaintext: a client that sends its whole request sends at least the low-water mark. A
//! client that stops half-way is cut off by the idle timeout as before, and a closed
//! connection wakes the reader regardless of the mark. Between requests the mark is 1.

use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{ready, Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;

/// Requests with at least this many bytes still to come are read through the buffer.
pub const BATCH_FROM: usize = 32 * 1024;
/// The read-ahead buffer, allocated on the connection's first large request and kept.
pub const BUFFER: usize = 128 * 1024;
/// Largest `SO_RCVLOWAT` set (the kernel also caps it at half the receive buffer).
pub const MAX_LOWAT: usize = 256 * 1024;
/// Largest TLS record on the wire: header, 16 KiB of plaintext and the largest expansion
/// TLS 1.2 allows (rustls's `MAX_WIRE_SIZE`).
pub const MAX_RECORD: usize = 5 + 16 * 1024 + 2048;

/// How many plaintext bytes of the current request the reader still waits for (0 between
/// requests). The frame reader sets it; [`ReadAhead`] reads it before each socket read.
#[derive(Debug, Clone, Default)]
pub struct ExpectedBytes(Arc<AtomicUsize>);

impl ExpectedBytes {
    pub fn set(&self, plaintext_bytes: usize) {
        self.0.store(plaintext_bytes, Ordering::Relaxed);
    }

    fn get(&self) -> usize {
        self.0.load(Ordering::Relaxed)
    }
}

/// A TCP stream whose reads are batched while a large request arrives (see the module doc).
/// Writes go straight to the stream.
#[derive(Debug)]
pub struct ReadAhead {
    stream: TcpStream,
    expected: ExpectedBytes,
    buf: Vec<u8>,
    start: usize,
    end: usize,
    /// The `SO_RCVLOWAT` in force (1 is the kernel's default).
    lowat: usize,
}

impl ReadAhead {
    /// Wraps `stream`; `expected` is the handle the plaintext reader updates.
    pub fn new(stream: TcpStream, expected: ExpectedBytes) -> ReadAhead {
        ReadAhead {
            stream,
            expected,
            buf: Vec::new(),
            start: 0,
            end: 0,
            lowat: 1,
        }
    }

    /// Sets `SO_RCVLOWAT` when it changes. Lowering it wakes the task if the bytes already
    /// queued reach the new mark (the kernel checks on every change), so no wake-up is lost.
    fn set_lowat(&mut self, lowat: usize) {
        if lowat == self.lowat {
            return;
        }
        // Whether it took or not, it is not retried for every read.
        self.lowat = lowat;
        if let Err(err) = set_rcvlowat(&self.stream, lowat) {
            tracing::debug!(error = %err, "cannot set SO_RCVLOWAT");
        }
    }
}

/// The low-water mark while `expected` plaintext bytes of a request are still to come.
fn lowat_for(expected: usize) -> usize {
    expected.saturating_sub(MAX_RECORD).clamp(1, MAX_LOWAT)
}

#[cfg(target_os = "linux")]
fn set_rcvlowat(stream: &TcpStream, lowat: usize) -> io::Result<()> {
    use std::os::fd::AsRawFd;
    let value = libc::c_int::try_from(lowat).unwrap_or(libc::c_int::MAX);
    // SAFETY: the descriptor is the live socket `stream` owns, and the option value is a
    // c_int of the size passed.
    let rc = unsafe {
        libc::setsockopt(
            stream.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_RCVLOWAT,
            std::ptr::from_ref(&value).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

#[cfg(not(target_os = "linux"))]
fn set_rcvlowat(_stream: &TcpStream, _lowat: usize) -> io::Result<()> {
    Ok(())
}

impl AsyncRead for ReadAhead {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        out: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if this.start == this.end {
            let expected = this.expected.get();
            if expected < BATCH_FROM {
                this.set_lowat(1);
                return Pin::new(&mut this.stream).poll_read(cx, out);
            }
            this.set_lowat(lowat_for(expected));
            if this.buf.is_empty() {
                this.buf = vec![0; BUFFER];
            }
            let mut chunk = ReadBuf::new(&mut this.buf);
            ready!(Pin::new(&mut this.stream).poll_read(cx, &mut chunk))?;
            this.start = 0;
            this.end = chunk.filled().len();
        }
        let n = out.remaining().min(this.end - this.start);
        out.put_slice(&this.buf[this.start..this.start + n]);
        this.start += n;
        Poll::Ready(Ok(()))
    }
}

impl AsyncWrite for ReadAhead {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().stream).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().stream).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_shutdown(cx)
    }
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::*;
    use std::os::fd::AsRawFd;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    fn rcvlowat(stream: &TcpStream) -> usize {
        let mut value: libc::c_int = 0;
        let mut len = std::mem::size_of::<libc::c_int>() as libc::socklen_t;
        // SAFETY: a live socket, and a c_int with its size for the kernel to fill.
        let rc = unsafe {
            libc::getsockopt(
                stream.as_raw_fd(),
                libc::SOL_SOCKET,
                libc::SO_RCVLOWAT,
                std::ptr::from_mut(&mut value).cast(),
                &mut len,
            )
        };
        assert_eq!(rc, 0, "{}", io::Error::last_os_error());
        usize::try_from(value).expect("non-negative")
    }

    #[test]
    fn the_mark_leaves_room_for_one_record_and_is_capped() {
        assert_eq!(lowat_for(0), 1);
        assert_eq!(lowat_for(MAX_RECORD + 1), 1);
        assert_eq!(lowat_for(MAX_RECORD + 1000), 1000);
        assert_eq!(lowat_for(64 << 20), MAX_LOWAT);
    }

    /// A large request's bytes come through whole while the mark is up, the mark follows
    /// what is still expected, and it is back at 1 for the next small request.
    #[tokio::test]
    async fn large_requests_are_read_whole_and_the_mark_comes_down_after() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let mut client = TcpStream::connect(listener.local_addr().expect("addr"))
            .await
            .expect("connect");
        let (server, _) = listener.accept().await.expect("accept");
        let expected = ExpectedBytes::default();
        let mut reader = ReadAhead::new(server, expected.clone());
        let request: Vec<u8> = (0..600_000u32).map(|i| (i % 251) as u8).collect();
        let (read_whole, next_request) = tokio::sync::oneshot::channel::<()>();
        let sender = tokio::spawn(async move {
            for chunk in request.chunks(100_000) {
                client.write_all(chunk).await.expect("write");
                tokio::time::sleep(std::time::Duration::from_millis(20)).await;
            }
            next_request.await.expect("signal");
            client.write_all(b"next").await.expect("write");
            client
        });
        let mut body = vec![0u8; 600_000];
        let mut filled = 0;
        while filled < body.len() {
            expected.set(body.len() - filled);
            let n = reader.read(&mut body[filled..]).await.expect("read");
            assert!(n > 0, "early end of stream");
            if filled == 0 {
                assert_eq!(rcvlowat(&reader.stream), MAX_LOWAT);
            }
            filled += n;
        }
        assert!(body.iter().enumerate().all(|(i, b)| *b == (i % 251) as u8));
        expected.set(0);
        read_whole.send(()).expect("sender waits");
        let mut next = [0u8; 4];
        reader.read_exact(&mut next).await.expect("next request");
        assert_eq!(&next, b"next");
        assert_eq!(rcvlowat(&reader.stream), 1);
        drop(sender.await.expect("sender"));
    }
}
