"""The ``pcdppl`` command.

``pcdppl fit | sample | evaluate | diagnose`` work on run folders
(:mod:`pcdppl.cli.run_folder`); ``pcdppl demo`` trains an RBM on scikit-learn's digits with
PCD, prints the exact test log-likelihood and the time taken, and writes samples, learning
curves, chain-mixing diagnostics and parameters to an output folder. Exit codes: 0 success,
1 failure while running, 2 bad command-line usage.
"""

from __future__ import annotations

import sys

from .config import UsageError
from .parser import build_parser


def main(argv=None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)  # --help exits 0, a usage error exits 2 (SystemExit)
    if args.command is None:
        parser.print_help()
        return 2
    try:
        return (getattr(args, "run_cmd", None) or args.run)(args)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except UsageError as err:
        print(f"pcdppl {args.command}: usage error: {err}", file=sys.stderr)
        return 2
    except (ValueError, TypeError, KeyError, OSError, ImportError) as err:
        print(f"pcdppl {args.command}: error: {err}", file=sys.stderr)
        return 1
    except Exception as err:  # anything else is still a runtime failure, not a crash
        print(f"pcdppl {args.command}: error: {type(err).__name__}: {err}", file=sys.stderr)
        return 1


