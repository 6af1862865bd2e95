"""
wsclient.py — a small WebSocket client (RFC 6455) for the integration
tests. Python 3 standard library only, over harness.Conn's socket.

    import wsclient

    ws = wsclient.connect(d.port, "/chat/r1/ws")      # fails unless 101
    ws.send_text("hello")
    kind, payload = ws.recv()                          # ("text", "...")
    ws.close()                                         # handshake, then EOF

    ws, resp = wsclient.WebSocket.open(d.port, "/counter/a/ws")
    # resp is the harness.Response; ws is None when resp.status != 101,
    # so a test can check a refused upgrade (4xx, 503, ...).

Sending: send_text / send_binary (fragment=N splits the message into
frames of at most N bytes, or a list of sizes), send_ping, send_pong,
send_close (code None: an empty close payload). Every frame a client sends
is masked, as the RFC requires; send_frame() builds any frame, including
wrong ones (mask=False, rsv bits, a reserved opcode, fin=False on a
control frame, a length header that lies, a 64-bit length with the top bit
set), and send_raw() sends bytes as they are.

Receiving: recv(timeout) returns one complete message as (kind, payload):
("text", str), ("binary", bytes), ("pong", bytes) or ("close", (code,
reason)) where code is None for an empty close payload. Fragments are
reassembled; pings are answered with a pong carrying the same payload
(counted in .pings; auto_pong=False to answer them yourself, then they are
returned as ("ping", bytes)). A close frame is answered with a close
echoing its code (reply_close=False to not), once. recv raises:
  Timeout        nothing complete arrived in time (partial state is kept);
  PeerClosed     the peer closed the TCP connection (or reset it);
  ProtocolError  the server broke the RFC (a masked frame, reserved bits,
                 bad opcode, a fragmented control frame, invalid UTF-8 in
                 a text message, a bad close payload).
recv_frame() returns single raw frames without any of that.
expect_close() reads until a close frame, wait_eof() until the TCP close.
"""

import base64
import hashlib
import os
import socket
import struct
import time

import harness

GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

OP_CONT, OP_TEXT, OP_BINARY = 0x0, 0x1, 0x2
OP_CLOSE, OP_PING, OP_PONG = 0x8, 0x9, 0xA
CONTROL = (OP_CLOSE, OP_PING, OP_PONG)
KNOWN = (OP_CONT, OP_TEXT, OP_BINARY) + CONTROL

DEFAULT_TIMEOUT = harness.IO_TIMEOUT


class WSError(harness.TestFailure):
    pass


class Timeout(WSError):
    pass


class PeerClosed(WSError):
    pass


class ProtocolError(WSError):
    pass


def accept_for(key):
    """The Sec-WebSocket-Accept a server must answer to key (a str)."""
    return base64.b64encode(hashlib.sha1(key.encode("ascii") + GUID).digest()).decode()


def mask_bytes(payload, mask):
    """payload XOR the 4-byte mask repeated (as one big integer: a Python
    loop over 32 MiB would take seconds)."""
    n = len(payload)
    if n == 0:
        return b""
    m = (mask * (n // 4 + 1))[:n]
    return (int.from_bytes(payload, "big") ^ int.from_bytes(m, "big")).to_bytes(n, "big")


def frame_bytes(opcode, payload=b"", fin=True, rsv=0, mask=True, mask_key=None,
                length=None):
    """One frame as bytes. length overrides the length field (a lie, or a
    value the payload does not have); rsv is the three RSV bits (0..7)."""
    if isinstance(payload, str):
        payload = payload.encode("utf-8")
    n = len(payload) if length is None else length
    head = bytes([(0x80 if fin else 0) | ((rsv & 7) << 4) | (opcode & 0xF)])
    mbit = 0x80 if mask else 0
    if n < 126:
        head += bytes([mbit | n])
    elif n < 1 << 16:
        head += bytes([mbit | 126]) + struct.pack("!H", n)
    else:
        head += bytes([mbit | 127]) + struct.pack("!Q", n)
    if not mask:
        return head + payload
    key = mask_key if mask_key is not None else os.urandom(4)
    return head + key + mask_bytes(payload, key)


def _chunks(data, fragment):
    """data split per fragment: an int (max frame size) or a list of sizes
    (the rest, if any, is one more frame)."""
    if fragment is None:
        return [data]
    if isinstance(fragment, int):
        if fragment <= 0:
            raise ValueError("fragment must be positive")
        return [data[i:i + fragment] for i in range(0, len(data), fragment)] or [b""]
    out, pos = [], 0
    for size in fragment:
        out.append(data[pos:pos + size])
        pos += size
    if pos < len(data):
        out.append(data[pos:])
    return out


class WebSocket:
    """A client connection after a 101. Build one with open() or connect()."""

    def __init__(self, conn, resp, path):
        self.conn = conn          # the harness.Conn: its socket and unread bytes
        self.sock = conn.sock
        self.response = resp      # the 101
        self.path = path
        self.auto_pong = True
        self.reply_close = True
        self.pings = 0            # pings received (and answered)
        self.close_sent = False
        self.close_received = None  # (code, reason) of the peer's close
        self.eof = False          # the peer closed TCP
        self._frag_op = None      # opcode of a fragmented message in progress
        self._frag = []

    # ------------------------------------------------------------ opening

    @classmethod
    def open(cls, port, path, headers=None, timeout=DEFAULT_TIMEOUT, key=None,
             host="127.0.0.1"):
        """Send the upgrade GET; returns (WebSocket or None, Response).
        headers adds to or overrides the upgrade headers (a None value
        drops one, e.g. {"Sec-WebSocket-Version": None}). With a 101 the
        answer must carry Upgrade: websocket, Connection: upgrade and the
        right Sec-WebSocket-Accept (else the test fails); with any other
        status the body is read and the socket closed."""
        key = key if key is not None else base64.b64encode(os.urandom(16)).decode()
        hdrs = {"Upgrade": "websocket", "Connection": "Upgrade",
                "Sec-WebSocket-Key": key, "Sec-WebSocket-Version": "13"}
        for k, v in (headers or {}).items():
            for old in [h for h in hdrs if h.lower() == k.lower()]:
                del hdrs[old]
            if v is not None:
                hdrs[k] = v
        conn = harness.Conn(port, host=host, timeout=timeout)
        try:
            conn.send(harness.build_request("GET", path, headers=hdrs))
            resp = conn.read_response("GET")
        except BaseException:
            conn.close()
            raise
        if resp.status != 101:
            conn.close()
            return None, resp
        try:
            cls._check_101(resp, key, path)
        except BaseException:
            conn.close()
            raise
        return cls(conn, resp, path), resp

    @staticmethod
    def _check_101(resp, key, path):
        up = (resp.header("Upgrade") or "").lower()
        conn = [t.strip().lower() for t in (resp.header("Connection") or "").split(",")]
        harness.check(up == "websocket",
                      f"GET {path}: 101 with Upgrade {resp.header('Upgrade')!r}: {resp.headers}")
        harness.check("upgrade" in conn,
                      f"GET {path}: 101 with Connection {resp.header('Connection')!r}")
        got = resp.header("Sec-WebSocket-Accept")
        harness.check(got == accept_for(key),
                      f"GET {path}: Sec-WebSocket-Accept {got!r}, expected {accept_for(key)!r}")

    # ------------------------------------------------------------ sending

    def send_raw(self, data):
        self.sock.sendall(data)

    def send_frame(self, opcode, payload=b"", fin=True, rsv=0, mask=True,
                   mask_key=None, length=None):
        self.send_raw(frame_bytes(opcode, payload, fin, rsv, mask, mask_key, length))

    def _send_message(self, opcode, data, fragment):
        parts = _chunks(data, fragment)
        out = b""
        for i, part in enumerate(parts):
            out += frame_bytes(opcode if i == 0 else OP_CONT, part,
                               fin=i == len(parts) - 1)
        self.send_raw(out)

    def send_text(self, text, fragment=None):
        """A text message (str, or bytes sent as they are: invalid UTF-8
        for a test)."""
        data = text.encode("utf-8") if isinstance(text, str) else bytes(text)
        self._send_message(OP_TEXT, data, fragment)

    def send_binary(self, data, fragment=None):
        self._send_message(OP_BINARY, bytes(data), fragment)

    def send_ping(self, payload=b""):
        self.send_frame(OP_PING, payload)

    def send_pong(self, payload=b""):
        self.send_frame(OP_PONG, payload)

    def send_close(self, code=1000, reason=""):
        """Start (or answer) the close handshake; code None sends an empty
        payload (the peer then reports 1005)."""
        payload = b"" if code is None else struct.pack("!H", code) + reason.encode("utf-8")
        self.close_sent = True
        self.send_frame(OP_CLOSE, payload)

    # ---------------------------------------------------------- receiving

    def _fill(self, deadline):
        left = deadline - time.monotonic()
        if left <= 0:
            raise Timeout("no complete WebSocket frame in time "
                          f"({len(self.conn.buf)} bytes buffered)")
        self.sock.settimeout(left)
        try:
            data = self.sock.recv(1 << 20)
        except socket.timeout:
            raise Timeout("no complete WebSocket frame in time "
                          f"({len(self.conn.buf)} bytes buffered)") from None
        except (ConnectionResetError, BrokenPipeError) as e:
            self.eof = True
            raise PeerClosed(f"connection reset by the server ({e})") from None
        if not data:
            self.eof = True
            raise PeerClosed("the server closed the connection"
                             + (f" ({len(self.conn.buf)} bytes of a frame unread)"
                                if self.conn.buf else ""))
        self.conn.buf += data

    def _take(self, n, deadline):
        while len(self.conn.buf) < n:
            self._fill(deadline)
        data, self.conn.buf = self.conn.buf[:n], self.conn.buf[n:]
        return data

    def recv_frame(self, timeout=DEFAULT_TIMEOUT):
        """One raw frame: (fin, rsv, opcode, masked, payload), unmasked.
        Nothing is checked or answered. Bytes are consumed only once a
        whole frame is here, so a Timeout loses nothing."""
        deadline = time.monotonic() + timeout
        while True:
            f = self._parse()
            if f is not None:
                return f
            self._fill(deadline)

    def _parse(self):
        b = self.conn.buf
        if len(b) < 2:
            return None
        fin, rsv, op = b[0] >> 7, (b[0] >> 4) & 7, b[0] & 0xF
        masked, n, pos = b[1] >> 7, b[1] & 0x7F, 2
        if n == 126:
            if len(b) < 4:
                return None
            n, pos = struct.unpack("!H", b[2:4])[0], 4
        elif n == 127:
            if len(b) < 10:
                return None
            n, pos = struct.unpack("!Q", b[2:10])[0], 10
        key = b""
        if masked:
            if len(b) < pos + 4:
                return None
            key, pos = b[pos:pos + 4], pos + 4
        if len(b) < pos + n:
            return None
        payload = b[pos:pos + n]
        self.conn.buf = b[pos + n:]
        if masked:
            payload = mask_bytes(payload, key)
        return fin, rsv, op, bool(masked), payload

    def _check_frame(self, fin, rsv, op, masked, payload):
        where = f"ws {self.path}"
        if masked:
            raise ProtocolError(f"{where}: the server sent a masked frame (opcode {op})")
        if rsv:
            raise ProtocolError(f"{where}: the server set reserved bits {rsv:03b} (opcode {op})")
        if op not in KNOWN:
            raise ProtocolError(f"{where}: the server sent reserved opcode {op:#x}")
        if op in CONTROL and (not fin or len(payload) > 125):
            raise ProtocolError(f"{where}: bad control frame (opcode {op}, fin {fin}, "
                                f"{len(payload)} bytes)")
        if op == OP_CONT and self._frag_op is None:
            raise ProtocolError(f"{where}: a continuation frame with no message started")
        if op in (OP_TEXT, OP_BINARY) and self._frag_op is not None:
            raise ProtocolError(f"{where}: a new message inside a fragmented one")

    @staticmethod
    def _parse_close(payload):
        if len(payload) == 0:
            return None, ""
        if len(payload) == 1:
            raise ProtocolError("a close frame with a 1-byte payload")
        code = struct.unpack("!H", payload[:2])[0]
        try:
            reason = payload[2:].decode("utf-8")
        except UnicodeDecodeError:
            raise ProtocolError(f"close reason is not UTF-8: {payload[2:]!r}") from None
        return code, reason

    def _message(self, op, data):
        if op == OP_TEXT:
            try:
                return "text", data.decode("utf-8")
            except UnicodeDecodeError:
                raise ProtocolError(f"ws {self.path}: a text message that is not "
                                    f"UTF-8: {data[:80]!r}") from None
        return "binary", data

    def recv(self, timeout=DEFAULT_TIMEOUT):
        """One complete message or control frame (see the module doc)."""
        deadline = time.monotonic() + timeout
        while True:
            fin, rsv, op, masked, payload = self.recv_frame(
                max(0.0, deadline - time.monotonic()))
            self._check_frame(fin, rsv, op, masked, payload)
            if op == OP_PING:
                self.pings += 1
                if not self.auto_pong:
                    return "ping", payload
                if not self.close_sent:
                    self.send_pong(payload)
                continue
            if op == OP_PONG:
                return "pong", payload
            if op == OP_CLOSE:
                self.close_received = self._parse_close(payload)
                if self.reply_close and not self.close_sent:
                    code = self.close_received[0]
                    with _suppress_oserror():
                        self.send_close(code if code not in (None, 1005, 1006, 1015) else None)
                return "close", self.close_received
            if op == OP_CONT:
                self._frag.append(payload)
                if not fin:
                    continue
                op, data = self._frag_op, b"".join(self._frag)
                self._frag_op, self._frag = None, []
                return self._message(op, data)
            if not fin:
                self._frag_op, self._frag = op, [payload]
                continue
            return self._message(op, payload)

    def recv_text(self, timeout=DEFAULT_TIMEOUT):
        """The next message, which must be text (pongs are skipped)."""
        while True:
            kind, payload = self.recv(timeout)
            if kind == "pong":
                continue
            harness.check(kind == "text", f"ws {self.path}: expected a text message, "
                                          f"got {kind} {payload!r:.200}")
            return payload

    def expect_nothing(self, seconds):
        """Check that no message arrives for seconds (pings answered, pongs
        skipped). For "this must not be sent" checks only: a bounded wait
        with nothing to wait for."""
        deadline = time.monotonic() + seconds
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return
            try:
                kind, payload = self.recv(left)
            except Timeout:
                return
            if kind != "pong":
                harness.fail(f"ws {self.path}: expected nothing, got {kind} {payload!r:.200}")

    def expect_close(self, code=None, timeout=DEFAULT_TIMEOUT):
        """Read until the peer's close frame; returns ((code, reason),
        [messages before it]). With code given, the close must carry it.
        A TCP close without a close frame fails."""
        seen = []
        while True:
            try:
                kind, payload = self.recv(timeout)
            except PeerClosed as e:
                harness.fail(f"ws {self.path}: the connection ended without a close "
                             f"frame ({e}); messages before: {seen[:5]!r:.300}")
            if kind == "close":
                if code is not None:
                    harness.check(payload[0] == code,
                                  f"ws {self.path}: close code {payload[0]} "
                                  f"(reason {payload[1]!r}), expected {code}")
                return payload, seen
            seen.append((kind, payload))

    def wait_eof(self, timeout=DEFAULT_TIMEOUT):
        """True once the server has closed TCP (anything it still sends is
        dropped), False at the deadline."""
        deadline = time.monotonic() + timeout
        while not self.eof:
            self.conn.buf = b""
            try:
                self._fill(deadline)
            except PeerClosed:
                return True
            except Timeout:
                return False
        return True

    def close(self, code=1000, reason="", timeout=5.0):
        """The client's close handshake: send close, read to the server's
        close and its TCP close (quietly, within timeout), then close the
        socket. Returns the server's (code, reason) or None."""
        with _suppress_oserror():
            if not self.close_sent and not self.eof:
                self.send_close(code, reason)
            if self.close_received is None and not self.eof:
                deadline = time.monotonic() + timeout
                while self.close_received is None:
                    self.recv(max(0.0, deadline - time.monotonic()))
            if not self.eof:
                self.wait_eof(timeout)
        self.conn.close()
        return self.close_received

    def abort(self):
        """Drop the TCP connection without a close frame (the server sees
        1006)."""
        self.conn.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.conn.close()
        return False


class _suppress_oserror:
    """Ignore socket errors and WSError (a best-effort close)."""

    def __enter__(self):
        return self

    def __exit__(self, etype, exc, tb):
        return etype is not None and issubclass(etype, (OSError, WSError))


def connect(port, path, headers=None, timeout=DEFAULT_TIMEOUT, conns=None):
    """Open a WebSocket; fails the test unless the answer is 101. conns: a
    list to append it to (closed by the caller)."""
    ws, resp = WebSocket.open(port, path, headers=headers, timeout=timeout)
    harness.check(ws is not None, f"GET {path} (upgrade): expected 101, got {resp!r}")
    if conns is not None:
        conns.append(ws)
    return ws
