"""Run metadata helpers: the torch thread-count context."""

from __future__ import annotations

import pytest
import torch

from ofmu_theory.runinfo import torch_threads


def test_torch_threads_sets_and_restores():
    before = torch.get_num_threads()
    with torch_threads(before + 1):
        assert torch.get_num_threads() == before + 1
    assert torch.get_num_threads() == before
    with pytest.raises(RuntimeError), torch_threads(before + 2):
        raise RuntimeError("boom")
    assert torch.get_num_threads() == before  # restored on error too
    with torch_threads(None):
        assert torch.get_num_threads() == before


@pytest.mark.parametrize("bad", [0, -1, 1.5, True])
def test_torch_threads_rejects_bad_counts(bad):
    with pytest.raises(ValueError, match="threads must be an int >= 1"), torch_threads(bad):
        pass


def test_device_info_in_a_single_process():
    from ofmu_theory.runinfo import device_info

    info = device_info()
    assert info["world_size"] == 1
    assert info["cpu_threads"] == torch.get_num_threads()
    assert info["cuda_device_count"] == torch.cuda.device_count()


def test_progress_bar_obeys_the_switch_and_the_environment(monkeypatch, capsys):
    from ofmu_theory.runinfo import PROGRESS_ENV, progress

    monkeypatch.setenv(PROGRESS_ENV, "1")
    assert list(progress(range(3), desc="shown")) == [0, 1, 2]
    assert "shown" in capsys.readouterr().err
    assert list(progress(range(3), desc="off", enabled=False)) == [0, 1, 2]
    monkeypatch.setenv(PROGRESS_ENV, "0")
    assert list(progress(range(3), desc="quiet")) == [0, 1, 2]
    err = capsys.readouterr().err
    assert "off" not in err and "quiet" not in err


def test_one_thread_is_a_valid_count():
    before = torch.get_num_threads()
    with torch_threads(1):
        assert torch.get_num_threads() == 1
    assert torch.get_num_threads() == before


def test_device_info_names_the_first_cuda_device(monkeypatch):
    from ofmu_theory.runinfo import device_info

    names = ["GPU-0", "GPU-1"]
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    monkeypatch.setattr(torch.cuda, "get_device_name", lambda i=None: names[0 if i is None else i])
    assert device_info()["cuda_device_name"] == "GPU-0"


def test_a_finished_progress_bar_leaves_no_line_behind(monkeypatch, capsys):
    from ofmu_theory.runinfo import PROGRESS_ENV, progress

    monkeypatch.setenv(PROGRESS_ENV, "1")
    assert list(progress(range(3), desc="gone")) == [0, 1, 2]
    err = capsys.readouterr().err
    assert "gone" in err  # it was drawn
    assert err.rstrip(" ").endswith("\r") and "\n" not in err  # and cleared, not left as a line
