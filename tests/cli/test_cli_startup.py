"""The CLI starts fast: ``--help`` of any command imports no heavy library, and its spelled-out choices are right."""

import json
import subprocess
import sys

from click.testing import CliRunner

from cvops_cli import main
from cvops_cli.main import COMMANDS

HEAVY = ("torch", "pandas", "numpy", "dagster", "duckdb", "av", "great_expectations", "trackeval", "scipy", "boto3")

_PROBE = """
import json, sys
import click
from click.testing import CliRunner
from cvops_cli import main
from cvops_cli.main import COMMANDS

runner = CliRunner()
helped = []
for name in sorted(COMMANDS):
    result = runner.invoke(main, [name, "--help"])
    assert result.exit_code == 0, (name, result.output)
    helped.append(name)
    command = main.get_command(click.Context(main), name)
    for sub in getattr(command, "commands", {}):
        assert runner.invoke(main, [name, sub, "--help"]).exit_code == 0
        helped.append(f"{name} {sub}")
assert runner.invoke(main, ["--help"]).exit_code == 0
print(json.dumps({"helped": helped, "modules": sorted(m.split(".")[0] for m in sys.modules)}))
"""


def test_help_of_every_command_imports_no_heavy_library() -> None:
    probe = subprocess.run([sys.executable, "-c", _PROBE], capture_output=True, text=True, check=True)
    report = json.loads(probe.stdout)
    assert "frames" in report["helped"] and "models list" in report["helped"]
    loaded = set(report["modules"])
    assert not loaded & set(HEAVY), f"--help imported {sorted(loaded & set(HEAVY))}"


def test_every_registered_command_loads() -> None:
    listed = CliRunner().invoke(main, ["--help"]).output
    for name in COMMANDS:
        assert name in listed


def test_spelled_out_choices_match_the_library() -> None:
    from cvops.registry import Stage
    from cvops.video import Method
    from cvops_cli.frames import METHODS
    from cvops_cli.models import STAGES

    assert tuple(m.value for m in Method) == METHODS
    assert tuple(s.value for s in Stage) == STAGES


def test_library_errors_become_one_line_messages(tmp_path) -> None:
    result = CliRunner().invoke(main, ["sql", "SELECT * FROM no_such_table"], env={"CVOPS_HOME": str(tmp_path)})
    assert result.exit_code == 1
    assert result.output.startswith("Error: ") and "no_such_table" in result.output
    assert "Traceback" not in result.output
