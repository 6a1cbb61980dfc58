"""Importing a DAG file does no I/O: no subprocess, no network, no file access, no Variable.

The DAG processor re-imports every file every few seconds, so anything done at import time is
done constantly and by the wrong process. Airflow itself is imported first (it reads its config
and plugins legitimately); then each DAG file (and the helper module) is executed fresh while a
Python audit hook records every process, socket and file event, and Variable/Connection look-ups
raise.
"""

from __future__ import annotations

import contextlib
import importlib.util
import sys
import sysconfig
import warnings
from pathlib import Path

import pytest
from airflow.sdk import Connection, Variable

DAGS_DIR = Path(__file__).resolve().parent.parent
DAG_FILES = sorted(DAGS_DIR.glob("users_*.py"))

# Audit events (https://docs.python.org/3/library/audit_events.html) that are I/O.
IO_EVENTS = (
    "open",
    "os.listdir",
    "os.scandir",
    "os.remove",
    "os.rename",
    "os.mkdir",
    "os.system",
    "os.exec",
    "os.posix_spawn",
    "os.spawn",
    "os.fork",
    "os.putenv",
    "subprocess.Popen",
    "socket.connect",
    "socket.bind",
    "socket.getaddrinfo",
    "socket.gethostbyname",
    "urllib.Request",
    "http.client.connect",
    "sqlite3.connect",
)

_INSTALLED = tuple({sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"], sys.base_prefix})

_probe: dict[str, list[str] | None] = {"events": None}


def _audit(event: str, args: tuple) -> None:
    events = _probe["events"]
    if events is None or event not in IO_EVENTS:
        return
    if event == "open":
        path = str(args[0]) if args else ""
        reading = len(args) < 2 or args[1] in (None, "r", "rb")
        # Reading Python source is how an import works, and Airflow reads data files of installed
        # packages while it builds a DAG (the cron timetable loads cron_descriptor's locale).
        # Anything else (our files, the state dir, config, secrets) is I/O.
        if reading and (path.endswith((".py", ".pyc")) or path.startswith(_INSTALLED)):
            return
    events.append(f"{event}{args!r}")


sys.addaudithook(_audit)


def _forbidden(*args, **kwargs):
    raise AssertionError("Variable/Connection read at import time")


@contextlib.contextmanager
def _watching():
    events: list[str] = []
    _probe["events"] = events
    try:
        yield events
    finally:
        _probe["events"] = None


@pytest.fixture
def exec_fresh(monkeypatch):
    """Execute a file as a brand-new module (its helper import fresh too); return the I/O seen."""
    monkeypatch.setattr(Variable, "get", _forbidden)
    monkeypatch.setattr(Connection, "get", _forbidden)
    monkeypatch.setattr(sys, "dont_write_bytecode", True)
    saved = sys.modules.get("userstream_common")

    def run(path: Path, name: str) -> list[str]:
        sys.modules.pop("userstream_common", None)
        spec = importlib.util.spec_from_file_location(name, path)
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module  # dataclasses look their module up while the class is built
        try:
            with warnings.catch_warnings(), _watching() as events:
                warnings.simplefilter("error")
                spec.loader.exec_module(module)
        finally:
            if name != "userstream_common":
                sys.modules.pop(name, None)
        return events

    yield run
    if saved is not None:
        sys.modules["userstream_common"] = saved


@pytest.mark.parametrize("path", DAG_FILES, ids=lambda p: p.name)
def test_import_does_no_io_and_warns_nothing(exec_fresh, path):
    events = exec_fresh(path, f"_import_probe_{path.stem}")
    assert events == [], f"{path.name} does I/O at import time: {events}"


def test_helper_import_does_no_io(exec_fresh):
    assert exec_fresh(DAGS_DIR / "userstream_common.py", "userstream_common") == []


def test_probe_sees_io(tmp_path):
    # The probe works: a subprocess, a socket and a file read are all seen.
    import socket
    import subprocess

    (tmp_path / "f.txt").write_text("x")
    with _watching() as events:
        subprocess.run(["true"], check=True)
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", 9), timeout=0.2):
            pass
        (tmp_path / "f.txt").read_text()
    kinds = {e.split("(")[0] for e in events}
    assert {"subprocess.Popen", "socket.connect", "open"} <= kinds, events
