"""Project tasks: `invoke --list` shows them; the Makefile calls these."""

from __future__ import annotations

import shlex
import sys
from pathlib import Path

from invoke.context import Context
from invoke.tasks import task

PACKAGES = "dialajoke setup tests bench tasks.py"
SCREENSHOTS = "docs/images"
SCREENSHOT_TESTS = (
    "tests/test_browser.py::test_a_booking_shows_up_then_the_page_updates_itself_with_the_joke",
    "tests/test_browser.py::test_every_page_fits_the_screen_and_calls_become_cards_on_a_phone[phone]",
)


@task(help={"config": "settings file (JSON); DIALAJOKE_* environment variables override it"})
def run(c: Context, config: str = "config.dev.json") -> None:
    """Run the service (on the embedded Telnyx simulator unless telnyx.api_key is set)."""
    c.run(f"{sys.executable} -m dialajoke --config {shlex.quote(config)}", pty=sys.stdout.isatty())


@task(help={"k": "only tests whose names match this expression", "verbose": "one line per test"})
def test(c: Context, k: str = "", verbose: bool = False) -> None:
    """Run the test suite."""
    args = ["-q"] if not verbose else ["-v"]
    if k:
        args += ["-k", repr(k)]
    c.run(f"{sys.executable} -m pytest {' '.join(args)}", pty=sys.stdout.isatty())


@task
def screenshots(c: Context) -> None:
    """Take README's pictures of the page again (docs/images/page.png and phone.png) with the browser tests."""
    tests = " ".join(shlex.quote(test) for test in SCREENSHOT_TESTS)
    c.run(f"{sys.executable} -m pytest -q {tests}", env={"DIALAJOKE_SCREENSHOTS": SCREENSHOTS}, pty=sys.stdout.isatty())


@task
def lint(c: Context) -> None:
    """ruff (style and bugs) and mypy (types)."""
    c.run(f"{sys.executable} -m ruff check {PACKAGES}")
    c.run(f"{sys.executable} -m ruff format --check {PACKAGES}")
    c.run(f"{sys.executable} -m mypy {PACKAGES}")


@task
def format(c: Context) -> None:  # noqa: A001 - the task is called "format" on the command line
    """Format the code and fix what ruff can fix by itself."""
    c.run(f"{sys.executable} -m ruff format {PACKAGES}")
    c.run(f"{sys.executable} -m ruff check --fix {PACKAGES}")


@task
def settings_table(c: Context) -> None:
    """Rewrite README's table of settings from the models' descriptions (after adding or changing a setting)."""
    from dialajoke.settings_table import with_settings_table

    readme = Path(__file__).with_name("README.md")
    readme.write_text(with_settings_table(readme.read_text(encoding="utf-8")), encoding="utf-8")


@task(
    help={
        "config": "settings file (JSON) to validate; DIALAJOKE_* environment variables override it",
        "online": "also ask Telnyx whether the API key and connection id work (two read-only requests)",
    }
)
def check(c: Context, config: str = "config.dev.json", online: bool = False) -> None:
    """Check this machine can run the service: Python, venv, packages, config, port, database folder, Telnyx."""
    args = f"--config {shlex.quote(config)}" + (" --online" if online else "")
    c.run(f"{sys.executable} setup/confirm_environment.py {args}", pty=sys.stdout.isatty())


@task(help={"quick": "small sizes and short runs: checks that the harness works, not the numbers"})
def bench(c: Context, quick: bool = False) -> None:
    """Benchmarks against APScheduler and bare aiohttp; tables on screen, raw results in bench/results/."""
    flag = " --quick" if quick else ""
    c.run(f"{sys.executable} -m bench.queue_bench{flag}", pty=sys.stdout.isatty())
    c.run(f"{sys.executable} -m bench.plot {'queue-quick' if quick else 'queue'}")
    c.run(f"{sys.executable} -m bench.service_bench{flag}", pty=sys.stdout.isatty())
    c.run(f"{sys.executable} -m bench.auth_bench{flag}", pty=sys.stdout.isatty())
    c.run(f"{sys.executable} -m bench.protection_bench{flag}", pty=sys.stdout.isatty())
    c.run(f"{sys.executable} -m bench.million_bench{flag}", pty=sys.stdout.isatty())
    c.run(f"{sys.executable} -m bench.dial_bench{flag}", pty=sys.stdout.isatty())
