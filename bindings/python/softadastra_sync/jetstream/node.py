"""A sync node whose transport is a NATS JetStream stream: the stream is the shared log.

Sending: each batch the engine hands out is published, as its V2 operations frame, to the
node's own subject (``<prefix>.ops.<node>``). JetStream's publish acknowledgement is the
operations' ACK: only once the stream has stored the frame are they acknowledged in the
engine, so the outbox empties only when the log has the write. A publish that fails or times
out leaves them in flight, and the engine's own retry (``retry_expired``, with its back-off)
sends them again: a node cut off from the servers keeps accepting writes and catches up when
they return.

Receiving: a durable pull consumer per node reads every origin's subject (the node's own
frames are acknowledged unread). A frame is applied with ``receive_frame`` (durable before
it returns, on a durable engine) and only then acknowledged to JetStream; a node that dies in
between gets the frame again, and applying it again changes nothing (redelivered operations
are duplicates, or lose to the write they already are).
"""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import sys
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, List, Optional

try:
    import nats
    import nats.errors
    import nats.js.errors
    from nats.js import api as js_api
except ImportError as exc:  # pragma: no cover - depends on the environment
    raise ImportError(
        "softadastra_sync.jetstream needs nats-py: pip install 'softadastra-sync[jetstream]'"
    ) from exc

from ..core import Batch, SyncConfig, SyncEngine
from ..errors import MalformedFrameError, SyncError
from ..model import ReceiveReport
from .naming import all_origins_subject, consumer_name, origin_subject

__all__ = ["JetStreamOptions", "JetStreamNode", "node_sync_config"]

#: What a network call to NATS may raise while servers come and go.
_NETWORK_ERRORS = (nats.errors.Error, asyncio.TimeoutError, OSError)


@dataclass
class JetStreamOptions:
    """Where and how a :class:`JetStreamNode` talks to JetStream.

    Attributes:
        servers: NATS server URLs (``nats://127.0.0.1:4222``); give every server of a cluster.
        stream: the stream holding the frames (created if missing).
        subject_prefix: the stream's subjects are ``<prefix>.ops.<node>``.
        replicas: replicas of the stream when this node creates it (3 on a 3-server cluster).
        publish_timeout_s: how long a publish waits for the stream's acknowledgement.
        ack_wait_s: how long JetStream waits for this node to acknowledge a frame before it
            delivers it again (a node killed mid-apply gets its frames back after this); a
            setting of the durable consumer, fixed when it is created.
        fetch_batch: most frames taken from the consumer at once.
        poll_interval_s: how often expired operations are looked for when idle.
        max_invalid_deliveries: a frame holding operations the engine refuses (say, a stamp
            too far ahead of this node's clock) is delivered again, later, this many times
            before it is given up (logged and terminated).
    """

    servers: List[str] = field(default_factory=lambda: ["nats://127.0.0.1:4222"])
    stream: str = "SOFTADASTRA_SYNC"
    subject_prefix: str = "softadastra.sync"
    replicas: int = 1
    publish_timeout_s: float = 2.0
    ack_wait_s: float = 10.0
    fetch_batch: int = 256
    poll_interval_s: float = 0.05
    max_invalid_deliveries: int = 5


def node_sync_config(node_id: str, publish_timeout_s: float = 2.0) -> SyncConfig:
    """The engine settings a JetStream node wants: the durable preset (writes on disk before
    they return, ACKs required) with retries that never give up, and an ACK timeout just over
    the publish timeout, so a frame whose publish failed goes out again soon, then less and
    less often (the engine's back-off) while the servers stay away. Batches of 256: fewer,
    larger frames (a frame is one publish and one fsync on each receiver), while small writes
    stay under NATS's default 1 MiB message limit."""
    config = SyncConfig.durable(node_id)
    config.ack_timeout_ms = int(publish_timeout_s * 1000) + 500
    config.retry_interval_ms = 250
    config.retry_backoff_max_ms = 5000
    config.max_retries = 2**32 - 1
    config.batch_size = 256
    return config


PublishedHook = Callable[[int, Batch], None]
AppliedHook = Callable[[int, ReceiveReport], None]


def _stderr(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


async def _sleep_unless(stop: asyncio.Event, seconds: float) -> None:
    """Sleeps ``seconds``, or less if ``stop`` is set meanwhile."""
    try:
        await asyncio.wait_for(stop.wait(), seconds)
    except asyncio.TimeoutError:
        pass


class JetStreamNode:
    """Runs the JetStream transport of one :class:`SyncEngine` (see the module doc).

    ``on_published(stream_seq, batch)`` is called once a batch is in the stream,
    ``on_applied(stream_seq, report)`` once a frame of another origin is applied and
    acknowledged: hooks for measurements and logs, called on the event loop. ``log`` receives
    one line per event worth telling an operator (connection lost, publish failed, ...).
    """

    def __init__(
        self,
        engine: SyncEngine,
        options: Optional[JetStreamOptions] = None,
        on_published: Optional[PublishedHook] = None,
        on_applied: Optional[AppliedHook] = None,
        log: Callable[[str], None] = _stderr,
    ) -> None:
        self.engine = engine
        self.options = options or JetStreamOptions()
        self._on_published = on_published
        self._on_applied = on_applied
        self._log = log
        self._node = engine.node_id
        self._subject = origin_subject(self.options.subject_prefix, self._node)
        self._loop: Optional[asyncio.AbstractEventLoop] = None
        self._wake: Optional[asyncio.Event] = None
        self._nc: Any = None
        self._sub: Any = None

    # -- called from any thread --------------------------------------------------------------

    def notify_write(self) -> None:
        """Tells the node a write was submitted, so it publishes now rather than at the next
        poll. Thread-safe; a no-op before :meth:`run` starts."""
        loop, wake = self._loop, self._wake
        if loop is not None and wake is not None:
            loop.call_soon_threadsafe(wake.set)

    # -- on the event loop -------------------------------------------------------------------

    async def run(self, stop: asyncio.Event) -> None:
        """Connects (retrying until a server answers), makes sure the stream exists, then
        publishes and consumes until ``stop`` is set. Never raises for a network failure;
        raises for a stream of the same name that does not hold this node's subjects, and for
        an engine error other than a refused frame (the WAL failing)."""
        self._loop = asyncio.get_running_loop()
        self._wake = asyncio.Event()
        nc = await self._connect(stop)
        if nc is None:
            return
        self._nc = nc
        try:
            js = nc.jetstream(timeout=self.options.publish_timeout_s)
            if not await self._ensure_stream(js, stop):
                return
            tasks = [
                asyncio.ensure_future(self._publish_loop(js, stop)),
                asyncio.ensure_future(self._consume_loop(js, stop)),
            ]
            stopping = asyncio.ensure_future(stop.wait())
            try:
                # The loops end only on stop, or on an error of this node's own (its WAL
                # failing, say): that one is raised, not left to stall the node unseen.
                await asyncio.wait([stopping, *tasks], return_when=asyncio.FIRST_COMPLETED)
                for task in tasks:
                    if task.done() and task.exception() is not None:
                        raise task.exception()  # type: ignore[misc]
            finally:
                for task in (stopping, *tasks):
                    task.cancel()
                await asyncio.gather(stopping, *tasks, return_exceptions=True)
        finally:
            self._sub = None
            try:
                await asyncio.wait_for(nc.close(), 5)
            except _NETWORK_ERRORS:
                pass

    async def status(self) -> Dict[str, Any]:
        """The engine's counters, whether the node is connected, and what its consumer has
        not handled yet (``num_pending``: not delivered; ``num_ack_pending``: delivered, not
        acknowledged), or None while the consumer cannot be asked."""
        consumer = None
        sub = self._sub
        if sub is not None:
            try:
                info = await asyncio.wait_for(sub.consumer_info(), 2)
                consumer = {
                    "num_pending": int(info.num_pending or 0),
                    "num_ack_pending": int(info.num_ack_pending or 0),
                }
            except _NETWORK_ERRORS:
                consumer = None
        nc = self._nc
        return {
            "node": self._node,
            "connected": bool(nc is not None and nc.is_connected),
            "engine": dataclasses.asdict(self.engine.state()),
            "consumer": consumer,
        }

    async def _connect(self, stop: asyncio.Event) -> Any:
        """Connects, trying the servers until one answers (nats-py keeps trying: unbounded
        reconnect attempts), or returns None once ``stop`` is set."""
        unreachable_told = [False]

        async def disconnected() -> None:
            unreachable_told[0] = False
            if not stop.is_set():  # else: our own close
                self._log(f"{self._node}: disconnected from NATS; writes stay in the outbox")

        async def reconnected() -> None:
            self._log(f"{self._node}: reconnected to {self._nc.connected_url.netloc}")

        async def error(exc: Exception) -> None:
            if isinstance(exc, OSError) and not (self._nc and self._nc.is_connected):
                # A connection attempt failing: said once per outage, not once per attempt.
                if not unreachable_told[0]:
                    unreachable_told[0] = True
                    self._log(f"{self._node}: no NATS server answers yet ({exc}); retrying")
                return
            self._log(f"{self._node}: NATS: {exc!r}")

        while not stop.is_set():
            connecting = asyncio.ensure_future(
                nats.connect(
                    servers=self.options.servers,
                    name=f"softadastra-sync {self._node}",
                    connect_timeout=2,
                    max_reconnect_attempts=-1,
                    reconnect_time_wait=0.25,
                    disconnected_cb=disconnected,
                    reconnected_cb=reconnected,
                    error_cb=error,
                )
            )
            stopping = asyncio.ensure_future(stop.wait())
            await asyncio.wait({connecting, stopping}, return_when=asyncio.FIRST_COMPLETED)
            stopping.cancel()
            if not connecting.done():
                connecting.cancel()
                await asyncio.gather(connecting, return_exceptions=True)
                return None
            try:
                return connecting.result()
            except _NETWORK_ERRORS as exc:
                self._log(f"{self._node}: cannot connect to {self.options.servers}: {exc!r}")
                await _sleep_unless(stop, 1.0)
        return None

    async def _ensure_stream(self, js: Any, stop: asyncio.Event) -> bool:
        """Creates the stream, or finds it (made by another node; creating it again with the
        same settings is a no-op). Retries while the servers cannot answer (a cluster electing
        its leader). False when stopped first."""
        options = self.options
        subjects = all_origins_subject(options.subject_prefix)
        while not stop.is_set():
            try:
                try:
                    await js.add_stream(
                        name=options.stream,
                        subjects=[subjects],
                        num_replicas=options.replicas,
                        storage=js_api.StorageType.FILE,
                    )
                except nats.js.errors.BadRequestError:
                    # It exists with other settings (say, other limits): fine if it holds
                    # our subjects.
                    info = await js.stream_info(options.stream)
                    if subjects not in (info.config.subjects or []):
                        raise
                return True
            except nats.js.errors.BadRequestError:
                raise
            except _NETWORK_ERRORS as exc:
                self._log(f"{self._node}: stream {options.stream} not ready: {exc!r}")
                await _sleep_unless(stop, 0.5)
        return False

    async def _publish_loop(self, js: Any, stop: asyncio.Event) -> None:
        engine = self.engine
        wake = self._wake
        assert wake is not None
        pause = 0.0  # after a failed publish: how long before the next one (doubling)
        while not stop.is_set():
            wake.clear()  # before looking, so a write submitted meanwhile is not missed
            engine.retry_expired()
            with engine.next_batch() as batch:
                if batch:
                    if await self._publish(js, batch):
                        if pause:
                            self._log(f"{self._node}: publishing again")
                        pause = 0.0
                        continue
                    pause = min(max(pause * 2, 0.1), 2.0)
                    await _sleep_unless(stop, pause)
                    continue
            engine.prune_completed()
            try:
                await asyncio.wait_for(wake.wait(), self.options.poll_interval_s)
            except asyncio.TimeoutError:
                pass

    async def _publish(self, js: Any, batch: Batch) -> bool:
        """Publishes ``batch``; acknowledges its operations once the stream has it (True).
        False when the stream did not acknowledge: the operations stay in flight and the
        engine's retry sends them again after their ACK timeout."""
        frame = batch.encode()
        try:
            ack = await js.publish(
                self._subject,
                frame,
                timeout=self.options.publish_timeout_s,
                stream=self.options.stream,
                # The same frame sent again (its PubAck lost) is stored once.
                headers={"Nats-Msg-Id": hashlib.sha256(frame).hexdigest()},
            )
        except nats.errors.MaxPayloadError:
            self._log(
                f"{self._node}: a frame of {len(batch)} operations ({len(frame)} bytes) is over "
                "the servers' max_payload: raise it, or lower the engine's batch_size"
            )
            return False
        except _NETWORK_ERRORS as exc:
            self._log(f"{self._node}: publish of {len(batch)} operations failed: {exc!r}")
            return False
        # One call and one logged transition for the whole batch.
        self.engine.receive_acks([envelope.sync_id for envelope in batch])
        if self._on_published is not None:
            self._on_published(int(ack.seq), batch)
        return True

    async def _consume_loop(self, js: Any, stop: asyncio.Event) -> None:
        options = self.options
        config = js_api.ConsumerConfig(
            durable_name=consumer_name(self._node),
            ack_policy=js_api.AckPolicy.EXPLICIT,
            deliver_policy=js_api.DeliverPolicy.ALL,
            ack_wait=options.ack_wait_s,
            max_ack_pending=max(options.fetch_batch * 4, 1024),
        )
        while not stop.is_set():
            try:
                if self._sub is None:
                    self._sub = await js.pull_subscribe(
                        all_origins_subject(options.subject_prefix),
                        durable=config.durable_name,
                        stream=options.stream,
                        config=config,
                    )
                messages = await self._sub.fetch(batch=options.fetch_batch, timeout=1.0)
            except nats.errors.TimeoutError:
                continue  # nothing new
            except _NETWORK_ERRORS as exc:
                self._log(f"{self._node}: consumer: {exc!r}")
                await self._drop_subscription()
                await _sleep_unless(stop, 0.5)
                continue
            try:
                for message in messages:
                    await self._handle(message)
            except _NETWORK_ERRORS as exc:
                # The acknowledgement was lost: JetStream delivers the frame again.
                self._log(f"{self._node}: acknowledging a frame failed: {exc!r}")

    async def _drop_subscription(self) -> None:
        sub, self._sub = self._sub, None
        if sub is not None:
            try:
                await sub.unsubscribe()
            except _NETWORK_ERRORS:
                pass

    async def _handle(self, message: Any) -> None:
        if message.subject == self._subject:
            await message.ack()  # our own frame: the outbox already knows it is stored
            return
        seq = int(message.metadata.sequence.stream)
        loop = asyncio.get_running_loop()
        try:
            # In a worker thread: a durable apply waits for the disk.
            report, _ = await loop.run_in_executor(None, self.engine.receive_frame, message.data)
        except MalformedFrameError as exc:
            self._log(f"{self._node}: dropping frame {seq} of {message.subject}: {exc}")
            await message.term()
            return
        except SyncError as exc:
            self._log(f"{self._node}: cannot apply frame {seq} yet: {exc}")
            await message.nak(delay=1.0)
            return
        if report.invalid:
            for error in report.errors:
                self._log(f"{self._node}: frame {seq}: refused {error.sync_id}: {error.message}")
            if message.metadata.num_delivered < self.options.max_invalid_deliveries:
                await message.nak(delay=self.options.ack_wait_s)
            else:
                self._log(f"{self._node}: giving up on frame {seq} after its delivery limit")
                await message.term()
            return
        await message.ack()
        if self._on_applied is not None:
            self._on_applied(seq, report)
