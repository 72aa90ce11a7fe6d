"""Find the Composer service's URL and the user's API token.

Each value is taken from the first place that sets it, in this order:

1. the argument given in code or on the command line;
2. the environment variable (``AIHW_API_TOKEN``, ``AIHW_API_URL``);
3. ``aihwkit.conf`` in the working directory;
4. ``$XDG_CONFIG_HOME/aihwkit/aihwkit.conf`` (``~/.config`` when
   ``XDG_CONFIG_HOME`` is unset);
5. ``~/.config/aihwkit.conf``.

The files are INI files with a ``[cloud]`` section and the keys ``api_token``
and ``api_url``, as aihwkit reads them. The URL defaults to
:data:`DEFAULT_API_URL`; a missing token raises :class:`CredentialsError`.
"""

from __future__ import annotations

import configparser
import dataclasses
import os
import pathlib
import urllib.parse

from aihw_jax.cloud.api import API_PREFIX
from aihw_jax.errors import ConfigError, CredentialsError

__all__ = [
    "CONFIG_FILE_NAME",
    "DEFAULT_API_URL",
    "TOKEN_ENV",
    "URL_ENV",
    "Credentials",
    "config_file_paths",
    "resolve_credentials",
]

DEFAULT_API_URL = "http://127.0.0.1:8000"
"""Base URL used when no argument, variable or file sets one: a local service."""
TOKEN_ENV = "AIHW_API_TOKEN"
"""Environment variable holding the API token."""
URL_ENV = "AIHW_API_URL"
"""Environment variable holding the service's base URL."""
CONFIG_FILE_NAME = "aihwkit.conf"
"""Name of the configuration file, shared with aihwkit."""
CONFIG_SECTION = "cloud"


@dataclasses.dataclass(frozen=True)
class Credentials:
    """Connection settings of the client: service URL, API token, TLS checks.

    Attributes:
        api_url: base URL of the service, without the ``/api/v1`` prefix and
            without a trailing slash.
        api_token: the user's API token (exchanged for a JWT at login).
        verify: TLS verification: True, False, or the path of a CA bundle.
        token_source: where the token was found, for messages (never the
            token itself).
        url_source: where the URL was found, for messages.
    """

    api_url: str
    api_token: str = dataclasses.field(repr=False)
    verify: bool | str = True
    token_source: str = ""
    url_source: str = ""


def config_file_paths() -> list[pathlib.Path]:
    """Return the configuration files to read, in lookup order."""
    xdg_home = os.environ.get("XDG_CONFIG_HOME") or "~/.config"
    return [
        pathlib.Path.cwd() / CONFIG_FILE_NAME,
        pathlib.Path(xdg_home).expanduser() / "aihwkit" / CONFIG_FILE_NAME,
        pathlib.Path("~/.config").expanduser() / CONFIG_FILE_NAME,
    ]


def _read_config_file(path: pathlib.Path) -> dict[str, str]:
    """Return the ``[cloud]`` section of ``path`` (empty if the file is absent)."""
    if not path.is_file():
        return {}
    parser = configparser.ConfigParser(interpolation=None)
    try:
        parser.read(path, encoding="utf-8")
    except (configparser.Error, OSError, UnicodeDecodeError) as error:
        # NOTE: the parser's message may quote a line of the file, which
        # could contain the token, so only the error type is shown.
        raise CredentialsError(
            f"Could not read the configuration file {path}: "
            f"{type(error).__name__}. Fix the file or remove it; it must be an "
            f"INI file with a [{CONFIG_SECTION}] section."
        ) from None
    if not parser.has_section(CONFIG_SECTION):
        return {}
    return dict(parser[CONFIG_SECTION])


def _lookup(
    key: str, argument: str | None, env_name: str, files: list[tuple]
) -> tuple[str | None, str]:
    """Return ``(value, source)`` of the first place setting ``key``."""
    if argument is not None and argument.strip():
        return argument.strip(), "argument"
    env_value = os.environ.get(env_name, "").strip()
    if env_value:
        return env_value, f"environment variable {env_name}"
    for path, section in files:
        value = section.get(key, "").strip()
        if value:
            return value, str(path)
    return None, ""


def _check_url(url: str, source: str) -> str:
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(
            f"The Composer URL from {source} must be an http(s) URL such as "
            f"{DEFAULT_API_URL!r}, got {_describe_url(url)!r}."
        )
    if parts.username or parts.password or parts.query or parts.fragment:
        raise ConfigError(
            f"The Composer URL from {source} must not contain user names, "
            "passwords, a query or a fragment; give only scheme, host, port "
            "and path."
        )
    base = url.rstrip("/")
    # The client adds the API prefix itself; a URL that ends with it, as
    # copied from an API route, would otherwise get it twice.
    if base.endswith(API_PREFIX):
        base = base.removesuffix(API_PREFIX).rstrip("/")
    return base


def _describe_url(url: str) -> str:
    """Return ``url`` with anything after the host removed, for messages."""
    parts = urllib.parse.urlsplit(url)
    host = parts.hostname or ""
    return f"{parts.scheme}://{host}" if parts.scheme else url[:40]


def _check_verify(verify: bool | str | os.PathLike) -> bool | str:
    if isinstance(verify, bool):
        return verify
    if isinstance(verify, (str, os.PathLike)):
        path = pathlib.Path(verify).expanduser()
        if not path.exists():
            raise ConfigError(
                f"`verify` names the CA bundle {str(path)!r}, which does not "
                "exist. Give the path of a PEM file or directory, True to use "
                "the system's CA store, or False to skip verification."
            )
        return str(path)
    raise ConfigError(
        f"`verify` must be True, False or the path of a CA bundle, got {verify!r}."
    )


def resolve_credentials(
    api_url: str | None = None,
    api_token: str | None = None,
    verify: bool | str | os.PathLike = True,
) -> Credentials:
    """Find the URL and token, as the module docstring describes.

    Args:
        api_url: base URL of the service; looked up when None or empty.
        api_token: the API token; looked up when None or empty.
        verify: TLS verification: True, False, or the path of a CA bundle.

    Returns:
        The credentials, with the sources of the URL and token.

    Raises:
        CredentialsError: if no token is found (the message lists every place
            searched) or a configuration file cannot be read.
        ConfigError: if the URL is not an http(s) URL or ``verify`` names a
            missing file.
    """
    paths = config_file_paths()
    files = [(path, _read_config_file(path)) for path in paths]
    token, token_source = _lookup("api_token", api_token, TOKEN_ENV, files)
    if token is None:
        places = [
            "the `api_token` argument (--token on the command line)",
            f"the environment variable {TOKEN_ENV}",
            *(f"{path} ([{CONFIG_SECTION}] api_token)" for path in paths),
        ]
        raise CredentialsError(
            "No Composer API token was found. Looked in: "
            + "; ".join(places)
            + ". Set one of them to the token from your account on the service."
        )
    url, url_source = _lookup("api_url", api_url, URL_ENV, files)
    if url is None:
        url, url_source = DEFAULT_API_URL, "the default"
    return Credentials(
        api_url=_check_url(url, url_source),
        api_token=token,
        verify=_check_verify(verify),
        token_source=token_source,
        url_source=url_source,
    )
