import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.live_server import live  # noqa: F401  (the real server fixture)

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "gui"


@pytest.fixture(scope="session", autouse=True)
def keep_screenshots(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """The screenshots the GUI tests took (and checked) are kept in test-artifacts/gui/ when the run
    ends, next to the admin pages' browser screenshots."""
    yield
    base = tmp_path_factory.getbasetemp()
    shutil.rmtree(ARTIFACTS, ignore_errors=True)
    for shot in base.rglob("*.png"):
        if shot.name.startswith("kivy-icon"):
            continue
        target = ARTIFACTS / shot.relative_to(base)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(shot, target)
