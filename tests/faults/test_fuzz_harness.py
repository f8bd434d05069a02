"""The parser fuzz harness (bench/fuzz_parse.py) works: a short run in CI keeps it from rotting.

The long runs are by hand (docs/reliability.md). Here: the seeds and a few hundred Hypothesis inputs pass, a short
atheris run passes when atheris is installed, and the harness does catch a broken promise.
"""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

HARNESS = Path(__file__).resolve().parents[2] / "bench" / "fuzz_parse.py"


def load_harness() -> ModuleType:
    spec = importlib.util.spec_from_file_location("fuzz_parse", HARNESS)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(HARNESS), *args], capture_output=True, text=True, timeout=300,
                          check=False)


def test_hypothesis_mode_passes_the_seeds_and_random_inputs() -> None:
    result = run("--hypothesis", "--examples", "300")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "300 Hypothesis examples and" in result.stdout


def test_atheris_mode_runs_a_few_thousand_inputs(tmp_path: Path) -> None:
    if importlib.util.find_spec("atheris") is None:
        pytest.skip("optional, and the one skip CI allows: atheris is not installed (pip install -e '.[fuzz]', "
                    "docs/reliability.md); the Hypothesis mode above checks the same promises")
    result = run("-runs=5000", str(tmp_path / "corpus"))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Done 5000 runs" in result.stderr
    assert any((tmp_path / "corpus").iterdir())  # seeded


def test_the_harness_catches_a_broken_promise() -> None:
    harness = load_harness()
    targets = harness.load_targets(instrument=False)
    good = bytes([0]) + harness.SEEDS[0]
    harness.check_one(good, targets)
    targets["limits"] = (2, 2**63 - 1, 300)  # as if the contract allowed at most 2 people: occupancy 3 breaks it
    with pytest.raises(AssertionError):
        harness.check_one(good, targets)
    with pytest.raises(AssertionError):
        harness.split_line('reading,facility=x occupancy=1i 1\nrefusal,reason=evil count=1i 2')
