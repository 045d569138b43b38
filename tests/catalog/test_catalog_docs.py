"""docs/catalog.md lists every catalog table with exactly its columns, and its worked queries run."""

import re
from pathlib import Path

from cvops.catalog import TABLES, Catalog, Manifests

DOC = Path(__file__).resolve().parents[2] / "docs" / "catalog.md"


def test_every_table_is_documented_with_its_columns() -> None:
    text = DOC.read_text()
    documented = dict(re.findall(r"### `(\w+)`\n[^#]*?columns: ([^\n]+)", text))
    assert set(documented) == set(TABLES)
    for name, spec in TABLES.items():
        assert [c.strip() for c in documented[name].split(",")] == spec.columns, name


def test_worked_queries_run_on_an_empty_catalog(tmp_path: Path) -> None:
    catalog = Catalog(tmp_path / "catalog.duckdb", Manifests(tmp_path / "manifests"))
    queries = re.findall(r"```sql\n(.*?)```", DOC.read_text(), flags=re.S)
    assert queries
    for query in queries:
        catalog.query(query.strip().rstrip(";"))
