"""How updates reach the bot: long polling (the default) or a webhook Telegram calls.

Polling needs nothing but the token and works behind any firewall, but only one process may
poll a token. A webhook needs a public https address (a TLS proxy in front of the bot's own
plain-HTTP server) and lets Telegram push updates as they come. Every webhook call must carry
the secret set with Telegram in ``X-Telegram-Bot-Api-Secret-Token``; PTB's server refuses any
other with 403, so nobody who merely finds the address can feed the bot updates.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

if TYPE_CHECKING:
    from telegram.ext import Application

    from khabar.bot.settings import Settings

ALLOWED_UPDATES = ["message", "callback_query"]
# Seconds a getUpdates call waits for news (Telegram holds it open): PTB's default.
POLL_TIMEOUT = 10


@dataclass(frozen=True)
class Webhook:
    url: str  # the public address Telegram posts to
    host: str  # where the bot's server listens
    port: int
    secret: str

    @property
    def path(self) -> str:
        """The path the server answers on: the public URL's, which the proxy passes on."""
        return urlsplit(self.url).path.strip("/")


def webhook(settings: Settings) -> Webhook | None:
    """The webhook ``KHABAR_TELEGRAM_WEBHOOK_URL`` asks for, or None to poll."""
    if not settings.telegram_webhook_url:
        return None
    host, port = settings.webhook_listen()
    return Webhook(settings.telegram_webhook_url, host, port, settings.telegram_webhook_secret)


def polling_options(poll_interval: float = 0.0, timeout: int = POLL_TIMEOUT) -> dict[str, Any]:
    """What ``start_polling`` and ``run_polling`` take. After a failed poll PTB waits 1 s,
    then half as long again each time up to 30 s (``poll_interval`` > 0 starts it there).
    ``run_polling`` hands a failed poll to the application's error handler, which is silent
    for Telegram's own faults: ``faults.PollingRequest`` has logged the incident once."""
    return {"poll_interval": poll_interval, "timeout": timeout,
            "allowed_updates": ALLOWED_UPDATES}


def webhook_options(hook: Webhook) -> dict[str, Any]:
    """What ``start_webhook`` and ``run_webhook`` take; they call setWebhook with the secret."""
    return {"listen": hook.host, "port": hook.port, "url_path": hook.path,
            "webhook_url": hook.url, "secret_token": hook.secret,
            "allowed_updates": ALLOWED_UPDATES}


def run(app: Application, hook: Webhook | None) -> None:
    """Serve updates until SIGINT or SIGTERM: by webhook when one is set, else by polling."""
    if hook is None:
        app.run_polling(**polling_options())
    else:
        app.run_webhook(**webhook_options(hook))
