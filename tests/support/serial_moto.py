"""moto's server, answering one request at a time.

moto's DynamoDB checks a transaction's conditions and then writes, with no lock between the
two. Under moto's threaded server two concurrent TransactWriteItems can therefore both pass
`attribute_not_exists(...)` and the second silently overwrites the first, which real
DynamoDB never allows (seen here: 4 of 200 concurrent RSVPs lost). Serving one request at a
time restores DynamoDB's atomic conditional writes; clients still run concurrently.

Usage: python serial_moto.py HOST PORT
"""

import os
import signal
import sys

from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app
from werkzeug.serving import run_simple


def main() -> None:
    host, port = sys.argv[1], int(sys.argv[2])
    os.environ.setdefault("MOTO_PORT", str(port))
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    app = DomainDispatcherApplication(create_backend_app)
    run_simple(host, port, app, threaded=False)


if __name__ == "__main__":
    main()
