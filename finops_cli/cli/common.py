"""What every data-reading command shares: source, window and output options, and error handling.

``data_command`` adds the shared options to a command's signature (so they have the same names and
meaning everywhere) and hands the command one ``CommandContext`` built from them.
"""

from __future__ import annotations

import functools
import gc
import importlib
import inspect
import logging
import sys
import threading
import typing
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from finops_cli.errors import UsageError
from finops_cli.settings.registry import settings_from_flags, typer_options

if TYPE_CHECKING:
    from finops_cli.settings import Settings
    from finops_cli.sources.interface import CostSource
    from finops_cli.timewindow import Window

SAMPLE_BANNER = (
    "finops: no Prometheus configured, reading the built-in SAMPLE cluster (simulated data); "
    "point at a real one with --prometheus-url URL or FINOPS_PROMETHEUS_URL"
)
ANALYTICS_MODULES = ("pandas",)  # numpy comes with it


class OutputFormat(StrEnum):
    table = "table"
    json = "json"
    csv = "csv"


SOURCE = "Data source"
WINDOW = "Time window"
OUTPUT = "Output"

# The settings flags are generated from the settings' declarations (one place per setting);
# the rest are about the question asked (window) and the answer (output).
_SHARED: list[tuple[str, Any, Any]] = [
    *typer_options(SOURCE),
    (
        "config",
        Annotated[
            Path | None,
            typer.Option(
                "--config",
                metavar="PATH",
                help="Read this finops.toml instead of the usual places.",
                rich_help_panel=SOURCE,
                show_default=False,
            ),
        ],
        None,
    ),
    (
        "window",
        Annotated[
            str | None,
            typer.Option(
                "--window",
                "-w",
                metavar="DURATION|month|last-month",
                help="Window ending now (or at --end): 24h, 7d, 30d, month (month to date).",
                rich_help_panel=WINDOW,
                show_default=False,
            ),
        ],
        None,
    ),
    (
        "start",
        Annotated[
            str | None,
            typer.Option(
                "--start",
                metavar="TIME",
                help="Window start: RFC 3339 or YYYY-MM-DD (UTC).",
                rich_help_panel=WINDOW,
                show_default=False,
            ),
        ],
        None,
    ),
    (
        "end",
        Annotated[
            str | None,
            typer.Option(
                "--end",
                metavar="TIME",
                help="Window end: RFC 3339 or YYYY-MM-DD (UTC); default now.",
                rich_help_panel=WINDOW,
                show_default=False,
            ),
        ],
        None,
    ),
    (
        "output",
        Annotated[
            OutputFormat | None,
            typer.Option(
                "--output",
                "-o",
                help="table (default on a terminal), json (default otherwise) or csv.",
                rich_help_panel=OUTPUT,
                show_default=False,
            ),
        ],
        None,
    ),
    (
        "quiet",
        Annotated[
            bool,
            typer.Option(
                "--quiet",
                "-q",
                help="No progress or notices on stderr (errors still print).",
                rich_help_panel=OUTPUT,
            ),
        ],
        False,
    ),
    (
        "debug",
        Annotated[
            bool,
            typer.Option(
                "--debug",
                help="Log queries to stderr and show tracebacks (secrets are never logged).",
                rich_help_panel=OUTPUT,
            ),
        ],
        False,
    ),
]
_SHARED_NAMES = [name for name, _, _ in _SHARED]


@dataclass(frozen=True)
class CommandContext:
    """Everything a command needs from the shared options, resolved once."""

    settings: Settings
    window: Window
    output: OutputFormat
    quiet: bool
    debug: bool
    now: datetime

    def warn(self, message: str) -> None:
        """A notice on stderr; ``--quiet`` silences it (the JSON keeps it in ``notes``)."""
        if not self.quiet:
            _warn(message)

    def emit(
        self,
        document: dict[str, Any],
        csv: Callable[[dict[str, Any]], str],
        table: Callable[[dict[str, Any]], Any],
    ) -> None:
        """The document on stdout in the chosen format (JSON, CSV, or a rich table)."""
        if self.output is OutputFormat.json:
            import json

            typer.echo(json.dumps(document, indent=2, ensure_ascii=False))
        elif self.output is OutputFormat.csv:
            typer.echo(csv(document), nl=False)
        else:
            from rich.console import Console

            Console().print(table(document))

    def progress(self, what: str) -> AbstractContextManager[object]:
        """A spinner on stderr while the backend works; silent when piped or with --quiet."""
        if self.quiet or not sys.stderr.isatty():
            return nullcontext()
        from rich.console import Console

        return Console(stderr=True).status(f"{what}…")

    def open_cost_source(self) -> CostSource:
        """The configured backend; announces the sample cluster on stderr when it is used."""
        pod_labels = self.pod_labels()
        if self.settings.effective_source == "sample":
            from finops_cli.sources.sample import SampleCostSource

            if not self.quiet:
                typer.echo(SAMPLE_BANNER, err=True)
            return SampleCostSource(pod_labels, seed=self.settings.sample_seed)
        if self.settings.effective_source == "opencost":
            return self.open_opencost()
        from finops_cli.pricing import load_catalog
        from finops_cli.sources.prometheus import PrometheusCostSource

        prom = self.settings.prometheus
        source = PrometheusCostSource(
            prom,
            pod_labels,
            cluster_label=self.settings.labels.cluster,
            sample_interval_s=prom.sample_interval_seconds,
            replica_labels=prom.replica_labels,
            catalog=load_catalog(self.settings.pricing),
            on_warning=None if self.quiet else _warn,
        )
        load_in_background(ANALYTICS_MODULES)  # while the server answers the first queries
        return source

    def open_opencost(self) -> CostSource:
        """The OpenCost allocation API, with the Prometheus settings' TLS, timeout and retries."""
        from finops_cli.sources.opencost import OpenCostCostSource

        oc = self.settings.opencost
        if oc.url is None:
            raise UsageError("no OpenCost URL: set --opencost-url or FINOPS_OPENCOST_URL")
        prom = self.settings.prometheus
        verify: bool | str = not prom.insecure_skip_tls_verify
        if verify and prom.ca_bundle is not None:
            verify = str(prom.ca_bundle)
        headers = {}
        if oc.bearer_token is not None:
            headers["Authorization"] = f"Bearer {oc.bearer_token.get_secret_value()}"
        return OpenCostCostSource(
            oc.url,
            self.pod_labels(),
            timeout_seconds=prom.timeout_seconds,
            retries=prom.retries,
            headers=headers,
            verify=verify,
            on_warning=None if self.quiet else _warn,
        )

    def pod_labels(self) -> dict[str, str]:
        """Group key -> Kubernetes key: pod labels, and the cost-center pod annotation."""
        labels = self.settings.labels
        return {
            "team": labels.team,
            "project": labels.project,
            "model": labels.model,
            "environment": labels.environment,
            "cost_center": labels.cost_center,
        }


def _warn(message: str) -> None:
    typer.echo(f"finops: warning: {message}", err=True)


def _settings_flags(opts: dict[str, Any]) -> dict[str, object]:
    """The dotted settings the shared flags set, as the declarations map them."""
    return settings_from_flags(opts)


def build_context(opts: dict[str, Any], now: datetime | None = None) -> CommandContext:
    from finops_cli.settings import load_settings
    from finops_cli.timewindow import resolve_window

    now = now or datetime.now(UTC)
    settings = load_settings(_settings_flags(opts), config_file=opts["config"])
    window = resolve_window(opts["window"], opts["start"], opts["end"], now=now)
    logging.getLogger("finops").debug("settings: %s", settings.describe())
    output = opts["output"] or (OutputFormat.table if sys.stdout.isatty() else OutputFormat.json)
    return CommandContext(settings, window, output, opts["quiet"], opts["debug"], now)


def configure_logging(debug: bool) -> None:
    """Debug logs go to stderr; httpx's own request logs are kept quiet (they print full URLs)."""
    logging.basicConfig(
        level=logging.DEBUG if debug else logging.WARNING,
        format="finops: %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    for noisy in ("httpx", "httpcore"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def _refuse_undecodable(kwargs: dict[str, Any]) -> None:
    """Refuse option values that are not UTF-8 (a Latin-1 terminal, a binary file pasted in).

    Python keeps undecodable argv bytes as lone surrogates, which fail much later, deep inside
    a query or an HTTP header; here the flag is named instead. The value is not echoed: it may
    be a token.
    """
    for name, value in kwargs.items():
        for text in value if isinstance(value, list | tuple) else [value]:
            if isinstance(text, str):
                try:
                    text.encode("utf-8")
                except UnicodeEncodeError:
                    flag = "--" + name.replace("_", "-")
                    raise UsageError(
                        f"{flag} is not valid UTF-8 text; check the terminal's or script's encoding"
                    ) from None


ENDS_WITH_THE_COMMAND = False
"""True in the console script (``cli.app.run``), whose process ends when its command does.

Then what the background imports create is frozen out of the garbage collector once loaded:
those objects live until the process ends anyway, and without the freeze every full collection
walks all of pandas' and numpy's, which the many small lists of a few MB of JSON answers trigger
(about 0.05 s after the last answer of ``anomalies`` here). A caller that goes on, such as the
test suite running commands in-process, leaves it False.
"""


def load_in_background(modules: Sequence[str]) -> None:
    """Import ``modules`` on a thread of their own.

    pandas takes about half a second to import, and a command needs it only once its queries
    are answered: loading it while the server works takes it off the wall time of every query
    command (commands import their analytics after their queries for this). The thread is not
    a daemon, so the interpreter never exits in the middle of an import; a module that fails to
    load here fails again, with the usual one-line error, where the command imports it.
    """

    def load() -> None:
        for name in modules:
            try:
                importlib.import_module(name)
            except Exception:  # reported where the command imports it
                continue
        if ENDS_WITH_THE_COMMAND:
            gc.freeze()

    threading.Thread(target=load, name="load-analytics").start()


def data_command(fn: Callable[..., None]) -> Callable[..., None]:
    """Give ``fn(ctx: CommandContext, ...)`` the shared options and one-line error handling."""
    return _with_shared_options(fn, _SHARED)


def document_command(fn: Callable[..., None]) -> Callable[..., None]:
    """``data_command`` for a command that writes a document in a ``--format`` of its own: no
    ``--output/-o``, which it would accept and ignore."""
    return _with_shared_options(fn, [option for option in _SHARED if option[0] != "output"])


def _with_shared_options(
    fn: Callable[..., None], options: list[tuple[str, Any, Any]]
) -> Callable[..., None]:
    # Resolve string annotations (``from __future__ import annotations``) so that typer sees the
    # ``Annotated[..., typer.Option(...)]`` metadata of the command's own options.
    hints = typing.get_type_hints(fn, include_extras=True)
    own = [
        p.replace(annotation=hints.get(p.name, p.annotation))
        for p in inspect.signature(fn).parameters.values()
        if p.name != "ctx"
    ]
    shared = [
        inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, annotation=ann, default=default)
        for name, ann, default in options
    ]
    params = [p.replace(kind=inspect.Parameter.KEYWORD_ONLY) for p in own] + shared

    @functools.wraps(fn)
    def wrapper(**kwargs: Any) -> None:
        _refuse_undecodable(kwargs)
        shared_opts = {name: kwargs.pop(name, None) for name in _SHARED_NAMES}
        configure_logging(bool(shared_opts["debug"]))
        ctx = build_context(shared_opts)
        fn(ctx, **kwargs)

    wrapper.__signature__ = inspect.Signature(params)  # type: ignore[attr-defined]
    wrapper.__annotations__ = {p.name: p.annotation for p in params}
    return wrapper
