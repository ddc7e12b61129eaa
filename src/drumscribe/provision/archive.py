"""``setup lifecycle --archive-uploads-after DAYS --archive-class CLASS``: originals to a cheaper class.

The guide's cost section: "consider Intelligent-Tiering / Glacier for long-term storage". Only
``uploads/`` lives long (``temp/`` expires after 1 day and ``processed/`` after 30, by the guide's
rules, which stay), so one extra lifecycle rule, ``ArchiveUploads``, moves originals to the chosen
class after DAYS. It takes the place of the ``--infrequent-access`` rule (both are one transition
for ``uploads/``; STANDARD_IA after 30 days is what ``--infrequent-access`` means).

GLACIER and DEEP_ARCHIVE objects cannot be read until restored (S3 answers InvalidObjectState);
the S3 backend turns that into one line with the restore command (``storage.s3.restore_hint``).
GLACIER_IR and INTELLIGENT_TIERING (without the opt-in archive tiers) read back at once.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from drumscribe.errors import ConfigError
from drumscribe.provision import documents

RULE_ID = "ArchiveUploads"
PREFIX = "uploads/"
# class -> the earliest transition day S3 accepts (STANDARD_IA refuses anything under 30)
CLASSES = {"STANDARD_IA": 30, "INTELLIGENT_TIERING": 0, "GLACIER_IR": 0, "GLACIER": 0, "DEEP_ARCHIVE": 0}
DEFAULT_CLASS = "GLACIER_IR"  # a quarter of STANDARD_IA's price, and read back in milliseconds
NEEDS_RESTORE = ("GLACIER", "DEEP_ARCHIVE")  # read back only after `drumscribe restore` (storage/restore.py)


@dataclass(frozen=True)
class Archive:
    days: int
    storage_class: str = DEFAULT_CLASS

    def rule(self) -> dict[str, Any]:
        return {
            "ID": RULE_ID,
            "Status": "Enabled",
            "Filter": {"Prefix": PREFIX},
            "Transitions": [{"Days": self.days, "StorageClass": self.storage_class}],
        }

    def describe(self) -> str:
        return f"{PREFIX} to {self.storage_class} after {self.days} days"


def make_archive(days: int | None, storage_class: str | None, *, remove: bool = False) -> Archive | bool | None:
    """What ``Plan.archive`` holds: an ``Archive`` to apply, ``False`` to remove it, ``None`` to keep."""
    if remove:
        if days is not None or storage_class:
            raise ConfigError("--no-archive takes no --archive-uploads-after or --archive-class")
        return False
    if days is None:
        if storage_class:
            raise ConfigError("--archive-class needs --archive-uploads-after DAYS")
        return None
    cls = (storage_class or DEFAULT_CLASS).upper()
    if cls not in CLASSES:
        raise ConfigError(f"unknown archive class {storage_class!r}", hint="choose from " + ", ".join(CLASSES))
    if isinstance(days, bool) or not isinstance(days, int) or days < max(1, CLASSES[cls]):
        raise ConfigError(f"--archive-uploads-after must be a whole number of days, at least {max(1, CLASSES[cls])} for {cls}, got {days!r}")
    return Archive(days, cls)


def find(rules: list[dict] | None) -> Archive | None:
    """Our archive rule among ``rules``, if it is there in the shape we write."""
    for rule in rules or []:
        transitions = rule.get("Transitions") or []
        if rule.get("ID") == RULE_ID and len(transitions) == 1 and transitions[0].get("StorageClass") in CLASSES:
            found = Archive(int(transitions[0].get("Days", -1)), transitions[0]["StorageClass"])
            if documents.normalize_lifecycle([rule]) == documents.normalize_lifecycle([found.rule()]):
                return found
    return None


def desired_lifecycle(current: list[dict] | None, *, infrequent_access: bool | None, archive: Archive | bool | None) -> tuple[dict, str]:
    """The lifecycle document to have, and how its ``uploads/`` transition reads, given what is there now.

    ``None`` options keep the ``uploads/`` rule that is in place (the IA rule or an archive rule).
    """
    if isinstance(archive, Archive) and infrequent_access:
        raise ConfigError("--infrequent-access and --archive-uploads-after both set a transition for uploads/",
                          hint="give one: --infrequent-access means --archive-uploads-after 30 --archive-class STANDARD_IA")
    kept = find(current)
    has_ia = current is not None and documents.lifecycle_matches(current, infrequent_access=True)
    if isinstance(archive, Archive):
        chosen: Archive | None = archive
    elif archive is False or infrequent_access:
        chosen = None  # removed, or replaced by the IA rule
    else:
        chosen = kept
    ia = infrequent_access if infrequent_access is not None else has_ia
    doc = documents.lifecycle(infrequent_access=bool(ia) and chosen is None)
    if chosen is not None:
        doc["Rules"].append(chosen.rule())
    return doc, chosen.describe() if chosen else ""

