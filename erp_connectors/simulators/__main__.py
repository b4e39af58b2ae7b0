"""python -m erp_connectors.simulators <kind> --port N [--host 127.0.0.1] [--config JSON]"""

from __future__ import annotations

import argparse
import json
import signal
import sys

from erp_connectors.simulators import SIMULATORS, simulator_class
from erp_connectors.simulators.base import make_server


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m erp_connectors.simulators")
    parser.add_argument("kind", choices=sorted(SIMULATORS))
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--config", default="{}", help="JSON object of simulator settings")
    args = parser.parse_args(argv)
    simulator = simulator_class(args.kind)(**json.loads(args.config))
    server = make_server(simulator, args.host, args.port)

    def stop(*_: object) -> None:
        simulator.stopping.set()
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop)
    host, port = server.server_address[:2]
    sys.stdout.write(f"{args.kind} simulator listening on http://{host}:{port}\n")
    sys.stdout.flush()
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
