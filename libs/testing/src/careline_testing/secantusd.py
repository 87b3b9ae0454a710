"""Start SecantusDB's ``secantusd-py`` with a shorter transaction lifetime.

mongod's ``transactionLifetimeLimitSeconds`` (default 60) decides how long the open
transaction of a client that died (SIGKILL, lost host) keeps holding its documents; every
later writer of those documents gets a write conflict until then. Production MongoDB sets it
with ``setParameter``; ``secantusd-py`` only takes it as a constructor argument, so this
launcher passes it and hands the rest of the command line to the daemon unchanged.

    python -m careline_testing.secantusd --transaction-lifetime-s 15 --port 27017 ...
"""

from __future__ import annotations

import argparse
import functools
import sys

from secantus import cli


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(add_help=False)
    parser.add_argument("--transaction-lifetime-s", type=float, default=15.0)
    ours, rest = parser.parse_known_args(argv)
    if ours.transaction_lifetime_s <= 0:
        parser.error("--transaction-lifetime-s must be positive")
    cli.SecantusDBServer = functools.partial(
        cli.SecantusDBServer, transaction_lifetime_seconds=ours.transaction_lifetime_s
    )
    return int(cli.main(rest))


if __name__ == "__main__":
    sys.exit(main())
