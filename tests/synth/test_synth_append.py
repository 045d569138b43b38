"""Appending matches to an existing store, re-running, and the ``cvops synth`` command line."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
from click.testing import CliRunner

from cvops.errors import InputError
from cvops.synth import SynthConfig, generate_store
from cvops_cli import main


def test_append_keeps_existing_rows_and_matches_a_single_run(tmp_path: Path, tiny_config: SynthConfig) -> None:
    store = tmp_path / "store"
    assert generate_store(store, tiny_config) == ["m0000", "m0001"]
    before = (store / "matches.csv").read_text()
    truth_before = (store / "_truth" / "matches.csv").read_text()
    keyframes_before = (store / "m0000" / "keyframes.csv").read_bytes()

    appended = dataclasses.replace(tiny_config, n_matches=1, first_match_index=2)
    assert generate_store(store, appended) == ["m0002"]
    after = (store / "matches.csv").read_text()
    assert after.startswith(before) and len(after.splitlines()) == 4
    assert after.splitlines()[-1].startswith("m0002,videos/m0002.mp4,")
    assert (store / "_truth" / "matches.csv").read_text().startswith(truth_before)
    assert (store / "m0000" / "keyframes.csv").read_bytes() == keyframes_before

    at_once = tmp_path / "at_once"
    generate_store(at_once, dataclasses.replace(tiny_config, n_matches=3))
    for name in ("matches.csv", "m0002/keyframes.csv", "m0002/det.txt", "_truth/m0002/boxes.csv", "videos/m0002.mp4"):
        assert (store / name).read_bytes() == (at_once / name).read_bytes(), name

    # Re-running the append is idempotent: the rows of the re-written id are replaced, not duplicated.
    generate_store(store, appended)
    assert (store / "matches.csv").read_text() == after


def test_existing_store_with_other_columns_is_refused(tmp_path: Path, tiny_config: SynthConfig) -> None:
    (tmp_path / "matches.csv").write_text("match_id,video\nm0000,videos/m0000.mp4\n")
    with pytest.raises(InputError) as error:
        generate_store(tmp_path, tiny_config)
    assert error.value.file == str(tmp_path / "matches.csv") and error.value.row == 1
    assert not (tmp_path / "videos").exists(), "nothing is rendered into a store that cannot be extended"


def test_cli_writes_a_store(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        main,
        ["synth", str(tmp_path), "--matches", "1", "--seconds", "1", "--width", "128", "--height", "72",
         "--fps", "30000/1001", "--gop", "15", "--seed", "4", "--first-index", "3"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "m0003" in result.output
    row = (tmp_path / "matches.csv").read_text().splitlines()[1].split(",")
    assert row[:6] == ["m0003", "videos/m0003.mp4", "30000/1001", "128", "72", "30"]


@pytest.mark.parametrize(
    ("arguments", "message"),
    [(["--fps", "fast"], "not a frame rate"), (["--width", "321"], "width"), (["--matches", "0"], "matches")],
)
def test_cli_rejects_bad_options(tmp_path: Path, arguments: list[str], message: str) -> None:
    result = CliRunner().invoke(main, ["synth", str(tmp_path), *arguments])
    assert result.exit_code != 0
    assert message in result.output
