"""Following a story: topics a chat follows, alerts when new articles match them, a daily
digest, and a story's timeline. The engine wires it (``Khabar.follow``, ``Khabar.timeline``);
front ends send what it queues."""
