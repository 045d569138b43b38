"""Match selection: grouping, caps, splits, checks, policy changes, and monotonicity under any arrival order."""

from __future__ import annotations

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cvops.errors import InputError
from cvops.selection import (
    SPLIT_EXCLUDED,
    SPLIT_TRAIN,
    SPLIT_VAL,
    MatchSelectionConfig,
    blocking_failures,
    export_split,
    group_key,
    select_matches,
)

DAY0 = pd.Timestamp("2024-08-01", tz="UTC")


def matches(*rows: tuple[str, int, str, str, str]) -> pd.DataFrame:
    """(match_id, annotated day, pitch, home, away) rows as the matches table."""
    return pd.DataFrame(
        [
            {
                "match_id": m,
                "annotated_at": DAY0 + pd.Timedelta(days=d),
                "pitch": p,
                "home_team": h,
                "away_team": a,
            }
            for m, d, p, h, a in rows
        ]
    )


def splits(table: pd.DataFrame) -> dict[str, str]:
    return dict(zip(table["match_id"], table["split"], strict=True))


def reasons(table: pd.DataFrame) -> dict[str, str]:
    return dict(zip(table["match_id"], table["reason"], strict=True))


def test_first_of_group_is_val_then_train_up_to_the_cap_oldest_first():
    table = select_matches(
        matches(
            ("m4", 4, "p1", "a", "b"),
            ("m1", 1, "p1", "a", "b"),
            ("m3", 3, "p1", "a", "b"),
            ("m2", 2, "p1", "a", "b"),
            ("n1", 9, "p2", "a", "b"),
        ),
        config=MatchSelectionConfig(max_per_group=3),
    ).table
    assert splits(table) == {
        "m1": SPLIT_VAL,
        "m2": SPLIT_TRAIN,
        "m3": SPLIT_TRAIN,
        "m4": SPLIT_EXCLUDED,
        "n1": SPLIT_VAL,
    }
    assert reasons(table)["m4"] == "group_full"
    assert table.set_index("match_id").loc["n1", "group_key"] == "pitch=p2|home_team=a|away_team=b"


def test_group_values_are_trimmed_and_case_folded():
    assert group_key({"pitch": " North Park ", "home_team": "Rovers"}, ("pitch", "home_team")) == (
        "pitch=north park|home_team=rovers"
    )
    assert group_key({"pitch": None}, ("pitch",)) == "pitch="


def test_ties_on_annotated_at_are_broken_by_match_id():
    table = select_matches(
        matches(("b", 1, "p", "h", "a"), ("a", 1, "p", "h", "a")), config=MatchSelectionConfig(max_per_group=1)
    ).table
    assert splits(table) == {"a": SPLIT_VAL, "b": SPLIT_EXCLUDED}


def test_a_late_arrival_with_an_older_annotation_does_not_displace_a_selected_match():
    config = MatchSelectionConfig(max_per_group=2)
    first = select_matches(matches(("m5", 5, "p", "h", "a"), ("m6", 6, "p", "h", "a")), config=config)
    later = select_matches(
        matches(("m5", 5, "p", "h", "a"), ("m6", 6, "p", "h", "a"), ("m1", 1, "p", "h", "a")),
        first.table,
        config=config,
    )
    assert splits(later.table) == {"m5": SPLIT_VAL, "m6": SPLIT_TRAIN, "m1": SPLIT_EXCLUDED}
    assert later.summary["newly_selected"] == []
    assert not later.recomputed


def test_rerunning_with_the_same_inputs_changes_nothing():
    config = MatchSelectionConfig(max_per_group=2)
    store = matches(("m1", 1, "p", "h", "a"), ("m2", 2, "p", "h", "a"), ("m3", 3, "p", "h", "a"))
    first = select_matches(store, failed_checks={"m3": ["schema"]}, config=config)
    again = select_matches(store, first.table, failed_checks={"m3": ["schema"]}, config=config)
    pd.testing.assert_frame_equal(first.table, again.table)
    assert again.summary["newly_selected"] == []


def test_failed_checks_exclude_a_newcomer_until_its_labels_pass():
    config = MatchSelectionConfig(max_per_group=2)
    both = matches(("m1", 1, "p", "h", "a"), ("m2", 2, "p", "h", "a"))
    first = select_matches(both, failed_checks={"m1": ["boxes_inside_image"]}, config=config)
    assert splits(first.table) == {"m1": SPLIT_EXCLUDED, "m2": SPLIT_VAL}
    assert first.table.set_index("match_id").loc["m1", "detail"] == "failed: boxes_inside_image"
    fixed = select_matches(both, first.table, config=config)
    assert splits(fixed.table) == {"m1": SPLIT_TRAIN, "m2": SPLIT_VAL}


def test_a_selected_match_that_later_fails_is_held_not_moved():
    config = MatchSelectionConfig(max_per_group=2)
    store = matches(("m1", 1, "p", "h", "a"), ("m2", 2, "p", "h", "a"), ("m3", 3, "p", "h", "a"))
    first = select_matches(store, config=config)
    held = select_matches(store, first.table, failed_checks={"m1": ["schema"]}, config=config)
    assert splits(held.table) == splits(first.table)
    assert reasons(held.table)["m1"] == "held_checks_failed"
    assert export_split(held.table, "m1") is None
    assert held.summary["held"] == ["m1"]
    released = select_matches(store, held.table, config=config)
    assert reasons(released.table)["m1"] == "group_first"
    assert released.table.set_index("match_id").loc["m1", "detail"].startswith("released")
    assert export_split(released.table, "m1") == SPLIT_VAL


def test_a_selected_match_missing_from_the_store_keeps_its_slot_but_exports_nothing():
    config = MatchSelectionConfig(max_per_group=1)
    first = select_matches(matches(("m1", 1, "p", "h", "a")), config=config)
    later = select_matches(matches(("m2", 0, "p", "h", "a")), first.table, config=config)
    assert splits(later.table) == {"m1": SPLIT_VAL, "m2": SPLIT_EXCLUDED}
    assert reasons(later.table)["m1"] == "held_missing"
    assert export_split(later.table, "m1") is None
    assert export_split(later.table, "unknown") is None


def test_a_policy_change_recomputes_from_scratch():
    store = matches(("m1", 1, "p", "h", "a"), ("m2", 2, "p", "h", "a"), ("m0", 0, "p", "h", "a"))
    narrow = select_matches(store.iloc[:2], config=MatchSelectionConfig(max_per_group=1))
    assert splits(narrow.table) == {"m1": SPLIT_VAL, "m2": SPLIT_EXCLUDED}
    wide = select_matches(store, narrow.table, config=MatchSelectionConfig(max_per_group=2))
    assert wide.recomputed
    assert "policy changed" in wide.summary["messages"][0]
    assert splits(wide.table) == {"m0": SPLIT_VAL, "m1": SPLIT_TRAIN, "m2": SPLIT_EXCLUDED}
    again = select_matches(store, wide.table, config=MatchSelectionConfig(max_per_group=2, revision=1))
    assert again.recomputed and splits(again.table) == splits(wide.table)


def test_changed_group_properties_keep_the_earlier_group_and_say_so():
    config = MatchSelectionConfig(max_per_group=1)
    first = select_matches(matches(("m1", 1, "p", "h", "a")), config=config)
    moved = select_matches(matches(("m1", 1, "q", "h", "a")), first.table, config=config)
    assert moved.table["group_key"].tolist() == ["pitch=p|home_team=h|away_team=a"]
    assert "group properties changed" in moved.summary["messages"][0]


def test_bad_inputs_name_the_problem():
    with pytest.raises(InputError, match="pitch"):
        select_matches(pd.DataFrame({"match_id": ["m1"], "annotated_at": [DAY0]}))
    with pytest.raises(InputError, match="duplicate match id"):
        select_matches(matches(("m1", 1, "p", "h", "a"), ("m1", 2, "p", "h", "a")))
    with pytest.raises(InputError, match="max_per_group"):
        MatchSelectionConfig(max_per_group=0)


def test_only_annotated_matches_are_candidates_and_a_reopened_match_is_held():
    config = MatchSelectionConfig(max_per_group=2)
    store = matches(("m1", 1, "p", "h", "a"), ("m2", 2, "p", "h", "a")).assign(status=["annotated", "in_progress"])
    first = select_matches(store, config=config)
    assert splits(first.table) == {"m1": SPLIT_VAL}
    assert "not annotated yet" in first.summary["messages"][0]
    reopened = select_matches(store.assign(status=["in_progress", "annotated"]), first.table, config=config)
    assert splits(reopened.table) == {"m1": SPLIT_VAL, "m2": SPLIT_TRAIN}
    assert reasons(reopened.table)["m1"] == "held_missing"


def test_undated_matches_come_last():
    store = matches(("m1", 1, "p", "h", "a"), ("m2", 2, "p", "h", "a"))
    store.loc[0, "annotated_at"] = None
    result = select_matches(store, config=MatchSelectionConfig(max_per_group=1))
    assert splits(result.table) == {"m1": SPLIT_EXCLUDED, "m2": SPLIT_VAL}
    assert "without a valid annotated_at" in result.summary["messages"][0]


def test_blocking_failures_reads_check_results():
    results = pd.DataFrame(
        {
            "match_id": ["m1", "m1", "m2", "m3"],
            "check": ["schema", "drift", "schema", "schema"],
            "passed": [False, False, True, False],
            "blocking": [True, False, True, True],
        }
    )
    assert blocking_failures(results) == {"m1": ["schema"], "m3": ["schema"]}
    assert blocking_failures(results.drop(columns="blocking")) == {"m1": ["drift", "schema"], "m3": ["schema"]}


def reference_selection(store: pd.DataFrame, failing: set[str], cap: int) -> dict[str, str]:
    """The textbook rule on one batch: per group, passing matches oldest first, val then train up to the cap."""
    out = {m: SPLIT_EXCLUDED for m in store["match_id"]}
    ok = store[~store["match_id"].isin(failing)].sort_values(["annotated_at", "match_id"])
    for _, group in ok.groupby(["pitch", "home_team", "away_team"]):
        for rank, match_id in enumerate(group["match_id"][:cap]):
            out[match_id] = SPLIT_VAL if rank == 0 else SPLIT_TRAIN
    return out


match_rows = st.lists(
    st.tuples(st.integers(0, 6), st.sampled_from("pq"), st.sampled_from("hk"), st.just("a")),
    min_size=1,
    max_size=12,
)


@settings(max_examples=100, deadline=None)
@given(
    rows=match_rows,
    cap=st.integers(1, 3),
    data=st.data(),
)
def test_selection_is_monotone_under_any_arrival_order_and_check_history(rows, cap, data):
    """Selected matches never leave and never change split; group_full is final; caps always hold."""
    store = matches(*[(f"m{i:02d}", d, p, h, a) for i, (d, p, h, a) in enumerate(rows)])
    ids = list(store["match_id"])
    order = data.draw(st.permutations(ids), label="arrival order")
    cuts = sorted(data.draw(st.sets(st.integers(1, len(ids)), max_size=4), label="batch ends") | {len(ids)})
    config = MatchSelectionConfig(max_per_group=cap)
    previous = None
    start = 0
    for end in cuts:
        known = store[store["match_id"].isin(order[:end])]
        failing = data.draw(st.sets(st.sampled_from(order[:end])), label=f"failing after {end} arrivals")
        result = select_matches(known, previous, failed_checks={m: ["check"] for m in failing}, config=config)
        table = result.table.set_index("match_id")
        assert not result.recomputed
        assert set(order[:end]) <= set(table.index)
        if previous is not None:
            before = previous.set_index("match_id")
            for match_id, row in before.iterrows():
                now = table.loc[match_id]
                if row["split"] in (SPLIT_TRAIN, SPLIT_VAL) or row["reason"] == "group_full":
                    assert now["split"] == row["split"], match_id
                    assert now["group_key"] == row["group_key"]
        selected = table[table["split"].isin([SPLIT_TRAIN, SPLIT_VAL])]
        for key, group in selected.groupby("group_key"):
            assert len(group) <= cap, key
            assert (group["split"] == SPLIT_VAL).sum() == 1, key
        for match_id in set(order[start:end]) & failing:
            if previous is None or match_id not in set(previous["match_id"]):
                assert table.loc[match_id, "split"] == SPLIT_EXCLUDED
        for match_id, row in table[table["reason"] == "group_full"].iterrows():
            assert (selected["group_key"] == row["group_key"]).sum() == cap, match_id
        previous = result.table
        start = end


@settings(max_examples=100, deadline=None)
@given(rows=match_rows, cap=st.integers(1, 3), data=st.data())
def test_arrivals_in_annotation_order_give_the_textbook_oldest_first_selection(rows, cap, data):
    """When matches arrive oldest first (in any batches), incremental selection equals the one-batch rule."""
    store = matches(*[(f"m{i:02d}", d, p, h, a) for i, (d, p, h, a) in enumerate(rows)])
    ordered = list(store.sort_values(["annotated_at", "match_id"])["match_id"])
    failing = data.draw(st.sets(st.sampled_from(ordered)), label="failing")
    cuts = sorted(data.draw(st.sets(st.integers(1, len(ordered)), max_size=4)) | {len(ordered)})
    config = MatchSelectionConfig(max_per_group=cap)
    previous = None
    for end in cuts:
        known = store[store["match_id"].isin(ordered[:end])]
        failed = {m: ["check"] for m in failing if m in set(ordered[:end])}
        previous = select_matches(known, previous, failed_checks=failed, config=config).table
    assert splits(previous) == reference_selection(store, failing, cap)
