"""One decode thread per model, shared by every browser session: concurrent decodes batched.

Streamlit runs each session's script on its own thread. When five sessions click at once,
five threads each called TensorFlow's eager decoder: five sets of op dispatch competing for
the GIL and TF's thread pools on a 2-core machine, so a click took ~4× as long as alone.
Here each model has one worker thread that owns its compiled decoder; a session hands its
z over and waits. Requests that arrive while a batch runs are gathered into the next one,
decoded in a single call and handed back row by row, each to its own caller.
"""

from __future__ import annotations

import dataclasses
import queue
import threading
from typing import Any, Callable

import numpy as np


@dataclasses.dataclass
class _Request:
    z: np.ndarray
    done: threading.Event = dataclasses.field(default_factory=threading.Event)
    result: np.ndarray | None = None
    error: BaseException | None = None


class DecodeWorker:
    """`decode(z)` from any thread, run on one worker thread with concurrent calls batched.

    Arguments:
        decode_batch: z float32 (B, L) -> images (B, ...) as a numpy array; only ever called
            from the worker thread, one batch at a time.
        max_rows: most latent vectors decoded in one call (a larger single request still
            runs, alone).
        idle_s: the worker thread exits after this long without a request and is started
            again by the next one, so a model dropped from the cache leaves no thread behind.
    """

    def __init__(self, decode_batch: Callable[[np.ndarray], Any], *, max_rows: int = 2048,
                 idle_s: float = 60.0):
        self._decode_batch = decode_batch
        self._max_rows = int(max_rows)
        self._idle_s = float(idle_s)
        self._queue: queue.SimpleQueue[_Request] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self.batch_sizes: list[int] = []  # requests per decode call, newest last (bounded)

    @property
    def pending(self) -> int:
        """Requests queued and not yet taken into a batch."""
        return self._queue.qsize()

    def decode(self, z: Any) -> np.ndarray:
        """The decoded images of z (L,) or (N, L), as `decode_batch` gives them (N, ...).

        Blocks until the worker has decoded it; an error raised by `decode_batch` for this
        request's batch is raised here.

        Raises:
            ValueError: naming `z` when it is not a non-empty finite (L,) or (N, L) array.
        """
        z = np.atleast_2d(np.asarray(z, dtype=np.float32))
        if z.ndim != 2 or 0 in z.shape or not np.all(np.isfinite(z)):
            raise ValueError(f"z must be finite (L,) or (N, L), got shape {z.shape}")
        request = _Request(z)
        with self._lock:
            self._queue.put(request)
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._serve, name="vaeflow-decode", daemon=True)
                self._thread.start()
        request.done.wait()
        if request.error is not None:
            raise request.error
        return request.result

    def _serve(self) -> None:
        while True:
            try:
                first = self._queue.get(timeout=self._idle_s)
            except queue.Empty:
                with self._lock:  # no request can slip in between this check and the exit
                    if self._queue.empty():
                        self._thread = None
                        return
                continue
            batch, rows = [first], len(first.z)
            while rows < self._max_rows:
                try:
                    request = self._queue.get_nowait()
                except queue.Empty:
                    break
                batch.append(request)
                rows += len(request.z)
            # One call per latent size (requests for one model share it; a wrong one fails alone).
            for group in _by_width(batch):
                self._run(group)

    def _run(self, group: list[_Request]) -> None:
        try:
            images = np.asarray(self._decode_batch(np.concatenate([r.z for r in group])))
            start = 0
            for request in group:
                request.result = images[start : start + len(request.z)]
                start += len(request.z)
        except BaseException as error:  # handed to the waiting callers, never lost on this thread
            for request in group:
                request.error = error
        finally:
            self.batch_sizes = (self.batch_sizes + [len(group)])[-100:]
            for request in group:
                request.done.set()


def _by_width(batch: list[_Request]) -> list[list[_Request]]:
    groups: dict[int, list[_Request]] = {}
    for request in batch:
        groups.setdefault(request.z.shape[1], []).append(request)
    return list(groups.values())
