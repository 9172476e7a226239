"""`python -m webchat`: the web chat server (docker-compose's `webchat`), with uvicorn.

Settings: WEBCHAT_* (webchat/settings.py, docs/webchat.md). Stops within 10 s of SIGTERM:
the long polls in flight are answered (empty) and the page polls the next replica.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from ops.logs import configure as configure_logs
from webchat.settings import Settings

GRACE = 7  # seconds for requests in flight at SIGTERM (a long poll waits at most 20 s)


def app_factory() -> object:
    from webchat.app import create_app

    return create_app(Settings())


def main(argv: Sequence[str] | None = None) -> int:
    settings = Settings()
    parser = argparse.ArgumentParser(prog="python -m webchat", description="CONEX web chat")
    parser.add_argument("--host", default=settings.host)
    parser.add_argument("--port", type=int, default=settings.port)
    args = parser.parse_args(argv)
    configure_logs("webchat")
    import uvicorn

    # proxy_headers=False: X-Forwarded-For counts only from WEBCHAT_TRUSTED_PROXIES.
    uvicorn.run("webchat.__main__:app_factory", factory=True, host=args.host, port=args.port,
                access_log=False, proxy_headers=False, timeout_graceful_shutdown=GRACE,
                log_config=None)
    return 0


if __name__ == "__main__":
    sys.exit(main())
