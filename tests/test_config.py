"""Settings: environment over the TOML file over defaults."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from crossdesk.config import Settings


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No CROSSDESK_* variables from the shell, and a working directory without a crossdesk.toml."""
    for name in list(os.environ):
        if name.startswith("CROSSDESK_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)


def test_defaults(tmp_path: Path) -> None:
    settings = Settings()
    assert settings.data_dir == Path("crossdesk-data")
    assert settings.database_url is None and settings.redis_url is None
    assert (
        settings.effective_database_url
        == f"sqlite+aiosqlite:///{(tmp_path / 'crossdesk-data' / 'crossdesk.db').resolve()}"
    )


def test_default_database_is_sqlite_inside_data_dir(tmp_path: Path) -> None:
    data = tmp_path / "some" / "data"
    assert (
        Settings(data_dir=data).effective_database_url
        == f"sqlite+aiosqlite:///{(data / 'crossdesk.db').resolve()}"
    )


def test_environment_variables_are_read(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("CROSSDESK_DATA_DIR", str(tmp_path / "env-data"))
    monkeypatch.setenv("CROSSDESK_SESSION_DAYS", "3")
    monkeypatch.setenv("CROSSDESK_SECURE_COOKIES", "true")
    monkeypatch.setenv("CROSSDESK_REDIS_URL", "redis://127.0.0.1:6379/2")
    settings = Settings()
    assert settings.data_dir == tmp_path / "env-data"
    assert (settings.session_days, settings.secure_cookies, settings.redis_url) == (
        3,
        True,
        "redis://127.0.0.1:6379/2",
    )
    assert settings.effective_database_url.endswith("/env-data/crossdesk.db")


def test_toml_file_is_read_and_environment_wins(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    config = tmp_path / "conf" / "settings.toml"
    config.parent.mkdir()
    config.write_text(
        'database_url = "postgresql+asyncpg://crossdesk@db:5432/crossdesk"\n'
        "session_days = 30\n"
        'log_level = "DEBUG"\n'
    )
    monkeypatch.setenv("CROSSDESK_CONFIG", str(config))
    from_file = Settings()
    assert from_file.effective_database_url == "postgresql+asyncpg://crossdesk@db:5432/crossdesk"
    assert (from_file.session_days, from_file.log_level) == (30, "DEBUG")

    monkeypatch.setenv("CROSSDESK_SESSION_DAYS", "2")
    both = Settings()
    assert both.session_days == 2  # environment over file
    assert both.log_level == "DEBUG"  # the file still fills what the environment leaves out


def test_crossdesk_toml_in_the_working_directory_is_the_default_file(tmp_path: Path) -> None:
    (tmp_path / "crossdesk.toml").write_text("max_body_bytes = 2048\n")
    assert Settings().max_body_bytes == 2048
