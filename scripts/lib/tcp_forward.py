"""Publish one loopback TCP port on another address, byte for byte (HOST:PORT → 127.0.0.1).

``scripts/start-seaweedfs.sh`` uses it to expose SeaweedFS's S3 gateway — and nothing else — on
an address other than loopback: every ``weed`` listener (master, volume, filer, their gRPC ports,
and the S3 gateway's own gRPC port, which can replace the S3 identities) stays on 127.0.0.1, and
only this forwarder listens elsewhere. It is the stand-in, for tests and demos, of what a
production deployment puts there: a TLS-terminating reverse proxy in front of the S3 port.

Bytes pass unchanged, so S3 request signatures (which cover the Host header the client sent)
still verify. Standard library only; runs until killed.

Usage: python3 tcp_forward.py LISTEN_HOST:PORT TARGET_PORT
"""

from __future__ import annotations

import asyncio
import contextlib
import sys

TARGET_HOST = "127.0.0.1"
CHUNK = 64 * 1024


async def _pump(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while chunk := await reader.read(CHUNK):
            writer.write(chunk)
            await writer.drain()
    except (ConnectionError, asyncio.IncompleteReadError):
        pass
    finally:
        with contextlib.suppress(OSError, RuntimeError):
            if writer.can_write_eof():
                writer.write_eof()


async def _serve(listen_host: str, listen_port: int, target_port: int) -> None:
    async def handle(
        client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter
    ) -> None:
        try:
            target_reader, target_writer = await asyncio.open_connection(TARGET_HOST, target_port)
        except OSError:
            client_writer.close()
            return
        await asyncio.gather(
            _pump(client_reader, target_writer), _pump(target_reader, client_writer)
        )
        for writer in (client_writer, target_writer):
            writer.close()

    server = await asyncio.start_server(handle, listen_host, listen_port, reuse_address=True)
    async with server:
        await server.serve_forever()


def main(argv: list[str]) -> int:
    if len(argv) != 3 or ":" not in argv[1]:
        print(__doc__.rsplit("Usage: ", 1)[-1].strip(), file=sys.stderr)
        return 2
    host, _, port = argv[1].rpartition(":")
    asyncio.run(_serve(host, int(port), int(argv[2])))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
