"""Run a test again in a process with torch's portable ("default") CPU kernels.

The bit-level isolation tests must hold whatever kernels a CPU dispatches to
(AVX-512, AVX2 or none): they are rerun here under ``ATEN_CPU_CAPABILITY=default``.
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest


def rerun_with_default_kernels(test_id: str, expected_passed: int) -> None:
    """Run the pytest node ``test_id`` under the default kernels; assert it passes.

    Skips when this process already runs with them.
    """
    if os.environ.get("ATEN_CPU_CAPABILITY") == "default":
        pytest.skip("already running with the default kernels")
    env = {**os.environ, "ATEN_CPU_CAPABILITY": "default"}
    code = ("import torch; assert torch.backends.cpu.get_cpu_capability() == "
            "'DEFAULT', torch.backends.cpu.get_cpu_capability()")
    subprocess.run([sys.executable, "-c", code], env=env, check=True)
    out = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
         "-p", "no:xdist", test_id],
        env=env, capture_output=True, text=True,
    )
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    assert f"{expected_passed} passed" in out.stdout
