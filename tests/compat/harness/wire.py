"""A few Kafka requests spoken directly, for what clients do not expose.

Used for: broker readiness (an ApiVersions answer, not just an open port),
for seeing which compression codec the stored record batches actually carry
(clients hide that; some silently send uncompressed batches), and for the
group requests of harness/group_wire.py.

Non-flexible request versions (request header v1, response header v0):
ApiVersions v0 and Fetch v4 here, which Kafka 4.x still serves.
request_flexible sends header v2 and reads response header v1, for APIs
that exist only in flexible versions (ConsumerGroupHeartbeat).
"""

import socket
import struct

API_FETCH = 1
API_API_VERSIONS = 18

CODEC_NAMES = {0: "none", 1: "gzip", 2: "snappy", 3: "lz4", 4: "zstd"}


def free_port():
    """A loopback TCP port that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def port_accepts(port, timeout=1.0):
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout):
            return True
    except OSError:
        return False


class _Reader:
    def __init__(self, data):
        self.data = data
        self.pos = 0

    def take(self, fmt):
        values = struct.unpack_from(fmt, self.data, self.pos)
        self.pos += struct.calcsize(fmt)
        return values if len(values) > 1 else values[0]

    def string(self):
        length = self.take(">h")
        if length < 0:
            return None
        value = self.data[self.pos:self.pos + length].decode()
        self.pos += length
        return value

    def raw(self, length):
        value = self.data[self.pos:self.pos + length]
        self.pos += length
        return value


def _string(value):
    encoded = value.encode()
    return struct.pack(">h", len(encoded)) + encoded


def _recv_exactly(sock, length):
    chunks = []
    while length:
        chunk = sock.recv(min(length, 1 << 20))
        if not chunk:
            raise ConnectionError("broker closed the connection")
        chunks.append(chunk)
        length -= len(chunk)
    return b"".join(chunks)


def _round_trip(port, header, body, timeout, correlation_id):
    """Sends header + body as one size-prefixed request and returns the whole
    response after checking its correlation id."""
    payload = header + body
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.settimeout(timeout)
        sock.sendall(struct.pack(">i", len(payload)) + payload)
        size = struct.unpack(">i", _recv_exactly(sock, 4))[0]
        response = _recv_exactly(sock, size)
    got = struct.unpack_from(">i", response)[0]
    if got != correlation_id:
        raise ValueError(f"correlation id {got}, expected {correlation_id}")
    return response


def request(port, api_key, api_version, body, timeout=10.0, correlation_id=7):
    """Sends one request (header v1) and returns the response body (header v0)."""
    header = struct.pack(">hhi", api_key, api_version, correlation_id) + _string("floe-compat")
    return _round_trip(port, header, body, timeout, correlation_id)[4:]


def request_flexible(port, api_key, api_version, body, timeout=10.0, correlation_id=7):
    """Sends one request with header v2 (empty tagged fields) and returns the
    response body after header v1 (correlation id, tagged fields)."""
    header = (struct.pack(">hhi", api_key, api_version, correlation_id) +
              _string("floe-compat") + b"\x00")
    response = _round_trip(port, header, body, timeout, correlation_id)
    if response[4] != 0:
        raise ValueError("response header carries tagged fields")
    return response[5:]


def api_versions(port, timeout=5.0):
    """ApiVersions v0: {api_key: (min_version, max_version)}."""
    reader = _Reader(request(port, API_API_VERSIONS, 0, b"", timeout=timeout))
    error = reader.take(">h")
    if error != 0:
        raise ValueError(f"ApiVersions error code {error}")
    versions = {}
    for _ in range(reader.take(">i")):
        key, low, high = reader.take(">hhh")
        versions[key] = (low, high)
    return versions


def stored_codecs(port, topic, partitions, max_bytes=1 << 16, timeout=10.0):
    """Which codecs the first record batches of each partition carry.

    Fetch v4 from offset 0 of every partition; returns {partition: codec name}
    for the first batch of each partition that has one (a partition holding
    nothing is left out).
    """
    parts = b"".join(struct.pack(">iqi", p, 0, max_bytes) for p in partitions)
    body = (struct.pack(">iiiib", -1, 500, 1, max_bytes * len(partitions), 0)
            + struct.pack(">i", 1) + _string(topic) + struct.pack(">i", len(partitions)) + parts)
    reader = _Reader(request(port, API_FETCH, 4, body, timeout=timeout))
    reader.take(">i")  # throttle_time_ms
    found = {}
    for _ in range(reader.take(">i")):
        reader.string()
        for _ in range(reader.take(">i")):
            partition, error = reader.take(">ih")
            reader.take(">qq")  # high watermark, last stable offset
            aborted = reader.take(">i")
            for _ in range(max(aborted, 0)):
                reader.take(">qq")
            size = reader.take(">i")
            records = reader.raw(max(size, 0))
            if error != 0:
                raise ValueError(f"Fetch of {topic}-{partition}: error code {error}")
            # Record batch v2: base offset (8), length (4), leader epoch (4),
            # magic (1), crc (4), attributes (2); codec in attributes' low 3 bits.
            if len(records) >= 23:
                magic = records[16]
                attributes = struct.unpack_from(">h", records, 21)[0]
                found[partition] = CODEC_NAMES.get(attributes & 7, "?") if magic == 2 \
                    else f"magic{magic}"
    return found
