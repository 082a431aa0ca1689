"""rag.offline: the entry points go offline before any model loads; importing a module changes nothing."""

from __future__ import annotations

import json
import os

import pytest

from tests.rag.python_process import run_python

# Each check starts from a process environment without the offline variables (this test run has set them).
CLEAN_ENV = "import os; from rag.offline import OFFLINE_ENV; [os.environ.pop(k, None) for k in OFFLINE_ENV]; "


@pytest.mark.process
def test_importing_the_app_and_the_benchmarks_sets_no_variable():
    code = CLEAN_ENV + (
        "import bench.calibrate, bench.llm, bench.run, rag.cli, ui.app; import json; "
        "print(json.dumps(sorted(k for k in OFFLINE_ENV if k in os.environ)))"
    )
    out = run_python(code)
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout.splitlines()[-1]) == []


@pytest.mark.process
def test_the_rag_command_goes_offline_before_it_runs():
    code = CLEAN_ENV + (
        "import json; from rag import cli; "
        "seen = {}; cli.cmd_settings = lambda args, settings: seen.update(os.environ) or 0; "
        "assert cli.main(['settings']) == 0; print(json.dumps({k: seen.get(k) for k in OFFLINE_ENV}))"
    )
    out = run_python(code)
    assert out.returncode == 0, out.stderr
    from rag.offline import OFFLINE_ENV

    assert json.loads(out.stdout.splitlines()[-1]) == OFFLINE_ENV


def test_telemetry_goes_off_even_when_the_environment_turns_it_on(monkeypatch):
    from rag.offline import HUB_OFFLINE, NO_TELEMETRY, go_offline

    monkeypatch.setenv("GRADIO_ANALYTICS_ENABLED", "True")
    monkeypatch.setenv("ANONYMIZED_TELEMETRY", "True")
    monkeypatch.delenv("ORT_DISABLE_TELEMETRY", raising=False)
    monkeypatch.setenv("HF_HUB_OFFLINE", "0")  # the user's own choice about the hub stands
    go_offline()
    assert {k: os.environ[k] for k in NO_TELEMETRY} == NO_TELEMETRY
    assert os.environ["HF_HUB_OFFLINE"] == "0" and "HF_HUB_OFFLINE" in HUB_OFFLINE
