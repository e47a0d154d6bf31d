"""``python -m egress_testbed.node up [--istio-revision REV] | down | status | suite-image | ambient up|down``."""

import argparse
import sys

from kubernetes.client import ApiException

from egress_testbed.install.errors import InstallError
from egress_testbed.node import lifecycle
from egress_testbed.node.errors import NodeError


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m egress_testbed.node",
                                     description="A single-node Kubernetes cluster on this machine, with Istio in it.")
    commands = parser.add_subparsers(dest="command", required=True)
    up = commands.add_parser("up", help="build (cached), start the node, install Istio; idempotent")
    up.add_argument("--istio-revision", default=None, help="install Istio under this revision (default: none)")
    up.add_argument("--no-istio", action="store_true", help="bring the node up without installing Istio")
    commands.add_parser("down", help="stop the node and remove every trace of it")
    commands.add_parser("status", help="say whether the node runs (exit 0), is down (3) or half up (1)")
    commands.add_parser("suite-image", help="build the suite's own image from this checkout (cached) and import it "
                        "into the running node; prints its name")
    ambient_cmd = commands.add_parser("ambient", help="add ambient mode (istio-cni, ztunnel) to the running node, "
                                      "or remove it; idempotent, leaves the rest of the node as it is")
    ambient_cmd.add_argument("action", choices=("up", "down"))
    args = parser.parse_args(argv)
    try:
        if args.command == "status":
            return lifecycle.status()
        if args.command == "ambient":
            from egress_testbed.node import ambient  # imported late: only this command needs it

            with lifecycle.exclusive():
                (ambient.up if args.action == "up" else ambient.down)(say=lifecycle.say)
            return 0
        if args.command == "suite-image":
            print(lifecycle.suite_image())
            return 0
        with lifecycle.exclusive():
            if args.command == "up":
                lifecycle.up(istio_revision=args.istio_revision, install_istio=not args.no_istio)
            else:
                lifecycle.down()
    except (NodeError, InstallError) as err:
        print(f"node {args.command} failed: {err}", file=sys.stderr)
        return 1
    except ApiException as err:
        print(f"node {args.command} failed: the node's API server answered {err.status} {err.reason}: "
              f"{(err.body or '')[:300]}; see the logs in /var/lib/egress-node/logs", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"node {args.command} interrupted: run `ci/node down` to remove what was started", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
