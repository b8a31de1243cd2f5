"""A small TCP proxy for fault injection between Strom and an object store (moto_server), on
loopback. It runs an asyncio loop on its own thread; `set_mode` switches what it does to new
and open connections:

- `pass`:  forwards both ways;
- `down`:  refuses connections (the listening socket is closed) and cuts the open ones;
- `slow`:  forwards in pieces of `piece` bytes, sleeping `delay` seconds before each;
- `503`:   answers `503 Service Unavailable` (an S3 `SlowDown` error) without forwarding, to
           every request, or only to those whose request line matches one of `only` (regular
           expressions, e.g. `("PUT .*\\.timeindex", "DELETE ")`), forwarding the others;
- `cut`:   forwards at most `cut_after` bytes each way per connection, then cuts it (uploads
           and ranged reads larger than that die mid-body).

It also follows the requests it forwards (the request line of each HTTP/1.1 request Strom
sends: Strom's object-store client never pipelines), so a test can wait until an upload is in
flight: `puts_in_flight()` lists the PUT/POST requests whose answer has not started yet.
"""

import asyncio
import re
import socket
import threading


class _Conn:
    def __init__(self, proxy):
        self.proxy = proxy
        self.request = None  # the request line whose answer has not started yet
        self.sent = 0
        self.received = 0
        self.writers = []

    def close(self):
        for w in self.writers:
            try:
                w.transport.abort()
            except Exception:  # noqa: BLE001  (already closed)
                pass


class FaultProxy:
    def __init__(self, upstream_port, piece=8192, delay=0.05, cut_after=4096):
        self.upstream = ("127.0.0.1", upstream_port)
        self.mode = "pass"
        self.only = None
        self.piece, self.delay, self.cut_after = piece, delay, cut_after
        self.conns = set()
        self.requests = []  # every request line seen, in order
        self.loop = asyncio.new_event_loop()
        self.server = None
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        self.port = sock.getsockname()[1]
        sock.close()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self._call(self._listen())

    @property
    def url(self):
        return f"http://127.0.0.1:{self.port}"

    def _call(self, coro, timeout=10):
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    async def _listen(self):
        if self.server is None:
            self.server = await asyncio.start_server(self._serve, "127.0.0.1", self.port,
                                                     reuse_address=True)

    async def _set(self, mode, kwargs):
        for k, v in kwargs.items():
            setattr(self, k, v)
        self.mode = mode
        if mode == "down":
            if self.server is not None:
                self.server.close()
                self.server = None
            for c in list(self.conns):
                c.close()
        else:
            await self._listen()

    def set_mode(self, mode, **kwargs):
        assert mode in ("pass", "down", "slow", "503", "cut"), mode
        kwargs.setdefault("only", None)
        self._call(self._set(mode, kwargs))

    def _rejects(self, line):
        return self.mode == "503" and (self.only is None or
                                       any(re.search(p, line) for p in self.only))

    def puts_in_flight(self):
        return [c.request for c in list(self.conns)
                if c.request and c.request.split(" ", 1)[0] in ("PUT", "POST")]

    def close(self):
        self.set_mode("down")
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)

    async def _serve(self, reader, writer):
        conn = _Conn(self)
        conn.writers.append(writer)
        self.conns.add(conn)
        try:
            up_reader, up_writer = await asyncio.open_connection(*self.upstream)
            conn.writers.append(up_writer)
            await asyncio.gather(self._pump(conn, reader, up_writer, True),
                                 self._pump(conn, up_reader, writer, False))
        except (OSError, asyncio.IncompleteReadError):
            pass
        finally:
            self.conns.discard(conn)
            conn.close()

    async def _answer_503(self, conn, first, reader):
        """Reads the rest of the request that starts with `first` (head and Content-Length
        body), answers 503 and closes the connection."""
        head = first
        while b"\r\n\r\n" not in head:
            more = await reader.read(65536)
            if not more:
                return
            head += more
        head, body = head.split(b"\r\n\r\n", 1)
        length = 0
        for h in head.split(b"\r\n")[1:]:
            name, _, value = h.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value.strip())
        while len(body) < length:
            more = await reader.read(65536)
            if not more:
                return
            body += more
        writer = conn.writers[0]
        body = (b'<?xml version="1.0" encoding="UTF-8"?><Error><Code>SlowDown</Code>'
                b"<Message>Please reduce your request rate.</Message></Error>")
        writer.write(b"HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/xml\r\n"
                     b"Content-Length: " + str(len(body)).encode() + b"\r\n"
                     b"Connection: close\r\n\r\n" + body)
        await writer.drain()
        conn.close()

    async def _pump(self, conn, src, dst, upstream):
        while True:
            size = self.piece if self.mode == "slow" else 65536
            data = await src.read(size)
            if not data:
                break
            if upstream and data[:8].split(b" ", 1)[0] in (b"GET", b"PUT", b"POST", b"HEAD",
                                                          b"DELETE"):
                line = data.split(b"\r\n", 1)[0].decode(errors="replace")
                conn.request = line
                self.requests.append(line)
                if self._rejects(line):
                    await self._answer_503(conn, data, src)
                    return
            elif not upstream:
                conn.request = None
            if self.mode == "slow":
                await asyncio.sleep(self.delay)
            if self.mode == "cut":
                done = conn.sent if upstream else conn.received
                if done + len(data) > self.cut_after:
                    dst.write(data[: max(0, self.cut_after - done)])
                    await dst.drain()
                    conn.close()
                    return
            if self.mode == "down":
                conn.close()
                return
            if upstream:
                conn.sent += len(data)
            else:
                conn.received += len(data)
            dst.write(data)
            await dst.drain()
        try:
            dst.write_eof()
        except OSError:
            pass
