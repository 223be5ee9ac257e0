"""Where the daemon's events go besides stdout: a Unix socket's clients and
each keyword's command (run without a shell). Device side: no torch."""

from __future__ import annotations

import os
import socket as socket_mod
import subprocess
from pathlib import Path


class Subscribers:
    """A Unix stream socket (mode 0660) whose clients each get every event line."""

    def __init__(self, path: str):
        self.path, self.clients = Path(path), []
        self.path.unlink(missing_ok=True)
        old = os.umask(0o117)
        try:
            self.server = socket_mod.socket(socket_mod.AF_UNIX, socket_mod.SOCK_STREAM)
            self.server.bind(str(self.path))
        finally:
            os.umask(old)
        self.server.listen()
        self.server.setblocking(False)

    def send(self, line: str) -> None:
        while True:
            try:
                self.clients.append(self.server.accept()[0])
            except BlockingIOError:
                break
        for c in list(self.clients):
            try:
                c.sendall(line.encode() + b"\n")
            except OSError:  # the client went away
                self.clients.remove(c)
                c.close()

    def close(self) -> None:
        for c in self.clients:
            c.close()
        self.server.close()
        self.path.unlink(missing_ok=True)


def run_command(argv: list[str], event: dict) -> subprocess.Popen:
    env = {**os.environ, "KWS_KEYWORD": event["keyword"], "KWS_SCORE": f"{event['score']:.4f}",
           "KWS_TIME": f"{event['time']:.3f}"}
    return subprocess.Popen(argv, env=env, stdin=subprocess.DEVNULL)
