"""Error types and the exit codes they map to.

Every failure a user can cause or meet ends as one line on stderr and one of these exit codes; the
CLI layer turns a ``FinopsError`` into that line, so code below it raises and never prints.
"""

from __future__ import annotations

EXIT_OK = 0
EXIT_FAILURE = 1  # backend down, bad data, anything that is not the user's input
EXIT_USAGE = 2  # bad flags, bad configuration, bad input files
EXIT_THRESHOLD = 3  # a --fail-on* threshold was crossed


class FinopsError(Exception):
    """Base error: ``str(err)`` is the one line shown to the user."""

    exit_code = EXIT_FAILURE


class UsageError(FinopsError):
    """The user's flags, files or configuration are wrong; fixing the input fixes it."""

    exit_code = EXIT_USAGE


class SourceError(FinopsError):
    """A data source failed: unreachable, refused, timed out or answered nonsense."""

    exit_code = EXIT_FAILURE


class ThresholdError(FinopsError):
    """A ``--fail-on`` gate tripped; the data was still written to stdout."""

    exit_code = EXIT_THRESHOLD
