"""Starts real `edgellm serve` processes on free loopback ports for the client tests.

Environment: EDGELLM_BIN (the edgellm binary), EDGELLM_MODELS (a store holding smollm2:135m).
"""
import os
import re
import subprocess
import threading
import time

import pytest

BIN = os.environ.get("EDGELLM_BIN", "target/release/edgellm")
MODEL = "smollm2:135m"


class Server:
    def __init__(self, *args, env=None):
        e = dict(os.environ)
        e.update(env or {})
        e.setdefault("EDGELLM_LOG", "info")
        self.proc = subprocess.Popen(
            [BIN, "serve", "--host", "127.0.0.1:0", *args],
            stderr=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            env=e,
            text=True,
        )
        self.log = []
        deadline = time.time() + 60
        self.url = None
        while time.time() < deadline:
            line = self.proc.stderr.readline()
            if not line:
                break
            self.log.append(line)
            m = re.search(r"listening on (http://\S+)", line)
            if m:
                self.url = m.group(1)
                break
        if self.url is None:
            self.proc.kill()
            raise RuntimeError("server did not start:\n" + "".join(self.log))
        # Keep draining stderr so the server never blocks on a full pipe.
        threading.Thread(target=self._drain, daemon=True).start()

    def _drain(self):
        for line in self.proc.stderr:
            self.log.append(line)

    def stop(self):
        self.proc.terminate()
        try:
            self.proc.wait(20)
        except subprocess.TimeoutExpired:
            self.proc.kill()


@pytest.fixture(scope="session")
def server():
    s = Server("--parallel", "4")
    yield s
    s.stop()


def cli_greedy(prompt, n, system=None):
    """The CLI's greedy answer, the reference for the server's."""
    cmd = [BIN, "run", MODEL, prompt, "--temperature", "0", "-n", str(n)]
    if system:
        cmd += ["--system", system]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    return out.stdout.rstrip("\n")
