"""Credentials in a video URL reach nothing cvops stores or prints; the real URL is still the one fetched."""

from __future__ import annotations

import logging
from pathlib import Path

import dagster as dg
import pytest

from cvops.catalog import Catalog, Manifests
from cvops.errors import InputError
from cvops.labels import LabelStore
from cvops.redaction import redact_text, redact_url
from cvops.video import SourceReadError, extract_frames
from cvops.video.extract import progress_reporter
from cvops_assets.labels import read_match_labels
from cvops_assets.partitions import matches_partitions
from cvops_resources import CatalogResource, LabelStoreResource
from tests.factories import match_row, player_keyframes, write_store

SECRETS = ("PASS", "SIG", "TOK", "KEYV", "PW2")
QUERY = "?X-Amz-Signature=SIG&X-Amz-Credential=KEYV&sig=SIG&token=TOK&api_key=KEYV&password=PW2&part=1"


def secret_url(base: str, path: str = "v.mp4") -> str:
    return base.replace("http://", "http://user:PASS@") + f"/{path}" + QUERY


def assert_clean(text: str) -> None:
    for secret in SECRETS:
        assert secret not in text, text


@pytest.mark.parametrize(
    "url",
    [
        "http://user:PASS@host/v.mp4" + QUERY,
        "https://host/v.mp4#access_token=TOK",
        "http://user:PA/SS@host/v.mp4",  # an unescaped "/" in the password
        "http://user:PA?SS@host/v.mp4",
        "s3://bucket/v.mp4?token=TOK",
    ],
)
def test_redaction_masks_user_info_and_credential_parameters(url) -> None:
    shown = redact_url(url)
    assert_clean(shown.replace("PA", "").replace("SS", ""))
    assert "PA/SS" not in shown and "PA?SS" not in shown
    assert redact_text(f"cannot read {url}: timed out") == f"cannot read {shown}: timed out"


def test_the_real_url_is_fetched_and_nothing_shows_it(hostile, settings, store, caplog) -> None:
    """Basic authentication from the user info reaches the server; errors, results and progress do not show it."""
    url = secret_url(hostile.base_url)
    lines: list[str] = []
    result = extract_frames(url, [1, 2], store, settings=settings, progress=progress_reporter(lines.append, label=url))
    assert any(seen.authorization for seen in hostile.seen), "the user info is used for basic authentication"
    assert any("X-Amz-Signature=SIG" in seen.path or seen.path == "v.mp4" for seen in hostile.seen)
    assert_clean(result.video + " ".join(lines))
    with caplog.at_level(logging.DEBUG), pytest.raises(SourceReadError) as error:
        extract_frames(secret_url(hostile.base_url, "missing.mp4"), [1], store, settings=settings)
    assert_clean(str(error.value) + caplog.text)
    with pytest.raises(InputError) as error:
        extract_frames(url, [0], store, settings=settings)
    assert_clean(str(error.value))


def test_refusals_do_not_quote_secrets(hostile, settings, store) -> None:
    for url in (secret_url("ftp://h"), secret_url("http://127.1"), secret_url(r"http://a\@b")):
        with pytest.raises(InputError) as error:
            extract_frames(url, [1], store, settings=settings)
        assert_clean(str(error.value))


def test_label_store_errors_and_the_matches_table_mask_the_video(tmp_path: Path) -> None:
    video = "http://user:PASS@cdn.example/m1.mp4" + QUERY
    rows = [match_row("m1", video=video), match_row("m2", video=video, width="wide")]
    table = LabelStore(write_store(tmp_path / "store", rows, {})).read_matches()
    frame = table.to_frame()
    assert frame["video"].tolist() == [redact_url(video)]
    assert_clean(frame.to_csv() + " ".join(str(e) for e in table.errors))


def test_reading_a_match_stores_and_logs_no_secret(tmp_path: Path, cvops_home: Path) -> None:
    """The matches catalog table, the assets' metadata and the Dagster event log."""
    video = "http://user:PASS@cdn.example/m1.mp4" + QUERY
    store = write_store(tmp_path / "store", [match_row("m1", video=video)], {"m1": player_keyframes(4)})
    instance = dg.DagsterInstance.ephemeral()
    instance.add_dynamic_partitions(matches_partitions.name, ["m1"])
    result = dg.materialize(
        [read_match_labels],
        partition_key="m1",
        instance=instance,
        resources={
            "label_store": LabelStoreResource(root=str(store)),
            "catalog": CatalogResource(home=str(cvops_home)),
        },
    )
    assert result.success
    catalog = Catalog(cvops_home / "catalog.duckdb", Manifests(cvops_home / "manifests"))
    assert catalog.query("SELECT video FROM matches")["video"].tolist() == [redact_url(video)]
    events = instance.all_logs(result.run_id)
    assert_clean(" ".join(repr(event) for event in events))
    assert LabelStore(store).read_matches().matches["m1"].video == video  # the store keeps the real one
