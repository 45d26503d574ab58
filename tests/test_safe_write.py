"""Nothing lost: no output destroys an input, a device or someone else's file; a full disk or a signal leaves files whole.

Issue 17, "Data loss". Every output goes through ``llmhw.safe_write`` (temp file beside the target, fsync, rename);
these tests try each way of losing data the issue found, through the real CLI.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from llmhw import safe_write
from llmhw.cli import main

from .test_ask import INFERENCE_LOCAL
from .test_properties import examples

ROW = json.dumps({"model": "deepseek-r1:7b"}) + "\n"
REC = ["recommend", "--model", "deepseek-r1:7b"]


def _temps(folder: Path) -> list[Path]:
    return sorted(folder.glob(".*.tmp"))


def _exe() -> list[str]:
    exe = Path(sys.executable).with_name("llmhw")
    return [str(exe)] if exe.exists() else [sys.executable, "-m", "llmhw.cli"]


# -- never over an input ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("how", ["same-name", "symlink", "hard-link", "relative-path"])
def test_batch_refuses_to_write_over_its_input(runner, tmp_path, how, monkeypatch):
    src = tmp_path / "fleet.jsonl"
    src.write_text(ROW * 2)
    out = {"same-name": src, "symlink": tmp_path / "link.jsonl", "hard-link": tmp_path / "hard.jsonl",
           "relative-path": Path("sub/../fleet.jsonl")}[how]
    if how == "symlink":
        out.symlink_to(src)
    elif how == "hard-link":
        os.link(src, out)
    (tmp_path / "sub").mkdir()
    monkeypatch.chdir(tmp_path)
    result = runner.invoke(main, ["batch", str(src), "--out", str(out), "--jobs", "1"])
    assert result.exit_code == 2
    assert result.stderr == f"Error: --out: {out} is an input of this command; writing it would destroy it: name another file\n"
    assert src.read_text() == ROW * 2 and not _temps(tmp_path)


def test_trace_refuses_to_write_over_the_profile_or_the_key(runner, tmp_path):
    profile = tmp_path / "p.yaml"
    profile.write_text("model: deepseek-r1:7b\n")
    key = tmp_path / "key"
    key.write_bytes(b"k" * 32)
    for target in (profile, key):
        result = runner.invoke(main, ["recommend", "--profile", str(profile), "--trace", str(target), "--sign", str(key)])
        assert result.exit_code == 2, result.output
        assert result.stderr == f"Error: --trace: {target} is an input of this command; writing it would destroy it: name another file\n"
    assert profile.read_text() == "model: deepseek-r1:7b\n" and key.read_bytes() == b"k" * 32


def test_an_output_over_a_knowledge_file_is_refused(runner, tmp_path):
    from .test_api import write_extra

    extra = write_extra(tmp_path / "extra")
    before = (extra / "models.yaml").read_text()
    result = runner.invoke(main, ["batch", str(_rows(tmp_path, 1)), "--out", str(extra / "models.yaml"), "--knowledge", str(extra)])
    assert result.exit_code == 2 and "is an input of this command" in result.stderr
    assert (extra / "models.yaml").read_text() == before


# -- never over a device, a directory or someone else's file -------------------------------------------------------


def test_trace_to_a_device_or_a_link_to_one_is_refused_and_the_link_stays(runner, tmp_path):
    link = tmp_path / "devlink"
    link.symlink_to(os.devnull)
    for target in (link, Path(os.devnull)):
        result = runner.invoke(main, [*REC, "--trace", str(target)])
        assert result.exit_code == 2
        assert result.stderr == f"Error: --trace: {target} is not a regular file (a device, FIFO or socket): name a file\n"
    assert link.is_symlink() and os.readlink(link) == os.devnull


def test_an_output_that_is_a_directory_is_refused(runner, tmp_path):
    result = runner.invoke(main, ["batch", str(_rows(tmp_path, 1)), "--out", str(tmp_path)])
    assert result.exit_code == 2 and result.stderr == f"Error: --out: {tmp_path} is a directory: name a file\n"


@pytest.mark.parametrize("command, option", [(["batch"], "--out"), (REC, "--trace")])
def test_a_foreign_file_is_replaced_only_with_force(runner, tmp_path, command, option):
    target = tmp_path / "notes.txt"
    target.write_text("my notes\n")
    args = [*command, str(_rows(tmp_path, 1))] if command == ["batch"] else list(command)
    refused = runner.invoke(main, [*args, option, str(target)])
    assert refused.exit_code == 2
    assert refused.stderr == (f"Error: {option}: {target} exists and was not written by llmhw: "
                              "name a new file, or pass --force to replace it\n")
    assert target.read_text() == "my notes\n"
    forced = runner.invoke(main, [*args, option, str(target), "--force"])
    assert forced.exit_code == 0, forced.output
    assert target.read_text() != "my notes\n" and not _temps(tmp_path)


def test_llmhw_replaces_its_own_outputs_and_follows_a_symlink_to_one(runner, tmp_path):
    out, trace_file = tmp_path / "out.jsonl", tmp_path / "real.json"
    src = _rows(tmp_path, 1)
    for _ in range(2):  # the second run replaces the first run's files without --force
        assert runner.invoke(main, ["batch", str(src), "--out", str(out), "--jobs", "1"]).exit_code == 0
        assert runner.invoke(main, [*REC, "--trace", str(trace_file)]).exit_code == 0
    link = tmp_path / "link.json"
    link.symlink_to(trace_file)
    os.chmod(trace_file, 0o640)
    assert runner.invoke(main, [*REC, "--trace", str(link)]).exit_code == 0
    assert link.is_symlink() and json.loads(trace_file.read_text())["format"] == "llmhw-trace"
    assert trace_file.stat().st_mode & 0o777 == 0o640  # a replaced file keeps its permissions
    assert len(out.read_text().splitlines()) == 1 and not _temps(tmp_path)


def test_a_refused_input_leaves_an_existing_output_untouched(runner, tmp_path):
    out = tmp_path / "out.jsonl"
    out.write_text('{"row": 1, "line": 1, "ok": true}\n')
    result = runner.invoke(main, ["batch", str(tmp_path / "missing.jsonl"), "--out", str(out)])
    assert result.exit_code == 2 and result.stderr == f"Error: INPUT: {tmp_path / 'missing.jsonl'}: cannot read: No such file or directory\n"
    assert out.read_text() == '{"row": 1, "line": 1, "ok": true}\n' and not _temps(tmp_path)


def _session(runner, tmp_path: Path, name: Path, reply: str) -> str:
    answers = ["deepseek-r1:7b", *[""] * (len(INFERENCE_LOCAL) - 1), f"save {name}", reply, "quit"]
    result = runner.invoke(main, ["ask"], input="".join(f"{a}\n" for a in answers))
    assert result.exit_code == 0, result.output
    return result.stdout


def test_ask_save_asks_before_replacing_a_foreign_file(runner, tmp_path):
    mine = tmp_path / "notes.yaml"
    mine.write_text("my notes\n")
    out = _session(runner, tmp_path, mine, "n")
    assert f"  {mine} exists and was not written by llmhw. Replace it? [y/N] n\n  Not saved: name another file" in out
    assert mine.read_text() == "my notes\n" and not (tmp_path / "notes.yaml.trace.json").exists()
    out = _session(runner, tmp_path, mine, "y")
    assert f"Saved {mine}:" in out and mine.read_text().startswith("# llmhw profile written by")
    again = _session(runner, tmp_path, mine, "quit")  # its own profile: replaced without a question
    assert "Replace it?" not in again and f"Saved {mine}:" in again


# -- a full disk ----------------------------------------------------------------------------------------------------


def _rows(folder: Path, n: int) -> Path:
    src = folder / "in.jsonl"
    src.write_text(ROW * n)
    return src


class _FullDisk:
    """A file object that takes ``room`` bytes, then fails as a full disk does (ENOSPC)."""

    def __init__(self, inner, room: int) -> None:
        self.inner, self.room = inner, room

    def write(self, data: bytes) -> int:
        if len(data) > self.room:
            self.inner.write(bytes(data[: self.room]))
            self.room = 0
            raise OSError(errno.ENOSPC, "No space left on device")
        self.room -= len(data)
        return int(self.inner.write(data))

    def __getattr__(self, name: str):
        return getattr(self.inner, name)

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.inner.close()


@contextlib.contextmanager
def _disk_with_room(monkeypatch, room: int) -> Iterator[None]:
    real = os.fdopen
    monkeypatch.setattr(safe_write.os, "fdopen", lambda fd, mode="r", *a, **k: _FullDisk(real(fd, mode, *a, **k), room))
    yield
    monkeypatch.setattr(safe_write.os, "fdopen", real)


@settings(max_examples=examples(8), deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(room=st.integers(0, 40_000), kind=st.sampled_from(["out.jsonl", "out.csv", "trace"]))
def test_a_full_disk_says_so_in_one_line_and_keeps_the_previous_file(tmp_path_factory, monkeypatch_session, room, kind):
    """Simulated ENOSPC after ``room`` bytes: exit 1, one line, the previous file byte-identical, no temp file left."""
    from click.testing import CliRunner

    folder = tmp_path_factory.mktemp("full")
    runner = CliRunner()
    src = _rows(folder, 6)
    target = folder / ("t.json" if kind == "trace" else kind)
    args = [*REC, "--trace", str(target)] if kind == "trace" else ["batch", str(src), "--out", str(target), "--jobs", "1"]
    assert runner.invoke(main, args).exit_code == 0
    previous = target.read_bytes()
    with _disk_with_room(monkeypatch_session, room):
        result = runner.invoke(main, args)
    option = "--trace" if kind == "trace" else "--out"
    if result.exit_code == 0:  # the whole file fitted
        assert len(target.read_bytes()) <= room
    else:
        assert result.exit_code == 1, result.output
        assert result.stderr.endswith(f"Error: {option}: {target}: cannot write: No space left on device; the previous file is unchanged\n")
        assert "Traceback" not in result.output and target.read_bytes() == previous
    assert not _temps(folder)


@pytest.fixture(scope="module")
def monkeypatch_session():
    mp = pytest.MonkeyPatch()
    yield mp
    mp.undo()


@pytest.mark.skipif(not sys.platform.startswith("linux") or os.geteuid() != 0 or not shutil.which("mount"), reason="mounts a tmpfs")
def test_a_really_full_filesystem_keeps_the_previous_output(tmp_path):
    """A 64 KiB tmpfs: the previous output stays whole; the run says so in one line."""
    disk = tmp_path / "disk"
    disk.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(disk)], capture_output=True).returncode:
        pytest.skip("cannot mount a tmpfs here")
    try:
        out = disk / "out.jsonl"
        src = _rows(tmp_path, 1)
        assert subprocess.run([*_exe(), "batch", str(src), "--out", str(out), "--jobs", "1"], capture_output=True).returncode == 0
        previous = out.read_bytes()
        big = _rows(tmp_path, 40)  # ~5 kB a record: far over the 64 KiB left
        run = subprocess.run([*_exe(), "batch", str(big), "--out", str(out), "--jobs", "1"], capture_output=True, text=True)
        assert run.returncode == 1, run.stderr
        assert run.stderr.splitlines()[-1] == f"Error: --out: {out}: cannot write: No space left on device; the previous file is unchanged"
        assert "Traceback" not in run.stderr and out.read_bytes() == previous and not _temps(disk)
    finally:
        subprocess.run(["umount", str(disk)], check=False)


# -- signals to batch ------------------------------------------------------------------------------------------------


def _alive(pids: list[int]) -> list[int]:
    out = []
    for pid in pids:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if state != "Z":
            out.append(pid)
    return out


def _children(pid: int) -> list[int]:
    found = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True).stdout.split()
    return [int(p) for p in found]


@pytest.mark.skipif(not sys.platform.startswith("linux") or not shutil.which("pgrep"), reason="reads /proc, uses pgrep")
@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGKILL])
def test_a_signal_to_the_batch_parent_leaves_no_worker_and_a_valid_output(tmp_path, sig):
    src = tmp_path / "in.jsonl"
    src.write_text((json.dumps({"model": "llama-3.1-70b", "concurrency": 20}) + "\n") * 3000)
    out = tmp_path / "out.jsonl"
    out.write_text('{"row": 1, "line": 1, "ok": true}\n')  # the previous run's output
    proc = subprocess.Popen([*_exe(), "batch", str(src), "--out", str(out), "--jobs", "2"], stderr=subprocess.PIPE,
                            start_new_session=True)
    deadline = time.time() + 60
    while time.time() < deadline and sum(p.stat().st_size for p in _temps(tmp_path)) < 20_000:
        time.sleep(0.05)
    workers = _children(proc.pid)
    assert workers, "the pool has started"
    os.kill(proc.pid, sig)
    _, err = proc.communicate(timeout=30)
    deadline = time.time() + 5
    while _alive(workers) and time.time() < deadline:
        time.sleep(0.1)
    assert _alive(workers) == [], f"orphan workers after 5 s: {_alive(workers)}"
    records = [json.loads(line) for line in out.read_text().splitlines()]  # every line is a whole record
    if sig == signal.SIGTERM:  # stopped like Ctrl-C: the finished rows replace the previous output
        assert proc.returncode == 130 and b"interrupted" in err and b"Traceback" not in err
        assert 0 < len(records) < 3000 and all(r["ok"] for r in records)
    else:  # no chance to finish: the previous output is intact (the temp file stays, hidden)
        assert records == [{"row": 1, "line": 1, "ok": True}]


def test_interrupted_writes_never_leave_half_a_record(tmp_path):
    """The writer holds Ctrl-C while it writes a batch of records, then lets it through."""
    from llmhw.batch.output import OrderedWriter

    class Stream:
        def __init__(self) -> None:
            self.parts: list[str] = []

        def write(self, text: str) -> None:
            os.kill(os.getpid(), signal.SIGINT)  # arrives in the middle of the write
            self.parts.append(text)

        def flush(self) -> None:
            pass

    stream = Stream()
    writer = OrderedWriter(stream, "jsonl", {}, None)  # type: ignore[arg-type]
    with pytest.raises(KeyboardInterrupt):
        writer.add(1, None, '{"row": 1}\n')
    assert stream.parts == ['{"row": 1}\n']  # written whole before the interrupt was raised


def test_ask_save_on_a_full_disk_says_so_and_the_session_goes_on(runner, tmp_path, monkeypatch):
    name = tmp_path / "p.yaml"
    with _disk_with_room(monkeypatch, 0):
        out = _session(runner, tmp_path, name, "how 1")
    assert f"  Not saved: save: {name}: cannot write: No space left on device; the previous file is unchanged\n" in out
    assert "> how 1\n" in out and not name.exists() and not _temps(tmp_path)
