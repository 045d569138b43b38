"""``cvops sql``: ask the catalog a question."""

from __future__ import annotations

import click


@click.command("sql")
@click.argument("query")
@click.option("--format", "fmt", type=click.Choice(["table", "csv", "json"]), default="table", show_default=True)
def sql(query: str, fmt: str) -> None:
    """Run QUERY (read-only SQL) on the DuckDB catalog of $CVOPS_HOME; see docs/catalog.md for the tables."""
    import pandas as pd

    from cvops.catalog import Catalog
    from cvops.settings import CvopsPaths

    result = Catalog.at(CvopsPaths.from_env()).query(query)
    if fmt == "csv":
        click.echo(result.to_csv(index=False), nl=False)
    elif fmt == "json":
        click.echo(result.to_json(orient="records", date_format="iso"))
    else:
        with pd.option_context("display.max_rows", 200, "display.max_columns", 50, "display.width", 200):
            click.echo(result.to_string(index=False) if len(result) else f"(no rows) columns: {list(result.columns)}")
