"""The real ``crossdesk`` command, run as a user would, against a data folder of its own."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from contextlib import closing
from pathlib import Path

import pytest

CLI = Path(sys.executable).parent / "crossdesk"
PASSWORD = "a long enough password"


def run(*args: str, cwd: Path, stdin: str = "") -> subprocess.CompletedProcess[str]:
    # A clean environment: no database URL or config file from the developer's shell leaks in.
    env = {k: v for k, v in os.environ.items() if not k.startswith("CROSSDESK_")}
    env.update(CROSSDESK_CONFIG=str(cwd / "absent.toml"), COLUMNS="200", NO_COLOR="1")
    return subprocess.run(
        [str(CLI), *args], cwd=cwd, env=env, input=stdin, capture_output=True, text=True, timeout=120
    )


def count(data_dir: Path, table: str) -> int:
    with closing(sqlite3.connect(data_dir / "crossdesk.db")) as conn:
        return int(conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0])


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """A migrated data folder with one workspace; returns (data dir, workspace slug)."""
    cwd = tmp_path_factory.mktemp("cli")
    data = cwd / "data"
    migrated = run("migrate", "--data-dir", str(data), cwd=cwd)
    assert migrated.returncode == 0, migrated.stderr
    assert (data / "crossdesk.db").is_file()
    created = run(
        "workspace", "create", "Acme Trading", "--currency", "eur", "--data-dir", str(data), cwd=cwd
    )
    assert created.returncode == 0, created.stderr
    slug = created.stdout.strip().splitlines()[-1]
    assert slug == "acme-trading"
    return data, slug


def test_help_lists_the_commands(tmp_path: Path) -> None:
    result = run("--help", cwd=tmp_path)
    assert result.returncode == 0
    for command in ("migrate", "serve", "workspace", "user", "import", "demo"):
        assert command in result.stdout


def test_user_create_asks_for_the_password_twice(home: tuple[Path, str]) -> None:
    data, slug = home
    args = (
        "user",
        "create",
        "--workspace",
        slug,
        "--email",
        "Mia@Example.com",
        "--name",
        "Mia",
        "--role",
        "admin",
    )
    result = run(*args, "--data-dir", str(data), cwd=data.parent, stdin=f"{PASSWORD}\n{PASSWORD}\n")
    assert result.returncode == 0, result.stderr
    assert "created" in result.stdout and PASSWORD not in result.stdout
    with closing(sqlite3.connect(data / "crossdesk.db")) as conn:
        email, role, password_hash = conn.execute("SELECT email, role, password_hash FROM agents").fetchone()
    assert (email, role) == ("mia@example.com", "admin")
    assert password_hash.startswith("$argon2id$")


def test_import_products_then_a_bad_file_stores_nothing(home: tuple[Path, str]) -> None:
    data, slug = home
    good = data.parent / "products.csv"
    good.write_text("sku,title,price,currency,stock\nMUG,Mug,9.90,EUR,3\nTEE,Tee,19.99,EUR,1\n")
    result = run(
        "import", "products", str(good), "--workspace", slug, "--data-dir", str(data), cwd=data.parent
    )
    assert result.returncode == 0, result.stderr
    assert "2 created" in result.stdout
    assert count(data, "products") == 2

    bad = data.parent / "bad.csv"
    bad.write_text("sku,title,price,currency,stock\nCAP,Cap,5.00,EUR,1\nHAT,Hat,cheap,EUR,1\n")
    result = run(
        "import", "products", str(bad), "--workspace", slug, "--data-dir", str(data), cwd=data.parent
    )
    assert result.returncode == 1
    assert "row 2, price" in result.stderr
    assert "nothing imported" in result.stderr
    assert count(data, "products") == 2  # CAP, the valid row, was not stored either


def test_an_unknown_workspace_is_a_clear_error(home: tuple[Path, str]) -> None:
    data, _ = home
    products = data.parent / "one.csv"
    products.write_text("sku,title,price,currency\nX,X,1,EUR\n")
    result = run(
        "import", "products", str(products), "--workspace", "nope", "--data-dir", str(data), cwd=data.parent
    )
    assert result.returncode == 1
    assert "no workspace 'nope'" in result.stderr
    args = ("user", "create", "--workspace", "nope", "--email", "x@example.com", "--name", "X")
    result = run(*args, "--data-dir", str(data), cwd=data.parent, stdin=f"{PASSWORD}\n{PASSWORD}\n")
    assert result.returncode == 1
    assert "no workspace 'nope'" in result.stderr
    assert "Traceback" not in result.stderr
