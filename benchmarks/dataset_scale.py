"""Dataset versions at scale: what a version costs with cvops's per-match shards, and with the plain DVC layout.

For each size N it makes N tiny distinct JPEGs (8x8 noise, ~0.7 KB; ``--per-match`` frames per match, two boxes
per frame) and exports, with :func:`cvops.datasets.export_dataset` and the real git + DVC (``CVOPS_DVC``):

- v1: all N samples;
- v2: v1 plus 1% new samples (one new match);
- v3 (with ``--same-new K``): v2 plus K new samples (one more match), to compare with a size whose 1% is K.

Each export runs in a child process, so its peak memory (``ru_maxrss``) is its own; DVC's peak is reported apart
(``dvc_peak_mb``: the largest DVC process it ran). Objects and bytes pushed are counted on the remote itself
(before/after). ``--repeat K`` exports the last version K times, putting the repository, its local state and the
remote back to the version before it each time (the DVC cache keeps its objects), so that a figure of a few
seconds is read as the median of K runs rather than one. ``--remote s3`` pushes to moto's S3 server on
127.0.0.1; ``--flat`` also runs the plain DVC layout (one DVC-tracked ``images/`` folder, one file per sample:
``dvc add images``, commit, ``dvc push``) at the sizes given, as the anchor.

Usage::

    .venv/bin/python benchmarks/dataset_scale.py --samples 100000 --flat 100000 --same-new 10000
    .venv/bin/python benchmarks/dataset_scale.py --samples 100000 1000000 --same-new 10000 --repeat 5 \
        --remote local s3 --workdir /tmp/scale   # disk: ~6 GB
    .venv/bin/python benchmarks/dataset_scale.py --samples 200 --per-match 50   # tiny: seconds
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import resource
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image

from cvops.datasets.dvc_tool import dvc_command


def make_samples(cache: Path, matches: list[str], per_match: int, seed: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Tiny distinct JPEGs (8x8 noise) and two boxes per frame."""
    rng = np.random.default_rng(seed)
    samples, labels = [], []
    for index, match_id in enumerate(matches):
        folder = cache / match_id
        folder.mkdir(parents=True, exist_ok=True)
        for frame in range(1, per_match + 1):
            path = folder / f"{frame:06d}.jpg"
            Image.fromarray(rng.integers(0, 256, (8, 8, 3), dtype=np.uint8)).save(path, quality=90)
            samples.append((match_id, frame, "train", f"g{index % 7}", str(path)))
            labels.append((match_id, frame, 1, "player", 1.0, 2.0, 3.0, 4.0))
            labels.append((match_id, frame, 2, "ball", 5.0, 6.0, 1.0, 1.0))
    return (
        pd.DataFrame(samples, columns=["match_id", "frame", "split", "group_key", "source_path"]),
        pd.DataFrame(labels, columns=["match_id", "frame", "track_id", "role", "x", "y", "w", "h"]),
    )


# -- remotes ---------------------------------------------------------------------------------------------


class LocalRemote:
    def __init__(self, path: Path) -> None:
        self.url = str(path)
        self.path = path
        self.env: dict[str, str] = {}

    def inventory(self) -> dict[str, int]:
        root = self.path / "files" / "md5"
        if not root.is_dir():
            return {}
        return {f"{p.parent.name}{p.name}": p.stat().st_size for p in root.glob("*/*")}

    def delete(self, keys: set[str]) -> None:
        for key in keys:
            (self.path / "files" / "md5" / key[:2] / key[2:]).unlink()


class S3Remote:
    """A bucket on moto's S3 server (started by :func:`moto_server`)."""

    def __init__(self, endpoint: str, bucket: str, prefix: str) -> None:
        import boto3

        self.url = f"s3://{bucket}/{prefix}"
        self.bucket, self.prefix = bucket, prefix
        self.env = {"AWS_ENDPOINT_URL": endpoint, "AWS_ACCESS_KEY_ID": "bench", "AWS_SECRET_ACCESS_KEY": "bench",
                    "AWS_DEFAULT_REGION": "us-east-1"}  # fmt: skip
        self.client = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1",
                                   aws_access_key_id="bench", aws_secret_access_key="bench")  # fmt: skip
        self.client.create_bucket(Bucket=bucket)

    def inventory(self) -> dict[str, int]:
        found = {}
        for page in self.client.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=self.prefix):
            found.update({item["Key"]: item["Size"] for item in page.get("Contents", [])})
        return found

    def delete(self, keys: set[str]) -> None:
        for key in keys:
            self.client.delete_object(Bucket=self.bucket, Key=key)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def moto_server():
    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # one line per request otherwise
    port = _free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.stop()


# -- one export in a child process -----------------------------------------------------------------------


def export_child(repo_dir: Path, remote_url: str, samples_file: Path, labels_file: Path) -> None:
    """Run one export and print its figures as JSON (the ``--child`` mode)."""
    from cvops.datasets import DatasetRepo, RemoteSettings, export_dataset

    samples = pd.read_parquet(samples_file)
    labels = pd.read_parquet(labels_file)
    started = time.monotonic()
    result = export_dataset(
        DatasetRepo(repo_dir, RemoteSettings(remote_url)),
        samples, labels, config={"bench": True}, code_commit="bench", sources={},
    )  # fmt: skip
    seconds = time.monotonic() - started
    assert result.created and result.version.pushed, result.push_error
    print(
        json.dumps(
            {
                "export_s": seconds,
                "version": result.version.version,
                "samples": result.version.n_samples,
                "timings": result.timings,
                "objects_pushed_dvc": result.objects_pushed,
                "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                "dvc_peak_mb": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024,
            }
        )
    )


def run_export(root: Path, remote, number: int, samples: pd.DataFrame, labels: pd.DataFrame) -> dict[str, object]:
    inputs = root / "inputs"
    inputs.mkdir(exist_ok=True)
    samples.to_parquet(inputs / f"samples-v{number}.parquet")
    labels.to_parquet(inputs / f"labels-v{number}.parquet")
    before = remote.inventory()
    argv = [sys.executable, __file__, "--child", str(root / "cvops-repo"), remote.url,
            str(inputs / f"samples-v{number}.parquet"), str(inputs / f"labels-v{number}.parquet")]  # fmt: skip
    done = subprocess.run(argv, env={**os.environ, **remote.env}, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"export v{number} failed:\n{done.stderr[-3000:]}")
    figures = json.loads(done.stdout.strip().splitlines()[-1])
    after = remote.inventory()
    new = set(after) - set(before)
    timings = figures.pop("timings")
    return {
        **figures,
        **{f"{step}_s": seconds for step, seconds in timings.items()},
        "objects_pushed": len(new),
        "bytes_pushed": sum(after[key] for key in new),
        "pushed_keys": new,
    }


def undo_export(repo_dir: Path, state_backup: Path, version: int, remote, pushed_keys: set[str]) -> None:
    """Put the repository, its local state (``.git/cvops``) and the remote back as they were before the export of
    ``version``, so that the same export can be timed again: its tag and commit go, and the folders and objects
    it added. The DVC cache keeps the objects (``dvc add`` then finds them there)."""
    _run(["git", "tag", "-d", f"dataset/v{version}"], repo_dir, {})
    _run(["git", "reset", "-q", "--hard", f"dataset/v{version - 1}"], repo_dir, {})
    for folder in (repo_dir / "matches").iterdir():
        if folder.is_dir() and not folder.with_name(f"{folder.name}.dvc").exists():
            shutil.rmtree(folder)
    state = repo_dir / ".git" / "cvops"
    shutil.rmtree(state)
    shutil.copytree(state_backup, state)
    remote.delete(pushed_keys)


# -- the plain DVC layout --------------------------------------------------------------------------------


def _run(argv: list[str], cwd: Path, env: dict[str, str]) -> tuple[float, str]:
    started = time.monotonic()
    done = subprocess.run(argv, cwd=cwd, capture_output=True, text=True, check=True, env={**os.environ, **env})
    return time.monotonic() - started, done.stdout + done.stderr


def bench_flat(root: Path, remote, versions: list[pd.DataFrame]) -> list[dict[str, object]]:
    dvc = dvc_command()
    repo = root / "flat-repo"
    repo.mkdir()
    env = remote.env
    for argv in (["git", "init", "-q"], ["git", "config", "user.email", "bench@localhost"],
                 ["git", "config", "user.name", "bench"], [*dvc, "init", "-q"],
                 [*dvc, "config", "core.analytics", "false"], [*dvc, "config", "cache.type", "reflink,hardlink,copy"],
                 [*dvc, "remote", "add", "-d", "storage", remote.url]):  # fmt: skip
        _run(argv, repo, env)
    rows = []
    present: set[str] = set()
    for number, samples in enumerate(versions, start=1):
        started = time.monotonic()
        for match_id, frame, source in zip(samples["match_id"], samples["frame"], samples["source_path"], strict=True):
            target = f"images/{match_id}/{frame:06d}.jpg"
            if target not in present:
                (repo / target).parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(source, repo / target)
                present.add(target)
        copy_s = time.monotonic() - started
        before = remote.inventory()
        add_s, _ = _run([*dvc, "add", "-q", "images"], repo, env)
        started = time.monotonic()
        _run(["git", "add", "-A"], repo, env)
        _run(["git", "commit", "-q", "-m", f"v{number}"], repo, env)
        commit_s = time.monotonic() - started
        push_s, _ = _run([*dvc, "push"], repo, env)
        after = remote.inventory()
        new = set(after) - set(before)
        rows.append(
            {"layout": "flat", "version": number, "run": 1, "samples": len(samples), "copy_s": copy_s,
             "dvc_add_s": add_s, "commit_s": commit_s, "push_s": push_s, "export_s": copy_s + add_s + commit_s + push_s,
             "objects_pushed": len(new), "bytes_pushed": sum(after[key] for key in new)}
        )  # fmt: skip
    return rows


# -- driver ----------------------------------------------------------------------------------------------


def make_steps(args: argparse.Namespace, size: int) -> list[tuple[pd.DataFrame, pd.DataFrame]]:
    """The samples each version adds (made once per size, shared by the remotes)."""
    sample_cache = Path(args.workdir) / f"samples-n{size}"
    per_match = min(args.per_match, size)
    n_matches = max(1, size // per_match)
    one_percent = max(1, size // 100)
    started = time.monotonic()
    steps = [make_samples(sample_cache, [f"m{i:05d}" for i in range(n_matches)], per_match, seed=size)]
    steps.append(make_samples(sample_cache, ["n00000"], one_percent, seed=size + 1))
    if args.same_new and args.same_new != one_percent:
        steps.append(make_samples(sample_cache, ["n00001"], args.same_new, seed=size + 2))
    print(f"n={size}: {sum(len(s) for s, _ in steps)} samples made in {time.monotonic() - started:.0f} s", flush=True)
    return steps


def bench_size(
    args: argparse.Namespace,
    size: int,
    remote_kind: str,
    endpoint: str | None,
    steps: list[tuple[pd.DataFrame, pd.DataFrame]],
) -> list[dict[str, object]]:
    root = Path(args.workdir) / f"n{size}-{remote_kind}"
    shutil.rmtree(root, ignore_errors=True)
    root.mkdir(parents=True)
    if remote_kind == "s3":
        remote = S3Remote(endpoint, bucket=f"bench-{size}", prefix="datasets")
    else:
        remote = LocalRemote(root / "remote")
    versions = []
    for count in range(1, len(steps) + 1):
        samples = pd.concat([s for s, _ in steps[:count]], ignore_index=True)
        labels = pd.concat([label for _, label in steps[:count]], ignore_index=True)
        versions.append((samples, labels))
    rows = []
    state_backup = root / "state-before-last"
    pushed: set[str] = set()
    for number, (samples, labels) in enumerate(versions, start=1):
        last = number == len(versions) and number > 1
        runs = args.repeat if last else 1
        if last and runs > 1:
            shutil.copytree(root / "cvops-repo" / ".git" / "cvops", state_backup)
        for attempt in range(1, runs + 1):
            if attempt > 1:
                undo_export(root / "cvops-repo", state_backup, number, remote, pushed)
            row = run_export(root, remote, number, samples, labels)
            pushed = row.pop("pushed_keys")
            previous = len(versions[number - 2][0]) if number > 1 else 0
            row.update(layout="per-match shards", new_samples=len(samples) - previous, run=attempt)
            rows.append(row)
            print(json.dumps({"n": size, "remote": remote_kind, **row}), flush=True)
    if size in args.flat:
        flat_remote = (
            LocalRemote(root / "flat-remote")
            if remote_kind == "local"
            else S3Remote(endpoint, bucket=f"bench-flat-{size}", prefix="datasets")
        )
        for row in bench_flat(root, flat_remote, [samples for samples, _ in versions]):
            rows.append(row)
            print(json.dumps({"n": size, "remote": remote_kind, **row}), flush=True)
    for row in rows:
        row.update(n=size, remote=remote_kind)
    if not args.keep:
        shutil.rmtree(root, ignore_errors=True)
    return rows


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        export_child(Path(sys.argv[2]), sys.argv[3], Path(sys.argv[4]), Path(sys.argv[5]))
        return
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--samples", type=int, nargs="+", default=[100_000], help="dataset sizes N")
    parser.add_argument("--per-match", type=int, default=5400, help="frames per match of the first version")
    parser.add_argument("--same-new", type=int, default=0, help="a third version adding this many samples")
    parser.add_argument("--remote", nargs="+", choices=["local", "s3"], default=["local"])
    parser.add_argument("--flat", type=int, nargs="*", default=[], help="sizes at which to run the plain layout too")
    parser.add_argument("--workdir", type=Path, default=None, help="where to work (a temporary folder otherwise)")
    parser.add_argument("--keep", action="store_true", help="keep the repositories and remotes")
    parser.add_argument("--repeat", type=int, default=1, help="export the last version this many times (median)")
    args = parser.parse_args()
    dvc_command()  # fails early, naming CVOPS_DVC, when DVC cannot be found
    temporary = args.workdir is None
    args.workdir = args.workdir or Path(tempfile.mkdtemp(prefix="dataset-scale-"))
    results = []
    server = moto_server() if "s3" in args.remote else None
    endpoint = server.__enter__() if server else None
    try:
        for size in args.samples:
            steps = make_steps(args, size)
            for remote_kind in args.remote:
                results += bench_size(args, size, remote_kind, endpoint, steps)
            if not args.keep:
                shutil.rmtree(Path(args.workdir) / f"samples-n{size}", ignore_errors=True)
    finally:
        if server:
            server.__exit__(None, None, None)
        if temporary and not args.keep:
            shutil.rmtree(args.workdir, ignore_errors=True)
    table = pd.DataFrame(results)
    columns = ["n", "remote", "layout", "version", "run", "samples", "new_samples", "export_s", "inputs_s", "parts_s",
               "dvc_add_s", "commit_s", "push_s", "result_rows_s", "objects_pushed", "bytes_pushed", "peak_mb",
               "dvc_peak_mb"]  # fmt: skip
    print()
    print(table[[c for c in columns if c in table]].to_markdown(index=False, floatfmt=".2f"))
    if args.repeat > 1:
        repeated = table[table["run"] == args.repeat][["n", "remote", "version"]]
        medians = table.merge(repeated, on=["n", "remote", "version"]).groupby(["n", "remote", "version"])
        print(f"\nmedian of {args.repeat} runs of the last version:")
        print(medians[[c for c in columns if c in table and c.endswith("_s")]].median().to_markdown(floatfmt=".2f"))


if __name__ == "__main__":
    main()
