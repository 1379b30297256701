"""Front ends: the command line, the terminal chat and the Telegram bot. Each holds one
``Khabar`` engine and only formats what it returns (see docs/architecture.md)."""
