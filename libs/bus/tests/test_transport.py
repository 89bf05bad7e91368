"""The coalescing writer under the broker connection: one send per loop turn, in order."""

from __future__ import annotations

import asyncio

from libs.bus.transport import CoalescingWriter


class RecordingTransport(asyncio.Transport):
    def __init__(self) -> None:
        super().__init__()
        self.sent: list[bytes] = []
        self.closed = False

    def write(self, data: bytes | bytearray | memoryview) -> None:
        self.sent.append(bytes(data))

    def is_closing(self) -> bool:
        return self.closed

    def close(self) -> None:
        self.closed = True


def make_writer() -> tuple[CoalescingWriter, RecordingTransport]:
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    transport = RecordingTransport()
    protocol = asyncio.StreamReaderProtocol(reader)
    return CoalescingWriter(transport, protocol, reader, loop), transport


async def test_frames_of_one_loop_turn_leave_in_one_send_in_order() -> None:
    writer, transport = make_writer()
    writer.write(b"publish-1|")
    writer.writelines([b"publish-2|", b"ack-7|"])
    assert transport.sent == []  # nothing yet: the turn is not over
    await asyncio.sleep(0)
    assert transport.sent == [b"publish-1|publish-2|ack-7|"]
    writer.write(b"next")
    await asyncio.sleep(0)
    assert transport.sent[1:] == [b"next"]
    writer.close()


async def test_closing_sends_what_is_pending_first() -> None:
    writer, transport = make_writer()
    writer.write(b"close-ok")
    writer.close()
    assert transport.sent == [b"close-ok"] and transport.closed
