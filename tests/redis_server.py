"""A throwaway real redis-server for tests: free loopback port, temp dir, no persistence.

Tests of sessions, refresh locks and multi-worker behaviour need the real thing
(Lua scripts, PX expiry, several clients), not a fake.

    with RedisServer() as server:
        store = RedisStore(server.uri)
        server.stop()   # simulate an outage
        server.start()  # back on the same port
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import ssl
import subprocess
import tempfile
import time
from dataclasses import dataclass
from types import TracebackType

from tests.processes import stop

REDIS_SERVER = shutil.which("redis-server") or "/usr/bin/redis-server"


def redis_available() -> bool:
    """Whether a redis-server binary is installed (tests skip without one)."""
    return shutil.which("redis-server") is not None


def _free_port() -> int:
    """A port the kernel just handed out on loopback (free now; retried if taken later)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _pings(port: int, timeout: float = 0.5, password: str | None = None) -> bool:
    """One raw RESP PING (after AUTH when a password is set), so this helper needs no client."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
            if password:
                s.sendall(f"AUTH {password}\r\n".encode())
                if not s.recv(64).startswith(b"+OK"):
                    return False
            s.sendall(b"PING\r\n")
            return s.recv(64).startswith(b"+PONG")
    except OSError:
        return False


def _pings_tls(port: int, ca: str, timeout: float = 0.5) -> bool:
    """PING over TLS, verifying the server's certificate against the test CA."""
    context = ssl.create_default_context(cafile=ca)
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout) as raw:
            with context.wrap_socket(raw, server_hostname="127.0.0.1") as s:
                s.sendall(b"PING\r\n")
                return s.recv(64).startswith(b"+PONG")
    except OSError:
        return False


@dataclass(frozen=True)
class TlsFiles:
    """PEM paths of a test CA and a server certificate it signed (see tests/tls.py)."""

    ca: str
    cert: str
    key: str


class RedisServer:
    """Context manager around one redis-server process; `.uri` is `redis://127.0.0.1:N/0`."""

    host = "127.0.0.1"

    def __init__(
        self,
        port: int | None = None,
        *,
        start_timeout: float = 10.0,
        appendonly: bool = False,
        password: str | None = None,
        tls: TlsFiles | None = None,
        extra_args: list[str] | None = None,
    ) -> None:
        self.port: int | None = port
        self.start_timeout = start_timeout
        #: Persist to an append-only file in `dir`, so a restart keeps keys (and locks).
        self.appendonly = appendonly
        self.password = password
        self.tls = tls
        self.extra_args = list(extra_args or [])
        self.dir = tempfile.mkdtemp(prefix="redis-test-")
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def uri(self) -> str:
        """`redis://[:password@]127.0.0.1:N/0`, or `rediss://...` with TLS on."""
        if self.port is None:
            raise RuntimeError("RedisServer not started")
        scheme = "rediss" if self.tls else "redis"
        auth = f":{self.password}@" if self.password else ""
        return f"{scheme}://{auth}{self.host}:{self.port}/0"

    def _config_args(self, port: int) -> list[str]:
        """Password, TLS and caller-given directives (e.g. `--replicaof`)."""
        args: list[str] = []
        if self.password:
            args += ["--requirepass", self.password, "--masterauth", self.password]
        if self.tls:
            args += [
                "--port", "0", "--tls-port", str(port),
                "--tls-cert-file", self.tls.cert, "--tls-key-file", self.tls.key,
                "--tls-ca-cert-file", self.tls.ca, "--tls-auth-clients", "no",
            ]
        return args + self.extra_args

    def _ready(self, port: int) -> bool:
        if self.tls:
            return _pings_tls(port, self.tls.ca)
        return _pings(port, password=self.password)

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def start(self) -> RedisServer:
        """Start (again on the same port if it ran before); returns once it answers PING."""
        if self.running:
            return self
        attempts = 1 if self.port is not None else 3  # a fresh port may be grabbed by a race
        last_error = ""
        for _ in range(attempts):
            port = self.port if self.port is not None else _free_port()
            error = self._spawn(port)
            if error is None:
                self.port = port
                return self
            last_error = error
        raise RuntimeError(f"redis-server did not start: {last_error}")

    def _spawn(self, port: int) -> str | None:
        """Run redis-server on `port`; None on success, else a reason with the log tail."""
        log_path = os.path.join(self.dir, "redis.log")
        args = [
            REDIS_SERVER,
            "--port", str(port),
            "--bind", self.host,
            "--save", "",
            "--appendonly", "yes" if self.appendonly else "no",
            "--dir", self.dir,
            "--logfile", log_path,
            "--daemonize", "no",
            *self._config_args(port),
        ]
        self.proc = subprocess.Popen(
            args, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        deadline = time.monotonic() + self.start_timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                break
            if self._ready(port):
                return None
            time.sleep(0.02)
        self._terminate()
        try:
            with open(log_path, encoding="utf-8", errors="replace") as f:
                tail = "".join(f.readlines()[-5:]).strip()
        except OSError:
            tail = ""
        return f"port {port}: {tail or 'no PING answer within %s s' % self.start_timeout}"

    def _terminate(self, timeout: float = 5.0) -> None:
        proc, self.proc = self.proc, None
        stop(proc, timeout)

    def pause(self) -> None:
        """SIGSTOP: the port still accepts connections but nothing answers (a hung Redis)."""
        if self.proc is not None:
            self.proc.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        if self.proc is not None:
            self.proc.send_signal(signal.SIGCONT)

    def stop(self) -> None:
        """Terminate (SIGTERM, then SIGKILL after 5 s); the port and dir are kept for `start()`."""
        self._terminate()

    def close(self) -> None:
        """Stop and remove the temp dir."""
        self._terminate()
        shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self) -> RedisServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


REDIS_SENTINEL = shutil.which("redis-sentinel") or "/usr/bin/redis-sentinel"


def sentinel_available() -> bool:
    """Whether redis-sentinel (Debian's package of that name) is installed."""
    return redis_available() and shutil.which("redis-sentinel") is not None


def _command(port: int, *words: str, timeout: float = 1.0) -> bytes:
    """One raw inline command, its raw reply (enough to read sentinel's answers)."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.sendall((" ".join(words) + "\r\n").encode())
        time.sleep(0.02)
        return s.recv(4096)


class Sentinel:
    """One redis-sentinel process watching `service` on the primary's port."""

    def __init__(self, primary_port: int, service: str, *, quorum: int = 2, password: str | None = None) -> None:
        self.dir = tempfile.mkdtemp(prefix="redis-sentinel-test-")
        self.port = _free_port()
        conf = os.path.join(self.dir, "sentinel.conf")  # sentinel rewrites it: its own file
        lines = [
            f"port {self.port}", "bind 127.0.0.1", "daemonize no", f"dir {self.dir}",
            f"logfile {os.path.join(self.dir, 'sentinel.log')}",
            f"sentinel monitor {service} 127.0.0.1 {primary_port} {quorum}",
            f"sentinel down-after-milliseconds {service} 1000",
            f"sentinel failover-timeout {service} 10000",
            f"sentinel parallel-syncs {service} 1",
        ]
        if password:
            lines.append(f"sentinel auth-pass {service} {password}")
        with open(conf, "w", encoding="utf-8") as f:
            f.write("\n".join(lines) + "\n")
        self.proc = subprocess.Popen([REDIS_SENTINEL, conf], stdin=subprocess.DEVNULL,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while not _pings(self.port):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"redis-sentinel did not start on {self.port}")
            time.sleep(0.02)

    def primary_port(self, service: str) -> int | None:
        """The port this sentinel currently names as the primary of `service`."""
        try:
            reply = _command(self.port, "SENTINEL", "get-master-addr-by-name", service)
        except OSError:
            return None
        parts = reply.split(b"\r\n")
        return int(parts[4]) if len(parts) > 4 and parts[4].isdigit() else None

    def close(self) -> None:
        stop(self.proc)
        shutil.rmtree(self.dir, ignore_errors=True)


class SentinelGroup:
    """A primary, one replica and three sentinels on loopback ports (a real failover setup).

        with SentinelGroup() as group:
            store = RedisStore(group.uri)
            group.kill_primary()
            group.wait_for_failover()
    """

    service = "oidcmaster"

    def __init__(self, password: str | None = None) -> None:
        self.password = password
        self.primary = RedisServer(password=password)
        self.replica: RedisServer | None = None
        self.sentinels: list[Sentinel] = []

    def __enter__(self) -> SentinelGroup:
        try:
            self.primary.start()
            self.replica = RedisServer(
                password=self.password,
                extra_args=["--replicaof", "127.0.0.1", str(self.primary.port), "--replica-priority", "10"],
            ).start()
            self._wait_replica_in_sync()
            self.sentinels = [Sentinel(self.primary.port, self.service, password=self.password)  # type: ignore[arg-type]
                              for _ in range(3)]
            self._wait(lambda: all(s.primary_port(self.service) == self.primary.port for s in self.sentinels),
                       10, "sentinels did not agree on the primary")
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def uri(self) -> str:
        hosts = ",".join(f"127.0.0.1:{s.port}" for s in self.sentinels)
        auth = f":{self.password}@" if self.password else ""
        return f"redis+sentinel://{auth}{hosts}/{self.service}/0"

    def _wait(self, ready: object, timeout: float, what: str) -> None:
        deadline = time.monotonic() + timeout
        while not ready():  # type: ignore[operator]
            if time.monotonic() > deadline:
                raise RuntimeError(what)
            time.sleep(0.05)

    def _info_replication(self, port: int) -> bytes:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1) as s:
                if self.password:
                    s.sendall(f"AUTH {self.password}\r\n".encode())
                    s.recv(64)
                s.sendall(b"INFO replication\r\n")
                time.sleep(0.05)
                return s.recv(8192)
        except OSError:
            return b""

    def _wait_replica_in_sync(self) -> None:
        assert self.replica is not None and self.replica.port is not None
        self._wait(lambda: b"master_link_status:up" in self._info_replication(self.replica.port), 15,
                   "the replica did not sync with the primary")

    def kill_primary(self) -> None:
        """SIGKILL: the primary is gone without a word, as when its host dies."""
        if self.primary.proc is not None:
            self.primary.proc.kill()
            self.primary.proc.wait(5)
            self.primary.proc = None

    def wait_for_failover(self, timeout: float = 30.0) -> int:
        """Until every sentinel names the replica as the primary; returns its port."""
        assert self.replica is not None
        self._wait(lambda: all(s.primary_port(self.service) == self.replica.port for s in self.sentinels),
                   timeout, "no failover within the timeout")
        return self.replica.port  # type: ignore[return-value]

    def close(self) -> None:
        for sentinel in self.sentinels:
            sentinel.close()
        if self.replica is not None:
            self.replica.close()
        self.primary.close()
