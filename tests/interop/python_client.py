"""An independent SignalR client (signalrcore, from PyPI) for the interop tests.

Connects through the functions negotiate (following the redirect to the service), prints
READY once connected, then prints RECEIVED <json> for the first `custom` message and exits 0.
Exits 1 if nothing arrives within the timeout.

    python python_client.py <apiBase> [timeout seconds]
"""

import json
import logging
import sys
import threading

from signalrcore.hub_connection_builder import HubConnectionBuilder


def main() -> int:
    api_base = sys.argv[1]
    timeout = float(sys.argv[2]) if len(sys.argv) > 2 else 20.0
    received = threading.Event()
    opened = threading.Event()
    payload = {}

    connection = (
        HubConnectionBuilder()
        .with_url(api_base, options={"verify_ssl": False})
        .configure_logging(logging.ERROR)
        .build()
    )

    def on_custom(arguments):
        payload["value"] = arguments
        received.set()

    connection.on("custom", on_custom)
    connection.on_open(opened.set)
    connection.start()
    if not opened.wait(timeout):
        print("TIMEOUT waiting to connect", flush=True)
        return 1
    print("READY", flush=True)
    if not received.wait(timeout):
        print("TIMEOUT waiting for a message", flush=True)
        connection.stop()
        return 1
    print("RECEIVED " + json.dumps(payload["value"]), flush=True)
    connection.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
