"""The return on data: every model's benchmark error against the size of the dataset it was trained on.

The platform exists so that more annotated matches become a better model. The learning curve shows whether they
do: each model version is one point, its dataset version's training matches and images on one axis, its weighted
error and HOTA on the benchmark samples *every* model was evaluated on on the other (a fair comparison, as the
leaderboard's), with the model it was warm-started from. The Dagster step ``rank_and_promote`` writes it to the
catalog table ``learning_curve`` and shows it (table and plot) on the leaderboard; ``cvops benchmark curve``
prints it.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from cvops.benchmark.leaderboard import leaderboard
from cvops.io import atomic_path
from cvops.metrics import ErrorWeights

CURVE_COLUMNS = (
    "model_version",
    "dataset_version",
    "parent_model",
    "stage",
    "train_matches",
    "train_images",
    "samples",
    "weighted_error",
    "hota",
)


def learning_curve(
    results: pd.DataFrame,
    samples: Sequence[str],
    models: pd.DataFrame,
    dataset_samples: pd.DataFrame,
    *,
    weights: ErrorWeights | None = None,
) -> pd.DataFrame:
    """One row per model with benchmark results, ordered by training set size then version.

    ``results``: the current generation's ``benchmark_results``; ``samples``: its samples; ``models``: the
    ``models`` table (``model_version, dataset_version, parent_model, stage``); ``dataset_samples``: the catalog
    table of that name (``version, match_id, split``), whose train rows give each dataset version's size. Errors
    are over the samples common to all models, so a point moves only when its model does."""
    board = leaderboard(results, samples=samples, weights=weights)
    if not board.rows:
        return pd.DataFrame({name: pd.Series(dtype=_dtype(name)) for name in CURVE_COLUMNS})
    train = dataset_samples[dataset_samples["split"] == "train"]
    size = train.groupby("version").agg(train_matches=("match_id", "nunique"), train_images=("match_id", "size"))
    size.index = [f"dataset/v{int(v)}" for v in size.index]
    info = models.set_index("model_version")
    rows = []
    for row in board.rows:
        model = info.loc[row.model_version] if row.model_version in info.index else None
        dataset = str(model["dataset_version"]) if model is not None else None
        parent = model["parent_model"] if model is not None else None
        rows.append(
            {
                "model_version": row.model_version,
                "dataset_version": dataset,
                "parent_model": None if parent is None or pd.isna(parent) else str(parent),
                "stage": str(model["stage"]) if model is not None else None,
                "train_matches": size["train_matches"].get(dataset),
                "train_images": size["train_images"].get(dataset),
                "samples": len(board.common_samples),
                "weighted_error": row.weighted_error,
                "hota": row.metrics.hota,
            }
        )
    frame = pd.DataFrame(rows, columns=list(CURVE_COLUMNS))
    for name in CURVE_COLUMNS:
        frame[name] = frame[name].astype(_dtype(name))
    return frame.sort_values(["train_images", "model_version"], ignore_index=True, na_position="first")


def _dtype(name: str) -> str:
    if name in ("train_matches", "train_images", "samples"):
        return "Int64"
    return "float64" if name in ("weighted_error", "hota") else "string"


def curve_markdown(curve: pd.DataFrame) -> str:
    """The curve as a markdown table (the leaderboard's metadata, docs)."""
    if curve.empty:
        return "No model has benchmark results on common samples yet."
    shown = curve.assign(
        parent_model=curve["parent_model"].fillna("scratch"),
        weighted_error=curve["weighted_error"].round(4),
        hota=curve["hota"].round(4),
    )
    header = f"{int(curve['samples'].iloc[0])} benchmark samples common to all models\n\n"
    return header + shown.to_markdown(index=False)


def plot_curve(curve: pd.DataFrame, path: Path | None = None) -> bytes:
    """A PNG of weighted error and HOTA against training images, each point labelled with its model (warm
    starts drawn from their parent); written atomically to ``path`` when given. Returns the PNG's bytes."""
    import matplotlib  # plotting is needed only here: keep it out of every importer's start-up

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    figure = Figure(figsize=(9, 3.6), dpi=100, layout="constrained")
    axes = figure.subplots(1, 2)
    points = curve.dropna(subset=["train_images"]).set_index("model_version")
    for ax, column, label in zip(
        axes, ("weighted_error", "hota"), ("weighted error (lower is better)", "HOTA (higher is better)"), strict=True
    ):
        for model, row in points.iterrows():
            parent = row["parent_model"]
            if isinstance(parent, str) and parent in points.index:
                start = points.loc[parent]
                ax.annotate(
                    "",
                    xy=(row["train_images"], row[column]),
                    xytext=(start["train_images"], start[column]),
                    arrowprops={"arrowstyle": "->", "color": "0.6"},
                )
            production = row["stage"] == "production"
            ax.scatter(
                row["train_images"],
                row[column],
                marker="*" if production else "o",
                s=120 if production else 40,
                color="tab:green" if production else "tab:blue",
                zorder=3,
            )
            ax.annotate(str(model), (row["train_images"], row[column]), textcoords="offset points", xytext=(5, 5))
        ax.set_xlabel("training images (dataset version)")
        ax.set_ylabel(label)
        ax.grid(alpha=0.3)
    samples = int(curve["samples"].iloc[0]) if len(curve) else 0
    figure.suptitle(f"Return on data: every model on the {samples} benchmark samples common to all (* production)")
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    png = buffer.getvalue()
    if path is not None:
        with atomic_path(Path(path)) as tmp:
            tmp.write_bytes(png)
    return png
