"""Reading the recorded inputs of tests/data/recorded (see its README.md) as the collectors see them."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

from harness.collectors.kernel_log import KmsgRecord, parse_dmesg_line, parse_kmsg_record

RECORDED = Path(__file__).resolve().parents[1] / "data" / "recorded"


class Recorded:
    """Reads one recording folder's files in the shapes the collectors take."""

    def __init__(self, root: Path = RECORDED) -> None:
        self.root = root

    def text(self, *parts: str) -> str:
        return (self.root.joinpath(*parts)).read_text()

    def kmsg(self, name: str) -> list[KmsgRecord]:
        """/dev/kmsg records as ``read()`` returns them (a line starting with a space continues one)."""
        raw: list[str] = []
        for line in self.text(name, "kmsg.txt").splitlines(keepends=True):
            if line.startswith(" ") and raw:
                raw[-1] += line
            else:
                raw.append(line)
        return [record for text in raw if (record := parse_kmsg_record(text)) is not None]

    def dmesg(self, name: str) -> list[KmsgRecord]:
        lines = self.text(name, "dmesg.txt").splitlines()
        return [record for line in lines if (record := parse_dmesg_line(line)) is not None]

    def events(self, name: str) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.text(name, "events.jsonl").splitlines()]

    def inspects(self, name: str) -> list[dict[str, Any]]:
        """Every distinct inspect state the recorder saw, in order."""
        return [json.loads(line) for line in self.text(name, "inspects.jsonl").splitlines()]

    def inspect(self, name: str) -> dict[str, Any]:
        """The inspect at the end of the recording."""
        data: dict[str, Any] = json.loads(self.text(name, "inspect.json"))
        return data

    def container_id(self, name: str) -> str:
        return str(self.inspect(name)["Id"])

    def logs(self, name: str) -> str:
        return self.text(name, "logs.txt")

    def copy_dir(self, source: str, target: Path) -> Path:
        """A writable copy of a recorded cgroup folder."""
        shutil.copytree(self.root / source, target)
        return target

