"""drumscribe: recorded drums in, MIDI and JSON out; results kept in S3 or a local mirror.

Everything the CLI does is importable from here. Names are loaded lazily so that
``import drumscribe`` (and the CLI's start-up) does not pay for madmom, numpy or boto3
until a feature that needs them is used.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

# public name -> "module:attribute"
_EXPORTS: dict[str, str] = {
    # configuration
    "Settings": "drumscribe.config:Settings",
    "load_settings": "drumscribe.config:load_settings",
    # errors
    "DrumscribeError": "drumscribe.errors:DrumscribeError",
    # storage
    "Storage": "drumscribe.storage.base:Storage",
    "ObjectInfo": "drumscribe.storage.base:ObjectInfo",
    "get_storage": "drumscribe.storage:get_storage",
    "LocalStorage": "drumscribe.storage.local:LocalStorage",
    "S3Storage": "drumscribe.storage.s3:S3Storage",
    "AsyncStorage": "drumscribe.storage.aio:AsyncStorage",
    "upload": "drumscribe.storage.uploads:upload",
    # provisioning and checks
    "setup": "drumscribe.provision:setup",
    "remove_tls_policy": "drumscribe.provision:remove_tls_policy",
    "doctor": "drumscribe.doctor:doctor",
    # the guide's monitoring and security practices (issue 14)
    "setup_monitoring": "drumscribe.provision.monitoring:setup_monitoring",
    "setup_ip_allowlist": "drumscribe.provision.allowlist:setup_ip_allowlist",
    "setup_role": "drumscribe.provision.roles:setup_role",
    "restore": "drumscribe.storage.restore:restore",
    # transcription
    "transcribe": "drumscribe.transcription.pipeline:transcribe",
    "transcribe_and_store": "drumscribe.jobs.run:transcribe_and_store",
    "transcribe_many": "drumscribe.jobs.batch:transcribe_many",
    "Transcription": "drumscribe.transcription.result:Transcription",
    "DrumEvent": "drumscribe.transcription.result:DrumEvent",
    "load_model": "drumscribe.transcription.network:load_model",
    # sync, jobs, views
    "sync": "drumscribe.sync:sync",
    "list_jobs": "drumscribe.jobs.store:list_jobs",
    "load_job": "drumscribe.jobs.store:load_job",
    "render_tab": "drumscribe.views.tab:render_tab",
    "render_html": "drumscribe.views.html:render_html",
    "render_image": "drumscribe.views.image:render_image",
    "render_view": "drumscribe.views:render",
    "job_page": "drumscribe.jobs.page:job_page",
    "view_job": "drumscribe.jobs.page:view_job",
    # corrections (issue 23): edited.json next to the model's transcription
    "load_revision": "drumscribe.jobs.edits:load_revision",
    "load_edited": "drumscribe.jobs.edits:load_edited",
    "save_edited": "drumscribe.jobs.edits:save_edited",
    "import_edit": "drumscribe.jobs.edits:import_edit",
    "edited_jobs": "drumscribe.jobs.edits:edited_jobs",
    "edit_job": "drumscribe.jobs.edit_server:edit_job",
    "EditServer": "drumscribe.jobs.edit_server:EditServer",
    "render_musicxml": "drumscribe.views.musicxml:render_musicxml",
    "load_note_map": "drumscribe.transcription.notemap:load_note_map",
    "storage_stats": "drumscribe.stats:storage_stats",
    # the web service (needs the `serve` extra when called)
    "serve": "drumscribe.service.app:serve",
    "create_app": "drumscribe.service.app:create_app",
    "S3Service": "drumscribe.service.s3service:S3Service",
}

__all__ = ["__version__", *_EXPORTS]


def __getattr__(name: str) -> Any:
    target = _EXPORTS.get(name)
    if target is None:
        raise AttributeError(f"module 'drumscribe' has no attribute {name!r}")
    module_name, attr = target.split(":")
    value = getattr(importlib.import_module(module_name), attr)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)


if TYPE_CHECKING:  # pragma: no cover - for type checkers and IDEs only
    from drumscribe.config import Settings, load_settings  # noqa: F401
