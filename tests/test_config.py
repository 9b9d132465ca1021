"""Tests for ldcbook.config: the scale switch, seeding and device selection."""

import random

import numpy as np
import pytest
import torch

from ldcbook import config


@pytest.mark.parametrize("value", ["smoke", "default", "full", " full "])
def test_scale_reads_allowed_values(monkeypatch, value):
    monkeypatch.setenv("LDCBOOK_SCALE", value)
    assert config.scale() == value.strip()


@pytest.mark.parametrize("value", [None, ""])
def test_scale_defaults_when_unset_or_empty(monkeypatch, value):
    if value is None:
        monkeypatch.delenv("LDCBOOK_SCALE", raising=False)
    else:
        monkeypatch.setenv("LDCBOOK_SCALE", value)
    assert config.scale() == "default"


@pytest.mark.parametrize("value", ["large", "FULL", "Default", "1", "smoke,full"])
def test_scale_rejects_other_values_and_lists_allowed(monkeypatch, value):
    monkeypatch.setenv("LDCBOOK_SCALE", value)
    with pytest.raises(ValueError) as err:
        config.scale()
    message = str(err.value)
    assert "LDCBOOK_SCALE" in message and repr(value) in message
    for allowed in ("'smoke'", "'default'", "'full'"):
        assert allowed in message


def test_by_scale_follows_the_switch(monkeypatch):
    for value, expected in [("smoke", 1), ("default", 2), ("full", 3)]:
        monkeypatch.setenv("LDCBOOK_SCALE", value)
        assert config.by_scale(smoke=1, default=2, full=3) == expected


def test_seed_everything_makes_all_generators_repeat():
    def draw(gen):
        return random.random(), np.random.rand(), torch.rand(1).item(), gen.random()

    first = draw(config.seed_everything(123))
    second = draw(config.seed_everything(123))
    other = draw(config.seed_everything(124))
    assert first == second
    assert all(a != b for a, b in zip(first, other))
    assert torch.are_deterministic_algorithms_enabled()


@pytest.mark.parametrize("seed, error", [(-1, ValueError), (2**32, ValueError),
                                         (1.5, TypeError), ("3", TypeError),
                                         (True, TypeError)])
def test_seed_everything_rejects_bad_seeds(seed, error):
    with pytest.raises(error, match="seed"):
        config.seed_everything(seed)


def test_device_is_cuda_exactly_when_available(monkeypatch):
    assert config.device().type == ("cuda" if torch.cuda.is_available() else "cpu")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert config.device() == torch.device("cpu")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert config.device() == torch.device("cuda")


def test_config_does_not_import_torch_for_theory_layers():
    import subprocess
    import sys

    code = ("import sys, ldcbook.config, ldcbook.theory, ldcbook.certify; "
            "sys.exit(1 if 'torch' in sys.modules else 0)")
    assert subprocess.run([sys.executable, "-c", code]).returncode == 0


@pytest.mark.parametrize("value, expected", [("1", True), ("0", False), ("", False), (" 1 ", True)])
def test_shrunk_reads_the_switch(monkeypatch, value, expected):
    monkeypatch.setenv(config.SHRINK_VAR, value)
    assert config.shrunk() is expected


def test_shrunk_unset_is_false_and_other_values_raise(monkeypatch):
    monkeypatch.delenv(config.SHRINK_VAR, raising=False)
    assert config.shrunk() is False
    monkeypatch.setenv(config.SHRINK_VAR, "yes")
    with pytest.raises(ValueError, match="LDCBOOK_SHRINK"):
        config.shrunk()
