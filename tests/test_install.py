"""The project installs as a package: a fresh venv gets `workbench` (CLI) and `workbench ui` (the app), run from
outside the checkout.

The wheel is built from a copy of this checkout's files (with the build backend the project declares) and
installed with ``--no-deps`` into a fresh virtual environment; the dependencies (torch, llama.cpp, the
embedded models: gigabytes) come from this interpreter's site-packages through a ``.pth`` file, so the test
checks what the package itself ships -- modules, entry points, the app, sample data, shipped prompt files.
"""

from __future__ import annotations

import os
import shutil
import signal
import site
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from tests.e2e.harness import free_port

ROOT = Path(__file__).resolve().parents[1]

pytestmark = pytest.mark.slow


def _checkout_copy(dest: Path) -> Path:
    """The checkout's files (tracked and new, not ignored) copied to ``dest``: the build leaves no files here."""
    files = subprocess.run(["git", "ls-files", "-co", "--exclude-standard", "-z"], cwd=ROOT, capture_output=True,
                           check=True).stdout.decode().split("\0")
    for name in filter(None, files):
        src = ROOT / name
        if src.is_file():
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dest / name)
    return dest


@pytest.fixture(scope="module")
def venv(tmp_path_factory) -> Path:
    if shutil.which("git") is None:
        pytest.skip("needs git to list the checkout's files")
    work = tmp_path_factory.mktemp("install")
    src = _checkout_copy(work / "src")
    wheels = work / "wheels"
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w",
                    str(wheels), str(src)], check=True, timeout=600)
    env = work / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(env)], check=True, timeout=120)
    purelib = next((env / "lib").glob("python3*/site-packages"))
    (purelib / "zz_dependencies.pth").write_text("\n".join(site.getsitepackages()) + "\n")
    wheel = next(wheels.glob("prompt_workbench-*.whl"))
    subprocess.run([sys.executable, "-m", "pip", "--python", str(env / "bin" / "python"), "install", "--no-deps",
                    "-q", str(wheel)], check=True, timeout=600)
    return env


def _run(venv: Path, *args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run([str(venv / "bin" / "workbench"), *args], cwd=venv.parent, capture_output=True, text=True,
                          timeout=timeout)


def test_the_console_script_runs_from_outside_the_checkout(venv):
    out = _run(venv, "--help")
    assert out.returncode == 0, out.stderr
    for command in ("generate", "models", "eval", "sets", "ui", "config"):
        assert command in out.stdout
    models = _run(venv, "models")
    assert models.returncode == 0, models.stderr
    assert "gemma-3-270m" in models.stdout and "smollm2-135m-instruct" in models.stdout


def test_the_installed_package_holds_its_data_and_not_the_checkout(venv):
    code = ("import workbench, workbench.promptsets.files as ps, workbench.prompts as p, workbench.data as d; "
            "print(workbench.__file__); print(len(ps.classroom_sets()), len(p.starter_specs()), "
            "len(d.sample_pools()))")
    out = subprocess.run([str(venv / "bin" / "python"), "-c", code], cwd=venv.parent, capture_output=True, text=True,
                         timeout=300)
    assert out.returncode == 0, out.stderr
    where, counts = out.stdout.splitlines()
    assert str(venv) in where and str(ROOT) not in where
    classroom, starters, pools = (int(n) for n in counts.split())
    assert classroom >= 7 and starters >= 5 and pools >= 5


def test_workbench_ui_serves_the_app_on_loopback(venv):
    port = free_port()
    proc = subprocess.Popen([str(venv / "bin" / "workbench"), "ui", "--server.port", str(port)], cwd=venv.parent,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True)
    try:
        deadline, status = time.monotonic() + 120, None
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=2) as reply:
                    status = reply.status
                    break
            except OSError:
                time.sleep(0.5)
        assert status == 200, proc.stdout.read() if proc.poll() is not None else "no answer"
    finally:
        proc.terminate()  # `workbench ui` is the server itself (exec), so this stops it
        try:
            log = proc.communicate(timeout=30)[0]
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)  # whatever the group still holds open on the pipe
            log = proc.communicate(timeout=30)[0]
            pytest.fail(f"`workbench ui` outlived SIGTERM by 30 s:\n{log}")
    assert proc.returncode is not None
    assert "127.0.0.1" in log and "0.0.0.0" not in log
