"""The ``miglink`` command: one Typer app; user errors become one line and exit code 2."""

from __future__ import annotations

import importlib
import sys
import traceback

import typer

from miglink import __version__
from miglink.errors import MiglinkError

app = typer.Typer(
    name="miglink",
    help="Test the claimed links between migraine and autoimmune disease on health-record data.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

#: Command modules, each exposing register(app). Order is the order in --help.
COMMAND_MODULES = (
    "init",
    "demo",
    "check",
    "concepts",
    "synth",
    "load",
    "run",
    "report_cmd",
    "pool",
    "mr",
)

_state = {"debug": False}


@app.callback(invoke_without_command=True)
def _root(
    debug: bool = typer.Option(False, "--debug", help="Show tracebacks for errors."),
    version: bool = typer.Option(False, "--version", help="Print the version and exit."),
) -> None:
    _state["debug"] = debug
    if version:
        typer.echo(f"miglink {__version__}")
        raise typer.Exit(0)


for _name in COMMAND_MODULES:
    try:
        _mod = importlib.import_module(f"miglink.cli.{_name}")
    except ModuleNotFoundError as _e:  # a command module not yet present in this checkout
        if _e.name != f"miglink.cli.{_name}":
            raise
        continue
    _mod.register(app)


def main(argv: list[str] | None = None) -> int:
    """Entry point: run the app, turning user errors into one line and exit code 2."""
    args = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in args
    try:
        app(args=args, prog_name="miglink", standalone_mode=True)
    except SystemExit as e:  # normal exit, or the CLI library's own usage error (code 2)
        if e.code == 130:  # Typer turns Ctrl-C into a silent exit 130: say so, on one line
            typer.echo("miglink: interrupted", err=True)
        return int(e.code or 0) if not isinstance(e.code, str) else 1
    except MiglinkError as e:
        if debug:
            traceback.print_exc()
        typer.echo("miglink: error: " + " ".join(str(e).split()), err=True)
        return 2
    except KeyboardInterrupt:
        typer.echo("miglink: interrupted", err=True)
        return 130
    except (OSError, UnicodeError) as e:  # the file system or an encoding: the user can fix it
        if debug:
            traceback.print_exc()
        typer.echo("miglink: error: " + " ".join(os_error_message(e).split()), err=True)
        return 2
    except Exception as e:  # noqa: BLE001 - last resort: never a bare traceback without --debug
        if _is_engine_interrupt(e):  # Ctrl-C inside a DuckDB query: DuckDB raises, not Python
            typer.echo("miglink: interrupted", err=True)
            return 130
        if _is_engine_io_error(e):  # DuckDB could not read or write a file: disk, permissions
            if debug:
                traceback.print_exc()
            typer.echo("miglink: error: " + _first_line(e), err=True)
            return 2
        if debug:
            traceback.print_exc()
        typer.echo(
            f"miglink: internal error: {type(e).__name__}: {e} (run with --debug for the traceback)",
            err=True,
        )
        return 1
    return 0


#: DuckDB's exceptions for file-system failures (a full disk, a permission, a missing file).
_ENGINE_IO_ERRORS = ("IOException", "PermissionException")


def _is_engine_io_error(e: BaseException) -> bool:
    return type(e).__module__.split(".")[0] in ("duckdb", "_duckdb") and (
        type(e).__name__ in _ENGINE_IO_ERRORS
    )


def _is_engine_interrupt(e: BaseException) -> bool:
    """DuckDB turns a SIGINT during a query into RuntimeError("Query interrupted")."""
    return type(e) is RuntimeError and str(e).strip().lower().startswith("query interrupted")


def _first_line(e: BaseException) -> str:
    lines = str(e).strip().splitlines()
    return " ".join((lines[0] if lines else type(e).__name__).split())


def os_error_message(e: OSError | UnicodeError) -> str:
    """One line for an operating-system or encoding error, naming the path where it has one."""
    if isinstance(e, UnicodeDecodeError):
        return f"input is not {e.encoding} text (byte {e.start}): {e.reason}"
    if isinstance(e, UnicodeError):
        return f"text cannot be encoded: {e}"
    reason = e.strerror or str(e) or type(e).__name__
    paths = [p for p in (e.filename, e.filename2) if p is not None]
    if paths:
        return f"cannot access {' -> '.join(str(p) for p in paths)}: {reason}"
    return f"operating-system error: {reason}"


if __name__ == "__main__":
    sys.exit(main())
