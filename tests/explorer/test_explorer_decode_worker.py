"""explorer.decode_worker: concurrent decodes on one thread, batched, each caller its own rows."""

import threading
import time

import numpy as np
import pytest

from explorer.decode_worker import DecodeWorker


def _wait_until(condition, timeout_s=10.0):
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.005)


class _GatedDecoder:
    """decode_batch = z ↦ images whose pixels are z's coordinates; the first call waits at a gate."""

    def __init__(self):
        self.gate = threading.Event()
        self.calls: list[tuple[int, str]] = []  # (rows, thread name)

    def __call__(self, z):
        self.calls.append((len(z), threading.current_thread().name))
        if len(self.calls) == 1:
            assert self.gate.wait(10)
        if z.shape[1] == 3:
            raise RuntimeError("no such model")
        return np.broadcast_to(z[:, None, None, :], (len(z), 2, 2, z.shape[1])) * 10.0


def _call_in_threads(worker, inputs):
    results, errors = [None] * len(inputs), [None] * len(inputs)

    def run(i):
        try:
            results[i] = worker.decode(inputs[i])
        except Exception as error:  # noqa: BLE001 - handed back to the test
            errors[i] = error

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(inputs))]
    return threads, results, errors, run


def test_concurrent_requests_are_batched_and_each_gets_its_own_rows():
    decoder = _GatedDecoder()
    worker = DecodeWorker(decoder)
    rng = np.random.default_rng(0)
    inputs = [rng.normal(size=(n, 2)).astype(np.float32) for n in (1, 1, 3, 1, 2, 1, 1, 4)]
    threads, results, errors, _ = _call_in_threads(worker, inputs)
    threads[0].start()
    _wait_until(lambda: len(decoder.calls) == 1)  # the first request is being decoded, alone
    for thread in threads[1:]:
        thread.start()
    _wait_until(lambda: worker.pending == len(inputs) - 1)
    decoder.gate.set()
    for thread in threads:
        thread.join(10)
    assert errors == [None] * len(inputs)
    for z, images in zip(inputs, results):
        assert images.shape == (len(z), 2, 2, 2)
        np.testing.assert_array_equal(images[:, 1, 1, :], z * 10.0)
    # the seven that arrived during the first call went in one call, on the worker thread
    assert [rows for rows, _ in decoder.calls] == [1, 13]
    assert worker.batch_sizes == [1, 7]
    assert {name for _, name in decoder.calls} == {"vaeflow-decode"}


def test_a_failing_request_fails_alone_and_the_worker_keeps_serving():
    decoder = _GatedDecoder()
    worker = DecodeWorker(decoder)
    inputs = [np.zeros((1, 2), np.float32), np.ones((1, 3), np.float32), np.full((2, 2), 2.0, np.float32)]
    threads, results, errors, _ = _call_in_threads(worker, inputs)
    threads[0].start()
    _wait_until(lambda: len(decoder.calls) == 1)
    threads[1].start()
    threads[2].start()
    _wait_until(lambda: worker.pending == 2)
    decoder.gate.set()
    for thread in threads:
        thread.join(10)
    assert errors[0] is None and errors[2] is None
    assert isinstance(errors[1], RuntimeError) and results[1] is None
    np.testing.assert_array_equal(results[2][:, 0, 0, :], inputs[2] * 10.0)
    np.testing.assert_array_equal(worker.decode([5.0, 6.0])[0, 0, 0], [50.0, 60.0])


def test_the_idle_worker_thread_exits_and_the_next_request_starts_another():
    decoder = _GatedDecoder()
    decoder.gate.set()
    worker = DecodeWorker(decoder, idle_s=0.05)
    worker.decode([1.0, 2.0])
    (thread,) = {t for t in threading.enumerate() if t is worker._thread}
    _wait_until(lambda: not thread.is_alive())
    np.testing.assert_array_equal(worker.decode([3.0, 4.0])[0, 0, 0], [30.0, 40.0])


@pytest.mark.parametrize("z", [[], [[np.nan, 0.0]], np.zeros((1, 2, 2))])
def test_bad_z_is_refused_naming_it(z):
    with pytest.raises(ValueError, match="z must"):
        DecodeWorker(lambda z: z).decode(z)
