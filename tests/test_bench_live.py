"""The live benchmark runs end to end: real upstream, mitmdump with and without the addon, the load generator;
B's report holds exactly the findings the generated traffic must produce. No figure is asserted."""

import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parent.parent / "scripts" / "bench_live.py"


def test_short_race_pairs_every_redirect():
    done = subprocess.run(
        [sys.executable, str(SCRIPT), "--seconds", "1", "--warmup", "0.5", "--rounds", "1", "--connections", "8"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "redirects followed, as expected" in done.stdout
    assert "B/A requests/s" in done.stdout
