"""Versioned training datasets: git commits tagged ``dataset/vN`` whose data DVC stores once and pushes.

See ``docs/datasets.md`` for the layout of a version, how samples are deduplicated, remotes and faults.
"""

from cvops.datasets.export import DEFAULT_LOCK_TIMEOUT_S, ExportResult, export_dataset, export_preview
from cvops.datasets.lock import LockTimeoutError, LockWait
from cvops.datasets.reader import ImageReader, VersionData, open_folder, open_version, verify_files
from cvops.datasets.repo import DatasetRepo, DatasetRepoError, RemoteSettings
from cvops.datasets.versions import (
    DatasetVersion,
    checkout_version,
    latest_version,
    list_versions,
    tagged_versions,
    version_samples,
    versions_frame,
)

__all__ = [
    "DEFAULT_LOCK_TIMEOUT_S",
    "DatasetRepo",
    "DatasetRepoError",
    "DatasetVersion",
    "ExportResult",
    "ImageReader",
    "LockTimeoutError",
    "LockWait",
    "RemoteSettings",
    "VersionData",
    "checkout_version",
    "export_dataset",
    "export_preview",
    "latest_version",
    "list_versions",
    "open_folder",
    "open_version",
    "tagged_versions",
    "verify_files",
    "version_samples",
    "versions_frame",
]
