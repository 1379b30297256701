"""The Telegram front end: handlers (``app``) and the HTML they send (``format``)."""
