"""``dagster dev`` (webserver, daemon and their shared code server) as a test fixture.

``dagster dev`` is what ``make dev`` runs: one code server that the webserver and the daemon share, so the
definitions load once, and one process to stop. It is started in its own session and stopped the way a process
manager (Kubernetes, systemd) stops a service: SIGTERM to the main process, which stops its webserver, daemon and
code server in order, then SIGKILL to the whole group after a grace period. Afterwards no process of its session may
be left (code server, run workers and step processes included).
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from tests.ui.ui_graphql import PYTHON_ERROR_FIELDS, GraphQLClient, GraphQLError, expect_type, format_error, wait_for

REPO_ROOT = Path(__file__).resolve().parents[2]
WORKSPACE = REPO_ROOT / "workspace.yaml"
LOCATION_NAME = "cvops"
REPOSITORY_NAME = "__repository__"  # the repository that a Definitions object becomes
REPOSITORY_SELECTOR = {"repositoryName": REPOSITORY_NAME, "repositoryLocationName": LOCATION_NAME}
# The daemons the test relies on: sensors (state only), backfills, and the queue that starts their runs.
REQUIRED_DAEMONS = ("SENSOR", "BACKFILL", "QUEUED_RUN_COORDINATOR")
_ANSI_ESCAPE = re.compile(r"\x1b\[[0-9;]*m")

WORKSPACE_QUERY = f"""
{{ workspaceOrError {{ __typename ... on Workspace {{ locationEntries {{ name loadStatus
    locationOrLoadError {{ __typename ... on PythonError {{ {PYTHON_ERROR_FIELDS} }} }} }} }} }} }}
"""
DAEMON_HEALTH_QUERY = """
{ instance { daemonHealth { allDaemonStatuses { daemonType healthy lastHeartbeatErrors { message } } } } }
"""


def _default_interrupt_signal() -> None:
    """Runs in the child before exec: give SIGINT its default disposition back.

    A shell that starts a job with ``&`` without job control (CI scripts, ``nohup``-like launchers) sets SIGINT to
    "ignore", and children inherit that. Python then leaves SIGINT ignored, and Dagster, which makes SIGTERM do
    whatever SIGINT does, ignores SIGTERM as well: the server could only be killed, never stopped.
    """
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@dataclass
class DagsterDev:
    process: subprocess.Popen[bytes]
    url: str
    log_path: Path
    tmp_dir: Path

    @classmethod
    def start(cls, *, log_path: Path, tmp_dir: Path) -> DagsterDev:
        """Start ``dagster dev`` on a free port of 127.0.0.1, with the current environment (DAGSTER_HOME...).

        ``tmp_dir`` becomes its TMPDIR, so its sockets and temporary workspace stay inside the test's folder.
        """
        port = free_port()
        command = [sys.executable, "-m", "dagster", "dev", "-w", str(WORKSPACE), "-h", "127.0.0.1", "-p", str(port)]
        tmp_dir.mkdir(parents=True, exist_ok=True)
        with log_path.open("ab") as log:
            process = subprocess.Popen(
                command,
                cwd=REPO_ROOT,
                env={**os.environ, "TMPDIR": str(tmp_dir)},
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own session and process group: signalled and checked as a whole
                preexec_fn=_default_interrupt_signal,
            )
        return cls(process=process, url=f"http://127.0.0.1:{port}", log_path=log_path, tmp_dir=tmp_dir)

    @property
    def session_id(self) -> int:
        return self.process.pid  # start_new_session: the leader's pid is the session and process group id

    def wait_until_ready(self, client: GraphQLClient, timeout_s: float) -> None:
        """Wait until the webserver answers, the code location is loaded and the daemons needed are healthy.

        A code location that fails to load (an error in the definitions) fails at once with its error.
        """
        deadline = time.monotonic() + timeout_s
        wait_for(lambda: self._serving(client), timeout_s=timeout_s, interval_s=1.0, what=f"{self.url}/server_info")
        wait_for(
            lambda: self._location_loaded(client),
            timeout_s=max(deadline - time.monotonic(), 1.0),
            interval_s=1.0,
            what=f"code location {LOCATION_NAME} to load",
        )
        wait_for(
            lambda: True if not self._daemon_problems(client) else None,
            timeout_s=max(deadline - time.monotonic(), 1.0),
            interval_s=1.0,
            what=f"daemons {', '.join(REQUIRED_DAEMONS)} to be healthy",
            last_state=lambda: "; ".join(self._daemon_problems(client)),
        )

    def _serving(self, client: GraphQLClient) -> bool | None:
        if self.process.poll() is not None:
            raise RuntimeError(f"dagster dev exited with code {self.process.returncode} before serving")
        try:
            client.get("/server_info")
        except OSError:  # refused, reset or timed out while it starts
            return None
        return True

    def _location_loaded(self, client: GraphQLClient) -> bool | None:
        workspace = expect_type(client.execute(WORKSPACE_QUERY)["workspaceOrError"], "Workspace")
        entries = {e["name"]: e for e in workspace["locationEntries"]}
        entry = entries.get(LOCATION_NAME)
        if entry is None:
            raise GraphQLError(f"no code location {LOCATION_NAME} in the workspace: {sorted(entries)}")
        location = entry["locationOrLoadError"] or {}
        if location.get("__typename") == "PythonError":
            raise GraphQLError(f"code location {LOCATION_NAME} failed to load: {format_error(location)}")
        return True if location.get("__typename") == "RepositoryLocation" else None

    @staticmethod
    def _daemon_problems(client: GraphQLClient) -> list[str]:
        """The required daemons that are not healthy, with their last heartbeat errors."""
        statuses = client.execute(DAEMON_HEALTH_QUERY)["instance"]["daemonHealth"]["allDaemonStatuses"]
        by_type = {s["daemonType"]: s for s in statuses}
        problems = []
        for name in REQUIRED_DAEMONS:
            status = by_type.get(name)
            if status is None:
                problems.append(f"{name} is not running")
            elif not status["healthy"]:
                errors = [e["message"] for e in status["lastHeartbeatErrors"]]
                problems.append(f"{name} is not healthy (errors: {errors})")
        return problems

    def stop(self, grace_s: float = 90.0, linger_s: float = 60.0) -> list[str]:
        """Stop everything it started; return what went wrong (empty when it stopped cleanly).

        Clean means: it exits with code 0, no process of its session is left and its TMPDIR is empty.
        SIGTERM to ``dagster dev`` alone, SIGKILL to its group after ``grace_s``. Not SIGTERM to the whole group, as
        Ctrl-C in a terminal does: that kills the code server under dagster dev, whose monitor thread (Dagster 1.13)
        may restart it while the daemon is still shutting down, and on a busy machine the new code server outlives
        the test (seen in CI: "Code server process has exited with code 0. Restarting the code server process.").
        Processes of the session may outlive the leader for a moment: dagster dev asks its code server to shut down
        without waiting for it, and a code server that missed the request stops when its heartbeat times out (45 s).
        They get ``linger_s`` before they are killed and reported.
        """
        problems: list[str] = []
        if self.process.poll() is not None:
            problems.append(f"dagster dev had already exited with code {self.process.returncode}")
        else:
            self.process.send_signal(signal.SIGTERM)
            try:
                code = self.process.wait(timeout=grace_s)
                if code != 0:
                    problems.append(f"dagster dev exited with code {code} on SIGTERM")
            except subprocess.TimeoutExpired:
                problems.append(f"dagster dev was still running {grace_s:.0f} s after SIGTERM: killed")
                _signal_group(self.session_id, signal.SIGKILL)
                self.process.wait(timeout=30)
        try:
            wait_for(
                lambda: True if not live_session_members(self.session_id) else None,
                timeout_s=linger_s,
                interval_s=0.5,
                what="the processes of dagster dev's session to exit",
            )
        except TimeoutError:
            leftovers = live_session_members(self.session_id)
            problems.append(f"processes left running after dagster dev exited (killed): {leftovers}")
            for pid in leftovers:
                _kill(pid)
        # Its code server sockets and temporary workspace file: removed by a clean shutdown.
        left_files = sorted(str(p.relative_to(self.tmp_dir)) for p in self.tmp_dir.rglob("*"))
        if left_files:
            problems.append(f"temporary files left in {self.tmp_dir}: {left_files[:20]}")
        return problems

    def log_tail(self, lines: int = 120) -> str:
        if not self.log_path.exists():
            return "(no log)"
        text = _ANSI_ESCAPE.sub("", self.log_path.read_text(errors="replace"))
        return "\n".join(text.splitlines()[-lines:])


def live_session_members(session_id: int) -> dict[int, str]:
    """pid -> command line of the processes of a session that are not zombies (Linux: read from /proc).

    Zombies are ignored: an orphan that exited is reaped by init, which a container may not run.
    Elsewhere, only whether the process group still has a member can be told, shown as pid ``session_id``.
    """
    proc = Path("/proc")
    if not proc.is_dir():
        try:
            os.killpg(session_id, 0)
        except ProcessLookupError:
            return {}
        return {session_id: "(process group still has members)"}
    members: dict[int, str] = {}
    for entry in proc.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace").strip()
        except OSError:  # exited while we looked
            continue
        # Fields after "(comm)": state ppid pgrp session ...; comm may contain spaces and parentheses.
        state, _ppid, _pgrp, session = stat.rsplit(")", 1)[1].split()[:4]
        if int(session) == session_id and state != "Z":
            members[int(entry.name)] = cmdline[:300]
    return members


def _signal_group(group_id: int, signum: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError):  # the whole group has exited already
        os.killpg(group_id, signum)


def _kill(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)


@dataclass
class DagsterUI:
    """A running ``dagster dev`` and the label store it will see.

    The label store is generated at ``staged_store`` and only appears at ``label_store`` (CVOPS_LABEL_STORE) when a
    test calls :meth:`publish_label_store`: the match sensor runs as soon as the daemon starts, and a test that
    wants to drive the platform itself stops the sensors first.
    """

    server: DagsterDev
    client: GraphQLClient
    label_store: Path
    staged_store: Path
    match_ids: list[str]

    def publish_label_store(self) -> None:
        self.staged_store.rename(self.label_store)  # atomic: a sensor tick sees no store or a whole one
