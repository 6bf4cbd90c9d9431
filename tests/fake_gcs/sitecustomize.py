"""A stand-in for Google Cloud Storage in test subprocesses: ``gs://bucket/x`` ↔ ``$FAKE_GCS_ROOT/bucket/x``.

Python imports this module at start-up when its folder is on PYTHONPATH. etils.epath sends ``gs://``
paths to fsspec's "gcs" filesystem when TensorFlow is absent; this registers a local one in its place,
so the project's bucket code paths run for real, offline. Inert unless FAKE_GCS_ROOT is set.
"""

import os

_ROOT = os.environ.get("FAKE_GCS_ROOT")

if _ROOT:
    import fsspec
    from fsspec.implementations.local import LocalFileSystem

    class _FakeGCS(LocalFileSystem):
        protocol = ("gs", "gcs")

        def __init__(self, *args, finalize_on_close=None, **kwargs):
            super().__init__(auto_mkdir=True)

        @classmethod
        def _strip_protocol(cls, path):
            path = os.fspath(path)
            for prefix in ("gs://", "gcs://"):
                if path.startswith(prefix):
                    return os.path.join(_ROOT, path[len(prefix) :].lstrip("/")).rstrip("/")
            return super()._strip_protocol(path)

    for _name in ("gs", "gcs"):
        fsspec.register_implementation(_name, _FakeGCS, clobber=True)
