"""The cashier station (Kivy)."""
