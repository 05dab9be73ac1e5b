"""The one entry path of every command: argument parsing, logging, SIGTERM, and failures mapped to one
line ``ofmu: error: ...`` and a documented exit status.

The ``ofmu`` command (:mod:`ofmu_cli`) and each package's stand-alone ``python -m <package>.cli`` call
:func:`run_command` with their parser; the core defines it so that every package can use it without
importing the command that sits above them all.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from typing import Any

from ofmu_theory.io import OutputError

EXIT_OK = 0
EXIT_STOPPED = 1
EXIT_INPUT = 2
EXIT_ENVIRONMENT = 3
EXIT_SIGINT = 130
EXIT_SIGTERM = 143
"""Exit statuses of every command (README.md, docs/design.md): 0 success; 1 the run diverged or was
stopped without a result; 2 bad input (an argument, a file's content, a setting), printed as one line
``ofmu: error: ...`` naming it; 3 the environment or I/O (an output that cannot be written or is in use, a
model not in the offline cache, a full disk); 130 / 143 interrupted by SIGINT / SIGTERM (128 + signal)."""

#: Bad input: printed as ``ofmu: error: ...``, exit status 2 (FileNotFoundError: a named input is missing).
USER_ERRORS = (ValueError, TypeError, FileNotFoundError, RuntimeError)
#: The environment or I/O: printed as ``ofmu: error: ...``, exit status 3 (and torch's out-of-memory errors,
#: which are RuntimeErrors, matched by name so the core needs no torch import).
ENVIRONMENT_ERRORS = (OSError, ImportError, MemoryError)


def _is_environment(err: BaseException) -> bool:
    return isinstance(err, ENVIRONMENT_ERRORS) or type(err).__name__ == "OutOfMemoryError"


class Interrupted(KeyboardInterrupt):
    """SIGTERM, raised where the program is so that it stops as cleanly as on SIGINT."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum


def _on_sigterm(signum: int, frame: Any) -> None:  # noqa: ARG001
    raise Interrupted(signum)


def _os_message(err: OSError) -> str:
    if isinstance(err, (OutputError,)) or not err.strerror:
        return str(err)
    where = f"{err.filename}: " if err.filename else ""
    return f"{where}{err.strerror} (check the path, its permissions and the free space)"


def run_command(parser: argparse.ArgumentParser, argv: list[str] | None = None) -> int:
    """Parse ``argv`` and run the chosen subcommand: the one entry path of ``ofmu`` and of every package's
    stand-alone ``python -m <package>.cli``.

    Raises the CPU allocator's thresholds (:mod:`ofmu_theory.allocator`), sets up logging (``-v``: debug),
    turns every progress bar off for the command when it was given ``--quiet``, turns SIGTERM into the
    same clean stop as SIGINT, and maps failures to one line ``ofmu: error: ...`` and the exit statuses
    above (:data:`USER_ERRORS` 2, :data:`ENVIRONMENT_ERRORS` 3, interrupts 130 / 143; ``-v`` also logs the
    traceback).
    """
    import signal  # noqa: PLC0415
    import threading  # noqa: PLC0415

    from ofmu_theory.allocator import keep_freed_memory  # noqa: PLC0415
    from ofmu_theory.clihelp import use_help_formatter  # noqa: PLC0415
    from ofmu_theory.runinfo import PROGRESS_ENV  # noqa: PLC0415

    keep_freed_memory()
    args = use_help_formatter(parser).parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if getattr(args, "verbose", False) else logging.INFO,
                        format="%(levelname)s %(name)s: %(message)s")
    log = logging.getLogger("ofmu")
    before = os.environ.get(PROGRESS_ENV)
    if getattr(args, "quiet", False):
        os.environ[PROGRESS_ENV] = "0"
    main_thread = threading.current_thread() is threading.main_thread()
    old_term = signal.signal(signal.SIGTERM, _on_sigterm) if main_thread else None
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt as err:
        name = "SIGTERM" if isinstance(err, Interrupted) else "SIGINT"
        print(f"ofmu: interrupted by {name}; stopped (outputs are left as they were; a run with "
              "--checkpoint-every saved a checkpoint to --resume from)", file=sys.stderr)
        return EXIT_SIGTERM if isinstance(err, Interrupted) else EXIT_SIGINT
    except (*USER_ERRORS, *ENVIRONMENT_ERRORS) as err:
        log.debug("traceback", exc_info=True)
        if _is_environment(err) and not isinstance(err, FileNotFoundError):
            message = _os_message(err) if isinstance(err, OSError) else str(err).splitlines()[0]
            print(f"ofmu: error: {message}", file=sys.stderr)
            return EXIT_ENVIRONMENT
        print(f"ofmu: error: {err}", file=sys.stderr)
        return EXIT_INPUT
    finally:
        if main_thread:
            signal.signal(signal.SIGTERM, old_term)
        if before is None:
            os.environ.pop(PROGRESS_ENV, None)
        else:
            os.environ[PROGRESS_ENV] = before
