"""How much is stored where, and roughly what it costs a month.

One listing of the whole bucket (or the local mirror) gives objects and bytes per top-level
prefix (uploads/, processed/, temp/), per user, and per storage class. The monthly estimate is
storage only (GB-month x price; no requests, retrieval or transfer) from a price table that can
be overridden: ``storage_stats(prices=...)``, ``drumscribe stats --prices FILE.json`` or
``DRUMSCRIBE_PRICES=FILE.json``. The file is ``{"STANDARD": 0.023, ...}`` in USD per GB-month,
optionally ``{"prices": {...}, "source": "...", "date": "..."}``.

``saving_usd_month`` (per class and in total) is what keeping the same objects in STANDARD would
cost more: the saving of ``setup lifecycle --archive-uploads-after`` (or ``--infrequent-access``).
Retrieval and restore charges of the archive classes are not in it.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Mapping

from drumscribe.config import Settings, load_settings
from drumscribe.errors import ConfigError

GB = 1024**3  # AWS bills storage per GiB-month ("GB" on the price page)
KB = 1024

# us-east-1 list prices, first-50-TB tier, USD per GB-month. Taken from aws.amazon.com/s3/pricing
# (as published in 2025, after the April 2025 Express One Zone price change). Not fetched live.
DEFAULT_PRICES: dict[str, float] = {
    "STANDARD": 0.023,
    "INTELLIGENT_TIERING": 0.023,  # frequent-access tier; cheaper tiers depend on access patterns
    "STANDARD_IA": 0.0125,
    "ONEZONE_IA": 0.01,
    "GLACIER_IR": 0.004,
    "GLACIER": 0.0036,
    "DEEP_ARCHIVE": 0.00099,
    "REDUCED_REDUNDANCY": 0.024,
    "EXPRESS_ONEZONE": 0.11,
}
PRICES_SOURCE = "AWS S3 list prices, us-east-1, first 50 TB/month"
PRICES_DATE = "2025-04"
# classes billed at a minimum object size (small objects cost as if they were 128 KB)
MIN_BILLABLE = {"STANDARD_IA": 128 * KB, "ONEZONE_IA": 128 * KB, "GLACIER_IR": 128 * KB}
# archive classes add 40 KB of index per object: 32 KB at the class price, 8 KB at STANDARD
ARCHIVE_OVERHEAD = {"GLACIER": 32 * KB, "DEEP_ARCHIVE": 32 * KB}


@dataclass
class Tally:
    objects: int = 0
    bytes: int = 0

    def add(self, size: int) -> None:
        self.objects += 1
        self.bytes += size


@dataclass
class ClassCost:
    objects: int = 0
    bytes: int = 0
    billable_bytes: int = 0
    usd_per_gb_month: float | None = None
    usd_month: float | None = None
    saving_usd_month: float | None = None  # what the same objects would cost in STANDARD, less what they cost here


@dataclass
class StorageStats:
    backend: str
    location: str
    total: Tally = field(default_factory=Tally)
    prefixes: dict[str, Tally] = field(default_factory=dict)
    users: dict[str, Tally] = field(default_factory=dict)
    classes: dict[str, ClassCost] = field(default_factory=dict)
    usd_month: float = 0.0
    prices_source: str = PRICES_SOURCE
    prices_date: str = PRICES_DATE
    unpriced: list[str] = field(default_factory=list)  # storage classes missing from the table
    saving_usd_month: float = 0.0  # against keeping everything in STANDARD (archived uploads/, IA...)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def load_prices(source: str | Path | Mapping[str, Any] | None = None) -> tuple[dict[str, float], str, str]:
    """(prices, source, date) from a mapping, a JSON file, ``$DRUMSCRIBE_PRICES``, or the defaults."""
    if source is None and os.environ.get("DRUMSCRIBE_PRICES"):
        source = os.environ["DRUMSCRIBE_PRICES"]
    if source is None:
        return dict(DEFAULT_PRICES), PRICES_SOURCE, PRICES_DATE
    label, date = "custom", "unknown"
    if isinstance(source, (str, Path)):
        path = Path(source).expanduser()
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise ConfigError(f"price file not found: {path}") from None
        except (OSError, ValueError) as exc:
            raise ConfigError(f"cannot read price file {path}: {exc}") from None
        label = str(path)
    else:
        data = dict(source)
    if isinstance(data, dict) and isinstance(data.get("prices"), dict):
        label, date = str(data.get("source") or label), str(data.get("date") or date)
        data = data["prices"]
    if not isinstance(data, dict):
        raise ConfigError("a price table is a JSON object of STORAGE_CLASS: USD per GB-month")
    prices = dict(DEFAULT_PRICES)
    for name, value in data.items():
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
            raise ConfigError(f"price for {name!r} must be a non-negative number (USD per GB-month), got {value!r}")
        prices[str(name).upper()] = float(value)
    return prices, label, date


def storage_stats(
    settings: Settings | None = None,
    storage: Any = None,
    prices: str | Path | Mapping[str, Any] | None = None,
    *,
    prefer_local: bool = False,
) -> StorageStats:
    """Objects and bytes per prefix, user and storage class, with an estimated monthly cost."""
    table, label, date = load_prices(prices)
    if storage is None:
        from drumscribe.storage import get_storage

        storage = get_storage(settings or load_settings(), prefer_local=prefer_local)
    stats = StorageStats(backend=storage.name, location=storage.uri(""), prices_source=label, prices_date=date)
    for info in storage.list(""):
        parts = info.key.split("/")
        top = parts[0] + "/" if len(parts) > 1 else "(top level)"
        stats.total.add(info.size)
        stats.prefixes.setdefault(top, Tally()).add(info.size)
        if parts[0] in ("uploads", "processed") and len(parts) > 2:
            stats.users.setdefault(parts[1], Tally()).add(info.size)
        cls = (info.storage_class or "STANDARD").upper()
        cost = stats.classes.setdefault(cls, ClassCost())
        cost.objects += 1
        cost.bytes += info.size
        cost.billable_bytes += max(info.size, MIN_BILLABLE.get(cls, 0)) + ARCHIVE_OVERHEAD.get(cls, 0)
    standard_overhead = 0.0
    for cls, cost in stats.classes.items():
        price = table.get(cls)
        if price is None:
            stats.unpriced.append(cls)
            continue
        cost.usd_per_gb_month = price
        cost.usd_month = cost.billable_bytes / GB * price
        overhead = cost.objects * 8 * KB / GB * table.get("STANDARD", 0.0) if cls in ARCHIVE_OVERHEAD else 0.0
        standard_overhead += overhead
        stats.usd_month += cost.usd_month
        if "STANDARD" in table:
            # minimum sizes and archive overhead count: small objects can cost more outside STANDARD
            cost.saving_usd_month = cost.bytes / GB * table["STANDARD"] - cost.usd_month - overhead
            stats.saving_usd_month += cost.saving_usd_month
    stats.usd_month += standard_overhead
    stats.prefixes = dict(sorted(stats.prefixes.items()))
    stats.users = dict(sorted(stats.users.items(), key=lambda kv: -kv[1].bytes))
    return stats
