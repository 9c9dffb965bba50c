"""Issue 34, item 14: the install guide called PyPI's torch wheel "the CPU wheel"; on Linux it
is a CUDA build. The guide gives PyTorch's CPU index for CPU-only installs."""
import re
from pathlib import Path

INSTALL = Path(__file__).resolve().parents[2] / "docs" / "guide" / "install.md"
CPU_INSTALL = "pip install torch==2.13.0 --index-url https://download.pytorch.org/whl/cpu"


def test_the_install_guide_gives_the_cpu_index_and_calls_the_pypi_wheel_cuda():
    text = INSTALL.read_text()
    assert CPU_INSTALL in text
    assert not re.search(r"CPU wheel", text, re.I)
    assert "on PyPI (plain `pip install torch==2.13.0`) is a CUDA build" in " ".join(text.split())


def test_the_cpu_index_pins_the_constrained_torch_version():
    constraints = (INSTALL.parents[2] / "requirements" / "constraints.txt").read_text()
    pinned = re.search(r"^torch==(\S+)$", constraints, re.M).group(1)
    assert f"torch=={pinned} --index-url" in INSTALL.read_text()
