"""Azurite round trip for the whole of UC Merced: upload, paged listing, parallel download, cached second staging.

    flock /tmp/aerial_cpu.lock .venv/bin/python bench/bench_azurite.py [IMAGES_DIR]
"""
import os
import sys
import tempfile
import time
from pathlib import Path

# Azurite and the data locations are the tests' helpers (tests/azurite.py, tests/helpers.py).
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from azurite import Azurite  # noqa: E402
from helpers import UCMERCED  # noqa: E402


def main(images: Path):
    work = Path(tempfile.mkdtemp(prefix="aerial_nb-azurite-bench-"))
    az = Azurite(work)
    try:
        os.environ.update({"AZURE_STORAGE_CONNECTION_STRING": az.connection_string,
                           "AERIAL_NB_STORAGE_CACHE_DIR": str(work / "cache")})
        from aerial_nb.settings import load_settings
        from aerial_nb.storage import container_client, list_blobs, parse_blob_url, stage, upload_folder
        settings = load_settings()
        cc = container_client(parse_blob_url("az://images"), settings, check=False)
        cc.create_container()
        up = upload_folder(images, "az://images/ucmerced", settings)
        t0 = time.time(); n = len(list_blobs(cc, "ucmerced", page_size=500)); listing = time.time() - t0
        t0 = time.time(); first = stage("az://images/ucmerced", settings); t_first = time.time() - t0
        t0 = time.time(); second = stage("az://images/ucmerced", settings); t_second = time.time() - t0
        mb = sum(f.stat().st_size for f in images.rglob("*") if f.is_file()) / 1e6
        print(f"\nAzurite round trip, {n} blobs ({mb:.0f} MB), {settings.values.get('storage', {}).get('workers', 8)} parallel transfers:")
        print(f"  upload                 {up['seconds']:7.2f} s  ({up['uploaded'] / up['seconds']:.0f} blobs/s)")
        print(f"  listing (pages of 500) {listing:7.2f} s")
        print(f"  download (staging)     {t_first:7.2f} s  ({first['downloaded']} downloaded, {first['downloaded'] / t_first:.0f} blobs/s)")
        print(f"  second staging, cached{t_second:7.2f} s  ({second['downloaded']} downloaded)")
    finally:
        az.stop()


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else UCMERCED)
