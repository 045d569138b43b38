"""The ``cvops`` group: sub-commands loaded on first use, and the one place where errors become exit codes.

Each sub-command module imports only ``click`` at the top and its domain modules inside the command, so
``cvops --help`` and ``cvops <command> --help`` start in a fraction of a second (``benchmarks/cli_startup.py``).
"""

from __future__ import annotations

import importlib

import click

from cvops.errors import CvopsError

# Sub-command name -> "module:attribute". Listing them here (rather than importing them) is what keeps the
# start-up cheap: a module is imported only when its command is run or asked for help.
COMMANDS: dict[str, str] = {
    "init": "cvops_cli.platform:init",
    "demo": "cvops_cli.platform:demo",
    "synth": "cvops_cli.synth:synth",
    "import-mot": "cvops_cli.labels:import_mot",
    "import-cvat": "cvops_cli.cvat:import_cvat",
    "export-cvat": "cvops_cli.cvat:export_cvat",
    "frames": "cvops_cli.frames:frames",
    "sql": "cvops_cli.catalog:sql",
    "dataset": "cvops_cli.dataset:dataset",
    "evaluate": "cvops_cli.evaluate:evaluate",
    "track": "cvops_cli.track:track",
    "models": "cvops_cli.models:models",
    "benchmark": "cvops_cli.benchmark:benchmark",
}

EXIT_CODES: tuple[tuple[type[BaseException], int], ...] = ((CvopsError, 1),)
"""Exit status per error class, most specific first: what a script calling ``cvops`` can rely on. Usage errors
keep click's own status, 2."""


class CliError(click.ClickException):
    """A cvops error as click prints it: ``Error: <message>`` on stderr, and its exit status."""

    def __init__(self, error: BaseException, exit_code: int) -> None:
        super().__init__(str(error))
        self.exit_code = exit_code


class CvopsGroup(click.Group):
    """A group that imports its sub-commands lazily and turns cvops errors into one-line messages."""

    def __init__(self, *args, lazy_commands: dict[str, str], **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.lazy_commands = lazy_commands

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *self.lazy_commands})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in self.lazy_commands and cmd_name not in self.commands:
            module_name, attribute = self.lazy_commands[cmd_name].split(":")
            self.add_command(getattr(importlib.import_module(module_name), attribute), cmd_name)
        return super().get_command(ctx, cmd_name)

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except Exception as error:
            for error_class, code in EXIT_CODES:
                if isinstance(error, error_class):
                    raise CliError(error, code) from None
            raise


@click.group(
    cls=CvopsGroup,
    lazy_commands=COMMANDS,
    context_settings={"help_option_names": ["-h", "--help"]},
)
@click.version_option(package_name="cvops")
def main() -> None:
    """cvops: match annotations in, versioned datasets, models and benchmarks out."""
