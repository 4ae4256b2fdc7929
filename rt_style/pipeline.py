"""Three stages — source, transform, sink — overlapped in threads with small bounded queues.

Decoding, inference and encoding each release the GIL (FFmpeg and ONNX Runtime work in C), so
running them in separate threads keeps every core busy instead of taking turns. The transform
runs in the calling (main) thread, where Python delivers signals.

What happens to items in flight, whichever way the run ends:
- `stop` set (Ctrl-C): the source is read no further and untransformed items are dropped, but
  every transformed item still reaches the sink: the output holds all the work done so far.
- the source raises: everything it produced before still goes through; then the error is raised.
- the transform or the sink raises (or a second Ctrl-C): everything stops; the error is raised.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable, Iterable

_END = object()
_POLL = 0.1  # seconds between checks of the halt flags while a queue is full or empty


class StageTimer:
    """When each stage worked on each item (`rtstyle bench`): with the stages overlapped, the
    busiest one sets the pace, so per-stage times show the bottleneck.

    weigh(item) → how much work an item is (e.g. its frames; 0 for an empty one), stored with
    each span of the stage that received or produced it."""

    def __init__(self, weigh: Callable | None = None):
        self.weigh = weigh or (lambda item: 1)
        self.spans: dict[str, list[tuple[float, float, int]]] = {}  # stage → (start, end, n)

    def add(self, stage: str, start: float, end: float, weight: int = 1) -> None:
        self.spans.setdefault(stage, []).append((start, end, weight))

    def call(self, stage: str, fn: Callable) -> Callable:
        def timed(item):
            start = time.perf_counter()
            try:
                return fn(item)
            finally:
                self.add(stage, start, time.perf_counter(), self.weigh(item))
        return timed

    def iterate(self, stage: str, items: Iterable):
        it = iter(items)
        while True:
            start = time.perf_counter()
            try:
                item = next(it)
            except StopIteration:
                return
            self.add(stage, start, time.perf_counter(), self.weigh(item))
            yield item


def run_stages(source: Iterable, transform: Callable, sink: Callable, stop: threading.Event,
               depth: int = 2, sequential: bool = False, timer: StageTimer | None = None) -> None:
    """Feed every item of `source` through `transform` into `sink`, in order.

    timer: record the time spent in each stage ('source', 'transform', 'sink') per item.
    """
    if timer is not None:
        source = timer.iterate("source", source)
        transform, sink = timer.call("transform", transform), timer.call("sink", sink)
    if sequential:  # the baseline the pipelined run is measured against
        for item in source:
            if stop.is_set():
                break
            sink(transform(item))
        return

    inbox, outbox = queue.Queue(depth), queue.Queue(depth)
    halt_source, halt_sink = threading.Event(), threading.Event()
    errors: dict[str, BaseException] = {}

    def produce():
        try:
            for item in source:
                if stop.is_set() or not _put(inbox, item, halt_source):
                    break
        except BaseException as e:  # handed to the main thread below
            errors["source"] = e
        _put(inbox, _END, halt_source)

    def consume():
        try:
            while (item := outbox.get()) is not _END:
                if not halt_sink.is_set():
                    sink(item)
        except BaseException as e:
            errors["sink"] = e
            halt_sink.set()
            while outbox.get() is not _END:  # keep the main thread's puts from blocking
                pass

    threads = [threading.Thread(target=produce, name="decode", daemon=True),
               threading.Thread(target=consume, name="encode", daemon=True)]
    for t in threads:
        t.start()
    try:
        while (item := _get(inbox, halt_sink)) is not _END:
            if stop.is_set():
                break
            outbox.put(transform(item))
    except BaseException:
        halt_sink.set()  # the sink skips what is left; the caller discards the output
        raise
    finally:
        halt_source.set()
        outbox.put(_END)
        for t in threads:
            t.join()
    for stage in ("sink", "source"):
        if stage in errors:
            raise errors[stage]


def _put(q: queue.Queue, item, halt: threading.Event) -> bool:
    while not halt.is_set():
        try:
            q.put(item, timeout=_POLL)
            return True
        except queue.Full:
            pass
    return False


def _get(q: queue.Queue, halt: threading.Event):
    while not halt.is_set():
        try:
            return q.get(timeout=_POLL)
        except queue.Empty:
            pass
    return _END
