"""The one-off recount of recoveries opened before the recount existed (issue 18):

    python -m services.assistance.recount_once --amqp amqp://user:pass@host:5672/vhost

asks the running assistance service (RPC `recount_recoveries`, as an admin) to count every
standing death's overpayment again as it counts them now; prints what changed, as JSON. Running it
again changes nothing."""

from __future__ import annotations

import argparse
import json
import sys

from nameko.standalone.rpc import ClusterRpcProxy

OPERATOR = {"id": "recount-once", "role": "admin"}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--amqp", required=True, help="the broker the assistance service listens on")
    args = parser.parse_args(argv)
    with ClusterRpcProxy({"AMQP_URI": args.amqp}) as proxy:
        result = proxy.assistance.recount_recoveries(OPERATOR)
    print(json.dumps(result, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
