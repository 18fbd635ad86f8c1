"""The embedded write-once store: a folder on a local filesystem, for laptops and small schools.

What it promises, and how:

* **Write-once.** Every file is written to a temporary name in its final directory, flushed with
  ``fsync``, made read-only (mode ``0444``) and only then published with ``os.link``, which fails
  if the final name exists — atomic, never overwrites, and of concurrent writers of one key
  (threads or processes) exactly one wins. The class has no delete, rename or overwrite method.
* **Nothing that looks complete after a crash.** Layout under the root::

      objects/<key>            the bytes
      manifests/<key>.json     key, sha256, size, content_type, retain_until, stored_at, version_id,
                               identity (what the caller said the object is; write-once with it)
      holds/<key>/<n>.json     legal-hold changes, append-only (see :mod:`.holds`)

  The data file is published first, the manifest last; the manifest's link is the commit point.
  An object without a manifest is *incomplete*: ``get``/``stat``/``exists``/``iter_objects``
  treat it as absent and :meth:`FilesystemObjectStore.iter_incomplete` reports it. A later put
  of the same key with the same bytes finishes it; different bytes are refused until an
  administrator has looked at the leftover (the store itself never removes a data file).
* **No object without its hash.** ``put`` hashes the bytes before writing anything; every
  ``get`` re-reads and re-hashes the file and compares with the caller's recorded SHA-256 *and*
  the manifest's, so a file changed on disk is refused, never served; given the identity the
  caller expects, it also refuses an object whose manifest names another one.
* **Optional immutable attribute.** With ``immutable_attr=True`` both files also get Linux's
  immutable flag (``chattr +i``) when the process may set it; :attr:`description` says whether
  it is really active. It is never a reason to fail a write.
* **Legal holds are recorded, durably.** Each change is a new write-once record; ``stat`` reports
  the latest. With no delete method there is nothing more to enforce here: a hold on the
  filesystem store is a visible, lasting statement, not a lock.

What it does **not** protect against — this is not WORM storage:

* root, or anyone with write access to the folder, can still delete, rename or rewrite the files
  (``chmod``/``chattr -i`` first); only the read-time hash check will notice, and only for
  objects whose hash is recorded elsewhere (the database);
* the retention date is recorded in the manifest, not enforced by anything but the absence of a
  delete method: nothing stops ``rm`` before that date;
* a lost disk loses the objects: make backups, or use the S3 backend with Object Lock;
* a case-insensitive filesystem would conflate keys differing only in case; use a
  case-sensitive one (ext4, xfs, btrfs);
* because it is a filesystem, a key and a key "inside" it (``a`` and ``a/b``) cannot both exist
  (:class:`KeyCollisionError`), unlike S3.
"""

from __future__ import annotations

import datetime as dt
import errno
import os
import stat as stat_mode
import tempfile
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path

from archive_service.errors import IntegrityFailure
from archive_service.storage import immutable
from archive_service.storage.arguments import (
    normalize_retain_until,
    normalize_sha256,
    require_digest,
    require_identity,
    sha256_hex,
    validate_content_type,
    validate_identity,
)
from archive_service.storage.errors import (
    InvalidObjectArgument,
    KeyCollisionError,
    ObjectExistsError,
    ObjectNotFoundError,
    StorageUnavailable,
)
from archive_service.storage.holds import (
    HOLDS_DIR,
    decode_hold,
    encode_hold,
    record_name,
    record_sequence,
)
from archive_service.storage.keys import validate_key, validate_prefix
from archive_service.storage.manifest import decode_manifest, encode_manifest
from archive_service.storage.protocol import IncompleteObject, ObjectVersion, StoredObject

#: Write-once keys have exactly one version.
VERSION_ID = "1"
OBJECTS_DIR = "objects"
MANIFESTS_DIR = "manifests"
MANIFEST_SUFFIX = ".json"
#: Temporary names contain ``#``, which no key may contain, so they can never be taken for one.
TEMP_MARK = "#"
READ_ONLY = 0o444


class FilesystemObjectStore:
    """Write-once objects in ``root``; see the module docstring for exactly what that means.

    :param root: the store's folder. It holds ``objects/`` and ``manifests/`` and nothing else
        should write there.
    :param immutable_attr: also set Linux's immutable attribute on stored files, when permitted.
    :param create_root: let :meth:`check` create ``root`` itself (never its parents), so a store
        on an unmounted volume is reported unavailable instead of silently filling the mount
        point.
    """

    def __init__(
        self, root: Path, *, immutable_attr: bool = False, create_root: bool = False
    ) -> None:
        self.root = Path(root).absolute()
        self.immutable_attr = immutable_attr
        self.create_root = create_root
        self._objects = self.root / OBJECTS_DIR
        self._manifests = self.root / MANIFESTS_DIR
        self._holds = self.root / HOLDS_DIR
        self._immutable_state = "requested, not yet tried" if immutable_attr else "off"
        self._state_lock = threading.Lock()

    # -- the ObjectStore protocol -------------------------------------------------------------

    @property
    def description(self) -> str:
        return (
            f"filesystem write-once store at {self.root} (files read-only, immutable attribute: "
            f"{self._immutable_state}; retention recorded, not enforced by the filesystem; "
            "not WORM)"
        )

    def put(
        self,
        key: str,
        data: bytes,
        *,
        sha256: str,
        content_type: str,
        retain_until: dt.datetime,
        identity: Mapping[str, str] | None = None,
    ) -> StoredObject:
        key = validate_key(key)
        expected = normalize_sha256(sha256)
        content_type = validate_content_type(content_type)
        names = validate_identity(identity)
        now = _utc_now()
        retain_until = normalize_retain_until(retain_until, now)
        require_digest(key, sha256_hex(data), expected, "the data to store")

        data_path, manifest_path = self._paths(key)
        with _unavailable_on_os_error(f"store object {key}"):
            if _is_file(manifest_path):
                raise _exists(key)
            self._prepare_directories(key, data_path, manifest_path)
            record = StoredObject(
                key=key,
                version_id=VERSION_ID,
                sha256=expected,
                size=len(data),
                content_type=content_type,
                retain_until=retain_until,
                stored_at=now,
                identity=names,
            )
            if not _publish(data_path, data):
                self._adopt_existing_data(key, data_path, manifest_path, expected)
            if not _publish(manifest_path, encode_manifest(record)):
                raise _exists(key)
        self._protect(data_path, manifest_path)
        return record

    def get(
        self,
        key: str,
        *,
        sha256: str,
        version_id: str | None = None,
        identity: Mapping[str, str] | None = None,
    ) -> bytes:
        expected = normalize_sha256(sha256)
        record = self._manifest(key, version_id)  # holds do not matter to a read
        require_identity(record.identity, identity)  # before a byte is read
        data_path, _ = self._paths(key)
        with _unavailable_on_os_error(f"read object {key}"):
            try:
                data = _read_regular_file(data_path)
            except (FileNotFoundError, NotADirectoryError):
                raise IntegrityFailure(
                    f"The object {key} has a manifest but its data file is gone or replaced; it "
                    "was changed outside the store."
                ) from None
        actual = sha256_hex(data)
        require_digest(key, actual, expected, "the stored object")
        require_digest(key, record.sha256, expected, "the store's manifest")
        return data

    def stat(self, key: str, version_id: str | None = None) -> StoredObject:
        record = self._manifest(key, version_id)
        key = record.key
        with _unavailable_on_os_error(f"read the legal holds of {key}"):
            latest = self._latest_hold(key)
        if latest is None:
            return record
        return replace(record, legal_hold=decode_hold(latest, key, record.version_id))

    def _manifest(self, key: str, version_id: str | None) -> StoredObject:
        """The object's record as written with it (no legal hold: that lives apart)."""
        key = validate_key(key)
        _, manifest_path = self._paths(key)
        with _unavailable_on_os_error(f"read the manifest of {key}"):
            try:
                raw = _read_regular_file(manifest_path)
            except (FileNotFoundError, NotADirectoryError):
                raise ObjectNotFoundError(f"No object is stored under key {key}.") from None
        record = decode_manifest(raw, key)
        if version_id is not None and version_id != record.version_id:
            raise ObjectNotFoundError(f"Object {key} has no version {version_id}.")
        return record

    def set_legal_hold(self, key: str, version_id: str, *, on: bool) -> StoredObject:
        """Append a hold record (never rewrite one): the history of holds is kept for good."""
        record = self.stat(key, version_id)
        folder = self._holds / key
        payload = encode_hold(key, record.version_id, on, _utc_now())
        with _unavailable_on_os_error(f"record the legal hold of {key}"):
            _make_directories(self.root, (HOLDS_DIR, *Path(key).parts), key)
            while True:
                # The next free number; a writer that loses the race for it takes the one after.
                published = folder / record_name(self._hold_sequence(folder) + 1)
                if _publish(published, payload):
                    break
        self._protect(published)
        return replace(record, legal_hold=on)

    def find(self, key: str, *, sha256: str) -> StoredObject | None:
        """A write-once key has one version: it is the answer if its recorded hash matches."""
        expected = normalize_sha256(sha256)
        try:
            record = self.stat(key)
        except ObjectNotFoundError:
            return None
        data_path, _ = self._paths(key)
        with _unavailable_on_os_error(f"look up {key}"):
            complete = _is_file(data_path)
        return record if complete and record.sha256 == expected else None

    def exists(self, key: str) -> bool:
        key = validate_key(key)
        _, manifest_path = self._paths(key)
        with _unavailable_on_os_error(f"look up {key}"):
            return _is_file(manifest_path)

    def _complete_keys(self, prefix: str, doing: str) -> list[str]:
        """Keys under ``prefix`` with both a manifest and a data file, sorted."""
        prefix = validate_prefix(prefix)
        directory = prefix.rpartition("/")[0]
        with _unavailable_on_os_error(doing):
            return sorted(
                key
                for key in self._manifest_keys(directory)
                if key.startswith(prefix) and _is_file(self._paths(key)[0])
            )

    def iter_objects(self, prefix: str = "") -> Iterator[StoredObject]:
        for key in self._complete_keys(prefix, "list objects"):
            try:
                yield self.stat(key)
            except IntegrityFailure:
                continue  # reported by iter_incomplete

    def iter_versions(self, prefix: str = "") -> Iterator[ObjectVersion]:
        """One version per complete object; there are no delete markers here (module docstring:
        root can remove files outright, which leaves nothing to list)."""
        for key in self._complete_keys(prefix, "list object versions"):
            try:
                modified: dt.datetime | None = self._manifest(key, None).stored_at
            except IntegrityFailure:
                modified = None  # an unreadable manifest: whoever reads the version is told
            yield ObjectVersion(key, VERSION_ID, False, True, modified)

    def iter_incomplete(self) -> Iterator[IncompleteObject]:
        with _unavailable_on_os_error("list incomplete objects"):
            manifest_keys = set(self._manifest_keys(""))
            for relative in _walk_files(self._objects):
                location = f"{OBJECTS_DIR}/{relative}"
                if TEMP_MARK in relative:
                    yield IncompleteObject(location, "temporary file of an interrupted write")
                elif relative not in manifest_keys:
                    yield IncompleteObject(
                        location, "data without manifest: an interrupted write", relative
                    )
            for key in sorted(manifest_keys):
                location = f"{MANIFESTS_DIR}/{key}{MANIFEST_SUFFIX}"
                if not _is_file(self._paths(key)[0]):
                    yield IncompleteObject(location, "manifest without data: object lost", key)
                    continue
                try:
                    self.stat(key)
                except IntegrityFailure as exc:
                    yield IncompleteObject(location, exc.message, key)
            for directory in (MANIFESTS_DIR, HOLDS_DIR):
                for relative in _walk_files(self.root / directory):
                    if TEMP_MARK in relative:
                        yield IncompleteObject(
                            f"{directory}/{relative}", "temporary file of an interrupted write"
                        )

    def check(self) -> list[str]:
        try:
            if self.create_root and not self.root.exists():
                self.root.mkdir()
            if not self.root.is_dir():
                raise StorageUnavailable(
                    f"The object store folder {self.root} does not exist or is not a folder."
                )
            for directory in (self._objects, self._manifests):
                directory.mkdir(exist_ok=True)
                _probe_write_once(directory)
            if self.immutable_attr:
                self._probe_immutable()
        except OSError as exc:
            raise StorageUnavailable(
                f"The object store at {self.root} cannot be written: {exc.strerror or exc}."
            ) from exc
        return []

    # -- internals ----------------------------------------------------------------------------

    def _paths(self, key: str) -> tuple[Path, Path]:
        """Data and manifest paths; safe to join because ``key`` passed :func:`validate_key`."""
        return self._objects / key, self._manifests / f"{key}{MANIFEST_SUFFIX}"

    def _latest_hold(self, key: str) -> bytes | None:
        folder = self._holds / key
        sequence = self._hold_sequence(folder)
        return _read_regular_file(folder / record_name(sequence)) if sequence else None

    @staticmethod
    def _hold_sequence(folder: Path) -> int:
        """The highest record number in ``folder``; 0 when no hold was ever recorded."""
        try:
            names = os.listdir(folder)
        except (FileNotFoundError, NotADirectoryError):
            return 0
        return max((number for number in map(record_sequence, names) if number), default=0)

    def _prepare_directories(self, key: str, data_path: Path, manifest_path: Path) -> None:
        """Create both parents before any data is written, so a key that collides with another
        (``a`` versus ``a/b``) is refused while nothing has been written yet."""
        for base, path in ((self._objects, data_path), (self._manifests, manifest_path)):
            _make_directories(base, path.parent.relative_to(base).parts, key)
            if path.is_dir():
                raise KeyCollisionError(
                    f"Key {key} cannot be stored: keys under {key}/ already exist, and a "
                    "filesystem cannot hold both."
                )

    def _adopt_existing_data(
        self, key: str, data_path: Path, manifest_path: Path, expected: str
    ) -> None:
        """The data file is already there: either another writer of this key is ahead of us,
        or a crash left it without a manifest. Identical bytes may be completed (whoever links
        the manifest first wins); different bytes are never replaced."""
        if _is_file(manifest_path):
            raise _exists(key)
        try:
            same = sha256_hex(_read_regular_file(data_path)) == expected
        except OSError:
            same = False
        if not same:
            raise ObjectExistsError(
                f"An object with other content is being written, or was left unfinished by a "
                f"crash, under key {key}; it was not replaced. If no write is running, an "
                "administrator should inspect it (it is listed as incomplete by reconcile)."
            )

    def _protect(self, *paths: Path) -> None:
        if not self.immutable_attr:
            return
        for path in paths:
            try:
                if not immutable.is_immutable(path):
                    immutable.set_immutable(path)
            except OSError as exc:
                self._set_immutable_state(f"not permitted ({exc.strerror or exc})")
                return
        self._set_immutable_state("active")

    def _probe_immutable(self) -> None:
        """Find out at startup, on a scratch file, whether the immutable attribute will work."""
        fd, probe = tempfile.mkstemp(dir=self._objects, prefix=f".probe{TEMP_MARK}")
        os.close(fd)
        try:
            immutable.set_immutable(probe)
        except OSError as exc:
            self._set_immutable_state(f"not permitted ({exc.strerror or exc})")
        else:
            immutable.set_immutable(probe, False)
            self._set_immutable_state("active")
        finally:
            os.unlink(probe)

    def _set_immutable_state(self, state: str) -> None:
        with self._state_lock:
            self._immutable_state = state

    def _manifest_keys(self, directory: str) -> Iterator[str]:
        """Keys of the manifests under ``manifests/<directory>``, unsorted."""
        start = self._manifests / directory if directory else self._manifests
        for relative in _walk_files(start):
            if TEMP_MARK in relative or not relative.endswith(MANIFEST_SUFFIX):
                continue
            key = f"{directory}/{relative}" if directory else relative
            key = key.removesuffix(MANIFEST_SUFFIX)
            try:
                yield validate_key(key)
            except InvalidObjectArgument:
                continue  # a stray file whose name is no key: not ours, not an object


def _publish(final: Path, payload: bytes) -> bool:
    """Write ``payload`` to ``final`` write-once: temp file, fsync, 0444, link, fsync directory.

    :returns: False (and writes nothing under ``final``) if ``final`` already exists.
    """
    fd, temp = tempfile.mkstemp(dir=final.parent, prefix=f".{final.name}{TEMP_MARK}")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(payload)
            handle.flush()
            os.fchmod(handle.fileno(), READ_ONLY)
            os.fsync(handle.fileno())
        try:
            os.link(temp, final)
        except FileExistsError:
            return False
    finally:
        os.unlink(temp)
    _fsync_directory(final.parent)
    return True


def _probe_write_once(directory: Path) -> None:
    """Exercise the exact mechanism ``put`` relies on (create, fsync, hard link)."""
    fd, temp = tempfile.mkstemp(dir=directory, prefix=f".probe{TEMP_MARK}")
    linked = f"{temp}{TEMP_MARK}link"
    try:
        os.write(fd, b"probe")
        os.fsync(fd)
        os.link(temp, linked)
        os.unlink(linked)
    finally:
        os.close(fd)
        os.unlink(temp)


def _make_directories(base: Path, parts: tuple[str, ...], key: str) -> None:
    current = base
    for part in parts:
        current = current / part
        try:
            os.mkdir(current)
        except FileExistsError:
            if not stat_mode.S_ISDIR(os.lstat(current).st_mode):
                raise KeyCollisionError(
                    f"Key {key} cannot be stored: an object {current.relative_to(base)} exists "
                    "where it needs a folder, and a filesystem cannot hold both."
                ) from None
        else:
            _fsync_directory(current.parent)


def _walk_files(start: Path) -> Iterator[str]:
    """Regular files under ``start``, as ``/``-joined paths relative to it; symlinks skipped."""
    if not start.is_dir():
        return
    for directory, _dirs, files in os.walk(start):
        relative_dir = Path(directory).relative_to(start)
        for name in files:
            path = Path(directory) / name
            if stat_mode.S_ISREG(os.lstat(path).st_mode):
                yield (relative_dir / name).as_posix()


def _read_regular_file(path: Path) -> bytes:
    """The whole file, refusing symlinks and anything that is not a regular file."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise FileNotFoundError(errno.ENOENT, "replaced by a symlink", str(path)) from None
        raise
    with os.fdopen(fd, "rb") as handle:
        if not stat_mode.S_ISREG(os.fstat(handle.fileno()).st_mode):
            raise FileNotFoundError(f"{path} is not a regular file")
        return handle.read()


def _is_file(path: Path) -> bool:
    try:
        return stat_mode.S_ISREG(os.lstat(path).st_mode)
    except (FileNotFoundError, NotADirectoryError):
        return False


def _fsync_directory(directory: Path) -> None:
    """Make a new name in ``directory`` durable: without this a crash can forget the link."""
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _exists(key: str) -> ObjectExistsError:
    return ObjectExistsError(
        f"An object is already stored under key {key}; write-once objects are never replaced."
    )


def _utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


@contextmanager
def _unavailable_on_os_error(action: str) -> Iterator[None]:
    """Turn unexpected OS errors (read-only mount, full disk, I/O error) into StorageUnavailable;
    the store's own errors pass through untouched."""
    try:
        yield
    except OSError as exc:
        raise StorageUnavailable(
            f"Could not {action}: {exc.strerror or exc}. Check the object store folder."
        ) from exc
