"""The sandbox's memory: tasks, uploaded files and the credit balance.

With a directory, everything is a small JSON (or binary) file written atomically, so a
restarted sandbox finds the tasks an earlier one accepted and derives their state from their
creation time::

    <dir>/account.json            {"balance": "123.5"}
    <dir>/tasks/<task id>.json    one TaskRecord
    <dir>/files/<file id>.json    one FileRecord
    <dir>/files/<file id>.bin     its bytes

Without a directory the same data lives in dictionaries.
"""

import json
import os
import re
import tempfile
from decimal import Decimal
from pathlib import Path
from typing import Any

import attrs

_SAFE_ID = re.compile(r"^[A-Za-z0-9_-]{1,100}$")


@attrs.define(kw_only=True)
class TaskRecord:
    """One accepted createTask, with what the sandbox decided at creation.

    ``outcome`` is ``success``, ``fail``, ``nsfw`` or ``lost`` (from the prompt markers);
    ``created_at`` is in Unix seconds of the sandbox clock; ``price`` is the credits charged
    on success (a decimal string); ``settled`` turns true once a finished task has been
    charged (success) or found free (failure).
    """

    task_id: str
    model: str
    input: dict[str, Any]
    callback_url: str | None
    created_at: float
    outcome: str
    slow: bool
    outputs: int
    result_kind: str
    price: str
    settled: bool = False
    callback_attempts: int = 0
    callback_done: bool = False


@attrs.define(kw_only=True)
class FileRecord:
    """One uploaded file (its bytes are stored beside it)."""

    file_id: str
    file_name: str
    upload_path: str
    mime_type: str
    size: int
    uploaded_at: str


def _write_atomically(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(data)
        Path(temporary).replace(path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


class SandboxStore:
    """Tasks, files and the balance, in ``directory`` (persistent) or in memory (``None``)."""

    def __init__(self, directory: Path | None = None) -> None:
        self._directory = directory
        self._tasks: dict[str, TaskRecord] = {}
        self._files: dict[str, tuple[FileRecord, bytes]] = {}
        self._balance: Decimal | None = None
        if directory is not None:
            self._load(directory)

    @property
    def directory(self) -> Path | None:
        """Where the data persists (None: in memory only)."""
        return self._directory

    def _load(self, directory: Path) -> None:
        (directory / "tasks").mkdir(parents=True, exist_ok=True)
        (directory / "files").mkdir(parents=True, exist_ok=True)
        account = directory / "account.json"
        if account.exists():
            self._balance = Decimal(json.loads(account.read_text("utf-8"))["balance"])
        for path in sorted((directory / "tasks").glob("*.json")):
            record = TaskRecord(**json.loads(path.read_text("utf-8")))
            self._tasks[record.task_id] = record

    # ---------------------------------------------------------------- balance

    def balance(self) -> Decimal | None:
        """The stored balance, or None if none was ever stored."""
        return self._balance

    def save_balance(self, balance: Decimal) -> None:
        """Store the balance."""
        self._balance = balance
        if self._directory is not None:
            payload = json.dumps({"balance": str(balance)}).encode()
            _write_atomically(self._directory / "account.json", payload)

    # ---------------------------------------------------------------- tasks

    def save_task(self, record: TaskRecord) -> None:
        """Insert or replace a task."""
        if not _SAFE_ID.match(record.task_id):
            raise ValueError("unsafe task id")
        self._tasks[record.task_id] = record
        if self._directory is not None:
            payload = json.dumps(attrs.asdict(record), ensure_ascii=False).encode()
            _write_atomically(self._directory / "tasks" / f"{record.task_id}.json", payload)

    def task(self, task_id: str) -> TaskRecord | None:
        """The task with this id, or None."""
        return self._tasks.get(task_id)

    def tasks(self) -> list[TaskRecord]:
        """Every task, oldest first."""
        return sorted(self._tasks.values(), key=lambda record: record.created_at)

    # ---------------------------------------------------------------- files

    def save_file(self, record: FileRecord, data: bytes) -> None:
        """Insert or replace an uploaded file."""
        if not _SAFE_ID.match(record.file_id):
            raise ValueError("unsafe file id")
        if self._directory is None:
            self._files[record.file_id] = (record, data)
            return
        folder = self._directory / "files"
        _write_atomically(folder / f"{record.file_id}.bin", data)
        meta = json.dumps(attrs.asdict(record), ensure_ascii=False).encode()
        _write_atomically(folder / f"{record.file_id}.json", meta)

    def file(self, file_id: str) -> tuple[FileRecord, bytes] | None:
        """An uploaded file and its bytes, or None."""
        if not _SAFE_ID.match(file_id):
            return None
        if self._directory is None:
            return self._files.get(file_id)
        folder = self._directory / "files"
        meta, data = folder / f"{file_id}.json", folder / f"{file_id}.bin"
        if not meta.exists() or not data.exists():
            return None
        return FileRecord(**json.loads(meta.read_text("utf-8"))), data.read_bytes()
