"""ASGI entry for an external server (``uvicorn server.asgi:app``); needs DATABASE_URL."""

from server.app import create_app

app = create_app()
