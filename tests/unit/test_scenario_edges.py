"""Scenario files at the edges: numbers that are not numbers, bytes that are
not text.  Each is one FILE:LINE error, and `isrdbg run` exits 2 with that
one line (README, "Scenario files")."""

import subprocess
import sys
from pathlib import Path

import pytest

from gdbext.runs.scenario import ScenarioError, load_scenario, parse_scenario

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("value", ["nan", "+nan", "-nan", "inf", "+inf", "-inf", "1e300",
                                   "0", "-1", "0.0"])
def test_timeout_must_be_a_finite_positive_number(value):
    with pytest.raises(ScenarioError) as caught:
        parse_scenario(f'kernel = "k"\nwatch = "14"\ntimeout = {value}\n', "sc.toml")
    assert str(caught.value).startswith("sc.toml:3: timeout must be a positive number")


def test_a_week_is_the_longest_timeout():
    text = 'kernel = "k"\nwatch = "14"\ntimeout = 604800\n'
    assert parse_scenario(text, "sc.toml").timeout == 604800


def test_non_utf8_file_is_one_error_with_its_line(tmp_path):
    path = tmp_path / "latin1.toml"
    path.write_bytes(b'kernel = "k"\nwatch = "14"\ndescription = "caf\xe9"\n')
    with pytest.raises(ScenarioError) as caught:
        load_scenario(path)
    assert str(caught.value) == f"{path}:3: not UTF-8 text (byte 0xe9); TOML files are UTF-8"


def test_isrdbg_run_says_one_line_and_exits_2_for_a_non_utf8_file(tmp_path):
    path = tmp_path / "binary.toml"
    path.write_bytes(b"\xff\xfe\x00k\x00=\x00")
    proc = subprocess.run([sys.executable, "-m", "gdbext.client.cli", "run", str(path)],
                          capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert proc.returncode == 2
    assert proc.stderr.splitlines() == [f"isrdbg: {path}:1: not UTF-8 text (byte 0xff); "
                                        f"TOML files are UTF-8"]
    assert proc.stdout == ""
