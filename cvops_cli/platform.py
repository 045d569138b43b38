"""``cvops init`` and ``cvops demo``: set up the platform state, and run the whole chain on synthetic matches."""

from __future__ import annotations

import click

# The league seed of the first wave. Whatever the seed, the first wave plays on two of the league's three pitches
# and the second wave on the third (the seed picks which). The demo groups matches by pitch, one validation match
# per group, so wave 2 adds a benchmark sample and the summary shows the old model evaluated on that new sample
# alone (not on the samples it was already scored on).
DEMO_SEED = 15


@click.command("init")
def init() -> None:
    """Create $CVOPS_HOME, the Dagster instance settings and the catalog (idempotent)."""
    from cvops.home import init_home
    from cvops.instance_settings import storage_kind

    paths = init_home()
    click.echo(f"CVOPS_HOME={paths.home}\nDAGSTER_HOME={paths.dagster_home}\ncatalog: {paths.catalog}")
    click.echo(f"Dagster instance storage: {storage_kind()} (settings: {paths.dagster_home / 'dagster.yaml'})")


@click.command("demo")
@click.option("--matches", "n_matches", default=6, show_default=True, help="Synthetic matches in the first wave.")
@click.option("--new-matches", "n_new", default=3, show_default=True, help="Matches annotated later.")
@click.option("--seconds", default=20.0, show_default=True, help="Length of each synthetic match.")
@click.option(
    "--seed",
    default=DEMO_SEED,
    show_default=True,
    help="Synthetic league seed of the first wave (the second uses seed + 1).",
)
@click.option("--epochs", default=8, show_default=True, help="Training budget of each retrain, in epochs.")
@click.option(
    "--max-train-minutes",
    default=30.0,
    show_default=True,
    help="Safety net of each retrain: a training that has not finished by then is stopped and not registered.",
)
def demo(n_matches: int, n_new: int, seconds: float, seed: int, epochs: int, max_train_minutes: float) -> None:
    """Generate matches, let the sensor pick them up and materialise the chain; then add matches from a new pitch
    and retrain from the production model."""
    from cvops_assets.demo import run_demo

    run_demo(
        n_matches=n_matches,
        n_new_matches=n_new,
        seconds=seconds,
        seed=seed,
        epochs=epochs,
        max_train_minutes=max_train_minutes,
        echo=click.echo,
    )
