"""Precision marketing: member segments, their export, and service tasks for staff (seed §5.4)."""
