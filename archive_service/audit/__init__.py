"""The audit room: append-only, hash-chained audit events, anchors of the chain head in
write-once storage, chain verification and export.

One module per job:

* :mod:`.chain` — what an event holds, its hash, appending at the head of the chain;
* :mod:`.group_commit` — concurrent downloads' events in one shared transaction;
* :mod:`.recorder` — :class:`AuditRecorder`, which the use cases hold to shape and commit
  their events;
* :mod:`.anchors` — timestamped anchors of the head in the object store, written and read back;
  :mod:`.anchor_job` — the background job that writes them in each server process;
* :mod:`.verification` — recomputing the chain against its anchors, naming every tampering;
* :mod:`.export` — the events' public JSON form, JSON Lines and CSV.

It knows the database and the object store, and asks the signing room for RFC 3161 tokens
over the head hash (:mod:`archive_service.signing.digest_timestamps`); nothing of journals.
"""

from archive_service.audit.anchors import CHECKPOINT_PREFIX, AuditCheckpoints
from archive_service.audit.chain import (
    GENESIS_HASH,
    Checkpoint,
    EventData,
    append_event,
    canonical_form,
    chain_head,
    count_events,
    event_hash,
)
from archive_service.audit.export import MEDIA_TYPES, event_as_dict, export_lines
from archive_service.audit.group_commit import BatchFailed, GroupCommit
from archive_service.audit.recorder import AuditRecorder
from archive_service.audit.verification import (
    PROBLEM_KINDS,
    AnchoringWindow,
    ChainProblem,
    ChainReport,
    LateAnchoring,
    verify_chain,
    verify_events,
)

__all__ = [
    "CHECKPOINT_PREFIX",
    "GENESIS_HASH",
    "MEDIA_TYPES",
    "PROBLEM_KINDS",
    "AnchoringWindow",
    "AuditCheckpoints",
    "AuditRecorder",
    "BatchFailed",
    "ChainProblem",
    "ChainReport",
    "Checkpoint",
    "EventData",
    "GroupCommit",
    "LateAnchoring",
    "append_event",
    "canonical_form",
    "chain_head",
    "count_events",
    "event_as_dict",
    "event_hash",
    "export_lines",
    "verify_chain",
    "verify_events",
]
