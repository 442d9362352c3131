"""The CLI's one error path: every subcommand's failure becomes one ``error: …`` line on stderr
and an exit status, never a traceback.

Exit status: 2 for bad input (a flag, a file, a config), 1 for a command that started and then
failed (training diverged, a write failed midway), 3 when another process is training the run.
"""

from __future__ import annotations

import argparse
import functools
import sys
from typing import Callable

EXIT_BAD_INPUT = 2
EXIT_FAILED = 1


class UsageError(ValueError):
    """A bad flag value or input file: printed as one line, exit status 2."""


class CommandError(Exception):
    """A failure with its own exit status (see the module docstring)."""

    def __init__(self, message: str, code: int = EXIT_FAILED) -> None:
        super().__init__(message)
        self.code = code


def one_line(error: BaseException) -> str:
    """The message of `error` as one line, naming the file for an OSError."""
    if isinstance(error, MemoryError):
        return "not enough memory for this input (" + (str(error) or "MemoryError") + ")"
    if isinstance(error, RecursionError):
        return "the input is nested too deeply to be read"
    if isinstance(error, OSError) and error.strerror and error.filename:
        text = f"{error.filename}: {error.strerror}"
    else:
        text = str(error) or type(error).__name__
    return " ".join(text.split())


def guarded(run: Callable[[argparse.Namespace], int | None]) -> Callable[[argparse.Namespace], int]:
    """Wrap a subcommand handler so that it returns an exit status instead of raising."""

    @functools.wraps(run)
    def guarded_run(args: argparse.Namespace) -> int:
        try:
            return int(run(args) or 0)
        except CommandError as error:
            code = error.code
            message = one_line(error)
        except (ValueError, OSError, MemoryError, RecursionError) as error:
            code = EXIT_BAD_INPUT
            message = one_line(error)
        print(f"error: {message}", file=sys.stderr)
        return code

    return guarded_run


class ArgumentParser(argparse.ArgumentParser):
    """argparse, with a malformed flag reported as one ``error:`` line (exit 2) like every
    other bad input, instead of a usage block."""

    def error(self, message: str):  # noqa: D401 - argparse's hook
        self.exit(EXIT_BAD_INPUT, f"error: {message} (see {self.prog} --help)\n")
