"""The ``cvops`` command line. Each sub-command lives in its own module of this package."""

from __future__ import annotations

import click

from cvops.cli import benchmark, catalog, evaluate, frames, labels, models, platform, synth


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="cvops")
def main() -> None:
    """cvops: match annotations in, versioned datasets, models and benchmarks out."""


for command in (
    platform.init,
    platform.demo,
    catalog.sql,
    labels.import_mot,
    evaluate.evaluate,
    synth.synth,
    models.models,
    benchmark.benchmark,
    frames.frames,
):
    main.add_command(command)
