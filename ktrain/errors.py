"""Errors caused by what the user asked for, as opposed to bugs.

A ``UserError`` is reported as one paragraph without a traceback (the traceback goes to
the run's log file) and exits with status 2.
"""

import logging
import sys
from contextlib import contextmanager
from typing import NoReturn

EXIT_USER_ERROR = 2

log = logging.getLogger(__name__)


class UserError(Exception):
    """Bad input: a config value, a data file, a path. The message says what is allowed."""


class ConfigError(UserError):
    """A config key or value that the schema refuses."""


@contextmanager
def exit_on_user_error():
    """Print a ``UserError`` as one paragraph on stderr and exit 2; let bugs raise."""
    try:
        yield
    except UserError as error:
        log.debug("refused input", exc_info=True)
        refuse(str(error))


def refuse(paragraph: str) -> NoReturn:
    """Print ``paragraph`` as the one ``Error:`` paragraph on stderr and exit 2."""
    print(f"Error: {paragraph}", file=sys.stderr, flush=True)
    sys.exit(EXIT_USER_ERROR)
