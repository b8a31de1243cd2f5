"""A minimal HTTP/2 client over a raw socket (h2c with prior knowledge), built on the `h2`
protocol library, so tests control every frame: complete requests, keep-alive pings answered
or not, and raw bytes (a header block that never completes)."""

import socket
import struct

import h2.config
import h2.connection
import h2.events
import h2.exceptions


class H2:
    def __init__(self, port, source="127.0.0.1", timeout=10.0):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout, source_address=(source, 0))
        self.conn = h2.connection.H2Connection(h2.config.H2Configuration(client_side=True, header_encoding="utf-8"))
        self.conn.initiate_connection()
        self.flush()
        self.closed = False

    def flush(self):
        data = self.conn.data_to_send()
        if data:
            self.sock.sendall(data)

    def close(self):
        self.sock.close()

    def request(self, method, path, body=b"", headers=()):
        """Sends one request and returns (status, headers dict, body) once its stream ends."""
        stream = self.conn.get_next_available_stream_id()
        head = [(":method", method), (":path", path), (":scheme", "http"), (":authority", "x")]
        head += list(headers)
        if body:
            head.append(("content-length", str(len(body))))
        self.conn.send_headers(stream, head, end_stream=not body)
        sent = 0
        while sent < len(body):
            window = self.conn.local_flow_control_window(stream)
            chunk = min(window, self.conn.max_outbound_frame_size, len(body) - sent)
            if chunk == 0:
                self.flush()
                self.pump(lambda events: None)
                continue
            self.conn.send_data(stream, body[sent:sent + chunk], end_stream=sent + chunk == len(body))
            sent += chunk
        self.flush()
        status, response_headers, data = None, {}, b""
        done = False

        def on(events):
            nonlocal status, response_headers, data, done
            for event in events:
                if isinstance(event, h2.events.ResponseReceived) and event.stream_id == stream:
                    response_headers = dict(event.headers)
                    status = int(response_headers[":status"])
                elif isinstance(event, h2.events.DataReceived) and event.stream_id == stream:
                    data += event.data
                    self.conn.acknowledge_received_data(event.flow_controlled_length, stream)
                elif isinstance(event, (h2.events.StreamEnded, h2.events.StreamReset)) and event.stream_id == stream:
                    done = True

        while not done:
            if not self.pump(on):
                raise ConnectionError(f"connection closed before the response (status {status})")
        return status, response_headers, data

    def pump(self, on_events):
        """Reads once, answers what h2 answers by itself (pings, settings); False at EOF."""
        try:
            chunk = self.sock.recv(65536)
        except (ConnectionResetError, BrokenPipeError):
            chunk = b""
        if not chunk:
            self.closed = True
            return False
        try:
            events = self.conn.receive_data(chunk)
        except h2.exceptions.ProtocolError:
            # Frames after the server's GOAWAY (a ping, say): read on until it closes.
            return True
        on_events(events)
        self.flush()
        return True

    def wait_closed(self, deadline_s):
        """Keeps the connection alive from the client's side (answering pings) until the
        server closes it; False if it is still open after `deadline_s`."""
        self.sock.settimeout(deadline_s)
        try:
            while self.pump(lambda events: None):
                pass
        except socket.timeout:
            return False
        return True


def frame_head(length, kind, flags, stream):
    """The 9-byte header of an HTTP/2 frame (RFC 9113 section 4.1)."""
    return struct.pack(">I", length)[1:] + bytes([kind, flags]) + struct.pack(">I", stream)
