"""A real Azurite (Azure Blob Storage emulator) on a free loopback port, for tests; installed by .ci/run."""
import os
import shutil
import socket
import subprocess
import time
from pathlib import Path

import pytest

# Azurite's documented development account and key (https://learn.microsoft.com/azure/storage/common/storage-use-azurite):
# public, the same for every Azurite, and only valid there. The secret scan looks for it in everything a run wrote.
AZURITE_ACCOUNT = "devstoreaccount1"
AZURITE_WELL_KNOWN_DEV_KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
AZURITE_PIN = "azurite@3.34.0"   # .ci/run installs this version


def azurite_bin() -> Path | None:
    "The azurite-blob launcher: $AERIAL_NB_AZURITE, else the one .ci/run installs, else on PATH."
    for p in [os.environ.get("AERIAL_NB_AZURITE"), Path.home() / ".cache/aerial_nb/azurite/node_modules/.bin/azurite-blob",
              shutil.which("azurite-blob")]:
        if p and Path(p).exists(): return Path(p)
    return None


def connection_string(port: int, key: str = AZURITE_WELL_KNOWN_DEV_KEY) -> str:
    return (f"DefaultEndpointsProtocol=http;AccountName={AZURITE_ACCOUNT};AccountKey={key};"
            f"BlobEndpoint=http://127.0.0.1:{port}/{AZURITE_ACCOUNT};")


class Azurite:
    "Azurite's blob service in `workdir`, on a free loopback port; stop() ends it."
    def __init__(self, workdir: Path):
        exe = azurite_bin()
        if exe is None:
            pytest.skip(f"Azurite is not installed (npm install --prefix ~/.cache/aerial_nb/azurite {AZURITE_PIN}, "
                        f"as .ci/run does, or set AERIAL_NB_AZURITE to azurite-blob)")
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0)); self.port = s.getsockname()[1]
        self.log = workdir / "azurite.log"
        # --skipApiVersionCheck: azure-storage-blob may speak a newer REST version than this Azurite knows.
        with open(self.log, "wb") as out:
            self.proc = subprocess.Popen([str(exe), "--blobHost", "127.0.0.1", "--blobPort", str(self.port), "--location",
                                          str(workdir / "data"), "--silent", "--skipApiVersionCheck"],
                                         stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.time() + 60
        while time.time() < deadline:
            if self.proc.poll() is not None: raise RuntimeError(f"Azurite exited: {self.log.read_text()[-2000:]}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1): break
            except OSError: time.sleep(0.2)
        else:
            self.stop(); raise TimeoutError(f"Azurite did not listen on 127.0.0.1:{self.port} within 60 s")
        self.connection_string = connection_string(self.port)
        self.account_url = f"http://127.0.0.1:{self.port}/{AZURITE_ACCOUNT}"

    def stop(self):
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, 15)
            try: self.proc.wait(10)
            except subprocess.TimeoutExpired: os.killpg(self.proc.pid, 9); self.proc.wait()
