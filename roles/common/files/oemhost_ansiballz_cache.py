"""A bytecode cache for the Python code in Ansible's module payloads (AnsiballZ zips).

Installed on hosting nodes by the common role, loaded by a .pth file beside it.

Every Ansible task sends its module, with ansible-core's module_utils, as a zip that the
node's Python imports from. Python compiles zipped sources on every import and never caches
them (Python 3.11 even compiles each module twice: for the spec's file name, then to load
it), which is most of the ~0.2 s a module run costs on a node. This importer keeps each
compiled module in a root-only directory, keyed by a hash of its source, its name inside
the zip and the interpreter's cache tag, so unchanged module_utils are compiled once per
ansible-core release instead of once per task.

It only serves root processes importing from an AnsiballZ payload zip; every other import
goes to Python's own importers, and any surprise falls back to plain zipimport. systemd-
tmpfiles ages unused entries out (oemhost-ansiballz-cache.conf).
"""

import sys
import zipimport

CACHE_DIR = "/var/cache/oemhost/ansiballz"


class CachingZipImporter(zipimport.zipimporter):
    """zipimport with a bytecode cache for the archive's .py files."""

    def _source_entry(self, fullname):
        files = self._get_files() if hasattr(self, "_get_files") else self._files
        path = zipimport._get_module_path(self, fullname)
        for suffix in ("/__init__.py", ".py"):
            entry = files.get(path + suffix)
            if entry is not None:
                return path + suffix, entry
        return None, None

    def get_filename(self, fullname):
        # zipimport compiles the module just to name its file; the name is the entry's path
        _inner, entry = self._source_entry(fullname)
        return entry[0] if entry is not None else super().get_filename(fullname)

    def get_code(self, fullname):
        inner, entry = self._source_entry(fullname)
        if entry is None:
            return super().get_code(fullname)
        import _imp
        import hashlib
        import marshal
        import os

        source = zipimport._get_data(self.archive, entry)
        key = hashlib.sha256(sys.implementation.cache_tag.encode() + b"\0" + inner.encode()
                             + b"\0" + source).hexdigest()
        path = os.path.join(CACHE_DIR, key)
        try:
            with open(path, "rb") as fh:
                code = marshal.load(fh)  # noqa: S302 (root-only dir this importer writes)
            # the cached code names the file of the run that compiled it: name this one's
            _imp._fix_co_filename(code, entry[0])
            return code
        except (OSError, EOFError, ValueError, TypeError):
            pass
        code = compile(zipimport._normalize_line_endings(source), entry[0], "exec",
                       dont_inherit=True)
        tmp = f"{path}.{os.getpid()}.tmp"
        try:
            os.makedirs(CACHE_DIR, mode=0o700, exist_ok=True)
            with open(tmp, "wb") as fh:
                marshal.dump(code, fh)
            os.replace(tmp, path)
        except OSError:
            try:
                os.unlink(tmp)
            except OSError:
                pass
        return code

    def create_module(self, spec):
        return None

    def exec_module(self, module):
        exec(self.get_code(module.__name__), module.__dict__)  # noqa: S102 (an importer)


def _hook(path):
    """sys.path_hooks entry: claim only AnsiballZ payload zips (and packages inside them)."""
    if isinstance(path, str) and "/ansible_" in path and "_payload.zip" in path:
        import os

        if os.geteuid() == 0:
            return CachingZipImporter(path)
    raise ImportError("not an AnsiballZ payload")


sys.path_hooks.insert(0, _hook)
