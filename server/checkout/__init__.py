"""Consolidated checkout (many tickets, split tender, all or nothing), one-stop mode and refunds."""
