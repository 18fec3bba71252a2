"""The till's ports over the real client pieces (SQLite store, HTTP API, device keys, websocket
transport). ``cashier_app.wiring`` puts them together; nothing here imports Kivy."""
