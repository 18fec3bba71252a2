"""What the handheld and the till share: local store, transport, sign-in screens, fonts, text."""
