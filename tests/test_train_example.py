"""``examples/train_image_folder.py`` trains from an image folder, and resumes."""

from __future__ import annotations

import os
import pathlib
import re
import subprocess
import sys

import pytest

pytest.importorskip("torch")

SCRIPT = pathlib.Path(__file__).resolve().parent.parent / "examples" / "train_image_folder.py"


def _run(*args: str | os.PathLike[str]) -> str:
    env = {**os.environ, "PYTHONSAFEPATH": "1"}
    command = [sys.executable, str(SCRIPT), *map(str, args)]
    done = subprocess.run(command, capture_output=True, text=True, timeout=240, env=env)
    assert done.returncode == 0, done.stderr
    return done.stdout


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> pathlib.Path:
    root = tmp_path_factory.mktemp("train_folder")
    assert "wrote 192 images" in _run("--generate", root)
    return root


def test_example_trains_two_epochs_and_the_loss_falls(folder: pathlib.Path):
    out = _run(folder, "--epochs", "2", "--batch-size", "16", "--stats")
    losses = [float(x) for x in re.findall(r"epoch \d: 12 steps, mean loss ([\d.]+)", out)]
    assert len(losses) == 2 and losses[1] < losses[0], out
    assert "Bottleneck:" in out


def test_example_resumes_from_its_checkpoint_at_the_next_batch(
    folder: pathlib.Path, tmp_path: pathlib.Path
):
    checkpoint = tmp_path / "state.pt"
    first = _run(folder, "--epochs", "2", "--checkpoint", checkpoint, "--save-every", "5",
                 "--max-steps", "15")  # fmt: skip
    assert "rank 0: 15 steps" in first
    second = _run(folder, "--epochs", "2", "--checkpoint", checkpoint, "--save-every", "5")
    # 12 steps per epoch: 15 done, so the resumed run takes the 9 left of epoch 1.
    assert "resumed at step 15, epoch 1" in second
    assert "rank 0 epoch 1: 9 steps" in second and "rank 0: 24 steps" in second
