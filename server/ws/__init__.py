"""The websocket stream: Hello, catch-up from the event log, live events, commands, heartbeats."""
