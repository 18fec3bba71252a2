"""The real client pieces (SQLite store, HTTP API, device keys, websocket transport) behind the
presenters' ports. ``handheld_app.wiring`` puts them together; nothing here imports Kivy."""
