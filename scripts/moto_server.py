"""moto's server mode (S3 and SQS emulation) on loopback, for the tests and `make import`.

Usage: python scripts/moto_server.py PORT
Serves http://127.0.0.1:PORT until killed (SIGTERM/SIGINT), with ThreadedMotoServer so requests
are answered concurrently, as the SDK clients of several Lambda binaries send them.
"""

import signal
import sys
import threading

from moto.server import ThreadedMotoServer


def main() -> None:
    port = int(sys.argv[1])
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    stop.wait()
    server.stop()


if __name__ == "__main__":
    main()
