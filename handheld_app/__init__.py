"""The floor sales handheld (Kivy)."""
